import type { Clock } from '../options/yosai-options.interface.js';

/**
 * A clock that only moves when told to: pass it as the `clock` option to test timeouts without sleeping.
 * @example
 * const clock = new ManualClock();
 * YosaiModule.forRoot({ clock, idleTimeoutMs: 60_000 });
 * clock.advance(60_001); // the next request sees the session expired
 */
export class ManualClock implements Clock {
  constructor(private current = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.current;
  }
  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    this.current += ms;
  }
  /** Sets the clock to an absolute epoch-ms time. */
  set(epochMs: number): void {
    this.current = epochMs;
  }
}
