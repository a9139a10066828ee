import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { createCache, type Cache } from 'cache-manager';
import { Keyv } from 'keyv';
import { KeyedQueue } from '../common/keyed-queue.js';
import {
  PrincipalFullError,
  ReplicationTimeoutError,
  SessionStoreError,
  YosaiConfigurationError,
} from '../errors/yosai.errors.js';
import {
  bucketTag,
  EXPIRY_SUBQUEUES,
  expirySubqueueOf,
  principalHash,
  SESSION_BUCKETS,
  sessionBucketOf,
} from './session-tag.js';
import {
  SessionStore,
  type ExpiryQueue,
  type FieldRecords,
  type PrincipalIndex,
  type SessionExpiryHints,
  type SessionDeleteHints,
  type SessionWriteHints,
  type StoredValue,
} from './session.store.js';

/** Options of {@link CacheManagerSessionStore}. */
export interface CacheManagerSessionStoreOptions {
  /**
   * Prefix of every key this store writes, so sessions do not collide with other data in the same cache
   * or with another app's sessions. Keys are `<prefix><session id>`; the id is a SHA-256 hash of the token. On
   * `@keyv/redis` with a namespace, `<namespace>::<prefix><session id>`: the namespace once, whether or not the
   * Keyv instance prefixes keys itself (`useKeyPrefix`).
   * @default 'yosai:sess:'
   */
  prefix?: string;
  /**
   * How often an in-memory (`Map`) store is swept of records past their TTL. Milliseconds; `0` turns sweeping off.
   * (The module's expiry sweeper, which expires sessions at their deadline, is `expirySweepIntervalMs`.)
   * The sweep timer is `unref()`ed and stopped by `close()`.
   * @default 60_000
   */
  sweepIntervalMs?: number;
  /**
   * Redis only: how long `ready()`, and the operations that arrive before the client's first connection is
   * ready, wait for it before failing. Milliseconds.
   * @default the adapter's `connectionTimeout` if set, else 10_000
   */
  readyTimeoutMs?: number;
  /**
   * In-memory only: the time records' TTLs are measured against. Pass a `ManualClock` in tests to expire
   * records without waiting.
   * @default Date
   */
  clock?: { now(): number };
  /**
   * In-memory only: the most sessions the store holds. A new session beyond it evicts one: the least recently
   * written guest (a record `set` with the hint `guest`), else the least recently written other session. Each
   * eviction is reported to {@link SessionStore.onEvicted}, so `yosai.session.stopped` goes out with reason
   * `evicted` (an evicted record already past its TTL is reported as expired instead). Unset: no cap, as memory
   * is then bounded by the timeouts; set it when a flood of new sessions must not exhaust the process's memory.
   * Only records written by `set` count: login-throttle counters (written by `setIfAbsent`) neither take a place
   * nor get evicted.
   * @default undefined (no cap)
   * @throws YosaiConfigurationError when it is not a positive integer, or given for a store that is not in memory.
   */
  maxSessions?: number;
  /**
   * Redis only: durable revocation. After every delete that ends a session (logout, `stop()`, a revocation, and
   * the delete of the old session at login or regeneration), the store sends `WAIT replicas timeoutMs` to the
   * Redis master that holds the key, on the connection that sent the delete, and resolves only once that many
   * replicas acknowledged it. When fewer did within `timeoutMs`, the operation rejects with
   * `ReplicationTimeoutError` (a `SessionStoreError`: the request answers 503): the session is gone from the
   * master and is reported stopped, but the app is not told the logout is durable when it is not.
   *
   * This is the knob between latency and "a revoked session cannot come back after a failover": without it a
   * logout acknowledged by the master can be lost if the master dies before its replicas copied it, and the token
   * is valid again on the promoted replica. Its cost is one replication round trip per logout or login, and, while
   * replicas lag, up to `timeoutMs` during which that connection (shared by this instance's other commands to that
   * master) waits. Keep `timeoutMs` well below `storeTimeoutMs`. Other writes (new sessions, attribute changes,
   * touches) do not wait.
   * @default undefined (no WAIT)
   * @throws YosaiConfigurationError when given for a store that is not Redis, or when `replicas` or `timeoutMs` is
   * not a positive integer.
   */
  waitForReplicas?: { replicas: number; timeoutMs: number };
  /**
   * Redis only: keep sessions in the field model ({@link SessionStore.fieldRecords}): a hash per session, a field
   * per attribute, so that a write sends only what changed and concurrent writers of different attributes never
   * conflict. Records an earlier release wrote as strings are still read, and converted on their next write.
   *
   * `false` keeps the string model of 0.1 (a whole-record compare-and-set per write). Use it for one deploy when
   * upgrading instances one by one from a release without the field model: instances of that release do not read
   * field records. Turn it on once none runs any more.
   * @default true
   */
  fieldRecords?: boolean;
}

/** Called with the id (without prefix) and value of a record the store removed because its TTL passed. */
type ExpiredListener = (id: string, value: string) => void;

interface Backend {
  readonly kind: 'memory' | 'redis' | 'keyv';
  get(id: string): Promise<string | undefined>;
  set(id: string, value: string, ttlMs: number, hints?: SessionWriteHints): Promise<void>;
  compareAndSet(
    id: string,
    expected: string,
    value: string,
    ttlMs: number,
    hints?: SessionExpiryHints,
  ): Promise<boolean>;
  /** Absent on the generic Keyv path, where it could be atomic within one process only. */
  setIfAbsent?(id: string, value: string, ttlMs: number): Promise<boolean>;
  delete(id: string, hints?: SessionDeleteHints): Promise<boolean>;
  close(): void;
  /** The backend's cheaper read, where it has one (see `SessionStore.readNow`). */
  readNow?(id: string): StoredValue | Promise<StoredValue>;
  ready?(): Promise<void>;
  onExpired?(listener: ExpiredListener): void;
}

/** Minimal view of the `@keyv/redis` adapter and its node-redis client (no import: it is optional). */
interface KeyvRedisLike {
  getClient(): Promise<RedisClientLike>;
  /** The current node-redis client (a getter in `@keyv/redis`); may be absent in look-alikes. */
  readonly client?: RedisClientLike;
  createKeyPrefix(key: string, namespace?: string): string;
  namespace?: string;
}
/** A node-redis client (`createClient`, `createSentinel`) or cluster (`createCluster`). */
interface RedisClientLike {
  /** True from the moment connecting *starts* (node-redis), so it cannot tell whether commands will run. */
  readonly isOpen?: boolean;
  /** A client's or sentinel's "can run commands now"; a cluster has no such flag. */
  readonly isReady?: boolean;
  /** A cluster's master nodes: empty until its slot map is known. */
  readonly masters?: readonly unknown[];
  connect(): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options: { PX: number; NX?: boolean }): Promise<unknown>;
  del(key: string): Promise<number>;
  hGetAll(key: string): Promise<Record<string, string>>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /**
   * A raw command: `(args)` on a client, `(firstKey, isReadonly, args)` on a cluster (sent to the key's master),
   * `(isReadonly, args)` on a sentinel.
   */
  sendCommand(...args: unknown[]): Promise<unknown>;
  /** A sentinel's: runs `fn` on a master connection leased for it alone. */
  use?<T>(fn: (client: RedisClientLike) => Promise<T>): Promise<T>;
}

/** `waitForReplicas` as the store uses it. */
interface WaitForReplicas {
  readonly replicas: number;
  readonly timeoutMs: number;
}

/** A Lua script and its SHA-1, run by `EVALSHA` (see {@link runScript}). */
interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const CAS_SCRIPT = script(
  "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0",
);

/*
 * The field model's scripts. Each touches one key (so one hash slot); fields `v` (version), `n` (attribute count) and
 * `b` (byte total of the other fields) are kept by the scripts. HSET is sent in chunks, as Lua's `unpack` has a
 * bounded stack.
 */
/**
 * The expiry queue's part of the create and patch scripts: given KEYS[2] (the session's sub-queue of its bucket, a
 * sorted set in the record's hash slot), the last two arguments are the session's deadline and its id, taken off ARGV
 * before the script reads the rest. A write that stores the record scores it there in the same script.
 */
const QUEUE_ARGS = `local queue = KEYS[2]
local due, member
if queue then member = table.remove(ARGV) due = table.remove(ARGV) end`;

const HSET_CHUNKS = `
local function hset(k, list)
  for c = 1, #list, 200 do
    redis.call('HSET', k, unpack(list, c, math.min(c + 199, #list)))
  end
end
`;

/** The store-kept field of an indexed record that holds its principal's hash. */
const PRINCIPAL_FIELD = '~p';

/**
 * Whether a member of an index or a queue is a session id (base64url SHA-256: 43 of [A-Za-z0-9_-]); anything else
 * was not put there by these scripts, and must not be turned into a key (`:expiry:3` would name a queue).
 */
const SESSION_ID = `
local function sessionid(id)
  return #id == 43 and not string.find(id, '[^%w_%-]')
end
`;

/*
 * The principal index: a sorted set per principal, `<base>p:<principal hash>`, where `<base>` is everything of a
 * record key up to its bucket's `{tag}` (`<ns>::<prefix>{bb}`): the principal's sessions are drawn into its bucket,
 * so the index and every record it lists share one hash slot. That tag is the key's last `{xx}` (two hex digits,
 * right before the id, which never holds a brace): the namespace or the prefix may hold a `{…}` of its own. Members are session ids, scored by the time they joined (a
 * session joining in the same millisecond as the last one, or with a clock behind it, is scored just after it, so
 * the index keeps the order in which sessions joined); a record in the index keeps its principal's hash in the
 * store-kept field `~p`, so that every script that removes or extends the record finds the index. The index key
 * lives at least as long as its longest-lived member.
 */
const PRINCIPAL_INDEX = `${SESSION_ID}
local function tagged(k)
  return string.match(k, '^(.*{%x%x})(.*)$')
end
local function indexkey(k, p)
  return (tagged(k)) .. 'p:' .. p
end
local function indexed(idx)
  local base = tagged(idx)
  local live = {}
  for _, id in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
    if sessionid(id) and redis.call('EXISTS', base .. id) == 1 then
      live[#live + 1] = id
    else
      redis.call('ZREM', idx, id)
    end
  end
  return live
end
local function outlive(idx, ttl)
  if redis.call('PTTL', idx) < tonumber(ttl) then redis.call('PEXPIRE', idx, ttl) end
end
`;

/**
 * KEYS[1], then the optional keys the last argument names, in this order: `q` the expiry queue to join, `i` the
 * principal index to join. ARGV: ttl, n, b, then field/value pairs, then with `q`: the deadline and the id, then
 * with `i`: the principal's hash, the join time, and the cap (-1: none), and last the flags (`q`, `i`, `qi` or ``).
 * Answers 1 written, or the principal's live session ids (oldest first) when the cap refused the write.
 */
const CREATE_SCRIPT = script(`${HSET_CHUNKS}${PRINCIPAL_INDEX}
local k = KEYS[1]
local flags = table.remove(ARGV)
local queue, idx, due, member, hashed, joined, cap
local at = 2
if string.find(flags, 'q', 1, true) then queue = KEYS[at] at = at + 1 end
if string.find(flags, 'i', 1, true) then idx = KEYS[at] end
if idx then cap = tonumber(table.remove(ARGV)) joined = table.remove(ARGV) hashed = table.remove(ARGV) end
if queue then member = table.remove(ARGV) due = table.remove(ARGV) end
local last = #ARGV
-- principal index: the cap, judged before anything is written
if idx and cap >= 0 then
  local live = indexed(idx)
  if #live >= cap then return live end
end
redis.call('DEL', k)
local list = {'v', '1', 'n', ARGV[2], 'b', ARGV[3]}
for i = 4, last do list[#list + 1] = ARGV[i] end
hset(k, list)
redis.call('PEXPIRE', k, ARGV[1])
-- principal index: join it
if idx then
  redis.call('HSET', k, '~p', hashed)
  local score = tonumber(joined)
  local last = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')[2]
  if last and tonumber(last) >= score then score = tonumber(last) + 0.001 end
  redis.call('ZADD', idx, score, select(2, tagged(k)))
  outlive(idx, ARGV[1])
end
-- expiry queue: join it
if queue then redis.call('ZADD', queue, due, member) end
return 1`);

/**
 * KEYS[1], a field-model key, and KEYS[2] its sub-queue of the bucket's expiry queue; ARGV[1], the id. Deletes the
 * record, its entry in its principal's index and its entry in the queue, together: whoever removes the record is the
 * one to report it. Answers how many keys it removed.
 */
const DELETE_SCRIPT = script(`${PRINCIPAL_INDEX}
local k = KEYS[1]
-- principal index: read before the record goes
local p = redis.call('TYPE', k).ok == 'hash' and redis.call('HGET', k, '~p')
local removed = redis.call('DEL', k)
-- principal index: leave it
if p then redis.call('ZREM', indexkey(k, p), select(2, tagged(k))) end
-- expiry queue: leave it
redis.call('ZREM', KEYS[2], ARGV[1])
return removed`);

/** KEYS[1], a principal index: its members whose record exists (the others are pruned), oldest first. */
const LIST_SCRIPT = script(`${PRINCIPAL_INDEX}
return indexed(KEYS[1])`);

/**
 * KEYS[1]; ARGV: ttl, accessedAt, maxAttributes (-1: none), maxBytes, #set, #remove, convertRaw, #convert, then the
 * set pairs, the removed names, the convert pairs, and the converted record's n and b.
 * Answers {1, version} written, {0} missing, {-1} conflict, {-2} not a record, {-3, n} or {-4, b} refused by a limit.
 */
const PATCH_SCRIPT = script(`${HSET_CHUNKS}${PRINCIPAL_INDEX}
local k = KEYS[1]
${QUEUE_ARGS}
local nset, nrem, nconv = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[8])
local first = 9
local t = redis.call('TYPE', k).ok
if t == 'none' then return {0} end
if t == 'string' then
  if nconv == 0 or redis.call('GET', k) ~= ARGV[7] then return {-1} end
  local at = first + 2 * nset + nrem
  local list = {'v', '0', 'n', ARGV[at + 2 * nconv], 'b', ARGV[at + 2 * nconv + 1]}
  for i = at, at + 2 * nconv - 1 do list[#list + 1] = ARGV[i] end
  local pttl = redis.call('PTTL', k)
  redis.call('DEL', k)
  hset(k, list)
  if pttl > 0 then redis.call('PEXPIRE', k, pttl) end
elseif t ~= 'hash' then
  return {-2}
end
local n0 = tonumber(redis.call('HGET', k, 'n') or '0')
local b0 = tonumber(redis.call('HGET', k, 'b') or '0')
local n, b = n0, b0
local list = {}
for i = first, first + 2 * nset - 1, 2 do
  local f, value = ARGV[i], ARGV[i + 1]
  local len = redis.call('HSTRLEN', k, f)
  if len == 0 then
    b = b + #f + #value
    if string.sub(f, 1, 2) == 'a:' then n = n + 1 end
  else
    b = b + #value - len
  end
  list[#list + 1] = f
  list[#list + 1] = value
end
local removed = {}
for i = first + 2 * nset, first + 2 * nset + nrem - 1 do
  local f = ARGV[i]
  local len = redis.call('HSTRLEN', k, f)
  if len > 0 then
    b = b - #f - len
    if string.sub(f, 1, 2) == 'a:' then n = n - 1 end
    removed[#removed + 1] = f
  end
end
local l = redis.call('HGET', k, 'l')
if l and tonumber(ARGV[2]) > tonumber(l) then
  b = b + #ARGV[2] - #l
  list[#list + 1] = 'l'
  list[#list + 1] = ARGV[2]
end
local maxn, maxb = tonumber(ARGV[3]), tonumber(ARGV[4])
if maxn >= 0 and n > maxn and n > n0 then return {-3, n} end
if maxb >= 0 and b > maxb and b > b0 then return {-4, b} end
if #removed > 0 then redis.call('HDEL', k, unpack(removed)) end
list[#list + 1] = 'n'
list[#list + 1] = tostring(n)
list[#list + 1] = 'b'
list[#list + 1] = tostring(b)
hset(k, list)
local v = redis.call('HINCRBY', k, 'v', 1)
redis.call('PEXPIRE', k, ARGV[1])
-- principal index: it outlives the record
local p = redis.call('HGET', k, '~p')
if p then outlive(indexkey(k, p), ARGV[1]) end
if queue then redis.call('ZADD', queue, 'GT', due, member) end
return {1, v}`);

/*
 * The expiry queue (the sweeper's), a bucket's sorted sets beside the bucket's records: each script touches one
 * bucket's keys, so one hash slot. KEYS[1] is the record's key where a script takes one, KEYS[2] its sub-queue.
 */
/** KEYS[1], a shard's lease; ARGV: owner, lease ms. Takes a free lease or renews the owner's; answers 1 if held. */
const LEASE_SCRIPT = script(`local holder = redis.call('GET', KEYS[1])
if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`);
/** KEYS[1], a shard's lease; ARGV[1], the owner: gives the lease up if the owner holds it. */
const RELEASE_SCRIPT = script(
  "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 0",
);
/**
 * KEYS, a bucket's sub-queues; ARGV: now, limit. The ids due in all of them, earliest first, at most `limit`. A due
 * member that is not a session id is removed, not answered.
 */
const DUE_SCRIPT = script(`${SESSION_ID}
local limit = tonumber(ARGV[2])
local due = {}
for _, q in ipairs(KEYS) do
  local found = redis.call('ZRANGEBYSCORE', q, '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, limit)
  for i = 1, #found, 2 do
    if sessionid(found[i]) then
      due[#due + 1] = {tonumber(found[i + 1]), found[i]}
    else
      redis.call('ZREM', q, found[i])
    end
  end
end
table.sort(due, function(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end)
local ids = {}
for i = 1, math.min(limit, #due) do ids[i] = due[i][2] end
return ids`);
/** KEYS: record, queue; ARGV: expiresAt, id. Moves a live record's entry later (never earlier, never adds one). */
const RESCHEDULE_SCRIPT = script(
  "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('ZADD', KEYS[2], 'XX', 'GT', ARGV[1], ARGV[2]) end return 0",
);
/** KEYS: record, queue; ARGV[1], the id. Removes the entry of a record that is gone; answers how many it removed. */
const DROP_SCRIPT = script(
  "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end return redis.call('ZREM', KEYS[2], ARGV[1])",
);

/** KEYS[1], a string-model key: {'s', value} for a string, {'h', field, value, …} for a hash, nil for none. */
const LEGACY_READ_SCRIPT = script(`
local k = KEYS[1]
local t = redis.call('TYPE', k).ok
if t == 'string' then return {'s', redis.call('GET', k)} end
if t == 'hash' then
  local reply = redis.call('HGETALL', k)
  table.insert(reply, 1, 'h')
  return reply
end
return false`);

/**
 * Runs a script by its SHA-1 (`EVALSHA`: the script is not sent again on every write). A node that does not know
 * it (a restart, a failover to a replica that never saw it, a slot moved to another node, `SCRIPT FLUSH`) answers
 * `NOSCRIPT`; the script is then sent with `EVAL`, which also loads it on that node for the next time. Every script
 * touches the keys it is given, all in one hash slot, so a cluster routes it by its first key.
 */
async function runScript(
  client: RedisClientLike,
  { source, sha }: Script,
  keys: string[],
  args: string[],
): Promise<unknown> {
  try {
    return await client.evalSha(sha, { keys, arguments: args });
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return client.eval(source, { keys, arguments: args });
  }
}

/** The part Keyv puts before a key when it has a namespace and prefixes keys itself. */
function keyvKeyPrefix(keyv: Keyv): string {
  return keyv.useKeyPrefix && keyv.namespace ? `${keyv.namespace}:` : '';
}

/** One record in the in-memory store. */
interface MapEntry {
  readonly value: string;
  /** The clock's time after which the record is gone. */
  readonly expires: number;
  /**
   * The record's place in the expiry queue (the `expiresAt` hint of the write that moved it last), or undefined when
   * it is not queued. Kept in the entry, not in a queue of its own, so a queued session costs no second map entry.
   */
  deadline: number | undefined;
}

/**
 * The same string, flattened: a concatenated or JSON-built string is a tree of parts until read, and a session
 * kept for its whole life costs less flat (heap per idle session, `bench/heap.mjs`: see BENCHMARKS.md).
 */
function flat(value: string): string {
  value.charCodeAt(0);
  return value;
}

function isMapEntry(entry: unknown): entry is MapEntry {
  return (
    typeof entry === 'object' &&
    entry !== null &&
    typeof (entry as MapEntry).value === 'string' &&
    typeof (entry as MapEntry).expires === 'number'
  );
}

/**
 * The Map of an in-memory Keyv, holding this store's own entries (not Keyv's format: read them through this
 * store, not through the cache). Keys are `[<Keyv namespace>:]<prefix><id>`, so stores under different
 * namespaces or prefixes can share one Map. Every operation is synchronous, so compare-and-set and delete are
 * atomic, and a record the sweep removes cannot also be removed by a read or a delete.
 */
class MapBackend implements Backend {
  readonly kind = 'memory' as const;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private listener: ExpiredListener | undefined;
  private evictedListener: ExpiredListener | undefined;
  private readonly logger = new Logger('CacheManagerSessionStore');
  /**
   * With `maxSessions` only: this store's keys, least recently written first (a Set keeps insertion order, and a
   * write moves its key to the end), guests apart from the others so that they are evicted first.
   */
  private readonly index: { readonly guests: Set<string>; readonly others: Set<string> } | undefined;
  /** The principal index: each principal's keys, first started first, and the principal of each indexed key. */
  private readonly principals = new Map<string, Set<string>>();
  private readonly owners = new Map<string, string>();
  /**
   * The last walk over the map for the expiry queue: the due entries at `now`, per shard, as [id, deadline]. One
   * sweeper pass asks every shard with the same `now`, so one walk serves the whole pass; a write that changes what
   * is due at `now` drops it.
   */
  private dueScan: { readonly now: number; readonly shards: Map<number, [string, number][]> } | undefined;
  /** The sweeper's leases, per bucket, in real time (several managers may share this store in one process). */
  private readonly leases = new Map<number, { owner: string; until: number }>();

  constructor(
    readonly map: Map<string, unknown>,
    /** Everything before the id in a key. */
    private readonly keyPrefix: string,
    sweepIntervalMs: number,
    private readonly clock: { now(): number },
    private readonly maxSessions?: number,
  ) {
    if (maxSessions !== undefined) this.index = { guests: new Set(), others: new Set() };
    if (sweepIntervalMs > 0) {
      this.timer = setInterval(() => this.sweep(), sweepIntervalMs);
      this.timer.unref();
    }
  }

  /** The value under the id, or undefined; a record past its TTL is removed (and reported) here. */
  readNow(id: string): string | undefined {
    const key = this.keyPrefix + id;
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    if (!isMapEntry(entry)) {
      // Not written by this store: handed up as it is, and the manager discards it as unreadable.
      return typeof entry === 'string' ? entry : JSON.stringify(entry);
    }
    if (entry.expires < this.clock.now()) {
      this.expire(key, entry);
      return undefined;
    }
    return entry.value;
  }
  async get(id: string) {
    return this.readNow(id);
  }
  async set(id: string, value: string, ttlMs: number, hints?: SessionWriteHints) {
    const principal = hints?.principal;
    // The cap per principal is judged and the record written in one synchronous step: atomic for every user of
    // this store.
    if (principal !== undefined && hints?.maxPerPrincipal !== undefined) {
      const live = this.list(principal);
      if (live.length >= hints.maxPerPrincipal) throw new PrincipalFullError(live);
    }
    const index = this.index;
    const key = this.keyPrefix + id;
    this.unindex(key);
    if (index) this.makeRoom(index);
    this.put(id, value, ttlMs, hints?.expiresAt);
    if (index) (hints?.guest ? index.guests : index.others).add(key);
    if (principal !== undefined) {
      let keys = this.principals.get(principal);
      if (!keys) this.principals.set(principal, (keys = new Set()));
      keys.add(key);
      this.owners.set(key, principal);
    }
  }

  /** The ids of the principal's live sessions, first started first (expired ones are removed and reported here). */
  list(principal: string): string[] {
    const keys = this.principals.get(principal);
    if (!keys) return [];
    const live: string[] = [];
    for (const key of [...keys]) {
      const id = key.slice(this.keyPrefix.length);
      if (this.readNow(id) !== undefined) live.push(id);
    }
    return live;
  }
  async compareAndSet(
    id: string,
    expected: string,
    value: string,
    ttlMs: number,
    hints?: SessionExpiryHints,
  ) {
    if (this.readNow(id) !== expected) return false;
    this.put(id, value, ttlMs, hints?.expiresAt, true);
    if (this.index) {
      // The most recently written now; a record that was never `set` (a login-throttle counter) stays unindexed.
      const key = this.keyPrefix + id;
      if (this.index.guests.delete(key)) this.index.guests.add(key);
      else if (this.index.others.delete(key)) this.index.others.add(key);
    }
    return true;
  }

  /**
   * The library uses it for login-throttle counters only, which are not sessions: they stay out of the
   * `maxSessions` index, so they neither take a session's place nor get evicted to make room (they are small, and
   * expire by their TTL).
   */
  async setIfAbsent(id: string, value: string, ttlMs: number) {
    if (this.readNow(id) !== undefined) return false;
    this.put(id, value, ttlMs, undefined);
    return true;
  }

  /** Evicts records, guests first, least recently written first, until a new one fits under `maxSessions`. */
  private makeRoom(index: { readonly guests: Set<string>; readonly others: Set<string> }) {
    while (index.guests.size + index.others.size >= this.maxSessions!) {
      const victim = first(index.guests) ?? first(index.others);
      if (victim === undefined) return;
      this.unindex(victim);
      const entry = this.map.get(victim);
      if (!isMapEntry(entry)) continue; // removed or replaced behind this store's back
      if (entry.expires < this.clock.now()) {
        this.expire(victim, entry);
        continue;
      }
      this.remove(victim);
      this.report(this.evictedListener, 'onEvicted', victim, entry);
    }
  }

  /** Removes a key from the indexes: every path that removes a record goes through here. */
  private unindex(key: string) {
    if (this.index && !this.index.guests.delete(key)) this.index.others.delete(key);
    const principal = this.owners.get(key);
    if (principal === undefined) return;
    this.owners.delete(key);
    const keys = this.principals.get(principal)!;
    keys.delete(key);
    if (keys.size === 0) this.principals.delete(principal);
  }
  /**
   * Stores a record with its place in the expiry queue: `expiresAt` given, there (`later`: only if that is later than
   * the place it had); undefined, the place it had.
   */
  private put(id: string, value: string, ttlMs: number, expiresAt: number | undefined, later = false) {
    const key = this.keyPrefix + id;
    const previous = this.map.get(key);
    const had = isMapEntry(previous) ? previous.deadline : undefined;
    const deadline =
      expiresAt === undefined || (later && had !== undefined && had >= expiresAt) ? had : expiresAt;
    this.queueChanged(had, deadline);
    const entry: MapEntry = { value: flat(value), expires: this.clock.now() + ttlMs, deadline };
    this.map.set(flat(key), entry);
  }
  async delete(id: string) {
    const existed = this.readNow(id) !== undefined;
    this.remove(this.keyPrefix + id);
    return existed;
  }

  /** Removes the record under `key` and its index and queue places: every path that removes a record ends here. */
  private remove(key: string) {
    const entry = this.map.get(key);
    if (isMapEntry(entry)) this.queueChanged(entry.deadline, undefined);
    this.map.delete(key);
    this.unindex(key);
  }

  /** A record's place in the expiry queue moved from `from` to `to`: the last walk is dropped if that changes it. */
  private queueChanged(from: number | undefined, to: number | undefined) {
    const scan = this.dueScan;
    if (from === to || scan === undefined) return;
    if ((from !== undefined && from <= scan.now) || (to !== undefined && to <= scan.now))
      this.dueScan = undefined;
  }

  /** The due entries at `now` per shard, from one walk over the map (reused while `now` and the queue stay the same). */
  private dueAt(now: number): Map<number, [string, number][]> {
    if (this.dueScan?.now === now) return this.dueScan.shards;
    const shards = new Map<number, [string, number][]>();
    const offset = this.keyPrefix.length;
    for (const [key, entry] of this.map) {
      if (!isMapEntry(entry) || entry.deadline === undefined || entry.deadline > now) continue;
      if (!key.startsWith(this.keyPrefix)) continue;
      const id = key.slice(offset);
      const shard = sessionBucketOf(id);
      let due = shards.get(shard);
      if (!due) shards.set(shard, (due = []));
      due.push([id, entry.deadline]);
    }
    this.dueScan = { now, shards };
    return shards;
  }

  /** The expiry queue (see `ExpiryQueue`); synchronous underneath, so every step is atomic. */
  readonly queue: ExpiryQueue = {
    shards: SESSION_BUCKETS,
    model: 'strings',
    lease: async (shard, owner, leaseMs) => {
      const now = Date.now();
      const held = this.leases.get(shard);
      if (held && held.owner !== owner && held.until > now) return false;
      this.leases.set(shard, { owner, until: now + leaseMs });
      return true;
    },
    release: async (shard, owner) => {
      if (this.leases.get(shard)?.owner === owner) this.leases.delete(shard);
    },
    due: async (shard, now, limit) => {
      const due = this.dueAt(now).get(shard) ?? [];
      return [...due]
        .sort((a, b) => a[1] - b[1])
        .slice(0, limit)
        .map(([id]) => id);
    },
    reschedule: async (id, expiresAt) => {
      const entry = this.map.get(this.keyPrefix + id);
      if (!isMapEntry(entry) || entry.deadline === undefined || entry.deadline >= expiresAt) return;
      this.queueChanged(entry.deadline, expiresAt);
      entry.deadline = expiresAt;
    },
    // A record's queue place goes with the record (`remove`), so there is never a place left to drop.
    drop: async () => false,
  };

  onExpired(listener: ExpiredListener): void {
    this.listener = listener;
  }

  onEvicted(listener: ExpiredListener): void {
    this.evictedListener = listener;
  }

  /** Removes this store's expired entries, so abandoned sessions do not stay in memory until someone reads them. */
  sweep(): number {
    const now = this.clock.now();
    let removed = 0;
    for (const [key, entry] of this.map) {
      if (isMapEntry(entry) && entry.expires < now && key.startsWith(this.keyPrefix)) {
        this.expire(key, entry);
        removed++;
      }
    }
    return removed;
  }

  private expire(key: string, entry: MapEntry) {
    this.remove(key);
    this.report(this.listener, 'onExpired', key, entry);
  }

  private report(listener: ExpiredListener | undefined, name: string, key: string, entry: MapEntry) {
    if (!listener) return;
    try {
      listener(key.slice(this.keyPrefix.length), entry.value);
    } catch (error) {
      // A failing listener must not stop the sweep, nor fail the read or write that removed the record.
      this.logger.error(`The ${name} listener threw: ${String(error)}`);
    }
  }

  close() {
    if (this.timer) clearInterval(this.timer);
  }
}

function first(set: Set<string>): string | undefined {
  for (const value of set) return value;
  return undefined;
}

/**
 * Whether the client runs commands now. node-redis sets `isOpen` when connecting starts; a standalone
 * client (or sentinel) says `isReady` once the connection is usable, and a cluster has no such flag but
 * knows its masters once its slot map is loaded.
 */
function serving(client: RedisClientLike): boolean {
  if (client.isReady !== undefined) return client.isReady;
  if (client.masters !== undefined) return client.isOpen === true && client.masters.length > 0;
  return client.isOpen === true;
}

/** An error's message; Node's connection errors for several addresses (AggregateError) have none, but a code. */
function message(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.message || (error as { code?: string }).code || error.name;
}

/**
 * `@keyv/redis`: one Redis command per operation, atomic compare-and-set by a Lua script. Operations that
 * arrive before the client's first connection is ready wait for it (one shared wait), instead of failing
 * with "The client is offline" (`disableOfflineQueue`) or on a cluster's empty slot map.
 */
class RedisBackend implements Backend {
  readonly kind = 'redis' as const;
  /** Whether the client has been ready once: after that, an outage is the client's to handle (queue or fail fast). */
  private wasReady = false;
  private connecting: Promise<RedisClientLike> | undefined;

  constructor(
    private readonly adapter: KeyvRedisLike,
    /** What Keyv and this store put before the id, inside the adapter's namespace. */
    private readonly keyPrefix: string,
    private readonly readyTimeoutMs: number,
    private readonly waitForReplicas?: WaitForReplicas,
  ) {}

  /** Where the string model keeps a record (and where a record of an earlier release is converted in place). */
  private key(id: string) {
    return this.adapter.createKeyPrefix(this.keyPrefix + id, this.adapter.namespace);
  }

  /** Where the field model keeps a new record: hash-tagged by the id's bucket. */
  private fieldKey(id: string) {
    return this.adapter.createKeyPrefix(
      `${this.keyPrefix}{${bucketTag(sessionBucketOf(id))}}${id}`,
      this.adapter.namespace,
    );
  }

  /** The principal index of a principal (by its hash): in the principal's bucket, beside its sessions. */
  private indexKey(hashed: string) {
    return this.adapter.createKeyPrefix(
      `${this.keyPrefix}{${bucketTag(sessionBucketOf(hashed))}}p:${hashed}`,
      this.adapter.namespace,
    );
  }

  /**
   * The expiry queue of a session: one of its bucket's sub-queues, sorted sets in the bucket's hash slot (`:` never
   * occurs in an id). See `EXPIRY_SUBQUEUES` for why a bucket has several.
   */
  private queueKey(id: string) {
    return this.subqueueKey(sessionBucketOf(id), expirySubqueueOf(id));
  }

  private subqueueKey(bucket: number, subqueue: number) {
    return this.adapter.createKeyPrefix(
      `${this.keyPrefix}{${bucketTag(bucket)}}:expiry:${subqueue}`,
      this.adapter.namespace,
    );
  }

  /** The principal index (with the field model only: the string model's records are not indexed). */
  readonly principalIndex: PrincipalIndex = {
    list: async (principal) => {
      const client = await this.client();
      return (await runScript(
        client,
        LIST_SCRIPT,
        [this.indexKey(principalHash(principal))],
        [],
      )) as string[];
    },
  };
  /** The sweeper's lease of a bucket's queue. */
  private leaseKey(bucket: number) {
    return this.adapter.createKeyPrefix(
      `${this.keyPrefix}{${bucketTag(bucket)}}:lease`,
      this.adapter.namespace,
    );
  }

  /** The client, when commands can be sent to it now. */
  private current(): RedisClientLike | undefined {
    const client = this.adapter.client;
    if (client === undefined) return undefined;
    if (serving(client)) {
      this.wasReady = true;
      return client;
    }
    return this.wasReady && client.isOpen === true ? client : undefined;
  }

  /** The client once commands can be sent to it: at once, or after the one shared wait for readiness. */
  private client(): RedisClientLike | Promise<RedisClientLike> {
    return (
      this.current() ?? (this.connecting ??= this.connect().finally(() => (this.connecting = undefined)))
    );
  }

  async ready(): Promise<void> {
    await this.client();
  }

  /**
   * Starts connecting if nobody has, and waits until the client serves: at most `readyTimeoutMs`, less when
   * connecting fails for good or the client is closed meanwhile.
   */
  private async connect(): Promise<RedisClientLike> {
    const client = this.adapter.client;
    if (client === undefined) return this.adapter.getClient();
    const failure = (why: string, cause?: unknown) =>
      new SessionStoreError('ready', `${why}${cause === undefined ? '' : ` (${message(cause)})`}`, { cause });
    let lastError: unknown;
    const onError = (error: unknown) => (lastError = error);
    let onChange: () => void = () => undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        onChange = () => {
          if (serving(client)) resolve();
          else if (client.isOpen !== true) reject(failure('the Redis client was closed before it was ready'));
        };
        timer = setTimeout(
          () =>
            reject(
              failure(`Redis was not ready within ${this.readyTimeoutMs} ms (readyTimeoutMs)`, lastError),
            ),
          this.readyTimeoutMs,
        );
        // Nothing else to wait for is no reason to keep the process alive.
        timer.unref();
        client.on('error', onError);
        // A client says 'ready' once its connection is usable, a cluster 'connect' once its slot map is
        // loaded; 'end' (client) and 'disconnect' (cluster) follow a close.
        for (const event of ['ready', 'connect', 'end', 'disconnect']) client.on(event, onChange);
        if (client.isOpen === true) return;
        client.connect().then(onChange, (error: unknown) => {
          reject(failure('could not connect to Redis', error));
        });
      });
    } finally {
      clearTimeout(timer);
      client.off('error', onError);
      for (const event of ['ready', 'connect', 'end', 'disconnect']) client.off(event, onChange);
    }
    this.wasReady = true;
    return client;
  }

  readNow(id: string): Promise<string | null> {
    const client = this.client();
    return client instanceof Promise ? client.then((c) => c.get(this.key(id))) : client.get(this.key(id));
  }
  get(id: string): Promise<string | undefined> {
    return this.readNow(id).then(orUndefined);
  }
  async set(id: string, value: string, ttlMs: number) {
    const client = await this.client();
    await client.set(this.key(id), value, { PX: ttlMillis(ttlMs) });
  }
  async compareAndSet(id: string, expected: string, value: string, ttlMs: number) {
    const client = await this.client();
    const done = await runScript(
      client,
      CAS_SCRIPT,
      [this.key(id)],
      [expected, value, String(ttlMillis(ttlMs))],
    );
    return Number(done) === 1;
  }
  /**
   * The field model (`fieldRecords`). New records live under the hash-tagged key; a record that is not there is
   * looked for where the string model keeps it (a second command, only for unknown tokens and for sessions of an
   * earlier release until they end).
   */
  readonly fields: FieldRecords = {
    read: async (id) => {
      const client = await this.client();
      const fields = await client.hGetAll(this.fieldKey(id));
      for (const _ in fields) return { fields, legacy: false };
      const legacy = (await runScript(client, LEGACY_READ_SCRIPT, [this.key(id)], [])) as string[] | null;
      if (!legacy) return undefined;
      if (legacy[0] === 's') return { raw: legacy[1] };
      const found: Record<string, string> = {};
      for (let i = 1; i < legacy.length; i += 2) found[legacy[i]] = legacy[i + 1];
      return { fields: found, legacy: true };
    },
    create: async (id, fields, ttlMs, hints) => {
      const client = await this.client();
      const args = [String(ttlMillis(ttlMs)), '0', '0'];
      let n = 0;
      let b = 0;
      for (const name in fields) {
        const value = fields[name];
        if (name === 'v' || name === 'n' || name === 'b' || name === PRINCIPAL_FIELD) continue;
        if (name.startsWith('a:')) n++;
        b += Buffer.byteLength(name) + Buffer.byteLength(value);
        args.push(name, value);
      }
      args[1] = String(n);
      args[2] = String(b);
      const keys = [this.fieldKey(id)];
      let flags = '';
      if (hints?.expiresAt !== undefined) {
        this.queued(keys, args, id, hints.expiresAt);
        flags += 'q';
      }
      if (hints?.principal !== undefined) {
        const hashed = principalHash(hints.principal);
        if (sessionBucketOf(hashed) !== sessionBucketOf(id)) {
          // On a cluster the index and the record must share a slot: the life cycle draws the id into the bucket.
          throw new SessionStoreError('set', "a principal's session id must fall in the principal's bucket");
        }
        keys.push(this.indexKey(hashed));
        args.push(hashed, String(Date.now()), String(hints.maxPerPrincipal ?? -1));
        flags += 'i';
      }
      args.push(flags);
      const done = await runScript(client, CREATE_SCRIPT, keys, args);
      if (Array.isArray(done)) throw new PrincipalFullError(done as string[]);
    },
    patch: async (id, patch) => {
      const client = await this.client();
      const convert = patch.convert;
      const args = [
        String(ttlMillis(patch.ttlMs)),
        String(patch.accessedAt),
        String(patch.limits?.maxAttributes ?? -1),
        String(patch.limits?.maxBytes ?? -1),
        String(patch.set.length),
        String(patch.remove.length),
        convert?.raw ?? '',
        '0',
      ];
      for (const [name, value] of patch.set) args.push(name, value);
      for (const name of patch.remove) args.push(name);
      if (convert) {
        let pairs = 0;
        let n = 0;
        let b = 0;
        for (const name in convert.fields) {
          const value = convert.fields[name];
          if (name.startsWith('a:')) n++;
          b += Buffer.byteLength(name) + Buffer.byteLength(value);
          args.push(name, value);
          pairs++;
        }
        args[7] = String(pairs);
        args.push(String(n), String(b));
      }
      const keys = [patch.legacy || convert ? this.key(id) : this.fieldKey(id)];
      // A record where an earlier release kept it lies outside its bucket's hash slot: it is not queued.
      if (!patch.legacy && !convert && patch.expiresAt !== undefined) {
        this.queued(keys, args, id, patch.expiresAt);
      }
      const [code, value] = (await runScript(client, PATCH_SCRIPT, keys, args)) as number[];
      switch (code) {
        case 1:
          return { status: 'written', version: value };
        case 0:
          return { status: 'missing' };
        case -1:
          return { status: 'conflict' };
        case -3:
          return { status: 'maxAttributes', value };
        case -4:
          return { status: 'maxRecordBytes', value };
        default:
          throw new SessionStoreError('patch', 'the key holds something that is not a session record');
      }
    },
  };

  /** Adds the expiry queue to a create or patch: its key, and the deadline and id as the last arguments. */
  private queued(keys: string[], args: string[], id: string, expiresAt: number) {
    keys.push(this.queueKey(id));
    args.push(String(Math.ceil(expiresAt)), id);
  }

  /** The expiry queue of the field model (see `ExpiryQueue`): sorted sets per bucket, a lease key per bucket. */
  readonly queue: ExpiryQueue = {
    shards: SESSION_BUCKETS,
    model: 'fields',
    lease: async (shard, owner, leaseMs) => {
      // The sweeper runs on its own timer: it never reopens a client that its owner closed, as a request would (the
      // connection would keep the process alive); it waits for the next pass instead.
      if (this.wasReady && this.adapter.client?.isOpen !== true) {
        throw new SessionStoreError(
          'lease',
          'the Redis client was closed; the sweep waits for the next pass',
        );
      }
      const client = await this.client();
      const held = await runScript(
        client,
        LEASE_SCRIPT,
        [this.leaseKey(shard)],
        [owner, String(ttlMillis(leaseMs))],
      );
      return Number(held) === 1;
    },
    release: async (shard, owner) => {
      const client = await this.client();
      await runScript(client, RELEASE_SCRIPT, [this.leaseKey(shard)], [owner]);
    },
    due: async (shard, now, limit) => {
      const client = await this.client();
      return (await runScript(
        client,
        DUE_SCRIPT,
        Array.from({ length: EXPIRY_SUBQUEUES }, (_, subqueue) => this.subqueueKey(shard, subqueue)),
        [String(now), String(limit)],
      )) as string[];
    },
    reschedule: async (id, expiresAt) => {
      const client = await this.client();
      const keys = [this.fieldKey(id), this.queueKey(id)];
      await runScript(client, RESCHEDULE_SCRIPT, keys, [String(Math.ceil(expiresAt)), id]);
    },
    drop: async (id) => {
      const client = await this.client();
      const keys = [this.fieldKey(id), this.queueKey(id)];
      return Number(await runScript(client, DROP_SCRIPT, keys, [id])) === 1;
    },
  };

  async setIfAbsent(id: string, value: string, ttlMs: number) {
    const client = await this.client();
    const done = await client.set(this.key(id), value, { PX: ttlMillis(ttlMs), NX: true });
    return done === 'OK';
  }
  /**
   * Deletes the record in either model: the field model's key first, then the string model's. With
   * `waitForReplicas`, a revocation then waits for the replicas of the key it removed (the field model's key when
   * it removed none, which a retried revocation of a new session finds).
   */
  async delete(id: string, hints?: SessionDeleteHints) {
    const client = await this.client();
    // WAIT counts the replicas that acknowledged this connection's writes. A sentinel may send commands over any
    // connection of its master pool, so a durable revocation runs over one connection leased for it.
    if (this.waitForReplicas && hints?.revocation && client.use) {
      return client.use((leased) => this.deleteOn(leased, id, hints, true));
    }
    return this.deleteOn(client, id, hints);
  }

  /** `leased`: `client` is a sentinel's leased master connection. */
  private async deleteOn(
    client: RedisClientLike,
    id: string,
    hints: SessionDeleteHints | undefined,
    leased = false,
  ) {
    const fieldKey = this.fieldKey(id);
    // The record and its expiry queue entry in one script: whoever removes the record is the one to report it.
    const queueKey = this.queueKey(id);
    if (Number(await runScript(client, DELETE_SCRIPT, [fieldKey, queueKey], [id])) > 0) {
      return this.afterDelete(client, fieldKey, true, hints, leased);
    }
    const key = this.key(id);
    const removed = (await client.del(key)) > 0;
    return this.afterDelete(client, removed ? key : fieldKey, removed, hints, leased);
  }

  private async afterDelete(
    client: RedisClientLike,
    key: string,
    removed: boolean,
    hints: SessionDeleteHints | undefined,
    leased: boolean,
  ): Promise<boolean> {
    const wait = this.waitForReplicas;
    if (!wait || !hints?.revocation) return removed;
    // On the connection that sent the delete (a cluster: the connection to the key's master). A retried revocation
    // waits too, even when its delete found nothing: the first attempt's delete may be the one not yet acknowledged.
    const args = ['WAIT', String(wait.replicas), String(wait.timeoutMs)];
    // A leased sentinel client takes (isReadonly, args) as the sentinel does; a cluster (firstKey, isReadonly, args).
    const acknowledged = Number(
      await (leased
        ? client.sendCommand(false, args)
        : isCluster(client)
          ? client.sendCommand(key, false, args)
          : client.sendCommand(args)),
    );
    if (acknowledged < wait.replicas) {
      throw new ReplicationTimeoutError(removed, acknowledged, wait.replicas, wait.timeoutMs);
    }
    return removed;
  }
  close() {}
}

/** A node-redis cluster: it knows its masters (a client or sentinel has no such list). */
function isCluster(client: RedisClientLike): boolean {
  return client.masters !== undefined;
}

/** A TTL as Redis takes it: whole milliseconds, at least 1. */
function ttlMillis(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs));
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
  constructor(
    private readonly stores: Keyv[],
    private readonly prefix: string,
  ) {
    for (const keyv of stores) keyv.throwOnErrors = true;
  }

  async get(id: string) {
    for (const keyv of this.stores) {
      const value: unknown = await keyv.get(this.prefix + id);
      if (typeof value === 'string') return value;
    }
    return undefined;
  }
  async set(id: string, value: string, ttlMs: number) {
    await Promise.all(this.stores.map((keyv) => keyv.set(this.prefix + id, value, ttlMs)));
  }
  compareAndSet(id: string, expected: string, value: string, ttlMs: number) {
    return this.queues.run(id, async () => {
      if ((await this.get(id)) !== expected) return false;
      await this.set(id, value, ttlMs);
      return true;
    });
  }
  delete(id: string) {
    return this.queues.run(id, async () => {
      const existed = (await this.get(id)) !== undefined;
      await Promise.all(this.stores.map((keyv) => keyv.delete(this.prefix + id)));
      return existed;
    });
  }
  close() {}
}

/** The `waitForReplicas` option, checked; undefined when not given. */
function checkWaitForReplicas(value: WaitForReplicas | undefined): WaitForReplicas | undefined {
  if (value === undefined) return undefined;
  const v = value as Partial<WaitForReplicas> | null;
  const positive = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;
  if (!v || typeof v !== 'object' || !positive(v.replicas) || !positive(v.timeoutMs)) {
    throw new YosaiConfigurationError(
      'CacheManagerSessionStore option `waitForReplicas` must be { replicas, timeoutMs } with both positive ' +
        'integers (timeoutMs 0 would make WAIT block for ever).',
      'waitForReplicas',
    );
  }
  return { replicas: v.replicas!, timeoutMs: v.timeoutMs! };
}

function isKeyvRedis(store: unknown): store is KeyvRedisLike {
  const s = store as Partial<KeyvRedisLike> | undefined;
  return typeof s?.getClient === 'function' && typeof s.createKeyPrefix === 'function';
}

/**
 * A {@link SessionStore} over any cache-manager v7 `Cache`, and so over any Keyv adapter.
 *
 * - The in-memory Keyv store (a `Map`) is used directly: atomic, swept of expired records periodically
 *   (each reported to {@link SessionStore.onExpired}), read synchronously ({@link SessionStore.readNow}).
 *   The Map holds this store's own entries: read sessions through this store, not through the cache.
 * - A single `@keyv/redis` store (Redis, Valkey, a Redis Cluster) is used through its client: one command per
 *   operation, atomic compare-and-set, and `delete` that knows whether it removed the record, across any
 *   number of app instances. `ready()` connects; operations that arrive before the first connection is
 *   ready wait for it.
 * - Anything else goes through Keyv with `throwOnErrors` switched on (cache-manager would otherwise turn
 *   store failures into "not found", i.e. silently log users out or lose writes).
 *
 * @example
 * new CacheManagerSessionStore(createCache({ stores: [createKeyv('redis://127.0.0.1:6379', { namespace: 'app' })] }))
 */
export class CacheManagerSessionStore extends SessionStore {
  private readonly backend: Backend;
  private readonly cache: Cache;

  constructor(cache: Cache, options: CacheManagerSessionStoreOptions = {}) {
    super();
    this.cache = cache;
    const stores = (cache as { stores?: Keyv[] })?.stores;
    if (!Array.isArray(stores) || stores.length === 0) {
      throw new TypeError(
        'CacheManagerSessionStore needs a cache-manager v7 Cache (createCache(...)) with at least one Keyv store.',
      );
    }
    const prefix = options.prefix ?? 'yosai:sess:';
    const only = stores.length === 1 ? stores[0] : undefined;
    const { maxSessions } = options;
    if (maxSessions !== undefined && (!Number.isSafeInteger(maxSessions) || maxSessions < 1)) {
      throw new YosaiConfigurationError(
        `CacheManagerSessionStore option \`maxSessions\` must be a positive integer (got ${String(maxSessions)}).`,
        'maxSessions',
      );
    }
    if (only && only.store instanceof Map) {
      this.backend = new MapBackend(
        only.store as Map<string, unknown>,
        keyvKeyPrefix(only) + prefix,
        options.sweepIntervalMs ?? 60_000,
        options.clock ?? Date,
        maxSessions,
      );
    } else if (maxSessions !== undefined) {
      throw new YosaiConfigurationError(
        'CacheManagerSessionStore option `maxSessions` is for the in-memory store only; bound Redis with its ' +
          '`maxmemory` setting instead.',
        'maxSessions',
      );
    } else if (only && isKeyvRedis(only.store)) {
      const readyTimeoutMs =
        options.readyTimeoutMs ?? (only.store as { connectionTimeout?: number }).connectionTimeout ?? 10_000;
      // The adapter puts its namespace before the key; Keyv's own prefix (`useKeyPrefix`, on by default, as in
      // `CacheModule.register({ namespace })`) would repeat it, so it is not added here.
      this.backend = new RedisBackend(
        only.store,
        prefix,
        readyTimeoutMs,
        checkWaitForReplicas(options.waitForReplicas),
      );
    } else {
      this.backend = new KeyvBackend(stores, prefix);
    }
    if (options.fieldRecords !== undefined && typeof options.fieldRecords !== 'boolean') {
      throw new YosaiConfigurationError(
        `CacheManagerSessionStore option \`fieldRecords\` must be a boolean (got ${typeof options.fieldRecords}).`,
        'fieldRecords',
      );
    }
    if (options.fieldRecords !== undefined && this.backend.kind !== 'redis') {
      throw new YosaiConfigurationError(
        'CacheManagerSessionStore option `fieldRecords` is for a Redis store (@keyv/redis) only.',
        'fieldRecords',
      );
    }
    if (options.waitForReplicas !== undefined && this.backend.kind !== 'redis') {
      throw new YosaiConfigurationError(
        'CacheManagerSessionStore option `waitForReplicas` is for a Redis store (@keyv/redis) only: other stores ' +
          'have no replicas to wait for.',
        'waitForReplicas',
      );
    }
    const backend = this.backend;
    if (backend.readNow) this.readNow = (id: string) => backend.readNow!(id);
    if (backend.onExpired) this.onExpired = (listener) => backend.onExpired!(listener);
    if (backend instanceof RedisBackend && options.fieldRecords !== false) {
      this.fieldRecords = backend.fields;
      this.principalIndex = backend.principalIndex;
      this.expiryQueue = backend.queue;
    }
    if (backend instanceof MapBackend) {
      this.principalIndex = { list: async (p) => backend.list(p) };
      this.expiryQueue = backend.queue;
    }
    if (backend.setIfAbsent) {
      this.setIfAbsent = (id: string, value: string, ttlMs: number) => backend.setIfAbsent!(id, value, ttlMs);
    }
    if (maxSessions !== undefined && backend instanceof MapBackend) {
      this.onEvicted = (listener) => backend.onEvicted(listener);
    }
  }

  /** A store in this process's memory: for one instance, development and tests. */
  static inMemory(options?: CacheManagerSessionStoreOptions): CacheManagerSessionStore {
    return new CacheManagerSessionStore(createCache({ stores: [new Keyv({ store: new Map() })] }), options);
  }

  /** Which path this store takes: `memory`, `redis` or `keyv` (generic). */
  get kind(): 'memory' | 'redis' | 'keyv' {
    return this.backend.kind;
  }

  /**
   * In memory: the value itself, synchronously. On Redis: the client's own promise (`null` for none).
   * Absent on the generic Keyv path, where `get` is the only read.
   */
  declare readonly readNow?: (id: string) => StoredValue | Promise<StoredValue>;
  /**
   * Stores the value only if the id holds no record: atomic in memory and on Redis (`SET NX`). Absent on the generic
   * Keyv path, which cannot make it atomic across processes.
   */
  declare readonly setIfAbsent?: (id: string, value: string, ttlMs: number) => Promise<boolean>;
  /** In memory only: records removed because their TTL passed (by the sweep, or found so by a read). */
  declare readonly onExpired?: (listener: ExpiredListener) => void;
  /** In memory with `maxSessions` only: records evicted to make room for a new session. */
  declare readonly onEvicted?: (listener: ExpiredListener) => void;
  /** On Redis (unless `fieldRecords: false`): the field model, a hash per session. */
  declare readonly fieldRecords?: FieldRecords;
  /**
   * In memory, and on Redis with the field model: the principal index. On Redis a sorted set per principal beside
   * its sessions (`<ns>::<prefix>{<bucket>}p:<principal hash>`), changed by the same scripts as the records.
   */
  declare readonly principalIndex?: PrincipalIndex;
  /**
   * In memory, and on Redis with the field model: the expiry queue the sweeper works through (a few sorted sets per
   * bucket on Redis, beside the bucket's records).
   */
  declare readonly expiryQueue?: ExpiryQueue;

  get(id: string) {
    return this.backend.get(id);
  }
  set(id: string, value: string, ttlMs: number, hints?: SessionWriteHints) {
    return this.backend.set(id, value, ttlMs, hints);
  }
  compareAndSet(id: string, expected: string, value: string, ttlMs: number, hints?: SessionExpiryHints) {
    return this.backend.compareAndSet(id, expected, value, ttlMs, hints);
  }
  /**
   * Deletes the record. On Redis with `waitForReplicas`, a delete hinted as a `revocation` also waits for the
   * replicas and rejects with `ReplicationTimeoutError` when too few acknowledged it.
   */
  delete(id: string, hints?: SessionDeleteHints) {
    return this.backend.delete(id, hints);
  }
  /**
   * Resolves once the store can serve requests. On Redis it connects the client if nobody has, and waits
   * for the connection (a cluster: its slot map); it rejects with a `SessionStoreError` after
   * `readyTimeoutMs`, or at once when connecting fails for good. Other backends are ready at once.
   */
  async ready(): Promise<void> {
    await this.backend.ready?.();
  }
  /** Removes expired records now (in-memory stores only; others expire by TTL). Returns how many. */
  sweep(): number {
    return this.backend instanceof MapBackend ? this.backend.sweep() : 0;
  }
  /**
   * Ends the store: stops the in-memory sweep and disconnects the cache it was made over (`cache.disconnect()`, which
   * closes a Redis client). `YosaiModule` calls it at shutdown for the store it made, and for a store handed over
   * with `closeStoreOnShutdown`; otherwise it is the app's to call. Safe to call twice.
   */
  async close() {
    this.backend.close();
    await this.cache.disconnect();
  }
}
