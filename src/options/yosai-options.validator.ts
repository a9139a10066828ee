import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
  ValidateNested,
  validateSync,
  type ValidationError,
} from 'class-validator';
import { belowScryptFloor } from '../auth/password.hasher.js';
import { YosaiConfigurationError } from '../errors/yosai.errors.js';
import { isSessionStore } from '../store/session.store.js';
import type { ValidatedYosaiOptions, YosaiModuleOptions } from './yosai-options.interface.js';
import { YOSAI_DEFAULTS } from './yosai.defaults.js';

// RFC 7230 token characters: what a cookie or header name may contain.
const TOKEN_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MAX_MS = 365 * 24 * 60 * 60_000;

class CookieOptionsSchema {
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(TOKEN_NAME, { message: "must be a valid cookie name (letters, digits, !#$%&'*+-.^_`|~)" })
  name?: string;
  @IsOptional()
  @IsIn([true, false, 'auto'], { message: "must be true, false or 'auto'" })
  secure?: boolean | 'auto';
  @IsOptional()
  @IsIn(['lax', 'strict', 'none'], { message: "must be 'lax', 'strict' or 'none'" })
  sameSite?: string;
  @IsOptional()
  @IsBoolean({ message: 'must be a boolean' })
  hostPrefix?: boolean;
  @IsOptional()
  @IsInt({ message: 'must be an integer number of milliseconds' })
  @Min(1000, { message: 'must be at least 1000 ms' })
  @Max(MAX_MS)
  maxAgeMs?: number;
}

class HeaderOptionsSchema {
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(TOKEN_NAME, { message: 'must be a valid header name' })
  name?: string;
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(TOKEN_NAME, { message: 'must be a valid header name' })
  responseHeader?: string;
}

class ScryptSchema {
  @IsOptional()
  @IsInt()
  @Min(10, { message: 'must be at least 10 (N = 1024)' })
  @Max(20, { message: 'must be at most 20' })
  logN?: number;
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(32)
  r?: number;
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(16)
  p?: number;
  @IsOptional()
  @IsBoolean({ message: 'must be a boolean' })
  allowWeakParameters?: boolean;
}

class LoginThrottleSchema {
  @IsOptional()
  @IsBoolean({ message: 'must be a boolean' })
  enabled?: boolean;
  @IsOptional()
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be at least 1' })
  @Max(1000)
  maxFailures?: number;
  @IsOptional()
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be at least 1' })
  @Max(1_000_000)
  maxFailuresPerAddress?: number;
  @IsOptional()
  @IsInt({ message: 'must be an integer number of milliseconds' })
  @Min(1000, { message: 'must be at least 1000 ms' })
  @Max(24 * 60 * 60_000, { message: 'must be at most 24 hours (a lock must stay bounded)' })
  lockMs?: number;
}

class PasswordVerificationSchema {
  @IsOptional()
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be at least 1' })
  @Max(1024)
  maxConcurrent?: number;
  @IsOptional()
  @IsInt({ message: 'must be an integer number of milliseconds' })
  @Min(0, { message: 'must not be negative' })
  @Max(60_000)
  maxWaitMs?: number;
  @IsOptional()
  @IsInt({ message: 'must be an integer' })
  @Min(0, { message: 'must not be negative' })
  @Max(1_000_000)
  maxQueued?: number;
  @IsOptional()
  @IsInt({ message: 'must be an integer number of milliseconds' })
  @Min(0, { message: 'must not be negative' })
  @Max(60_000)
  refusalDelayMs?: number;
}

class CsrfSchema {
  @IsOptional()
  @IsBoolean({ message: 'must be a boolean' })
  enabled?: boolean;
  @IsOptional()
  @IsArray({ message: "must be an array of origins such as 'https://app.example.com'" })
  @ArrayMaxSize(100)
  @IsString({ each: true, message: "must be an array of origins such as 'https://app.example.com'" })
  trustedOrigins?: string[];
}

/** Keys of the nested option objects (the schemas above), to refuse misspelt ones. */
const KNOWN_NESTED: Record<string, readonly string[]> = {
  cookie: ['name', 'secure', 'sameSite', 'hostPrefix', 'maxAgeMs'],
  header: ['name', 'responseHeader'],
  passwordHashing: ['logN', 'r', 'p', 'allowWeakParameters'],
  loginThrottle: ['enabled', 'maxFailures', 'maxFailuresPerAddress', 'lockMs'],
  passwordVerification: ['maxConcurrent', 'maxWaitMs', 'maxQueued', 'refusalDelayMs'],
  csrf: ['enabled', 'trustedOrigins'],
};

const msInt = { message: 'must be an integer number of milliseconds' };

class OptionsSchema {
  @IsOptional()
  @IsInt(msInt)
  @Min(1, { message: 'must be positive' })
  @Max(MAX_MS)
  idleTimeoutMs?: number;
  @IsOptional()
  @IsInt(msInt)
  @Min(1, { message: 'must be positive' })
  @Max(MAX_MS)
  absoluteTimeoutMs?: number;
  @IsOptional()
  @IsInt(msInt)
  @Min(1, { message: 'must be positive' })
  @Max(MAX_MS)
  guestIdleTimeoutMs?: number;
  @IsOptional()
  @IsInt(msInt)
  @Min(0, { message: 'must not be negative' })
  @Max(MAX_MS)
  touchIntervalMs?: number;
  @IsOptional()
  @IsInt(msInt)
  @Min(1, { message: 'must be positive' })
  @Max(600_000)
  storeTimeoutMs?: number;
  @IsOptional()
  @IsInt(msInt)
  @Min(0, { message: 'must not be negative' })
  @Max(MAX_MS)
  expiredRecordGraceMs?: number;
  @IsOptional()
  @IsInt(msInt)
  @Min(0, { message: 'must not be negative' })
  @Max(MAX_MS)
  expirySweepIntervalMs?: number;
  @IsOptional()
  @IsInt(msInt)
  @Min(1, { message: 'must be positive' })
  @Max(MAX_MS)
  expirySweepLeaseMs?: number;
  @IsOptional()
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be at least 1' })
  @Max(100_000)
  expirySweepBatchSize?: number;
  @IsOptional()
  @IsBoolean({ message: 'must be a boolean' })
  eagerSessions?: boolean;
  @IsOptional()
  @IsBoolean({ message: 'must be a boolean' })
  carryAttributesOnLogin?: boolean;
  @IsOptional()
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be at least 1' })
  @Max(100_000)
  maxAttributes?: number;
  @IsOptional()
  @IsBoolean({ message: 'must be a boolean' })
  principalIndex?: boolean;
  @IsOptional()
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be at least 1' })
  @Max(100_000)
  maxSessionsPerPrincipal?: number;
  @IsOptional()
  @IsIn(['evict-oldest', 'refuse'], { message: "must be 'evict-oldest' or 'refuse'" })
  maxSessionsPerPrincipalPolicy?: 'evict-oldest' | 'refuse';
  @IsOptional()
  @IsInt({ message: 'must be an integer number of bytes' })
  @Min(1024, { message: 'must be at least 1024 bytes' })
  @Max(64 * 1024 * 1024, { message: 'must be at most 64 MiB' })
  maxRecordBytes?: number;
  @IsOptional()
  @IsArray({ message: 'must be an array of secret strings' })
  @ArrayMaxSize(16)
  @IsString({ each: true, message: 'must be an array of secret strings' })
  @MinLength(32, { each: true, message: 'must hold keys of at least 32 characters' })
  recordKeys?: string[];
  @ValidateIf((o: OptionsSchema) => o.cookie !== undefined && o.cookie !== false)
  @ValidateNested()
  @Type(() => CookieOptionsSchema)
  cookie?: CookieOptionsSchema | false;
  @ValidateIf((o: OptionsSchema) => o.header !== undefined && o.header !== false)
  @ValidateNested()
  @Type(() => HeaderOptionsSchema)
  header?: HeaderOptionsSchema | false;
  @IsOptional()
  @ValidateNested()
  @Type(() => ScryptSchema)
  passwordHashing?: ScryptSchema;
  @IsOptional()
  @ValidateNested()
  @Type(() => LoginThrottleSchema)
  loginThrottle?: LoginThrottleSchema;
  @IsOptional()
  @ValidateNested()
  @Type(() => PasswordVerificationSchema)
  passwordVerification?: PasswordVerificationSchema;
  @IsOptional()
  @IsIn(['first-success', 'all'], { message: "must be 'first-success' or 'all'" })
  authenticationStrategy?: string;
  @IsOptional()
  @IsInt(msInt)
  @Min(0, { message: 'must not be negative' })
  @Max(MAX_MS)
  authorizationCacheTtlMs?: number;
  @IsOptional()
  @IsInt({ message: 'must be an integer' })
  @Min(1, { message: 'must be at least 1' })
  @Max(10_000_000)
  authorizationCacheSize?: number;
  @IsOptional()
  @ValidateNested()
  @Type(() => CsrfSchema)
  csrf?: CsrfSchema;
  @IsOptional()
  @IsBoolean({ message: 'must be a boolean' })
  clearSiteDataOnLogout?: boolean;
  @IsOptional()
  @IsBoolean({ message: 'must be a boolean' })
  closeStoreOnShutdown?: boolean;
}

function describeErrors(errors: ValidationError[], parent = ''): string[] {
  const lines: string[] = [];
  for (const error of errors) {
    const path = parent ? `${parent}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) {
      // class-validator messages start with the property name; ours do not.
      const text = message.startsWith(error.property) ? message.slice(error.property.length).trim() : message;
      // Secrets never reach a message (it may be logged): only their shape is told.
      const got =
        path === 'recordKeys'
          ? Array.isArray(error.value)
            ? `${error.value.length} value(s), not shown`
            : typeof error.value
          : (JSON.stringify(error.value) ?? String(error.value));
      lines.push(`\`${path}\` ${text} (got ${got})`);
    }
    lines.push(...describeErrors(error.children ?? [], path));
  }
  return lines;
}

const REALM_SHAPE =
  'must be a Realm (an object with findAccount, authenticate or getAuthorizationInfo), a Realm class, or the injection token of one.';

/** A realm instance, or something Nest resolves to one (a class or an injection token). */
function isRealmProvider(value: unknown): boolean {
  if (typeof value === 'function' || typeof value === 'symbol') return true;
  if (typeof value === 'string') return value.length > 0;
  if (!value || typeof value !== 'object') return false;
  const realm = value as Record<string, unknown>;
  return ['findAccount', 'authenticate', 'getAuthorizationInfo'].some((m) => typeof realm[m] === 'function');
}

function fail(option: string, why: string): never {
  throw new YosaiConfigurationError(`YosaiModule option \`${option}\` ${why}`, option);
}

/**
 * Validates the options once, at bootstrap, and fills in every default. Constructs nothing: the module makes the
 * default store.
 * @throws YosaiConfigurationError naming the option at fault and why.
 */
export function resolveYosaiOptions(options: YosaiModuleOptions | undefined | null): ValidatedYosaiOptions {
  if (options === null || typeof options !== 'object') {
    throw new YosaiConfigurationError('YosaiModule options must be an object (pass {} for the defaults).');
  }
  const { store, realm, realms, clock, ...plain } = options;
  const schema = plainToInstance(OptionsSchema, plain);
  const errors = validateSync(schema, { forbidUnknownValues: false });
  if (errors.length > 0) {
    const lines = describeErrors(errors);
    throw new YosaiConfigurationError(
      `YosaiModule options are invalid:\n  - ${lines.join('\n  - ')}`,
      errors.map((e) => e.property).join(','),
    );
  }
  const known = new Set([
    'idleTimeoutMs',
    'absoluteTimeoutMs',
    'guestIdleTimeoutMs',
    'touchIntervalMs',
    'storeTimeoutMs',
    'expiredRecordGraceMs',
    'expirySweepIntervalMs',
    'expirySweepLeaseMs',
    'expirySweepBatchSize',
    'eagerSessions',
    'carryAttributesOnLogin',
    'maxAttributes',
    'maxRecordBytes',
    'principalIndex',
    'maxSessionsPerPrincipal',
    'maxSessionsPerPrincipalPolicy',
    'recordKeys',
    'store',
    'closeStoreOnShutdown',
    'realm',
    'realms',
    'authenticationStrategy',
    'authorizationCacheTtlMs',
    'authorizationCacheSize',
    'cookie',
    'header',
    'passwordHashing',
    'loginThrottle',
    'passwordVerification',
    'csrf',
    'clearSiteDataOnLogout',
    'clock',
    'isGlobal',
  ]);
  for (const key of Object.keys(options)) {
    if (!known.has(key))
      fail(key, `is not a known option (check its spelling; known: ${[...known].join(', ')})`);
  }
  // A misspelt nested option (`cookie: { sameSit: 'strict' }`) would otherwise silently fall back to a default.
  for (const [group, keys] of Object.entries(KNOWN_NESTED)) {
    const value: unknown = (plain as Record<string, unknown>)[group];
    if (!value || typeof value !== 'object') continue;
    for (const key of Object.keys(value)) {
      if (!keys.includes(key))
        fail(`${group}.${key}`, `is not a known option (check its spelling; known: ${keys.join(', ')})`);
    }
  }

  if (store !== undefined && !isSessionStore(store)) {
    const looksLikeCache = !!store && typeof store === 'object' && 'stores' in store && 'wrap' in store;
    fail(
      'store',
      looksLikeCache
        ? 'is a cache-manager Cache, not a SessionStore: wrap it as `new CacheManagerSessionStore(cache)`.'
        : 'must be a SessionStore (an object with get, set, compareAndSet and delete methods), e.g. `new CacheManagerSessionStore(cache)`.',
    );
  }
  if (realm !== undefined && realm !== null && !isRealmProvider(realm)) {
    fail('realm', REALM_SHAPE);
  }
  if (realms !== undefined && !Array.isArray(realms)) fail('realms', 'must be an array of realms.');
  (realms ?? []).forEach((entry, i) => {
    if (!isRealmProvider(entry)) fail(`realms[${i}]`, REALM_SHAPE);
  });
  if (clock !== undefined && typeof (clock as { now?: unknown })?.now !== 'function') {
    fail('clock', 'must be an object with a now() method returning epoch milliseconds.');
  }

  const idleTimeoutMs = plain.idleTimeoutMs ?? YOSAI_DEFAULTS.idleTimeoutMs;
  const absoluteTimeoutMs = plain.absoluteTimeoutMs ?? YOSAI_DEFAULTS.absoluteTimeoutMs;
  if (idleTimeoutMs > absoluteTimeoutMs) {
    fail(
      'idleTimeoutMs',
      `(${idleTimeoutMs}) must not be longer than \`absoluteTimeoutMs\` (${absoluteTimeoutMs}): the idle timeout could never apply.`,
    );
  }
  const touchIntervalMs =
    plain.touchIntervalMs ??
    Math.min(Math.floor(idleTimeoutMs / 10), YOSAI_DEFAULTS.maxDefaultTouchIntervalMs);
  if (touchIntervalMs >= idleTimeoutMs) {
    fail(
      'touchIntervalMs',
      `(${touchIntervalMs}) must be shorter than \`idleTimeoutMs\` (${idleTimeoutMs}), or active sessions would expire between touches.`,
    );
  }
  // The default never makes a configuration that worked before invalid: with a touch interval of 15 minutes or
  // more, guests keep the full idle timeout.
  const defaultGuestIdle = Math.min(YOSAI_DEFAULTS.guestIdleTimeoutMs, idleTimeoutMs);
  const guestIdleTimeoutMs =
    plain.guestIdleTimeoutMs ?? (touchIntervalMs < defaultGuestIdle ? defaultGuestIdle : idleTimeoutMs);
  if (guestIdleTimeoutMs > idleTimeoutMs) {
    fail(
      'guestIdleTimeoutMs',
      `(${guestIdleTimeoutMs}) must not be longer than \`idleTimeoutMs\` (${idleTimeoutMs}): a guest would outlive a signed-in user.`,
    );
  }
  if (touchIntervalMs >= guestIdleTimeoutMs) {
    fail(
      'guestIdleTimeoutMs',
      `(${guestIdleTimeoutMs}) must be longer than \`touchIntervalMs\` (${touchIntervalMs}), or active guest sessions would expire between touches.`,
    );
  }

  const given = plain.cookie === false ? null : { ...YOSAI_DEFAULTS.cookie, ...(plain.cookie ?? {}) };
  // A Secure cookie gets the __Host- prefix unless the app says otherwise: a sibling subdomain cannot plant
  // one (cookie tossing), so a duplicate can never stand in for the user's real cookie.
  const cookie = given
    ? Object.freeze({ ...given, hostPrefix: given.hostPrefix ?? given.secure === true })
    : null;
  if (cookie?.hostPrefix && cookie.secure !== true) {
    fail(
      'cookie.hostPrefix',
      'requires `cookie.secure: true`: browsers reject __Host- cookies without Secure.',
    );
  }
  if (cookie?.sameSite === 'none' && cookie.secure === false) {
    fail('cookie.sameSite', "'none' requires a Secure cookie: browsers reject SameSite=None without Secure.");
  }
  const header =
    plain.header === undefined || plain.header === false
      ? null
      : Object.freeze({
          name: (plain.header.name ?? YOSAI_DEFAULTS.header.name).toLowerCase(),
          responseHeader: (plain.header.responseHeader ?? YOSAI_DEFAULTS.header.responseHeader).toLowerCase(),
        });
  if (!cookie && !header) {
    fail(
      'cookie',
      'and `header` are both off: turn one of them on, or clients cannot present a session token.',
    );
  }

  const { allowWeakParameters = false, ...scrypt } = plain.passwordHashing ?? {};
  const passwordHashing = Object.freeze({
    ...YOSAI_DEFAULTS.passwordHashing,
    ...scrypt,
    allowWeakParameters,
  });
  const weak = belowScryptFloor(passwordHashing);
  if (weak && !allowWeakParameters) {
    fail(
      'passwordHashing',
      `is below OWASP's scrypt floor: ${weak}. Raise the cost (the default is { logN: 15, r: 8, p: 3 }), or set ` +
        '`allowWeakParameters: true` in tests only.',
    );
  }

  const trustedOrigins = new Set<string>();
  for (const origin of plain.csrf?.trustedOrigins ?? []) trustedOrigins.add(originOf(origin));

  return Object.freeze({
    idleTimeoutMs,
    absoluteTimeoutMs,
    guestIdleTimeoutMs,
    touchIntervalMs,
    storeTimeoutMs: plain.storeTimeoutMs ?? YOSAI_DEFAULTS.storeTimeoutMs,
    expiredRecordGraceMs: plain.expiredRecordGraceMs ?? YOSAI_DEFAULTS.expiredRecordGraceMs,
    expirySweepIntervalMs: plain.expirySweepIntervalMs,
    expirySweepLeaseMs: plain.expirySweepLeaseMs ?? YOSAI_DEFAULTS.expirySweepLeaseMs,
    expirySweepBatchSize: plain.expirySweepBatchSize ?? YOSAI_DEFAULTS.expirySweepBatchSize,
    eagerSessions: plain.eagerSessions ?? YOSAI_DEFAULTS.eagerSessions,
    carryAttributesOnLogin: plain.carryAttributesOnLogin ?? YOSAI_DEFAULTS.carryAttributesOnLogin,
    maxAttributes: plain.maxAttributes ?? YOSAI_DEFAULTS.maxAttributes,
    maxRecordBytes: plain.maxRecordBytes ?? YOSAI_DEFAULTS.maxRecordBytes,
    principalIndex: (plain.principalIndex ?? false) || (plain.maxSessionsPerPrincipal ?? null) !== null,
    maxSessionsPerPrincipal: plain.maxSessionsPerPrincipal ?? null,
    maxSessionsPerPrincipalPolicy:
      plain.maxSessionsPerPrincipalPolicy ?? YOSAI_DEFAULTS.maxSessionsPerPrincipalPolicy,
    recordKeys: Object.freeze([...(plain.recordKeys ?? [])]),
    store: store ?? null,
    closeStoreOnShutdown: plain.closeStoreOnShutdown ?? YOSAI_DEFAULTS.closeStoreOnShutdown,
    realms: Object.freeze([...(realm ? [realm] : []), ...(realms ?? [])]),
    authenticationStrategy: plain.authenticationStrategy ?? YOSAI_DEFAULTS.authenticationStrategy,
    authorizationCacheTtlMs: plain.authorizationCacheTtlMs ?? YOSAI_DEFAULTS.authorizationCacheTtlMs,
    authorizationCacheSize: plain.authorizationCacheSize ?? YOSAI_DEFAULTS.authorizationCacheSize,
    cookie: cookie ? (cookie as ValidatedYosaiOptions['cookie']) : null,
    header,
    passwordHashing,
    loginThrottle: Object.freeze({ ...YOSAI_DEFAULTS.loginThrottle, ...(plain.loginThrottle ?? {}) }),
    passwordVerification: Object.freeze({
      ...YOSAI_DEFAULTS.passwordVerification,
      ...(plain.passwordVerification ?? {}),
    }),
    clock: clock ?? { now: Date.now },
    csrf: Object.freeze({
      enabled: plain.csrf?.enabled ?? YOSAI_DEFAULTS.csrf.enabled,
      trustedOrigins: trustedOrigins,
    }),
    clearSiteDataOnLogout: plain.clearSiteDataOnLogout ?? YOSAI_DEFAULTS.clearSiteDataOnLogout,
  });
}

/** An origin as browsers send it in `Origin`, or a configuration error naming the bad entry. */
function originOf(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  // Only scheme://host[:port] is an origin: a path, query or credentials would never match and hide a typo.
  if (
    !url ||
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.pathname !== '/' ||
    url.search !== '' ||
    url.hash !== '' ||
    url.username !== '' ||
    url.password !== ''
  ) {
    fail(
      'csrf.trustedOrigins',
      `has ${JSON.stringify(text)}, which is not an origin: write scheme://host[:port], e.g. 'https://app.example.com'.`,
    );
  }
  return url.origin;
}
