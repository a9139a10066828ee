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
import { mapYosaiError } from './yosai-error.mapper.js';

/**
 * Turns `YosaiError`s thrown by handlers (a failed `login()`, a dead store) into HTTP answers via
 * {@link mapYosaiError}. Registered by `YosaiModule` as a global filter that catches only `YosaiError`,
 * so it leaves every other error to the app's own filters. Override {@link mapError} to change answers.
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
    if (host.getType() !== 'http') throw error;
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
    const body = http.getResponse();
    const response: unknown = host.switchToHttp().getResponse();
    if (error instanceof LoginThrottledError && http.getStatus() === 429) {
      this.adapterHost.httpAdapter.setHeader(response, 'Retry-After', String(error.retryAfterSeconds));
    }
    this.adapterHost.httpAdapter.reply(
      response,
      typeof body === 'string' ? { statusCode: http.getStatus(), message: body } : body,
      http.getStatus(),
    );
  }
}
