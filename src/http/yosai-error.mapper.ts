import {
  ConflictException,
  ForbiddenException,
  HttpException,
  HttpStatus,
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
  LoginThrottledError,
  SessionLimitError,
  SessionStoreError,
  StoppedSessionError,
  TooManySessionsError,
  UnknownSessionError,
  YosaiError,
} from '../errors/yosai.errors.js';

/** The one message every failed login gets, whatever the reason. */
export const LOGIN_FAILED_MESSAGE = 'Invalid username or password';

/** The message of a login refused by throttling or the verification cap (the same for every scope). */
export const LOGIN_THROTTLED_MESSAGE = 'Too many login attempts; try again later';

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
 * | `TooManySessionsError` (`maxSessionsPerPrincipal` with the policy `refuse`) | 409, with the error's message |
 * | `SessionLimitError` (the session would hold too many attributes or bytes) | 413 |
 * | `LoginThrottledError` (a locked username or address, or no free verification slot) | 429; the filter adds `Retry-After` |
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
  if (error instanceof TooManySessionsError) return new ConflictException(error.message);
  if (error instanceof SessionLimitError) return new PayloadTooLargeException('Session data too large');
  if (error instanceof LoginThrottledError) {
    return new HttpException(LOGIN_THROTTLED_MESSAGE, HttpStatus.TOO_MANY_REQUESTS);
  }
  if (error instanceof SessionStoreError) return new ServiceUnavailableException('Session store unavailable');
  return new InternalServerErrorException();
}
