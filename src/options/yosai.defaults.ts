/** Defaults of every option. Each is explained in the README's configuration table. */
export const YOSAI_DEFAULTS = Object.freeze({
  idleTimeoutMs: 30 * 60_000,
  absoluteTimeoutMs: 8 * 60 * 60_000,
  /** guestIdleTimeoutMs defaults to this, capped by idleTimeoutMs. */
  guestIdleTimeoutMs: 15 * 60_000,
  /** touchIntervalMs defaults to idleTimeoutMs / 10, capped here. */
  maxDefaultTouchIntervalMs: 60_000,
  storeTimeoutMs: 2_000,
  expiredRecordGraceMs: 60_000,
  /** expirySweepIntervalMs: 60_000 when the store can be swept, else 0 (see `sweepIntervalFor`). */
  expirySweepLeaseMs: 30_000,
  expirySweepBatchSize: 100,
  eagerSessions: false,
  carryAttributesOnLogin: true,
  maxAttributes: 100,
  maxSessionsPerPrincipalPolicy: 'evict-oldest' as const,
  maxRecordBytes: 64 * 1024,
  /** `hostPrefix` is not here: it defaults to `secure === true` (see the validator). */
  cookie: Object.freeze({ name: 'sid', secure: true, sameSite: 'lax' as const }),
  header: Object.freeze({ name: 'authorization', responseHeader: 'x-session-token' }),
  passwordHashing: Object.freeze({ logN: 15, r: 8, p: 3 }),
  loginThrottle: Object.freeze({
    enabled: true,
    maxFailures: 5,
    maxFailuresPerAddress: 50,
    lockMs: 15 * 60_000,
  }),
  passwordVerification: Object.freeze({
    maxConcurrent: 2,
    maxWaitMs: 2_000,
    maxQueued: 64,
    refusalDelayMs: 1_000,
  }),
  authenticationStrategy: 'first-success' as const,
  authorizationCacheTtlMs: 60_000,
  authorizationCacheSize: 10_000,
  csrf: Object.freeze({ enabled: true }),
  clearSiteDataOnLogout: false,
  closeStoreOnShutdown: false,
});
