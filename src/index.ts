// The public API of nestjs-yosai. Everything not exported here is internal.
export { YosaiModule } from './yosai.module.js';
export {
  YOSAI_MODULE_OPTIONS,
  YOSAI_OPTIONS_TYPE,
  YOSAI_ASYNC_OPTIONS_TYPE,
} from './yosai.module-definition.js';
export type {
  Clock,
  YosaiCookieOptions,
  YosaiHeaderOptions,
  YosaiModuleOptions,
  YosaiLoginThrottleOptions,
  YosaiPasswordVerificationOptions,
} from './options/yosai-options.interface.js';
export { YOSAI_DEFAULTS } from './options/yosai.defaults.js';
export {
  YOSAI_SUBJECT,
  YOSAI_EVENTS,
  YOSAI_SESSION_STARTED,
  YOSAI_SESSION_STOPPED,
  YOSAI_SESSION_EXPIRED,
  YOSAI_LOGIN_SUCCEEDED,
  YOSAI_LOGIN_FAILED,
  YOSAI_AUTHORIZATION_GRANTED,
  YOSAI_AUTHORIZATION_DENIED,
} from './yosai.constants.js';
export * from './errors/yosai.errors.js';
export { Session } from './session/session.js';
export {
  SessionManager,
  type SessionResolution,
  type StartSessionOptions,
  type IssuedSession,
  type SessionIdentity,
  type ReplaceSessionOptions,
  type SessionInfo,
  USER_AGENT_ATTRIBUTE,
} from './session/session.manager.js';
export { SessionRegistry } from './session/session.registry.js';
export {
  SessionStartedEvent,
  SessionStoppedEvent,
  SessionExpiredEvent,
  LoginSucceededEvent,
  LoginFailedEvent,
  type LoginFailureReason,
  type SessionStopReason,
  type SessionExpiryReason,
} from './session/session.events.js';
export {
  SessionStore,
  type FieldPatch,
  type FieldPatchResult,
  type FieldRead,
  type FieldRecords,
  type PrincipalIndex,
  type StoredFields,
  type SessionDeleteHints,
  type SessionWriteHints,
  type SessionExpiryHints,
  type ExpiryQueue,
  type StoredValue,
} from './store/session.store.js';
export { SessionSweeper } from './session/session.sweeper.js';
export {
  CacheManagerSessionStore,
  type CacheManagerSessionStoreOptions,
} from './store/cache-manager-session.store.js';
export { Subject } from './subject/subject.js';
export { SubjectFactory, type SubjectFromTokenOptions } from './subject/subject.factory.js';
export {
  Realm,
  type Account,
  type AuthenticatedAccount,
  type AuthenticationToken,
  type AuthorizationInfo,
  type RealmProvider,
} from './auth/realm.js';
export { VerifiedIdentityToken, VerifiedIdentityRealm } from './auth/verified-identity.js';
export { WildcardPermission, type WildcardPermissionOptions } from './authz/wildcard-permission.js';
export { Authorizer, type PermissionLike, type Logical } from './authz/authorizer.js';
export { AuthorizationGrantedEvent, AuthorizationDeniedEvent } from './authz/authorization.events.js';
export {
  RequiresRoles,
  RequiresPermissions,
  type RequiresAuthorizationOptions,
} from './http/requires-authorization.decorator.js';
export { UsernamePasswordToken } from './auth/username-password.token.js';
export {
  PasswordHasher,
  DEFAULT_SCRYPT_PARAMETERS,
  SCRYPT_FLOOR,
  type ScryptParameters,
  type PasswordHasherOptions,
} from './auth/password.hasher.js';
export { YosaiGuard } from './http/yosai.guard.js';
export { CurrentSubject } from './http/current-subject.decorator.js';
export { subjectOf } from './http/subject-of.js';
export { subjectOfContext } from './http/execution-contexts.js';
export { SubjectAccessor } from './http/subject-accessor.js';
export {
  RequiresAuthentication,
  RequiresUser,
  RequiresGuest,
  type SubjectRequirement,
} from './http/requires.decorator.js';
export { YosaiExceptionFilter } from './http/yosai-exception.filter.js';
export { mapYosaiError, LOGIN_FAILED_MESSAGE, LOGIN_THROTTLED_MESSAGE } from './http/yosai-error.mapper.js';
export type { PresentedToken, HttpRequestLike } from './subject/token-source.js';
export {
  /** @deprecated Import from 'nestjs-yosai/testing' */
  ManualClock,
} from './testing/manual.clock.js';
