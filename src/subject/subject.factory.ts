import { Inject, Injectable } from '@nestjs/common';
import { Authenticator } from '../auth/authenticator.js';
import { Authorizer } from '../authz/authorizer.js';
import { andThen } from '../common/maybe-promise.js';
import type { ResolvedYosaiConfig } from '../options/yosai-options.interface.js';
import { SessionManager, type SessionResolution } from '../session/session.manager.js';
import { YosaiEventPublisher } from '../session/yosai-event.publisher.js';
import { YOSAI_CONFIG } from '../yosai.internal-constants.js';
import { Subject, type SubjectContext } from './subject.js';
import { TokenSource, type HttpRequestLike, type PresentedToken, type TokenSink } from './token-source.js';

/** Options of {@link SubjectFactory.fromToken}. */
export interface SubjectFromTokenOptions {
  /** Client address for a session started by this Subject. */
  host?: string | null;
  /** Receives new tokens (session started or replaced) and `null` when the session ends. */
  onToken?: (token: string | null) => void;
}

/**
 * Stands for "a token was presented but none is usable" (several different ones, or a bad header): not a
 * well-formed token, so the manager resolves it to `malformed` without asking the store.
 */
const UNUSABLE = '\u0000';

/**
 * Makes Subjects: from an HTTP request (what `YosaiGuard` does), or from a bare token for contexts
 * without HTTP (a WebSocket handshake, a microservice message, a job).
 */
@Injectable()
export class SubjectFactory {
  private readonly context: SubjectContext;

  constructor(
    private readonly manager: SessionManager,
    authenticator: Authenticator,
    events: YosaiEventPublisher,
    private readonly tokens: TokenSource,
    @Inject(YOSAI_CONFIG) private readonly config: ResolvedYosaiConfig,
    authorizer: Authorizer,
  ) {
    this.context = { manager, authenticator, authorizer, events, now: () => config.clock.now() };
  }

  /**
   * The Subject of an HTTP request (Express or Fastify). At most one store read, none without a token.
   * An unusable, unknown or expired token gives a guest and clears the cookie.
   * @throws SessionStoreError when the store fails for a request that presented a token (fail closed).
   */
  async fromRequest(
    request: HttpRequestLike,
    response?: unknown,
    presented?: PresentedToken,
  ): Promise<Subject> {
    return this.subjectOfRequest(request, response, presented);
  }

  /**
   * @internal {@link fromRequest}, answered at once when the manager answers at once (no token, or a store in this
   * process's memory). `YosaiGuard` uses it on every request.
   */
  subjectOfRequest(
    request: HttpRequestLike,
    response?: unknown,
    presented: PresentedToken = this.tokens.extract(request),
  ): Subject | Promise<Subject> {
    const sink = new ResponseSink(this.tokens, request, response, presented);
    // The client address is read only if a session starts: Express's `req.ip` runs proxy-addr on every read.
    return this.make(presented.presented ? (presented.token ?? UNUSABLE) : null, sink, request, undefined);
  }

  /** @internal The configuration in force, for the guard (cross-site check, cache headers). */
  get configuration(): ResolvedYosaiConfig {
    return this.config;
  }

  /** The token a request presents by cookie and/or header, as configured (no store access). */
  extractToken(request: HttpRequestLike): PresentedToken {
    return this.tokens.extract(request);
  }

  /** The Subject for a bare token (or none). Same rules as {@link fromRequest}. */
  async fromToken(token: string | null | undefined, options: SubjectFromTokenOptions = {}): Promise<Subject> {
    const onToken = options.onToken;
    const sink: TokenSink | undefined = onToken
      ? { issue: (t) => onToken(t), clear: () => onToken(null) }
      : undefined;
    return this.make(token ?? null, sink, undefined, options.host ?? null);
  }

  private make(
    token: string | null,
    sink: TokenSink | undefined,
    request: HttpRequestLike | undefined,
    host: string | null | undefined,
  ): Subject | Promise<Subject> {
    return andThen(this.manager.lookup(token), (resolution) =>
      this.subjectFor(resolution, sink, request, host),
    );
  }

  private subjectFor(
    resolution: SessionResolution,
    sink: TokenSink | undefined,
    request: HttpRequestLike | undefined,
    host: string | null | undefined,
  ): Subject | Promise<Subject> {
    const session = resolution.status === 'valid' ? resolution.session : null;
    // A token that no longer works is cleared at the client; one whose record a newer release wrote is kept.
    if (!session && resolution.status !== 'none' && !(resolution.status === 'unknown' && resolution.newer)) {
      sink?.clear();
    }
    const subject = Subject.create(this.context, {
      session,
      resolution: resolution.status,
      sink,
      request,
      host,
    });
    return !session && this.config.eagerSessions ? subject.getSession().then(() => subject) : subject;
  }
}

/**
 * The token sink of one HTTP exchange: the transport's sink (closures over the response) is built only when a
 * token is actually issued or cleared, which most requests never do.
 */
class ResponseSink implements TokenSink {
  private sink: TokenSink | undefined;

  constructor(
    private readonly tokens: TokenSource,
    private readonly request: HttpRequestLike,
    private readonly response: unknown,
    private readonly presented: PresentedToken,
  ) {}

  issue(token: string): void {
    this.target().issue(token);
  }

  clear(reason?: 'logout'): void {
    this.target().clear(reason);
  }

  private target(): TokenSink {
    return (this.sink ??= this.tokens.sinkFor(this.request, this.response, this.presented));
  }
}
