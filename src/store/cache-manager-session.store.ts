import { createCache, type Cache } from 'cache-manager';
import { Keyv } from 'keyv';
import { KeyedQueue } from '../common/keyed-queue.js';
import { FAST_READ, SessionStore, type FastRead, type RawRecord } from './session.store.js';

/** Options of {@link CacheManagerSessionStore}. */
export interface CacheManagerSessionStoreOptions {
  /**
   * Prefix of every key this store writes, so sessions do not collide with other data in the same cache
   * or with another app's sessions. Keys are `<prefix><session id>`; the id is a SHA-256 hash of the token.
   * @default 'yosai:sess:'
   */
  prefix?: string;
  /**
   * How often an in-memory (`Map`) store is swept of expired records. Milliseconds; `0` turns sweeping off.
   * The sweep timer is `unref()`ed and stopped by `close()`.
   * @default 60_000
   */
  sweepIntervalMs?: number;
}

interface Backend {
  readonly kind: 'memory' | 'redis' | 'keyv';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  compareAndSet(key: string, expected: string, value: string, ttlMs: number): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  close(): void;
  /** What the manager reads through, where the backend has something cheaper than `get` (see `FAST_READ`). */
  fastRead?(key: string): RawRecord | Promise<RawRecord>;
}

/** Keyv's own unserialised entry shape, so records stay readable through the Keyv instance too. */
interface MapEntry {
  value: string;
  expires: number;
}

/** Minimal view of the `@keyv/redis` adapter and its node-redis client (no import: it is optional). */
interface KeyvRedisLike {
  getClient(): Promise<RedisClientLike>;
  /** The current node-redis client (a getter in `@keyv/redis`); may be absent in look-alikes. */
  readonly client?: RedisClientLike;
  createKeyPrefix(key: string, namespace?: string): string;
  namespace?: string;
}
interface RedisClientLike {
  readonly isOpen?: boolean;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options: { PX: number }): Promise<unknown>;
  del(key: string): Promise<number>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

const CAS_SCRIPT =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";

/** Keyv's serialised form `{"value":…,"expires":…}`; undefined when the string is something else. */
function parseKeyvString(entry: string): MapEntry | undefined {
  try {
    const parsed = JSON.parse(entry) as Partial<MapEntry> | null;
    return parsed && typeof parsed === 'object' ? (parsed as MapEntry) : undefined;
  } catch {
    return undefined;
  }
}

function keyvPrefixed(keyv: Keyv, key: string): string {
  return keyv.useKeyPrefix && keyv.namespace ? `${keyv.namespace}:${key}` : key;
}

/**
 * The same string, flattened. Concatenation (`prefix + id`) and `JSON.stringify` give V8 rope strings (a
 * tree of parts); reading one character makes V8 flatten it in place, and the garbage collector then drops
 * the parts. A string kept for a session's whole life in a `Map` costs about 40 % less that way (a record:
 * ~230 → ~140 bytes; a key: ~96 → ~72 bytes).
 */
function flat(value: string): string {
  value.charCodeAt(0);
  return value;
}

/** A `Map` behind Keyv: every operation is synchronous, so compare-and-set and delete are atomic. */
class MapBackend implements Backend {
  readonly kind = 'memory' as const;
  private readonly timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly keyv: Keyv,
    private readonly map: Map<string, unknown>,
    sweepIntervalMs: number,
  ) {
    if (sweepIntervalMs > 0) {
      this.timer = setInterval(() => this.sweep(), sweepIntervalMs);
      this.timer.unref();
    }
  }

  private live(key: string): MapEntry | undefined {
    const k = keyvPrefixed(this.keyv, key);
    const entry = this.map.get(k) as MapEntry | string | undefined;
    if (entry === undefined) return undefined;
    const parsed = typeof entry === 'string' ? parseKeyvString(entry) : entry;
    if (typeof parsed?.expires === 'number' && parsed.expires < Date.now()) {
      this.map.delete(k);
      return undefined;
    }
    // Whatever else sits under the key is handed up as is: the manager discards unreadable records.
    return typeof parsed?.value === 'string'
      ? parsed
      : { value: typeof entry === 'string' ? entry : JSON.stringify(entry), expires: Infinity };
  }

  /** Synchronous: the manager reads through this (see `FAST_READ`), the async `get` is for other callers. */
  fastRead(key: string): string | undefined {
    return this.live(key)?.value;
  }
  async get(key: string) {
    return this.fastRead(key);
  }
  async set(key: string, value: string, ttlMs: number) {
    this.put(key, value, ttlMs);
  }
  async compareAndSet(key: string, expected: string, value: string, ttlMs: number) {
    if (this.live(key)?.value !== expected) return false;
    this.put(key, value, ttlMs);
    return true;
  }
  private put(key: string, value: string, ttlMs: number) {
    const entry: MapEntry = { value: flat(value), expires: Date.now() + ttlMs };
    this.map.set(flat(keyvPrefixed(this.keyv, key)), entry);
  }
  async delete(key: string) {
    const existed = this.live(key) !== undefined;
    this.map.delete(keyvPrefixed(this.keyv, key));
    return existed;
  }

  /** Removes expired entries, so abandoned sessions do not stay in memory until someone reads them. */
  sweep(): number {
    const now = Date.now();
    let removed = 0;
    for (const [k, entry] of this.map) {
      const expires = (typeof entry === 'string' ? parseKeyvString(entry) : (entry as MapEntry | null))
        ?.expires;
      if (typeof expires === 'number' && expires < now) {
        this.map.delete(k);
        removed++;
      }
    }
    return removed;
  }

  close() {
    if (this.timer) clearInterval(this.timer);
  }
}

/** `@keyv/redis`: one Redis command per operation, atomic compare-and-set by a Lua script. */
class RedisBackend implements Backend {
  readonly kind = 'redis' as const;
  constructor(
    private readonly keyv: Keyv,
    private readonly adapter: KeyvRedisLike,
  ) {}
  private key(key: string) {
    return this.adapter.createKeyPrefix(keyvPrefixed(this.keyv, key), this.adapter.namespace);
  }
  /**
   * The adapter's client when it is open, without going through `getClient()` (an async call, i.e. a promise
   * and a microtask per operation, that returns the same client while it is open); otherwise undefined, and
   * the caller takes the `getClient()` path, which (re)connects or fails as the adapter decides.
   */
  private openClient(): RedisClientLike | undefined {
    const client = this.adapter.client;
    return client?.isOpen === true ? client : undefined;
  }
  get(key: string): Promise<string | undefined> {
    return this.fastRead(key).then(orUndefined);
  }
  /** The client's own answer, `null` for none (what the manager reads through, see `FAST_READ`). */
  fastRead(key: string): Promise<string | null> {
    const client = this.openClient();
    if (client) return client.get(this.key(key));
    return this.adapter.getClient().then((c) => c.get(this.key(key)));
  }
  async set(key: string, value: string, ttlMs: number) {
    const client = this.openClient() ?? (await this.adapter.getClient());
    await client.set(this.key(key), value, { PX: Math.max(1, Math.ceil(ttlMs)) });
  }
  async compareAndSet(key: string, expected: string, value: string, ttlMs: number) {
    const client = this.openClient() ?? (await this.adapter.getClient());
    const done = await client.eval(CAS_SCRIPT, {
      keys: [this.key(key)],
      arguments: [expected, value, String(Math.max(1, Math.ceil(ttlMs)))],
    });
    return Number(done) === 1;
  }
  async delete(key: string) {
    const client = this.openClient() ?? (await this.adapter.getClient());
    return (await client.del(this.key(key))) > 0;
  }
  close() {}
}

function orUndefined(value: string | null): string | undefined {
  return value ?? undefined;
}

/**
 * Any other Keyv store, or several (tiered). Errors are made to throw (`throwOnErrors`), and an
 * in-process queue per key makes compare-and-set and delete atomic within this process. Across processes
 * they are best-effort: use Redis (or a store of your own with atomic operations) for several instances.
 */
class KeyvBackend implements Backend {
  readonly kind = 'keyv' as const;
  private readonly queues = new KeyedQueue();
  constructor(private readonly stores: Keyv[]) {
    for (const keyv of stores) keyv.throwOnErrors = true;
  }

  async get(key: string) {
    for (const keyv of this.stores) {
      const value: unknown = await keyv.get(key);
      if (typeof value === 'string') return value;
    }
    return undefined;
  }
  async set(key: string, value: string, ttlMs: number) {
    await Promise.all(this.stores.map((keyv) => keyv.set(key, value, ttlMs)));
  }
  compareAndSet(key: string, expected: string, value: string, ttlMs: number) {
    return this.queues.run(key, async () => {
      if ((await this.get(key)) !== expected) return false;
      await this.set(key, value, ttlMs);
      return true;
    });
  }
  delete(key: string) {
    return this.queues.run(key, async () => {
      const existed = (await this.get(key)) !== undefined;
      await Promise.all(this.stores.map((keyv) => keyv.delete(key)));
      return existed;
    });
  }
  close() {}
}

function isKeyvRedis(store: unknown): store is KeyvRedisLike {
  const s = store as Partial<KeyvRedisLike> | undefined;
  return typeof s?.getClient === 'function' && typeof s.createKeyPrefix === 'function';
}

/**
 * A {@link SessionStore} over any cache-manager v7 `Cache`, and so over any Keyv adapter.
 *
 * - The in-memory Keyv store (a `Map`) is used directly: atomic, swept of expired records periodically.
 * - A single `@keyv/redis` store (Redis, Valkey) is used through its client: one command per operation,
 *   atomic compare-and-set, and `delete` that knows whether it removed the record, across any number of
 *   app instances.
 * - Anything else goes through Keyv with `throwOnErrors` switched on (cache-manager would otherwise turn
 *   store failures into "not found", i.e. silently log users out or lose writes).
 *
 * @example
 * new CacheManagerSessionStore(createCache({ stores: [createKeyv('redis://127.0.0.1:6379', { namespace: 'app' })] }))
 */
export class CacheManagerSessionStore extends SessionStore {
  private readonly backend: Backend;
  private readonly prefix: string;

  constructor(cache: Cache, options: CacheManagerSessionStoreOptions = {}) {
    super();
    const stores = (cache as { stores?: Keyv[] })?.stores;
    if (!Array.isArray(stores) || stores.length === 0) {
      throw new TypeError(
        'CacheManagerSessionStore needs a cache-manager v7 Cache (createCache(...)) with at least one Keyv store.',
      );
    }
    this.prefix = options.prefix ?? 'yosai:sess:';
    const only = stores.length === 1 ? stores[0] : undefined;
    if (only && only.store instanceof Map) {
      this.backend = new MapBackend(
        only,
        only.store as Map<string, unknown>,
        options.sweepIntervalMs ?? 60_000,
      );
    } else if (only && isKeyvRedis(only.store)) {
      this.backend = new RedisBackend(only, only.store);
    } else {
      this.backend = new KeyvBackend(stores);
    }
    const backend = this.backend;
    const prefix = this.prefix;
    if (backend.fastRead) this[FAST_READ] = (id) => backend.fastRead!(prefix + id);
  }

  /** A store in this process's memory: for one instance, development and tests. */
  static inMemory(options?: CacheManagerSessionStoreOptions): CacheManagerSessionStore {
    return new CacheManagerSessionStore(createCache({ stores: [new Keyv({ store: new Map() })] }), options);
  }

  /** Which path this store takes: `memory`, `redis` or `keyv` (generic). */
  get kind(): 'memory' | 'redis' | 'keyv' {
    return this.backend.kind;
  }

  get(id: string) {
    return this.backend.get(this.prefix + id);
  }
  /** @internal The read the manager uses (see `FAST_READ`): synchronous in memory, the client's own on Redis. */
  readonly [FAST_READ]: FastRead | undefined;
  set(id: string, value: string, ttlMs: number) {
    return this.backend.set(this.prefix + id, value, ttlMs);
  }
  compareAndSet(id: string, expected: string, value: string, ttlMs: number) {
    return this.backend.compareAndSet(this.prefix + id, expected, value, ttlMs);
  }
  delete(id: string) {
    return this.backend.delete(this.prefix + id);
  }
  /** Removes expired records now (in-memory stores only; others expire by TTL). Returns how many. */
  sweep(): number {
    return this.backend instanceof MapBackend ? this.backend.sweep() : 0;
  }
  async close() {
    this.backend.close();
  }
}
