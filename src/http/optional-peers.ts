/**
 * The optional peers the guard speaks to when a route is not plain HTTP: `@nestjs/websockets` (its `WsException`),
 * `graphql` (its `GraphQLError`) and `nestjs-cls` (its `ClsServiceManager`). None is a dependency of this package:
 * each is loaded once, at bootstrap, only if the app has it, and the guard uses what loaded. An app that has a
 * gateway has `@nestjs/websockets`; one that has a resolver has `graphql`.
 */

/** `WsException` of `@nestjs/websockets`: what its exception filter sends to the client as is. */
export type WsExceptionClass = new (error: object) => Error;
/** `GraphQLError` of `graphql`, constructed with extensions (graphql 16 and 17). */
export type GraphQLErrorClass = new (
  message: string,
  options: { extensions: Record<string, unknown> },
) => Error;
/** The part of nestjs-cls's `ClsService` the library uses. */
export interface ClsLike {
  isActive(): boolean;
  get(key: symbol): unknown;
  set(key: symbol, value: unknown): void;
}

/** `BaseWsExceptionFilter` of `@nestjs/websockets`: sends a `WsException` to the client the way the transport does. */
export type BaseWsExceptionFilterClass = new () => { catch(exception: unknown, host: unknown): void };

export interface OptionalPeers {
  readonly WsException: WsExceptionClass | null;
  readonly BaseWsExceptionFilter: BaseWsExceptionFilterClass | null;
  readonly GraphQLError: GraphQLErrorClass | null;
  /** nestjs-cls's service, when nestjs-cls is installed (whether its context is active is asked per call). */
  readonly cls: (() => ClsLike) | null;
}

let loaded: OptionalPeers = { WsException: null, BaseWsExceptionFilter: null, GraphQLError: null, cls: null };
let loading: Promise<OptionalPeers> | undefined;

async function attempt<T>(load: () => Promise<T>): Promise<T | null> {
  try {
    return await load();
  } catch {
    return null; // not installed (or not loadable): the integration is off, and the guard falls back to HTTP errors
  }
}

/** Loads the optional peers the app has installed, once; later calls get the same promise. */
export function loadOptionalPeers(): Promise<OptionalPeers> {
  return (loading ??= (async () => {
    const [websockets, graphql, cls] = await Promise.all([
      attempt(() => import('@nestjs/websockets')),
      attempt(() => import('graphql')),
      attempt(() => import('nestjs-cls')),
    ]);
    const manager = cls?.ClsServiceManager;
    loaded = Object.freeze({
      WsException: (websockets?.WsException as WsExceptionClass | undefined) ?? null,
      BaseWsExceptionFilter:
        (websockets?.BaseWsExceptionFilter as BaseWsExceptionFilterClass | undefined) ?? null,
      GraphQLError: (graphql?.GraphQLError as GraphQLErrorClass | undefined) ?? null,
      cls: manager ? () => manager.getClsService() as unknown as ClsLike : null,
    });
    return loaded;
  })());
}

/** What has loaded so far (all `null` before {@link loadOptionalPeers} has settled). */
export function optionalPeers(): OptionalPeers {
  return loaded;
}
