import {
  ForbiddenException,
  Injectable,
  Logger,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { CrossSiteRequestError, SessionStoreError, YosaiError } from '../errors/yosai.errors.js';
import type { Subject } from '../subject/subject.js';
import { SubjectFactory } from '../subject/subject.factory.js';
import { YOSAI_REQUIREMENT } from '../yosai.internal-constants.js';
import { crossSiteOrigin, methodOf } from './csrf.policy.js';
import { markPrivate, type HttpRequestLike, type PresentedToken } from './token-transport.js';
import type { SubjectRequirement } from './requires.decorator.js';
import { keepSubject, subjectOf } from './subject-of.js';
import { mapYosaiError } from './yosai-error.mapper.js';

/**
 * Resolves the `Subject` of every request, keeps it where `subjectOf(request)` finds it, and
 * enforces `@RequiresAuthentication()`, `@RequiresUser()` and `@RequiresGuest()`. It also refuses (403) a
 * cross-site state-changing request that carries the session cookie (the `csrf` option), and marks
 * authenticated answers `Cache-Control: no-store` and answers read from the cookie `Vary: Cookie`.
 *
 * Mount it yourself, globally (`{ provide: APP_GUARD, useClass: YosaiGuard }`) or per controller
 * (`@UseGuards(YosaiGuard)`). Subclass it and override the `protected` hooks to adapt it, e.g. to
 * GraphQL (`getRequestResponse`) or to another token source (`extractToken` via `SubjectFactory`).
 */
@Injectable()
export class YosaiGuard implements CanActivate {
  protected readonly logger = new Logger('YosaiGuard');
  /** Requirement per route handler, then per controller class (one handler can serve several classes). */
  private readonly requirements = new WeakMap<object, WeakMap<object, SubjectRequirement | undefined>>();

  constructor(
    protected readonly subjects: SubjectFactory,
    protected readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const { request, response } = this.getRequestResponse(context);
    if (!request) {
      // No request to make a Subject from (WebSocket, RPC, GraphQL without an override of
      // getRequestResponse): a route that demands something of its Subject is refused, not let through.
      const requirement = this.requirementOf(context);
      if (requirement === 'guest') throw new ForbiddenException('Only for guests');
      if (requirement) throw new UnauthorizedException('Authentication required');
      return true;
    }
    const existing = subjectOf(request, response);
    if (existing) return this.admit(context, existing);
    let resolved: Subject | PromiseLike<Subject>;
    let viaCookie: boolean;
    try {
      const presented = this.extractToken(request);
      viaCookie = presented.viaCookie;
      // Judged before the store is asked: a forged request costs nothing and changes nothing.
      if (viaCookie) this.refuseCrossSite(request);
      resolved = this.resolveSubject(request, response, presented);
    } catch (error) {
      throw this.mapError(error);
    }
    // A request without a token is answered synchronously: no promise, no microtask.
    if (!isPromiseLike(resolved)) return this.attach(context, request, response, resolved, viaCookie);
    return Promise.resolve(resolved).then(
      (subject) => this.attach(context, request, response, subject, viaCookie),
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
  ): boolean {
    keepSubject(request, response, subject);
    // Before the handler runs, so that every way of answering (a return, an exception, a stream) carries them:
    // an authenticated answer is never kept by a cache, and one read from the cookie is never served to another.
    if (viaCookie || subject.isAuthenticated) {
      markPrivate(response, { noStore: subject.isAuthenticated, varyCookie: viaCookie });
    }
    return this.admit(context, subject);
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

  /** Enforces the route's requirement, if any. */
  private admit(context: ExecutionContext, subject: Subject): boolean {
    const requirement = this.requirementOf(context);
    if (requirement === 'authenticated' && !subject.isAuthenticated)
      throw new UnauthorizedException('Authentication required');
    if (requirement === 'user' && subject.identifiers.length === 0)
      throw new UnauthorizedException('Authentication required');
    if (requirement === 'guest' && subject.isAuthenticated) throw new ForbiddenException('Only for guests');
    return true;
  }

  /**
   * The route's requirement, read by the Reflector once per handler and class (decorators are applied when the
   * class is defined, so the answer does not change) instead of on every request.
   */
  private requirementOf(context: ExecutionContext): SubjectRequirement | undefined {
    const handler = context.getHandler() as object;
    const type = context.getClass() as object;
    let perClass = this.requirements.get(handler);
    if (perClass?.has(type)) return perClass.get(type);
    const requirement = this.reflector.getAllAndOverride<SubjectRequirement | undefined>(YOSAI_REQUIREMENT, [
      handler as never,
      type as never,
    ]);
    if (!perClass) this.requirements.set(handler, (perClass = new WeakMap()));
    perClass.set(type, requirement);
    return requirement;
  }

  /**
   * Where the request and response are. HTTP by default. `{ request: null }` skips the Subject: such a route
   * passes only if it carries no `@Requires…()` decorator.
   * GraphQL: `const ctx = GqlExecutionContext.create(context).getContext(); return { request: ctx.req, response: ctx.res };`
   */
  protected getRequestResponse(context: ExecutionContext): {
    request: HttpRequestLike | null;
    response?: unknown;
  } {
    if (context.getType() !== 'http') return { request: null };
    // What `switchToHttp().getRequest()` returns, without the three closures `switchToHttp()` makes per call.
    return {
      request: context.getArgByIndex<HttpRequestLike>(0),
      response: context.getArgByIndex<unknown>(1),
    };
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
    return error instanceof YosaiError ? mapYosaiError(error) : error;
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as Partial<PromiseLike<T>> | null)?.then === 'function';
}
