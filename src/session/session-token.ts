import { hash, randomBytes } from 'node:crypto';
import { principalHash, sessionBucketOf } from '../store/session-tag.js';

/** 32 bytes = 256 bits from the OS CSPRNG. */
const TOKEN_BYTES = 32;
/** base64url of 32 bytes, unpadded: exactly 43 characters of [A-Za-z0-9_-]. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** Candidates drawn per call to the CSPRNG when a token must fall in a bucket (one call, not one per candidate). */
const BATCH = 64;

/**
 * A new session token: 256 random bits, base64url. The only place a token is born.
 * @param bucket When given, tokens are drawn until the session id falls in that bucket (its first 8 bits, see
 * `sessionBucketOf`): 256 draws on average, and the id is then 248 bits of a uniformly random hash while the token
 * keeps its 256 random bits (an attacker who knows the bucket still faces 2^248 ids, and 2^256 tokens).
 */
export function generateToken(bucket?: number): string {
  if (bucket === undefined) return randomBytes(TOKEN_BYTES).toString('base64url');
  for (;;) {
    const pool = randomBytes(TOKEN_BYTES * BATCH);
    for (let i = 0; i < BATCH; i++) {
      const token = pool.subarray(i * TOKEN_BYTES, (i + 1) * TOKEN_BYTES).toString('base64url');
      if (sessionBucketOf(sessionIdOf(token)) === bucket) return token;
    }
  }
}

/**
 * The bucket of a principal (its primary identifier): the sessions of one principal are drawn into one bucket, so
 * that on a Redis Cluster they share a hash slot with the keys that index them.
 */
export function principalBucket(primary: string): number {
  return sessionBucketOf(principalHash(primary));
}

/** Shape check done before any store access: garbage never reaches the store. */
export function isWellFormedToken(value: unknown): value is string {
  return typeof value === 'string' && value.length === 43 && TOKEN_SHAPE.test(value);
}

/**
 * Shape check of a session id that comes from outside (an app's argument, or a member of a store's index or queue),
 * done before any store access: a session id is base64url SHA-256, the token's shape. Anything else names no
 * session, and must not be turned into a key (`:expiry:3` or `p:<hash>` would name the store's own sorted sets).
 */
export function isWellFormedSessionId(value: unknown): value is string {
  return isWellFormedToken(value);
}

/**
 * The public session id (and store key) derived from a token by SHA-256. Safe to log and to emit: a
 * dump of ids or of the store yields no token, and a 256-bit random token cannot be searched for.
 */
export function sessionIdOf(token: string): string {
  // One-shot hash (Node >= 20.12): no Hash object per request.
  return hash('sha256', token, 'base64url');
}
