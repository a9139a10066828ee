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
 * next ones wait, at most `maxWaitMs` and at most `maxQueued` of them, and are served in turn by client address
 * (round robin), so a flood from one client takes one turn in each round rather than the whole queue. One address may
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
    await this.acquire(address === null ? '' : addressBucket(address));
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(key: string): Promise<void> | void {
    const { maxConcurrent, maxWaitMs, maxQueued } = this.config.passwordVerification;
    if (this.running < maxConcurrent && this.waiting === 0) {
      this.running++;
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

  private release(): void {
    this.running--;
    for (const [key, queue] of this.queues) {
      const waiter = queue.shift()!;
      this.queues.delete(key);
      if (queue.length > 0) this.queues.set(key, queue); // to the back: the next address is served next
      clearTimeout(waiter.timer);
      this.waiting--;
      this.running++;
      waiter.resolve();
      return;
    }
  }
}
