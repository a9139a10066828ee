import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { YosaiConfigurationError } from '../errors/yosai.errors.js';
import type { ResolvedYosaiConfig } from '../options/yosai-options.interface.js';
import type { SessionStore } from '../store/session.store.js';
import { YOSAI_CONFIG } from '../yosai.internal-constants.js';
import { SessionManager } from './session.manager.js';

/** How many shards one instance sweeps at once. */
const SHARDS_AT_ONCE = 4;

/**
 * The expiry sweeper: every `expirySweepIntervalMs` it goes through the store's expiry queue and expires the sessions
 * whose deadline passed, so that each expired session gets its one `yosai.session.expired` event even when nobody
 * presents its token again. Instances share the work by leasing shards (a shard an instance holds is skipped by the
 * others until the instance gives it up, or its lease runs out when the instance died); each shard gives at most
 * `expirySweepBatchSize` sessions per pass. Exactly once: a session is expired through the same atomic delete a request
 * that finds it expired uses, and only the caller whose delete removed the record emits the event.
 *
 * Started at application bootstrap, stopped at shutdown (an unfinished pass is awaited before the store closes).
 */
@Injectable()
export class SessionSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('SessionSweeper');
  /** This instance's name in the shards' leases. */
  private readonly owner = randomUUID();
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(
    @Inject(YOSAI_CONFIG) private readonly config: ResolvedYosaiConfig,
    private readonly manager: SessionManager,
  ) {
    manager.beforeStoreCloses(() => this.stop());
  }

  /** Whether the sweeper runs (`expirySweepIntervalMs` above 0, and a store with an expiry queue). */
  get enabled(): boolean {
    return this.config.expirySweepIntervalMs > 0;
  }

  onApplicationBootstrap(): void {
    if (!this.enabled || this.stopped) return;
    this.timer = setInterval(() => void this.tick(), this.config.expirySweepIntervalMs);
    // A sweep due is no reason to keep the process alive.
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  /**
   * One pass now (the timer makes one every `expirySweepIntervalMs`): every shard whose lease this instance gets, at most
   * `expirySweepBatchSize` due sessions each. A pass already running is joined, not doubled. Resolves to how many
   * `expired` events this pass emitted.
   * @throws SessionStoreError when the store fails (the shards already swept stay swept).
   */
  sweep(): Promise<number> {
    if (!this.manager.sweepable) return Promise.resolve(0);
    return (this.running ??= this.pass().finally(() => (this.running = undefined)));
  }

  private async pass(): Promise<number> {
    const shards = this.manager.sweepShards;
    // From a random shard on, so that instances ticking together start on different shards.
    const start = Math.floor(Math.random() * shards);
    // One time for the whole pass: a store may then answer every shard from one look at its queue.
    const now = this.manager.sweepTime();
    let next = 0;
    let emitted = 0;
    const worker = async () => {
      while (next < shards && !this.stopped) {
        const shard = (start + next++) % shards;
        // Read after the await: the workers add to one total.
        const emittedHere = await this.manager.sweepShard(
          shard,
          this.owner,
          this.config.expirySweepLeaseMs,
          this.config.expirySweepBatchSize,
          now,
        );
        emitted += emittedHere;
      }
    };
    await Promise.all(Array.from({ length: SHARDS_AT_ONCE }, worker));
    return emitted;
  }

  private async tick(): Promise<void> {
    try {
      await this.sweep();
    } catch (error) {
      // The next pass tries again; the sessions stay queued meanwhile.
      this.logger.warn(`An expiry sweep failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Stops the timer and waits for a pass in progress. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => 0);
  }
}

/**
 * @internal The sweep interval in force: the one asked for, or by default 60 s when the store has an expiry queue fed
 * by the writes the life cycle makes (otherwise off).
 * @throws YosaiConfigurationError when a sweep is asked for and the store cannot be swept.
 */
export function sweepIntervalFor(
  requested: number | undefined,
  store: SessionStore,
  recordKeys: readonly string[],
): number {
  const queue = store.expiryQueue;
  const fields = store.fieldRecords !== undefined && recordKeys.length === 0;
  const capable = queue !== undefined && (queue.model === 'fields') === fields;
  if (requested === undefined) return capable ? DEFAULT_SWEEP_INTERVAL_MS : 0;
  if (requested > 0 && !capable) {
    throw new YosaiConfigurationError(
      `YosaiModule option \`expirySweepIntervalMs\` (${requested}) needs a store with an expiry queue fed by the ` +
        'writes of the life cycle: the in-memory store, or a Redis store with the field model (not with ' +
        '`fieldRecords: false`, nor with `recordKeys`, whose signed records stay whole strings). Set it to 0 to ' +
        'run without the sweeper (an abandoned session then reports its expiry only if its token comes back).',
      'expirySweepIntervalMs',
    );
  }
  return requested;
}

/** The sweeper's default interval, when the store can be swept. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
