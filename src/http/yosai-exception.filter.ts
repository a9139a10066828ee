import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import {
  InvalidPermissionError,
  LoginThrottledError,
  SessionSerializationError,
  SessionStoreError,
  YosaiConfigurationError,
  YosaiError,
} from '../errors/yosai.errors.js';
import { inTransportTerms } from './execution-contexts.js';
import { optionalPeers } from './optional-peers.js';
import { mapYosaiError } from './yosai-error.mapper.js';

/**
 * Turns `YosaiError`s thrown by handlers (a failed `login()`, a dead store) into HTTP answers via
 * {@link mapYosaiError}. Registered by `YosaiModule` as a global filter that catches only `YosaiError`,
 * so it leaves every other error to the app's own filters. Override {@link mapError} to change answers.
 *
 * In a resolver the answer is a `GraphQLError` (`extensions.code` `UNAUTHENTICATED`, `FORBIDDEN`…), in a gateway a
 * `WsException` sent the transport's way, each with the same generic message as over HTTP (a failed login never
 * says whether the username exists). Nest 11 applies no global filter to gateways: there, add
 * `@UseFilters(YosaiExceptionFilter)` to the gateway.
 */
@Catch(YosaiError)
export class YosaiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Yosai');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  /** The HTTP answer for a domain error. */
  protected mapError(error: YosaiError): HttpException {
    return mapYosaiError(error);
  }

  catch(error: YosaiError, host: ArgumentsHost): void {
    const type = host.getType<string>();
    const BaseWsExceptionFilter = optionalPeers().BaseWsExceptionFilter;
    if (type !== 'http' && type !== 'graphql' && !(type === 'ws' && BaseWsExceptionFilter)) throw error;
    // What the client is not told must be in the log: an outage, or a programming error (no token in either).
    if (
      error instanceof SessionStoreError ||
      error instanceof SessionSerializationError ||
      error instanceof YosaiConfigurationError ||
      error instanceof InvalidPermissionError
    ) {
      this.logger.error(error.message);
    }
    const http = this.mapError(error);
    // Never the domain error itself: its message may say more than the HTTP answer does.
    if (type === 'graphql') throw inTransportTerms(type, http);
    if (type === 'ws') return new BaseWsExceptionFilter!().catch(inTransportTerms(type, http), host);
    const body = http.getResponse();
    const response: unknown = host.switchToHttp().getResponse();
    const adapter = this.adapterHost.httpAdapter;
    // A handler that answered (`@Res()`) and then threw: the answer stands; replying again would throw.
    if (adapter.isHeadersSent(response)) {
      adapter.end(response);
      return;
    }
    if (error instanceof LoginThrottledError && http.getStatus() === 429) {
      adapter.setHeader(response, 'Retry-After', String(error.retryAfterSeconds));
    }
    adapter.reply(
      response,
      typeof body === 'string' ? { statusCode: http.getStatus(), message: body } : body,
      http.getStatus(),
    );
  }
}
