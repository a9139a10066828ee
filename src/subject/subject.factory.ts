import { Inject, Injectable } from '@nestjs/common';
import { Authenticator } from '../auth/authenticator.js';
import {
  TokenTransport,
  type HttpRequestLike,
  type PresentedToken,
  type TokenSink,
} from '../http/token-transport.js';
import type { ResolvedYosaiConfig } from '../options/yosai-options.interface.js';
import { SessionManager } from '../session/session.manager.js';
import { YosaiEventPublisher } from '../session/yosai-event.publisher.js';
import { YOSAI_CONFIG } from '../yosai.internal-constants.js';
import { Subject, type SubjectContext } from './subject.js';

/** Options of {@link SubjectFactory.fromToken}. */
export interface SubjectFromTokenOptions {
  /** Client address for a session started by this Subject. */
  host?: string | null;
  /** Receives new tokens (session started or replaced) and `null` when the session ends. */
  onToken?: (token: string | null) => void;
}

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
    private readonly transport: TokenTransport,
    @Inject(YOSAI_CONFIG) private readonly config: ResolvedYosaiConfig,
  ) {
    this.context = { manager, authenticator, events, now: () => config.clock.now() };
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
    presented ??= this.transport.extract(request);
    const sink = this.transport.sinkFor(request, response as never, presented);
    return this.make(presented.presented ? (presented.token ?? '\u0000') : null, request.ip ?? null, sink);
  }

  /** The token a request presents by cookie and/or header, as configured (no store access). */
  extractToken(request: HttpRequestLike): PresentedToken {
    return this.transport.extract(request);
  }

  /** The Subject for a bare token (or none). Same rules as {@link fromRequest}. */
  async fromToken(token: string | null | undefined, options: SubjectFromTokenOptions = {}): Promise<Subject> {
    const onToken = options.onToken;
    const sink: TokenSink | undefined = onToken
      ? { issue: (t) => onToken(t), clear: () => onToken(null) }
      : undefined;
    return this.make(token ?? null, options.host ?? null, sink);
  }

  private async make(
    token: string | null,
    host: string | null,
    sink: TokenSink | undefined,
  ): Promise<Subject> {
    const resolution = await this.manager.resolve(token);
    const session = resolution.status === 'valid' ? resolution.session : null;
    if (resolution.status !== 'valid' && resolution.status !== 'none') sink?.clear();
    const subject = new Subject(this.context, { session, sink, host, resolution: resolution.status });
    if (!session && this.config.eagerSessions) await subject.getSession();
    return subject;
  }
}
