import {
  ForbiddenException,
  HttpException,
  InternalServerErrorException,
  PayloadTooLargeException,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import {
  AuthenticationError,
  AuthorizationError,
  UnauthenticatedError,
  CrossSiteRequestError,
  ExpiredSessionError,
  SessionLimitError,
  SessionStoreError,
  StoppedSessionError,
  UnknownSessionError,
  YosaiError,
} from '../errors/yosai.errors.js';

/** The one message every failed login gets, whatever the reason. */
export const LOGIN_FAILED_MESSAGE = 'Invalid username or password';

/**
 * Maps a domain error to the HTTP answer. Messages are generic: they never say whether a username
 * exists, and never echo a token or a stored value.
 *
 * | error | status |
 * |---|---|
 * | `AuthenticationError` (unknown account, wrong password) | 401, one message for both |
 * | `ExpiredSessionError`, `StoppedSessionError`, `UnknownSessionError` | 401 |
 * | `UnauthenticatedError` (an authorization check on a guest) | 401 |
 * | `AuthorizationError` | 403, naming only the role or permission checked, as written |
 * | `CrossSiteRequestError` | 403 |
 * | `SessionLimitError` (the session would hold too many attributes or bytes) | 413 |
 * | `SessionStoreError` | 503 (fail closed) |
 * | anything else from this library, `SessionSerializationError` included (a programming error) | 500 |
 */
export function mapYosaiError(error: YosaiError): HttpException {
  if (error instanceof AuthenticationError) return new UnauthorizedException(LOGIN_FAILED_MESSAGE);
  if (
    error instanceof ExpiredSessionError ||
    error instanceof StoppedSessionError ||
    error instanceof UnknownSessionError
  ) {
    return new UnauthorizedException('Session is no longer valid');
  }
  if (error instanceof UnauthenticatedError) return new UnauthorizedException('Authentication required');
  if (error instanceof AuthorizationError) return new ForbiddenException(error.message);
  if (error instanceof CrossSiteRequestError) return new ForbiddenException('Cross-site request refused');
  if (error instanceof SessionLimitError) return new PayloadTooLargeException('Session data too large');
  if (error instanceof SessionStoreError) return new ServiceUnavailableException('Session store unavailable');
  return new InternalServerErrorException();
}
