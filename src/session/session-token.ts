import { hash, randomBytes } from 'node:crypto';

/** 32 bytes = 256 bits from the OS CSPRNG. */
const TOKEN_BYTES = 32;
/** base64url of 32 bytes, unpadded: exactly 43 characters of [A-Za-z0-9_-]. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** A new session token: 256 random bits, base64url. The only place a token is born. */
export function generateToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** Shape check done before any store access: garbage never reaches the store. */
export function isWellFormedToken(value: unknown): value is string {
  return typeof value === 'string' && value.length === 43 && TOKEN_SHAPE.test(value);
}

/**
 * The public session id (and store key) derived from a token by SHA-256. Safe to log and to emit: a
 * dump of ids or of the store yields no token, and a 256-bit random token cannot be searched for.
 */
export function sessionIdOf(token: string): string {
  // One-shot hash (Node >= 20.12): no Hash object per request.
  return hash('sha256', token, 'base64url');
}
