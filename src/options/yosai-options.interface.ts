import type { RealmProvider } from '../auth/realm.js';
import type { PasswordHasherOptions, ScryptParameters } from '../auth/password.hasher.js';
import type { SessionStore } from '../store/session.store.js';

/** A source of the current time in epoch milliseconds. Swap it for a controllable clock in tests. */
export interface Clock {
  now(): number;
}

/** How the session token travels in a cookie. */
export interface YosaiCookieOptions {
  /**
   * Cookie name. Generic on purpose: it should not reveal the framework.
   * @default 'sid'
   */
  name?: string;
  /**
   * `Secure` attribute. `true` always sets it; `'auto'` sets it when the request arrived over HTTPS
   * (`request.protocol`, which honours Express's `trust proxy` / Fastify's `trustProxy`: behind a TLS proxy
   * without it the cookie loses Secure, and a warning is logged once); `false` never sets it (local HTTP only).
   * Use `true` in production; `'auto'` is for local development.
   * @default true
   */
  secure?: boolean | 'auto';
  /**
   * `SameSite` attribute.
   * @default 'lax'
   */
  sameSite?: 'lax' | 'strict' | 'none';
  /**
   * Prefix the name with `__Host-`, which makes browsers refuse the cookie unless it is Secure, has
   * `Path=/` and no `Domain`: a sibling subdomain cannot plant a cookie of that name (cookie tossing).
   * Requires `secure: true`. Set `false` to keep the plain name (e.g. while other apps read it).
   * @default true when `secure` is `true`, else false
   */
  hostPrefix?: boolean;
  /**
   * `Max-Age` in milliseconds (rounded down to seconds). Unset gives a browser-session cookie.
   * @default undefined
   */
  maxAgeMs?: number;
}

/** How the session token travels in a request header (API and mobile clients). */
export interface YosaiHeaderOptions {
  /**
   * Request header that carries the token. `'authorization'` reads `Authorization: Bearer <token>`;
   * any other name reads the header's whole value.
   * @default 'authorization'
   */
  name?: string;
  /**
   * Response header in which a new token is returned when a session starts or is replaced.
   * @default 'x-session-token'
   */
  responseHeader?: string;
}

/** Refusal of cross-site state-changing requests that carry the session cookie (CSRF). */
export interface YosaiCsrfOptions {
  /**
   * Refuse (403, `CrossSiteRequestError`) a POST, PUT, PATCH or DELETE that carries the session cookie and
   * comes from another site: `Sec-Fetch-Site` other than `same-origin`/`none`, or, without it, an `Origin`
   * whose host is not the request's `Host`. A request with neither header (not a browser) passes; so does
   * one that presents the token by header only. `false` turns the check off (e.g. when the app has its own
   * CSRF tokens).
   * @default true
   */
  enabled?: boolean;
  /**
   * Origins (`https://app.example.com`, scheme, host and port only) whose requests are allowed although they
   * are cross-origin: a front end served from another host of yours.
   * @default []
   */
  trustedOrigins?: string[];
}

/**
 * Login throttling: failed password logins are counted per username and per client address in the session store
 * (so every instance sharing the store sees the same counts), and attempts past a limit are refused for a while.
 */
export interface YosaiLoginThrottleOptions {
  /**
   * Count failures and refuse attempts past the limits (429, `LoginThrottledError`, with `Retry-After`). `false`
   * turns throttling off (e.g. when a gateway in front of the app already limits login attempts).
   * @default true
   */
  enabled?: boolean;
  /**
   * Password logins one username may have fail (within `lockMs` of each other) before it is locked for `lockMs`.
   * Attempts for a locked username are refused without checking the password, the right one included. Counted
   * for unknown usernames too, so a lock tells nothing about whether an account exists. A success resets it.
   * @default 5
   */
  maxFailures?: number;
  /**
   * Failed password logins from one client address (any usernames, within `lockMs` of each other) before that
   * address is locked for `lockMs`: it limits one client trying one password on many usernames, and one client
   * locking many accounts. Higher than `maxFailures` because many users may share an address (an office, a
   * carrier's NAT). IPv6 addresses are counted per /64 network. A success does not reset it.
   * @default 50
   */
  maxFailuresPerAddress?: number;
  /**
   * How long a lock lasts, and how long a failure is remembered. A lock never grows: attempts refused while
   * locked are not counted. Milliseconds, at most 24 hours.
   * @default 900_000 (15 minutes)
   */
  lockMs?: number;
}

/**
 * A cap on concurrent password verifications, so a flood of logins cannot fill the libuv thread pool (where scrypt
 * runs) and make every login, and every other use of the pool, wait.
 */
export interface YosaiPasswordVerificationOptions {
  /**
   * Most password verifications (scrypt derivations at login, dummy ones included) running at once in this process.
   * Node's libuv pool has 4 threads unless `UV_THREADPOOL_SIZE` says otherwise; the default leaves half of them to
   * the rest of the app (file system, DNS, zlib).
   * @default 2
   */
  maxConcurrent?: number;
  /**
   * How long a login may wait for a free verification slot before it is refused (429, `LoginThrottledError` with
   * scope `capacity`). Milliseconds.
   * @default 2_000
   */
  maxWaitMs?: number;
  /**
   * Most logins waiting for a slot. A free slot goes first to a login whose client address and username had no
   * failed verification in this process lately (15 minutes), then to those with one of the two; among equals, to the
   * address with the fewest verifications running. One address may hold at most a quarter of the places. When the
   * queue is full, a login of a better class takes the newest place of the worst; otherwise it is refused at once. So
   * a flood of guesses, from one address or many, neither keeps out nor holds up a login that has not failed.
   * @default 64
   */
  maxQueued?: number;
  /**
   * How long a refused password login (429: a lock of the login throttle, or no verification slot) is held before
   * it is answered, at most its `Retry-After`. A client that resends each refusal at once (a script) then gets a
   * handful of answers a second instead of hundreds, each of which would cost the event loop the whole request
   * pipeline; a user waits this much longer for a refusal they would get anyway. At most `4 × maxQueued` refusals
   * are held at once; beyond that they are answered at once. `0` answers every refusal at once. Milliseconds.
   * @default 1_000
   */
  refusalDelayMs?: number;
}

/** Options of `YosaiModule.forRoot()` / the factory of `forRootAsync()`. */
export interface YosaiModuleOptions {
  /**
   * A session ends when it has not been accessed for this long. Milliseconds.
   * @default 1_800_000 (30 minutes)
   */
  idleTimeoutMs?: number;
  /**
   * A session ends this long after it started, however active. Milliseconds.
   * @default 28_800_000 (8 hours)
   */
  absoluteTimeoutMs?: number;
  /**
   * Idle timeout of guest sessions (no identifiers). Shorter than `idleTimeoutMs` by default: a guest session
   * costs a store entry but proves nothing, and most are started by clients that never come back, so they
   * should not hold memory as long as a signed-in user's. A login (replacement with identifiers) gets the full
   * `idleTimeoutMs`. Milliseconds; must not exceed `idleTimeoutMs` and must be longer than `touchIntervalMs`.
   * Set it equal to `idleTimeoutMs` to treat guests like everyone else.
   * @default min(900_000 (15 minutes), idleTimeoutMs); `idleTimeoutMs` when `touchIntervalMs` is 15 minutes or more
   */
  guestIdleTimeoutMs?: number;
  /**
   * `lastAccessedAt` is written at most once per interval, so a burst of requests is one write.
   * Milliseconds; `0` writes on every access.
   * @default min(idleTimeoutMs / 10, 60_000)
   */
  touchIntervalMs?: number;
  /**
   * A store operation that has not answered after this long fails with `SessionStoreError`. Milliseconds.
   * Checked by one shared timer every `storeTimeoutMs / 8`, so the failure comes at most that much later.
   * @default 2_000
   */
  storeTimeoutMs?: number;
  /**
   * Records stay in the store this long past their expiry, so a late request can still see and report
   * the expiry (one `expired` event) instead of meeting an unknown token. Milliseconds.
   * @default 60_000
   */
  expiredRecordGraceMs?: number;
  /**
   * How often the expiry sweeper runs: it expires the sessions whose deadline passed, so that every session gets
   * its one `yosai.session.expired` event even when nobody presents its token again, across instances (each pass
   * leases shards of the store's expiry queue). Milliseconds; `0` turns it off. With the sweeper on, records stay in
   * the store `expirySweepIntervalMs + expirySweepLeaseMs` longer (past `expiredRecordGraceMs`), so the sweeper finds them.
   * @default 60_000 when the store has an expiry queue (the in-memory store; Redis with the field model), else 0
   * @throws YosaiConfigurationError at bootstrap when above 0 and the store has no expiry queue.
   */
  expirySweepIntervalMs?: number;
  /**
   * How long an instance holds the lease of a shard of the expiry queue while sweeping it (renewed while it
   * works): an instance that dies mid-sweep leaves its shards to the others after at most this long. Milliseconds.
   * @default 30_000
   */
  expirySweepLeaseMs?: number;
  /** The most sessions the sweeper expires from one shard (of 256) in one pass. @default 100 */
  expirySweepBatchSize?: number;
  /**
   * Start a session the moment a Subject is made (the seed document's literal behaviour). Off by
   * default: bots without cookie jars would fill the store.
   * @default false
   */
  eagerSessions?: boolean;
  /**
   * Copy the guest session's attributes into the session that replaces it at login.
   * @default true
   */
  carryAttributesOnLogin?: boolean;
  /**
   * The most attributes one session may hold. A write that would pass it fails with `SessionLimitError` (413
   * over HTTP) and writes nothing; it is checked on the record about to be stored, so concurrent writes cannot
   * pass it together. Removing attributes is always allowed.
   * @default 100
   */
  maxAttributes?: number;
  /**
   * The largest stored record of one session, in bytes (UTF-8 of the stored envelope, attributes included). A
   * write that would pass it fails with `SessionLimitError` (413 over HTTP) and writes nothing; so does
   * `startSession` with initial attributes. Every request reads the whole record, so a big one costs on every
   * request, and an in-memory store keeps one per session.
   * @default 65_536 (64 KiB)
   */
  maxRecordBytes?: number;
  /**
   * Keep an index of each principal's (user's) sessions in the store, which `SessionRegistry` reads to list a user's
   * sessions and sign them out ("sign out everywhere"). The store keeps it in the same atomic operations as the
   * records. Off by default, as it costs store memory per signed-in session (on Redis, a sorted set per user);
   * `maxSessionsPerPrincipal` turns it on. Needs a store with the principal index (`CacheManagerSessionStore` in
   * memory, or on Redis with the field model, and records not signed with `recordKeys`): with another store the
   * module refuses to start.
   * @default false (true when `maxSessionsPerPrincipal` is set)
   */
  principalIndex?: boolean;
  /**
   * The most live sessions one principal (primary identifier) may have at once. A new session beyond it (a login
   * on one more device) is handled by `maxSessionsPerPrincipalPolicy`. The count is judged by the store atomically
   * with the write of the new session, so concurrent logins on several instances cannot pass it together. Needs a
   * store with the principal index (`CacheManagerSessionStore` in memory, or on Redis with the field model, and
   * records not signed with `recordKeys`): with another store the module refuses to start.
   * @default undefined (no cap)
   */
  maxSessionsPerPrincipal?: number;
  /**
   * What a new session beyond `maxSessionsPerPrincipal` does: `'evict-oldest'` stops the principal's oldest
   * sessions (first started first) to make room, each with `yosai.session.stopped` reason `evicted`; `'refuse'`
   * refuses it with `TooManySessionsError` (409 over HTTP), and the principal must sign out elsewhere first.
   * @default 'evict-oldest'
   */
  maxSessionsPerPrincipalPolicy?: 'evict-oldest' | 'refuse';
  /**
   * Secret keys that sign every stored record (HMAC-SHA256 over the session id and the record). The first key
   * signs, every key verifies: to rotate, put the new key first and remove the old one once the longest session
   * has ended. A record with a missing or wrong signature is discarded as corrupt (logged), so write access to the
   * store alone cannot mint or alter a session. Each key at least 32 characters (use 32 random bytes, e.g.
   * base64). Turning it on signs every user out once (their records are unsigned); turning it off reads signed
   * records without checking them. Off by default: it costs a MAC per write and per uncached read.
   * @default [] (records are not signed)
   */
  recordKeys?: string[];
  /**
   * Where sessions live. Any `SessionStore`; use `CacheManagerSessionStore` for a cache-manager `Cache`.
   * @default an in-memory `CacheManagerSessionStore` (one process only)
   */
  store?: SessionStore;
  /**
   * Hand the `store` you pass over to the module: `app.close()` then calls its `close()` (a
   * `CacheManagerSessionStore` disconnects its cache, so a Redis client is closed). Off by default: a store the app
   * passes is the app's to close (it may share the connection). The store the module makes itself (none passed)
   * is always closed at shutdown. Leave it off for a cache that another module closes (`@nestjs/cache-manager`'s
   * `CACHE_MANAGER`).
   * @default false
   */
  closeStoreOnShutdown?: boolean;
  /**
   * The app's source of accounts, roles and permissions; needed for `subject.login()` and for authorization. An
   * instance, or a class or injection token resolved by Nest (so it may inject the app's services and the
   * module's `PasswordHasher`): register the class as a provider in one of your modules, or the module builds it.
   * @default none
   */
  realm?: RealmProvider;
  /**
   * Several realms (Yosai's modular authenticator), tried in order; combined with `realm` (which comes first).
   * Roles and permissions are the union of what every realm grants.
   * @default none
   */
  realms?: readonly RealmProvider[];
  /**
   * With several realms that support a token: `'first-success'` signs in with the first realm that accepts it;
   * `'all'` demands that every supporting realm accept it (the identifiers are the first realm's).
   * @default 'first-success'
   */
  authenticationStrategy?: 'first-success' | 'all';
  /**
   * Roles and permissions are cached per session; after this long, the next check also reads the principal's
   * invalidation record from the store (one read), so `invalidateAuthorization()` on another instance takes
   * effect here within this bound. Milliseconds; `0` reads it on every check.
   * @default 60_000
   */
  authorizationCacheTtlMs?: number;
  /**
   * Most sessions whose roles and permissions this process keeps at once; the least recently used go first.
   * @default 10_000
   */
  authorizationCacheSize?: number;
  /**
   * Cookie transport, or `false` to turn it off.
   * @default { name: 'sid', secure: true, sameSite: 'lax', hostPrefix: true } (the cookie is `__Host-sid`)
   */
  cookie?: YosaiCookieOptions | false;
  /**
   * Header transport, or `false` to turn it off.
   * @default false
   */
  header?: YosaiHeaderOptions | false;
  /**
   * Cross-site request forgery protection for cookie sessions, on by default.
   * @default { enabled: true, trustedOrigins: [] }
   */
  csrf?: YosaiCsrfOptions;
  /**
   * Send `Clear-Site-Data: "cookies"` with the response of a logout, so the browser drops every cookie of the
   * site, not only the session cookie. Off by default: it also clears the app's other cookies, and those of
   * the whole registrable domain (sibling subdomains included) in browsers that honour it.
   * @default false
   */
  clearSiteDataOnLogout?: boolean;
  /**
   * Cost of the built-in scrypt password hasher used for new hashes and for the dummy verification.
   * Existing hashes are verified with the parameters they were made with; a successful login against a weaker one
   * is rehashed through `Realm.upgradeCredentials`. Parameters below OWASP's floor (at least 8 MiB, `N · r ≥ 2^16`,
   * and `N · r · p ≥ 655,360`) are refused unless `allowWeakParameters: true` (for tests only).
   * @default { logN: 15, r: 8, p: 3 } (32 MiB and OWASP's floor of work per verification)
   */
  passwordHashing?: PasswordHasherOptions;
  /**
   * Login throttling per username and per client address, on by default.
   * @default { enabled: true, maxFailures: 5, maxFailuresPerAddress: 50, lockMs: 900_000 }
   */
  loginThrottle?: YosaiLoginThrottleOptions;
  /**
   * The cap on concurrent password verifications.
   * @default { maxConcurrent: 2, maxWaitMs: 2_000, maxQueued: 64, refusalDelayMs: 1_000 }
   */
  passwordVerification?: YosaiPasswordVerificationOptions;
  /**
   * Source of time. Replace it with a controllable clock in tests.
   * @default Date.now
   */
  clock?: Clock;
}

/** The validated options with every default filled in, before the module makes the default store (internal). */
export type ValidatedYosaiOptions = Omit<
  ResolvedYosaiConfig,
  'store' | 'ownsStore' | 'expirySweepIntervalMs'
> & {
  readonly store: SessionStore | null;
  /** Undefined: the default, which depends on the store. */
  readonly expirySweepIntervalMs: number | undefined;
  readonly closeStoreOnShutdown: boolean;
};

/** The configuration in force: validated options, and the store in use (internal). */
export interface ResolvedYosaiConfig {
  readonly idleTimeoutMs: number;
  readonly absoluteTimeoutMs: number;
  readonly guestIdleTimeoutMs: number;
  readonly touchIntervalMs: number;
  readonly storeTimeoutMs: number;
  readonly expiredRecordGraceMs: number;
  /** 0 when the sweeper is off (resolved against the store by the module). */
  readonly expirySweepIntervalMs: number;
  readonly expirySweepLeaseMs: number;
  readonly expirySweepBatchSize: number;
  readonly eagerSessions: boolean;
  readonly carryAttributesOnLogin: boolean;
  readonly maxAttributes: number;
  readonly maxRecordBytes: number;
  /** True when the principal index is kept (`principalIndex`, or a `maxSessionsPerPrincipal`). */
  readonly principalIndex: boolean;
  /** null: no cap. */
  readonly maxSessionsPerPrincipal: number | null;
  readonly maxSessionsPerPrincipalPolicy: 'evict-oldest' | 'refuse';
  readonly recordKeys: readonly string[];
  readonly store: SessionStore;
  /** True when the module closes the store at shutdown: it made the store, or `closeStoreOnShutdown` handed it over. */
  readonly ownsStore: boolean;
  /** `realm` then `realms`, as given (resolved to instances by the module at bootstrap). */
  readonly realms: readonly RealmProvider[];
  readonly authenticationStrategy: 'first-success' | 'all';
  readonly authorizationCacheTtlMs: number;
  readonly authorizationCacheSize: number;
  readonly cookie: Readonly<Required<Omit<YosaiCookieOptions, 'maxAgeMs'>> & { maxAgeMs?: number }> | null;
  readonly header: Readonly<Required<YosaiHeaderOptions>> | null;
  readonly passwordHashing: Readonly<ScryptParameters & { allowWeakParameters: boolean }>;
  readonly loginThrottle: Readonly<Required<YosaiLoginThrottleOptions>>;
  readonly passwordVerification: Readonly<Required<YosaiPasswordVerificationOptions>>;
  readonly clock: Clock;
  /** `trustedOrigins` as serialised origins (lower-case scheme and host, default port left out). */
  readonly csrf: { readonly enabled: boolean; readonly trustedOrigins: ReadonlySet<string> };
  readonly clearSiteDataOnLogout: boolean;
}
