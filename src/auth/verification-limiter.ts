import { Inject, Injectable } from '@nestjs/common';
import { LoginThrottledError } from '../errors/yosai.errors.js';
import type { ResolvedYosaiConfig } from '../options/yosai-options.interface.js';
import { YOSAI_CONFIG } from '../yosai.internal-constants.js';
import { addressBucket } from './client-address.js';

/** What a refused login is told to wait before trying again. */
const RETRY_AFTER_MS = 1000;
/** How long a failed verification marks its address and username as suspect for the queue's order. */
const FAILURE_MEMORY_MS = 15 * 60_000;
/** Addresses (and usernames) remembered at most; the oldest are forgotten first. */
const FAILURE_MEMORY_ENTRIES = 10_000;

/** A login attempt as the queue sees it. */
export interface VerificationAttempt {
  readonly address: string | null;
  readonly username?: unknown;
}

interface Waiter {
  readonly key: string;
  readonly username: string | null;
  readonly resolve: (clean: boolean) => void;
  readonly reject: (error: unknown) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * Keys (client addresses, usernames) that recently had a failed verification, with the time of the last one:
 * bounded, in insertion order, so the oldest goes first when it is full. Only ever makes an attempt wait longer, so
 * forgetting early is harmless.
 */
class FailureMemory {
  private readonly seen = new Map<string, number>();

  note(key: string, now: number): void {
    this.seen.delete(key);
    if (this.seen.size >= FAILURE_MEMORY_ENTRIES) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(key, now);
  }

  has(key: string, now: number): boolean {
    const at = this.seen.get(key);
    if (at === undefined) return false;
    if (now - at < FAILURE_MEMORY_MS) return true;
    this.seen.delete(key);
    return false;
  }
}

/**
 * The cap on concurrent password verifications (`passwordVerification`): at most `maxConcurrent` run at once; the
 * next ones wait, at most `maxWaitMs` and at most `maxQueued` of them. A freed slot goes to the waiting login whose
 * client address and username had no failed verification lately (the last 15 minutes, in this process), then to
 * those with one of the two, then the rest; among equals, to the address with the fewest verifications running,
 * in turn. So a flood of guesses waits behind real users, from one address or from many. When the queue is full, a
 * login of a better class takes the place of the newest waiting login of the worst class. While a login of the first
 * class is verified, the others start only in the lower half of the slots (none with two slots), so that a real
 * user's verification does not share the CPU with guesses. One address may hold at most a quarter of the waiting
 * places. A login that finds no place, or waits too long, is refused with
 * `LoginThrottledError` (scope `capacity`, 429 over HTTP).
 * @internal
 */
@Injectable()
export class VerificationLimiter {
  private running = 0;
  /** Verifications running for logins of the first class (no recent failure). */
  private runningClean = 0;
  /** Counts arrivals and services, for the turn among equals (`servedAt`). */
  private serial = 0;
  /** Waiting logins in arrival order (at most `maxQueued`). */
  private readonly waiters: Waiter[] = [];
  /** Waiting logins per client address (absent: none). */
  private readonly queuedBy = new Map<string, number>();
  /** Verifications running per client address (absent: none). */
  private readonly runningBy = new Map<string, number>();
  /** When each address with waiting logins was last served (for the turn among equals). */
  private readonly servedAt = new Map<string, number>();
  private readonly failedAddresses = new FailureMemory();
  private readonly failedUsernames = new FailureMemory();
  private readonly maxPerAddress: number;
  /** Refusals held back now (`holdRefusal`). */
  private held = 0;

  constructor(@Inject(YOSAI_CONFIG) private readonly config: ResolvedYosaiConfig) {
    this.maxPerAddress = Math.max(1, Math.floor(config.passwordVerification.maxQueued / 4));
  }

  /**
   * Holds a refused login back for `refusalDelayMs` (at most its `Retry-After`) before it is answered, so that a
   * client resending every refusal at once makes a few requests a second, not hundreds. At most `4 × maxQueued` are
   * held at once; the others are answered at once.
   */
  async holdRefusal(refusal: LoginThrottledError): Promise<void> {
    const { refusalDelayMs, maxQueued } = this.config.passwordVerification;
    const delay = Math.min(refusalDelayMs, refusal.retryAfterMs);
    if (delay <= 0 || this.held >= 4 * maxQueued) return;
    this.held++;
    try {
      await new Promise((resolve) => setTimeout(resolve, delay));
    } finally {
      this.held--;
    }
  }

  /** Verifications running now (for tests and metrics). */
  get active(): number {
    return this.running;
  }

  /** Verifications waiting for a slot now (for tests and metrics). */
  get queued(): number {
    return this.waiters.length;
  }

  /**
   * Runs `work` in a verification slot.
   * @param failed Whether its result is a failed verification (a wrong password, an unknown account): such a
   *   result marks the attempt's address and username for the queue's order before the slot is handed on.
   * @throws LoginThrottledError (scope `capacity`) when no slot frees in time or the queue has no place
   */
  async run<T>(
    attempt: VerificationAttempt,
    work: () => Promise<T>,
    failed?: (result: T) => boolean,
  ): Promise<T> {
    const key = keyOf(attempt.address);
    const username = usernameOf(attempt.username);
    const clean = await this.acquire(key, username);
    try {
      const result = await work();
      if (failed?.(result)) this.noteFailure(key, username);
      return result;
    } finally {
      this.release(key, clean);
    }
  }

  private noteFailure(key: string, username: string | null): void {
    const now = this.config.clock.now();
    this.failedAddresses.note(key, now);
    if (username !== null) this.failedUsernames.note(username, now);
  }

  /** 0: neither the address nor the username failed lately; 1: one of them; 2: both. */
  private classOf(key: string, username: string | null, now: number): number {
    const address = this.failedAddresses.has(key, now) ? 1 : 0;
    return address + (username !== null && this.failedUsernames.has(username, now) ? 1 : 0);
  }

  /** A waiter's place in the order: its class, its address's running verifications, its address's turn. */
  private rankOf(waiter: Waiter, now: number): [number, number, number] {
    return [
      this.classOf(waiter.key, waiter.username, now),
      this.runningBy.get(waiter.key) ?? 0,
      this.servedAt.get(waiter.key)!,
    ];
  }

  /** Whether a verification of this class may take a free slot now (see the class's description). */
  private mayStart(verificationClass: number): boolean {
    if (this.running >= this.config.passwordVerification.maxConcurrent) return false;
    if (verificationClass === 0 || this.runningClean === 0) return true;
    return this.running < Math.floor(this.config.passwordVerification.maxConcurrent / 2);
  }

  /** Resolves once the login holds a slot: to true when it is of the first class. */
  private acquire(key: string, username: string | null): Promise<boolean> | boolean {
    const { maxWaitMs, maxQueued } = this.config.passwordVerification;
    const incoming = this.classOf(key, username, this.config.clock.now());
    if (this.waiters.length === 0 && this.mayStart(incoming)) {
      this.start(key, incoming === 0);
      return incoming === 0;
    }
    if (
      maxWaitMs === 0 ||
      (this.queuedBy.get(key) ?? 0) >= this.maxPerAddress ||
      (this.waiters.length >= maxQueued && !this.evictFor(incoming))
    ) {
      throw refused();
    }
    return new Promise<boolean>((resolve, reject) => {
      const waiter: Waiter = { key, username, resolve, reject };
      waiter.timer = setTimeout(() => this.remove(waiter) && reject(refused()), maxWaitMs);
      waiter.timer.unref?.();
      this.waiters.push(waiter);
      this.queuedBy.set(key, (this.queuedBy.get(key) ?? 0) + 1);
      // An address that starts waiting takes its turn after those already waiting.
      if (!this.servedAt.has(key)) this.servedAt.set(key, this.serial++);
      // A slot may be free while the waiting logins may not take it (a first-class one runs): this one may.
      this.startWaiting();
    });
  }

  /** Refuses the newest waiting login of the worst class, when that class is worse than `incoming`'s. */
  private evictFor(incoming: number): boolean {
    const now = this.config.clock.now();
    let worst: Waiter | undefined;
    let worstClass = incoming;
    for (const waiter of this.waiters) {
      const c = this.classOf(waiter.key, waiter.username, now);
      if (c > worstClass || (c === worstClass && worst !== undefined)) {
        worst = waiter;
        worstClass = c;
      }
    }
    if (worst === undefined) return false;
    this.remove(worst);
    clearTimeout(worst.timer);
    worst.reject(refused());
    return true;
  }

  /** Takes a waiter out of the queue; false when it was no longer there. */
  private remove(waiter: Waiter): boolean {
    const at = this.waiters.indexOf(waiter);
    if (at < 0) return false;
    this.waiters.splice(at, 1);
    const left = this.queuedBy.get(waiter.key)! - 1;
    if (left > 0) {
      this.queuedBy.set(waiter.key, left);
    } else {
      this.queuedBy.delete(waiter.key);
      this.servedAt.delete(waiter.key);
    }
    return true;
  }

  private start(key: string, clean: boolean): void {
    this.running++;
    if (clean) this.runningClean++;
    this.runningBy.set(key, (this.runningBy.get(key) ?? 0) + 1);
  }

  /** Frees a slot and hands it to the waiting login that comes first in the order described on the class. */
  private release(key: string, clean: boolean): void {
    this.running--;
    if (clean) this.runningClean--;
    const left = (this.runningBy.get(key) ?? 1) - 1;
    if (left > 0) this.runningBy.set(key, left);
    else this.runningBy.delete(key);
    // One slot freed, but a first-class login that ends may let several waiting logins start.
    this.startWaiting();
  }

  /** Starts waiting logins, first in the order first, while they may start. */
  private startWaiting(): void {
    while (this.waiters.length > 0 && this.startNext()) {
      // each round started one
    }
  }

  /** Starts the waiting login that comes first in the order, if it may start now; false when none did. */
  private startNext(): boolean {
    const now = this.config.clock.now();
    let next = this.waiters[0];
    let best = this.rankOf(next, now);
    // Waiters are in arrival order, so among equal ranks the first one found (the oldest) is kept.
    for (let i = 1; i < this.waiters.length; i++) {
      const rank = this.rankOf(this.waiters[i], now);
      if (
        rank[0] < best[0] ||
        (rank[0] === best[0] && (rank[1] < best[1] || (rank[1] === best[1] && rank[2] < best[2])))
      ) {
        next = this.waiters[i];
        best = rank;
      }
    }
    if (!this.mayStart(best[0])) return false;
    this.remove(next);
    clearTimeout(next.timer);
    // Served: its next waiting login, if any, takes its turn after the other addresses'.
    if (this.queuedBy.has(next.key)) this.servedAt.set(next.key, this.serial++);
    this.start(next.key, best[0] === 0);
    next.resolve(best[0] === 0);
    return true;
  }
}

function refused(): LoginThrottledError {
  return new LoginThrottledError('capacity', RETRY_AFTER_MS);
}

function keyOf(address: string | null): string {
  return address === null ? '' : addressBucket(address);
}

function usernameOf(username: unknown): string | null {
  return typeof username === 'string' && username.length > 0 ? username : null;
}
