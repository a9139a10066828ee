import { createHash } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { LoginThrottledError } from '../errors/yosai.errors.js';
import type { ResolvedYosaiConfig } from '../options/yosai-options.interface.js';
import { GuardedStore } from '../session/guarded-store.js';
import { YOSAI_CONFIG } from '../yosai.internal-constants.js';
import { addressBucket } from './client-address.js';

/**
 * Prefix of the store ids of login counters. A session id is a bare 43-character hash, so the two never meet; the
 * authorization epochs have a prefix of their own.
 */
const THROTTLE_PREFIX = 'yosai-login-throttle:';
/** Records outlive their meaning by this much in the store, so a clock slightly ahead of the store's still sees them. */
const STORE_GRACE_MS = 60_000;
/** Compare-and-set rounds before a contended counter answers "busy": every round has one winner. */
const MAX_ROUNDS = 64;
const MAX_USERNAME_CHARS = 1024;

/** A counter as stored: failures `n`, the last one at `l`, locked until `u` (0: not locked). Times from the clock. */
interface Counter {
  readonly n: number;
  readonly l: number;
  readonly u: number;
}

/** The counters one login attempt holds a place in, to settle once the password is judged. */
export interface ThrottleTicket {
  readonly usernameId: string;
  readonly addressId: string | null;
}

/**
 * Login throttling (issue 12): failed password logins counted per username and per client address, in the session
 * store so that every instance sees the same counts.
 *
 * An attempt takes a place in both counters *before* its password is checked (compare-and-set, or `setIfAbsent`
 * for a missing counter), and the place that reaches the limit sets the lock at once. So concurrent attempts,
 * on any number of instances, cannot check more passwords than the limit allows: the count is exact. A success
 * then deletes the username's counter (the count restarts) and gives the address its place back; a failure keeps
 * both places. Attempts refused while locked take no place, so a lock never grows past `lockMs`.
 *
 * A store failure is thrown as `SessionStoreError` (503 over HTTP): a login is never allowed because it could not be
 * counted.
 * @internal
 */
@Injectable()
export class LoginThrottle implements OnModuleDestroy {
  private readonly store: GuardedStore;

  constructor(@Inject(YOSAI_CONFIG) private readonly config: ResolvedYosaiConfig) {
    this.store = new GuardedStore(config.store, config.storeTimeoutMs);
  }

  onModuleDestroy(): void {
    this.store.close();
  }

  get enabled(): boolean {
    return this.config.loginThrottle.enabled;
  }

  /**
   * Takes a place for this attempt in the address's counter, then the username's.
   * @throws LoginThrottledError when either is locked (nothing is counted then)
   * @throws SessionStoreError when the store fails
   */
  async admit(username: unknown, address: string | null): Promise<ThrottleTicket> {
    const { maxFailures, maxFailuresPerAddress } = this.config.loginThrottle;
    const addressId = address ? counterId('a', addressBucket(address)) : null;
    const usernameId = counterId('u', usernameKey(username));
    if (addressId) await this.take(addressId, maxFailuresPerAddress, 'address');
    try {
      await this.take(usernameId, maxFailures, 'username');
    } catch (error) {
      if (addressId) await this.giveBack(addressId, maxFailuresPerAddress);
      throw error;
    }
    return { usernameId, addressId };
  }

  /** The password was right: the username's count restarts, and the address gets its place back. */
  async succeeded(ticket: ThrottleTicket): Promise<void> {
    await this.store.delete(ticket.usernameId);
    if (ticket.addressId)
      await this.giveBack(ticket.addressId, this.config.loginThrottle.maxFailuresPerAddress);
  }

  /**
   * The attempt ended without its password being judged (the verification cap refused it, or the realm failed): both
   * places are given back, so only judged failures count. Best effort: a store failure here is not reported.
   */
  async release(ticket: ThrottleTicket): Promise<void> {
    const { maxFailures, maxFailuresPerAddress } = this.config.loginThrottle;
    await this.giveBack(ticket.usernameId, maxFailures).catch(() => undefined);
    if (ticket.addressId) await this.giveBack(ticket.addressId, maxFailuresPerAddress).catch(() => undefined);
  }

  private async take(id: string, max: number, scope: 'username' | 'address'): Promise<void> {
    const { lockMs } = this.config.loginThrottle;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const now = this.config.clock.now();
      const raw = await this.store.get(id);
      const current = raw === undefined ? null : live(raw, now, lockMs);
      if (current && current.u > now) throw new LoginThrottledError(scope, current.u - now);
      const n = (current?.n ?? 0) + 1;
      const next = JSON.stringify({ n, l: now, u: n >= max ? now + lockMs : 0 } satisfies Counter);
      const ttl = lockMs + STORE_GRACE_MS;
      if (raw === undefined && !this.store.hasSetIfAbsent) {
        // No atomic create: start an empty counter, and take the place by compare-and-set in the next round. Of
        // concurrent first attempts only one then wins each round; a late empty counter can still overwrite a
        // count, so the count is exact only on a store with setIfAbsent.
        await this.store.set(id, JSON.stringify({ n: 0, l: now, u: 0 } satisfies Counter), ttl);
        continue;
      }
      const written =
        raw === undefined
          ? await this.store.setIfAbsent(id, next, ttl)
          : await this.store.compareAndSet(id, raw, next, ttl);
      if (written) return;
    }
    // Every round had a winner; so many in a row means a flood on this counter: refused, briefly, uncounted.
    throw new LoginThrottledError(scope, 1000);
  }

  private async giveBack(id: string, max: number): Promise<void> {
    const { lockMs } = this.config.loginThrottle;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const now = this.config.clock.now();
      const raw = await this.store.get(id);
      const current = raw === undefined ? null : live(raw, now, lockMs);
      if (!current || current.n <= 0) return;
      const n = current.n - 1;
      const next = JSON.stringify({ n, l: current.l, u: n >= max ? current.u : 0 } satisfies Counter);
      if (await this.store.compareAndSet(id, raw!, next, lockMs + STORE_GRACE_MS)) return;
    }
  }
}

/** The counter a stored value holds, or null when it has lapsed (lock passed, or no failure for `lockMs`) or is not one. */
function live(raw: string, now: number, lockMs: number): Counter | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  const c = value as Partial<Counter> | null;
  if (!c || typeof c.n !== 'number' || typeof c.l !== 'number' || typeof c.u !== 'number') return null;
  if (c.u > 0) return c.u > now ? (c as Counter) : null;
  return now - c.l < lockMs ? (c as Counter) : null;
}

/** Usernames are counted case-insensitively and in one Unicode form, so `Alice` and `alice` share a count. */
function usernameKey(username: unknown): string {
  if (typeof username !== 'string') return '';
  return username.slice(0, MAX_USERNAME_CHARS).normalize('NFC').toLowerCase();
}

function counterId(kind: 'u' | 'a', key: string): string {
  return `${THROTTLE_PREFIX}${kind}:${createHash('sha256').update(key).digest('base64url')}`;
}
