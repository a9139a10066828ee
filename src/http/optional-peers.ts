/**
 * The optional peers the guard speaks to when a route is not plain HTTP: `@nestjs/websockets` (its `WsException`),
 * `graphql` (its `GraphQLError`) and `nestjs-cls` (its `ClsServiceManager`). None is a dependency of this package:
 * each is loaded once, at bootstrap, only if the app has it (nestjs-cls only if the app uses it), and the guard uses
 * what loaded. An app that has a gateway has `@nestjs/websockets`; one that has a resolver has `graphql`.
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
  /** nestjs-cls's service, when the app uses nestjs-cls (whether its context is active is asked per call). */
  readonly cls: (() => ClsLike) | null;
}

let loaded: OptionalPeers = { WsException: null, BaseWsExceptionFilter: null, GraphQLError: null, cls: null };
let loading: Promise<Omit<OptionalPeers, 'cls'>> | undefined;
let loadingCls: Promise<OptionalPeers['cls']> | undefined;

async function attempt<T>(load: () => Promise<T>): Promise<T | null> {
  try {
    return await load();
  } catch {
    return null; // not installed (or not loadable): the integration is off, and the guard falls back to HTTP errors
  }
}

/**
 * Loads the optional peers the app has installed, once; later calls get the same answers. nestjs-cls only when
 * `cls` says the app uses it (see {@link appUsesCls}).
 */
export async function loadOptionalPeers(options: { cls: boolean }): Promise<OptionalPeers> {
  const [others, cls] = await Promise.all([
    (loading ??= (async () => {
      const [websockets, graphql] = await Promise.all([
        attempt(() => import('@nestjs/websockets')),
        attempt(() => import('graphql')),
      ]);
      return {
        WsException: (websockets?.WsException as WsExceptionClass | undefined) ?? null,
        BaseWsExceptionFilter:
          (websockets?.BaseWsExceptionFilter as BaseWsExceptionFilterClass | undefined) ?? null,
        GraphQLError: (graphql?.GraphQLError as GraphQLErrorClass | undefined) ?? null,
      };
    })()),
    options.cls
      ? (loadingCls ??= attempt(() => import('nestjs-cls')).then((module) => {
          const manager = module?.ClsServiceManager;
          return manager ? () => manager.getClsService() : null;
        }))
      : (loadingCls ?? Promise.resolve(null)),
  ]);
  loaded = Object.freeze({ ...others, cls: cls ?? loaded.cls });
  return loaded;
}

/** Where nestjs-cls (7 and later) keeps its AsyncLocalStorage once it is loaded, shared by its ESM and CJS builds. */
const CLS_STORAGE = Symbol.for('nestjs-cls:AsyncLocalStorage');

/**
 * Whether the app uses nestjs-cls: it has loaded it, or registered one of its modules (`ClsModule`, whose classes
 * are named `Cls…Module`). Not imported otherwise: nestjs-cls 7 enters an AsyncLocalStorage context as it loads,
 * which turns on Node's promise hooks for the whole process, a cost on every promise of every request.
 */
export function appUsesCls(moduleClassNames: Iterable<string | undefined>): boolean {
  if ((globalThis as Record<symbol, unknown>)[CLS_STORAGE] !== undefined) return true;
  for (const name of moduleClassNames) if (name !== undefined && /^Cls\w*Module$/.test(name)) return true;
  return false;
}

/** What has loaded so far (all `null` before {@link loadOptionalPeers} has settled). */
export function optionalPeers(): OptionalPeers {
  return loaded;
}
