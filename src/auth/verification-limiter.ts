import { Inject, Injectable } from '@nestjs/common';
import { LoginThrottledError } from '../errors/yosai.errors.js';
import type { ResolvedYosaiConfig } from '../options/yosai-options.interface.js';
import { YOSAI_CONFIG } from '../yosai.internal-constants.js';
import { addressBucket } from './client-address.js';

/** What a refused login is told to wait before trying again. */
const RETRY_AFTER_MS = 1000;

interface Waiter {
  readonly key: string;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * The cap on concurrent password verifications (`passwordVerification`): at most `maxConcurrent` run at once; the
 * next ones wait, at most `maxWaitMs` and at most `maxQueued` of them, and are served by client address: the address
 * with the fewest verifications running goes first (in turn among equals), so a flood from one client waits behind
 * everyone else rather than filling the slots. One address may
 * hold at most a quarter of the waiting places. Anything beyond is refused at once with `LoginThrottledError`
 * (scope `capacity`, 429 over HTTP).
 * @internal
 */
@Injectable()
export class VerificationLimiter {
  private running = 0;
  private waiting = 0;
  /** Waiters by client address; a Map keeps insertion order, and an address served goes to the back. */
  private readonly queues = new Map<string, Waiter[]>();
  /** Verifications running per client address (absent: none). */
  private readonly runningBy = new Map<string, number>();
  private readonly maxPerAddress: number;

  constructor(@Inject(YOSAI_CONFIG) private readonly config: ResolvedYosaiConfig) {
    this.maxPerAddress = Math.max(1, Math.floor(config.passwordVerification.maxQueued / 4));
  }

  /** Verifications running now (for tests and metrics). */
  get active(): number {
    return this.running;
  }

  /** Verifications waiting for a slot now (for tests and metrics). */
  get queued(): number {
    return this.waiting;
  }

  /**
   * Runs `work` in a verification slot.
   * @throws LoginThrottledError (scope `capacity`) when no slot frees in time or the queue is full
   */
  async run<T>(address: string | null, work: () => Promise<T>): Promise<T> {
    const key = address === null ? '' : addressBucket(address);
    await this.acquire(key);
    try {
      return await work();
    } finally {
      this.release(key);
    }
  }

  private acquire(key: string): Promise<void> | void {
    const { maxConcurrent, maxWaitMs, maxQueued } = this.config.passwordVerification;
    if (this.running < maxConcurrent && this.waiting === 0) {
      this.start(key);
      return;
    }
    const queue = this.queues.get(key);
    if (maxWaitMs === 0 || this.waiting >= maxQueued || (queue?.length ?? 0) >= this.maxPerAddress) {
      throw new LoginThrottledError('capacity', RETRY_AFTER_MS);
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { key, resolve, reject };
      waiter.timer = setTimeout(() => this.giveUp(waiter), maxWaitMs);
      waiter.timer.unref?.();
      if (queue) queue.push(waiter);
      else this.queues.set(key, [waiter]);
      this.waiting++;
    });
  }

  private giveUp(waiter: Waiter): void {
    const queue = this.queues.get(waiter.key);
    const at = queue ? queue.indexOf(waiter) : -1;
    if (at < 0) return;
    queue!.splice(at, 1);
    if (queue!.length === 0) this.queues.delete(waiter.key);
    this.waiting--;
    waiter.reject(new LoginThrottledError('capacity', RETRY_AFTER_MS));
  }

  private start(key: string): void {
    this.running++;
    this.runningBy.set(key, (this.runningBy.get(key) ?? 0) + 1);
  }

  /**
   * Frees a slot and hands it to a waiting login: of the addresses that wait, the one with the fewest verifications
   * running (the first in turn among equals), so a client that floods waits behind everyone else.
   */
  private release(key: string): void {
    this.running--;
    const left = (this.runningBy.get(key) ?? 1) - 1;
    if (left > 0) this.runningBy.set(key, left);
    else this.runningBy.delete(key);

    let next: string | undefined;
    let fewest = Infinity;
    for (const candidate of this.queues.keys()) {
      const running = this.runningBy.get(candidate) ?? 0;
      if (running < fewest) {
        next = candidate;
        fewest = running;
        if (running === 0) break;
      }
    }
    if (next === undefined) return;
    const queue = this.queues.get(next)!;
    const waiter = queue.shift()!;
    this.queues.delete(next);
    if (queue.length > 0) this.queues.set(next, queue); // to the back: the next address is served next
    clearTimeout(waiter.timer);
    this.waiting--;
    this.start(next);
    waiter.resolve();
  }
}
