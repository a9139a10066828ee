import { hash } from 'node:crypto';
/**
 * The hash tag of a session's key in the field model: the first 8 bits of its id (a base64url SHA-256), as two hex
 * digits. A Redis Cluster places every key with the same `{tag}` in one hash slot, so the sessions of one principal
 * (whose ids the life cycle draws into the principal's bucket, see `session-token.ts`) and the keys that index them
 * can be changed together by one script.
 */
export const SESSION_BUCKETS = 256;

/** The value of a base64url character (A–Z, a–z, 0–9, `-`, `_`), or -1. */
function sextet(code: number): number {
  if (code >= 65 && code <= 90) return code - 65;
  if (code >= 97 && code <= 122) return code - 71;
  if (code >= 48 && code <= 57) return code + 4;
  if (code === 45) return 62;
  if (code === 95) return 63;
  return -1;
}

/** The bucket (0–255) of a session id: its first 8 bits. An id that is not base64url falls in bucket 0. */
export function sessionBucketOf(id: string): number {
  const high = sextet(id.charCodeAt(0));
  const low = sextet(id.charCodeAt(1));
  if (high < 0 || low < 0) return 0;
  return (high << 2) | (low >> 4);
}

const HEX = Array.from({ length: SESSION_BUCKETS }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * The expiry queue of a bucket on Redis is split in this many sorted sets (all in the bucket's hash slot), so that at
 * the sizes most apps reach each stays small enough for Redis's compact encoding (`zset-max-listpack-entries`, 128 by
 * default: 256 buckets × 16 × 128 = 524,288 sessions), where an entry costs less than half a skip-list entry.
 */
export const EXPIRY_SUBQUEUES = 16;

/** The sub-queue (0–15) of a session id in its bucket's expiry queue: four bits of the id's third character. */
export function expirySubqueueOf(id: string): number {
  const value = sextet(id.charCodeAt(2));
  return value < 0 ? 0 : value & (EXPIRY_SUBQUEUES - 1);
}

/** The hash tag of a bucket: two hex digits. */
export function bucketTag(bucket: number): string {
  return HEX[bucket];
}

/**
 * The hash of a principal (its primary identifier) that names its index in a store: base64url SHA-256, 43
 * characters. Its first 8 bits are the principal's bucket (`principalBucket`), where its sessions are drawn.
 */
export function principalHash(primary: string): string {
  return hash('sha256', `yosai-principal\n${primary}`, 'base64url');
}
