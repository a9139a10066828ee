import {
  ForbiddenException,
  Injectable,
  Logger,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  CrossSiteRequestError,
  InvalidPermissionError,
  SessionStoreError,
  YosaiConfigurationError,
  YosaiError,
} from '../errors/yosai.errors.js';
import type { Subject } from '../subject/subject.js';
import { SubjectFactory } from '../subject/subject.factory.js';
import { YOSAI_AUTHORIZATION, YOSAI_REQUIREMENT } from '../yosai.internal-constants.js';
import { crossSiteOrigin, methodOf } from './csrf.policy.js';
import {
  graphqlExchange,
  handshakeOf,
  inTransportTerms,
  keepMessageSubject,
  subjectOfMessageData,
} from './execution-contexts.js';
import { keepInCls } from './subject-accessor.js';
import { markPrivate, type HttpRequestLike, type PresentedToken } from './token-transport.js';
import type { SubjectRequirement } from './requires.decorator.js';
import type { AuthorizationRule } from './requires-authorization.decorator.js';
import { keepSubject, subjectOf } from './subject-of.js';
import { mapYosaiError } from './yosai-error.mapper.js';

/** What a route demands: the Subject requirement and the authorization rules (controller's first). */
interface RouteAccess {
  readonly requirement: SubjectRequirement | undefined;
  readonly rules: readonly AuthorizationRule[];
  /** The handler sets `Vary` or `Cache-Control` with `@Header()`, which Nest applies after the guards. */
  readonly setsCacheHeaders: boolean;
}

/** Where Nest's `@Header()` keeps a handler's headers (`HEADERS_METADATA`): `{ name, value }[]`. */
const HEADERS_METADATA = '__headers__';

/**
 * Resolves the `Subject` of every request, keeps it where `subjectOf(request)` finds it, and
 * enforces `@RequiresAuthentication()`, `@RequiresUser()`, `@RequiresGuest()`, `@RequiresRoles()` and
 * `@RequiresPermissions()` (in {@link checkAccess}). It also refuses (403) a
 * cross-site state-changing request that carries the session cookie (the `csrf` option), and marks
 * authenticated answers `Cache-Control: no-store` and answers read from the cookie `Vary: Cookie` (kept when the
 * route sets either header with `@Header()`: `Cookie` is added to its `Vary`, `no-store` replaces its
 * `Cache-Control` on an authenticated answer).
 *
 * It serves HTTP routes, WebSocket gateways (the Subject from the handshake, judged again per message) and GraphQL
 * resolvers (the Subject of the HTTP request), refusing in each transport's own terms.
 *
 * Mount it yourself, globally (`{ provide: APP_GUARD, useClass: YosaiGuard }`) or per controller or gateway
 * (`@UseGuards(YosaiGuard)`; gateways need it on Nest 11, which applies no global guard to them). Subclass it and
 * override the `protected` hooks to adapt it, e.g. to another transport (`getRequestResponse`) or to another token
 * source (`extractToken` via `SubjectFactory`).
 */
@Injectable()
export class YosaiGuard implements CanActivate {
  protected readonly logger = new Logger('YosaiGuard');
  /** Access rules per route handler, then per controller class (one handler can serve several classes). */
  private readonly access = new WeakMap<object, WeakMap<object, RouteAccess>>();

  constructor(
    protected readonly subjects: SubjectFactory,
    protected readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const type = context.getType<string>();
    if (type === 'http') return this.decide(context, type);
    // A gateway or a resolver: refusals in the transport's own terms (WsException, GraphQLError), not as HTTP
    // exceptions, which those transports would turn into "Internal server error".
    try {
      const decided = this.decide(context, type);
      return decided instanceof Promise
        ? decided.catch((error: unknown) => {
            throw inTransportTerms(type, error);
          })
        : decided;
    } catch (error) {
      throw inTransportTerms(type, error);
    }
  }

  private decide(context: ExecutionContext, type: string): boolean | Promise<boolean> {
    const { request, response } = this.getRequestResponse(context);
    if (!request) {
      // No request to make a Subject from (an RPC handler, a GraphQL context without an HTTP request): a route
      // that demands something of its Subject is refused, not let through.
      const { requirement, rules } = this.accessOf(context);
      if (requirement === 'guest') throw new ForbiddenException('Only for guests');
      if (requirement || rules.length > 0) throw new UnauthorizedException('Authentication required');
      return true;
    }
    // A gateway message is judged on its own: the handshake stays the same for the connection's whole life, but
    // a logout or an expiry since must be seen by the next message.
    const perMessage = type === 'ws';
    const existing = perMessage ? subjectOfMessageData(context) : subjectOf(request, response);
    if (existing) return this.checkAccess(context, existing);
    let resolved: Subject | PromiseLike<Subject>;
    let viaCookie: boolean;
    try {
      const presented = this.extractToken(request);
      viaCookie = presented.viaCookie;
      // Judged before the store is asked: a forged request costs nothing and changes nothing. A WebSocket
      // handshake is a GET, but what follows it acts as the user: it is judged like a state-changing request.
      if (viaCookie)
        this.refuseCrossSite(perMessage ? { headers: request.headers, method: 'CONNECT' } : request);
      resolved = this.resolveSubject(request, response, presented);
    } catch (error) {
      throw this.mapError(error);
    }
    // A request without a token is answered synchronously: no promise, no microtask.
    if (!isPromiseLike(resolved))
      return this.attach(context, request, response, resolved, viaCookie, perMessage);
    return Promise.resolve(resolved).then(
      (subject) => this.attach(context, request, response, subject, viaCookie, perMessage),
      (error: unknown) => {
        throw this.mapError(error);
      },
    );
  }

  private attach(
    context: ExecutionContext,
    request: HttpRequestLike,
    response: unknown,
    subject: Subject,
    viaCookie: boolean,
    perMessage: boolean,
  ): boolean | Promise<boolean> {
    if (perMessage) keepMessageSubject(context, subject);
    else keepSubject(request, response, subject);
    keepInCls(subject);
    // Before the handler runs, so that every way of answering (a return, an exception, a stream) carries them:
    // an authenticated answer is never kept by a cache, and one read from the cookie is never served to another.
    if (viaCookie || subject.isAuthenticated) {
      markPrivate(
        response,
        { noStore: subject.isAuthenticated, varyCookie: viaCookie },
        this.accessOf(context).setsCacheHeaders,
      );
    }
    return this.checkAccess(context, subject);
  }

  /**
   * Refuses an unsafe request carrying the session cookie from another site (`csrf` option).
   * @throws CrossSiteRequestError
   */
  private refuseCrossSite(request: HttpRequestLike): void {
    const csrf = this.subjects.configuration.csrf;
    if (!csrf.enabled) return;
    const origin = crossSiteOrigin(request, csrf.trustedOrigins);
    if (origin !== null) throw new CrossSiteRequestError(methodOf(request), origin);
  }

  /**
   * The guard's decision for a Subject: the route's `@Requires…()` requirement (401/403 at once), then its role and
   * permission rules, each of which must pass (401 for a guest, 403 when lacking). A route without role or
   * permission rules is decided synchronously, at no extra cost. Override it to add rules of your own; call
   * `super.checkAccess()` to keep these. May return a promise.
   */
  protected checkAccess(context: ExecutionContext, subject: Subject): boolean | Promise<boolean> {
    const { requirement, rules } = this.accessOf(context);
    if (requirement === 'authenticated' && !subject.isAuthenticated)
      throw new UnauthorizedException('Authentication required');
    if (requirement === 'user' && subject.identifiers.length === 0)
      throw new UnauthorizedException('Authentication required');
    if (requirement === 'guest' && subject.isAuthenticated) throw new ForbiddenException('Only for guests');
    if (rules.length === 0) return true;
    if (subject.identifiers.length === 0) throw new UnauthorizedException('Authentication required');
    const params = routeParams(context, this.getRequestResponse(context).request);
    return this.authorize(subject, rules, params).then(
      () => true,
      (error: unknown) => {
        throw this.mapError(error);
      },
    );
  }

  private async authorize(
    subject: Subject,
    rules: readonly AuthorizationRule[],
    params: Readonly<Record<string, unknown>> | undefined,
  ): Promise<void> {
    for (const rule of rules) {
      if (rule.kind === 'role') {
        await subject.authorize({ kind: 'role', required: rule.roles, logical: rule.logical });
      } else {
        await subject.authorize({
          kind: 'permission',
          required: rule.templates.map((template) => template.fill(params)),
          logical: rule.logical,
          // Named as written (`lane:read:{lane}`): the error and the events never echo the request's value.
          labels: rule.templates.map((template) => template.text),
        });
      }
    }
  }

  /**
   * What the route demands, read by the Reflector once per handler and class (decorators are applied when the
   * class is defined, so the answer does not change) instead of on every request.
   */
  private accessOf(context: ExecutionContext): RouteAccess {
    const handler = context.getHandler() as object;
    const type = context.getClass() as object;
    let perClass = this.access.get(handler);
    const known = perClass?.get(type);
    if (known) return known;
    const access: RouteAccess = {
      requirement: this.reflector.getAllAndOverride<SubjectRequirement | undefined>(YOSAI_REQUIREMENT, [
        handler as never,
        type as never,
      ]),
      rules: [
        ...(this.reflector.get<AuthorizationRule[] | undefined>(YOSAI_AUTHORIZATION, type as never) ?? []),
        ...(this.reflector.get<AuthorizationRule[] | undefined>(YOSAI_AUTHORIZATION, handler as never) ?? []),
      ],
      setsCacheHeaders: (
        this.reflector.get<{ name?: unknown }[] | undefined>(HEADERS_METADATA, handler as never) ?? []
      ).some(({ name }) => typeof name === 'string' && /^(vary|cache-control)$/i.test(name)),
    };
    if (!perClass) this.access.set(handler, (perClass = new WeakMap()));
    perClass.set(type, access);
    return access;
  }

  /**
   * Where the request and response are: the HTTP exchange; for a gateway message, the client's handshake request
   * (socket.io's `socket.request`, or the upgrade request of a `ws` client on the app's HTTP server); for GraphQL,
   * the HTTP request in the GraphQL context (Apollo's `req`/`res`, Mercurius's `reply`). `{ request: null }` skips
   * the Subject: such a route passes only if it carries no `@Requires…()` decorator. Override it for another
   * transport.
   */
  protected getRequestResponse(context: ExecutionContext): {
    request: HttpRequestLike | null;
    response?: unknown;
  } {
    const type = context.getType<string>();
    if (type === 'http') {
      // What `switchToHttp().getRequest()` returns, without the three closures `switchToHttp()` makes per call.
      return {
        request: context.getArgByIndex<HttpRequestLike>(0),
        response: context.getArgByIndex<unknown>(1),
      };
    }
    if (type === 'graphql') return graphqlExchange(context);
    if (type === 'ws') {
      const handshake = handshakeOf(context.getArgByIndex<unknown>(0));
      if (handshake) return { request: handshake };
      // A `ws` gateway on a port of its own: its upgrade requests are not seen, so its clients are guests.
      this.warnOnce(
        'a WebSocket client without a known handshake request is a guest (with @nestjs/platform-ws, ' +
          "put the gateway on the app's own port: @WebSocketGateway() without a port)",
      );
      return { request: NO_HANDSHAKE };
    }
    return { request: null };
  }

  private warned = false;
  private warnOnce(message: string): void {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(message);
  }

  /** The token the request presents. Override to read it from elsewhere (e.g. a WebSocket handshake field). */
  protected extractToken(request: HttpRequestLike): PresentedToken {
    return this.subjects.extractToken(request);
  }

  /**
   * Makes the Subject from the request (at most one store read). Without a token it is returned as is, not
   * in a promise; an override may return either. `presented` is what {@link extractToken} found.
   */
  protected resolveSubject(
    request: HttpRequestLike,
    response: unknown,
    presented: PresentedToken = this.extractToken(request),
  ): Subject | PromiseLike<Subject> {
    return this.subjects.subjectOfRequest(request, response, presented);
  }

  /** The exception for a failure while resolving the Subject. Store failures become 503 (fail closed). */
  protected mapError(error: unknown): unknown {
    // An outage must be visible in the app's logs, not only as 503s (the message holds no token).
    if (error instanceof SessionStoreError) this.logger.error(error.message);
    // A programming error (a decorator naming a route parameter the route lacks) is a 500: say why in the log.
    if (error instanceof YosaiConfigurationError || error instanceof InvalidPermissionError) {
      this.logger.error(error.message);
    }
    return error instanceof YosaiError ? mapYosaiError(error) : error;
  }
}

/** A request with no token: the Subject of a gateway client whose handshake is unknown is a guest. */
const NO_HANDSHAKE: HttpRequestLike = Object.freeze({ headers: Object.freeze({}) });

/**
 * What `{name}` placeholders of `@RequiresPermissions` are filled from: the route's parameters over HTTP, the
 * field's arguments in GraphQL, the message's data (an object) in a gateway.
 */
function routeParams(
  context: ExecutionContext,
  request: HttpRequestLike | null,
): Readonly<Record<string, unknown>> | undefined {
  const type = context.getType<string>();
  const params =
    type === 'graphql'
      ? context.getArgByIndex<unknown>(1)
      : type === 'ws'
        ? context.getArgByIndex<unknown>(1)
        : (request as { params?: unknown } | null)?.params;
  return params && typeof params === 'object' ? (params as Record<string, unknown>) : undefined;
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as Partial<PromiseLike<T>> | null)?.then === 'function';
}
