/**
 * The contract every session store fulfils, and the injection token of the store in use
 * (inject it by type: `constructor(private readonly store: SessionStore) {}`).
 *
 * ## What a store guarantees
 * Stores deal in opaque strings under opaque ids; the session life cycle owns the record format, the timeouts
 * and the events.
 * - **Required:** `get`, `set`, `compareAndSet` and `delete`, each rejecting on failure (never resolving as if
 *   the data were absent: that would silently log users out or lose writes). The library turns rejections and
 *   answers later than `storeTimeoutMs` into `SessionStoreError`, and the guard answers 503 (fail closed).
 * - `compareAndSet` and `delete` are **atomic** for every process that shares the store: of concurrent
 *   compare-and-sets from one expected value exactly one wins, and of concurrent deletes of one record exactly
 *   one resolves `true`. Sessions rely on this for "exactly one `expired` event" and "a write never brings back
 *   a stopped session".
 * - Records expire by themselves after their TTL (milliseconds).
 *
 * ## Optional capabilities
 * A store may offer any of these; the library uses them when present and works without them.
 * - {@link SessionStore.readNow}: a cheaper read for the request path.
 * - {@link SessionStore.ready}: awaited once at application bootstrap, before the first request.
 * - {@link SessionStore.onExpired}: tells the library about records the store removed by itself, so that the
 *   `yosai.session.expired` event goes out for them too.
 * - {@link SessionStore.close}: called at shutdown for a store the module made itself.
 * - {@link SessionStore.setIfAbsent}: an atomic "create unless present", which makes the login-throttle counts exact
 *   when several instances count the first failure of a username at once (without it, one of those may be lost).
 * - {@link SessionStore.onEvicted}: tells the library about records a store with a size cap removed to make room,
 *   so that `yosai.session.stopped` (reason `evicted`) goes out for them. Such a store may use the
 *   {@link SessionWriteHints} that `set` receives (whether the new record is a guest's) to choose what to evict:
 *   records stay opaque strings to it.
 *
 * - {@link SessionStore.principalIndex}: the principal index, the sessions of each principal (its primary
 *   identifier), kept by the store in the same atomic operations as the records: a record written with the hint
 *   `principal` joins its principal's index, and leaves it in every operation that removes the record (`delete`,
 *   expiry, eviction). `SessionRegistry` and `maxSessionsPerPrincipal` need it.
 * - {@link SessionStore.fieldRecords}: the field model, where a record is kept as fields (one per attribute, plus
 *   metadata) and a write carries only what changed, with the conditions the life cycle needs checked atomically
 *   inside the store. A store without it keeps whole records as strings, written by compare-and-set.
 *
 * Every implementation must pass the shared contract suite, `sessionStoreContract` from
 * `nestjs-yosai/testing`.
 */
export abstract class SessionStore {
  /** The stored value, or `undefined` when there is none (never stored, deleted, or past its TTL). */
  abstract get(id: string): Promise<string | undefined>;
  /**
   * Stores `value` unconditionally, expiring after `ttlMs` milliseconds. The library only `set`s new sessions.
   * @param hints What the library knows of the record (optional to use): a store with a size cap may evict guests
   * first. A store that keeps no such index ignores it.
   */
  abstract set(id: string, value: string, ttlMs: number, hints?: SessionWriteHints): Promise<void>;
  /**
   * Replaces the value only if the stored value is still exactly `expected`, and resolves to whether it
   * did. A missing record is never written, so a write can never bring back a deleted session.
   */
  abstract compareAndSet(
    id: string,
    expected: string,
    value: string,
    ttlMs: number,
    hints?: SessionExpiryHints,
  ): Promise<boolean>;
  /**
   * Deletes the record and resolves to `true` only if this call removed an existing record.
   * @param hints What the library knows of the delete (optional to use): `revocation` when it ends a live session
   * (logout, stop, the old session at login or regeneration), so that a store offering durable revocation (Redis
   * with `waitForReplicas`) makes this delete durable before it resolves.
   */
  abstract delete(id: string, hints?: SessionDeleteHints): Promise<boolean>;

  /**
   * Optional. The read the library makes on every request that presents a token, where a store has one cheaper
   * than `get`: the value itself for a store that can answer at once (records in this process's memory: no
   * promise, and such a read cannot hang), or the driver's own promise. `null` means "none", as `undefined`
   * does. Same data as `get`.
   */
  readNow?(id: string): StoredValue | Promise<StoredValue>;

  /**
   * Optional. Stores `value` only if there is no record under `id` (none stored, deleted, or past its TTL), atomically
   * for every process that shares the store, and resolves to whether it did. Of concurrent calls for one missing id,
   * exactly one resolves `true`. The library uses it for the login-throttle counters, which live in the store under
   * ids that cannot be session ids.
   */
  setIfAbsent?(id: string, value: string, ttlMs: number): Promise<boolean>;

  /**
   * Optional. Resolves once the store can serve requests (for example when a Redis connection, or a cluster's
   * slot map, is ready). The module awaits it at bootstrap, so the first requests after a deploy do not fail.
   */
  ready?(): Promise<void>;

  /**
   * Optional. Registers the one listener told about each record the store removed by itself because its TTL
   * passed (an in-memory sweep), with the value it held. The library judges the record and emits
   * `yosai.session.expired` for it, so that an abandoned session reports its expiry as a read would have.
   */
  onExpired?(listener: (id: string, value: string) => void): void;

  /**
   * Optional. Registers the one listener told about each record the store removed to make room for another (a
   * size cap), with the value it held. The library emits `yosai.session.stopped` with reason `evicted` for it.
   */
  onEvicted?(listener: (id: string, value: string) => void): void;

  /** Optional. Releases timers or connections the store itself created. */
  close?(): Promise<void>;

  /**
   * Optional. The principal index (see {@link PrincipalIndex}). On a store that also has {@link fieldRecords}, the
   * index is kept by `fieldRecords.create`, and by `set` otherwise.
   */
  readonly principalIndex?: PrincipalIndex;

  /**
   * Optional. The field model (see {@link FieldRecords}): when present, the library keeps new sessions as fields
   * and writes only what changed. `delete` must then remove a record in either model.
   */
  readonly fieldRecords?: FieldRecords;

  /**
   * Optional. The expiry queue the sweeper works through (see {@link ExpiryQueue}). A store that has it scores each
   * session by the `expiresAt` hint of its writes, and its `delete` removes the queue entry with the record, in one
   * atomic step.
   */
  readonly expiryQueue?: ExpiryQueue;
}

/**
 * The expiry queue of a store (optional capability {@link SessionStore.expiryQueue}): every session it holds, by
 * shard (the session's bucket, see `session-tag.ts`), scored by the time it expires unless accessed again (the
 * `expiresAt` hint of the write that last moved it). Several instances sweep it by leasing shards.
 */
export interface ExpiryQueue {
  /** How many shards there are: numbered 0 to `shards - 1`. */
  readonly shards: number;
  /**
   * Which writes score the queue: `fields` the field model's (`fieldRecords.create`/`patch`), `strings` the string
   * model's (`set`/`compareAndSet`). The sweeper runs only when the life cycle writes that way.
   */
  readonly model: 'fields' | 'strings';
  /**
   * Takes the lease of a shard for `owner` for `leaseMs` (real time), or renews it when `owner` holds it already.
   * Resolves to whether `owner` holds it now. Atomic for every process that shares the store.
   */
  lease(shard: number, owner: string, leaseMs: number): Promise<boolean>;
  /** Gives the lease of a shard up, if `owner` holds it. */
  release(shard: number, owner: string): Promise<void>;
  /** At most `limit` ids of the shard whose score is at most `now`, earliest first. */
  due(shard: number, now: number, limit: number): Promise<string[]>;
  /** Moves a live session's score to `expiresAt` when that is later (only while its record exists). */
  reschedule(id: string, expiresAt: number): Promise<void>;
  /**
   * Removes the entry of a session whose record is gone (the store dropped it by its TTL), and resolves to whether
   * this call removed it; an entry whose record exists is left alone (resolves false).
   */
  drop(id: string): Promise<boolean>;
}

/** What the library tells a store about when the session a write carries expires. */
export interface SessionExpiryHints {
  /**
   * When the session expires unless accessed again (epoch ms of the library's clock). A store with an
   * {@link ExpiryQueue} scores the session by it; other stores ignore it.
   */
  readonly expiresAt?: number;
}

/**
 * A session record kept as fields: name → value. The library names them; the store keeps three itself:
 * - `v`: the record's version, 1 when created and one more on every patch;
 * - `n`: how many fields are attributes (names starting with `a:`);
 * - `b`: the byte total of every other field (name and value, UTF-8), which the size limit is judged on.
 */
export type StoredFields = Readonly<Record<string, string>>;

/** What {@link FieldRecords.read} found. */
export type FieldRead =
  /** A field record; `legacy` when it sits where the string model keeps records (converted in place). */
  | { readonly fields: StoredFields; readonly legacy: boolean }
  /** A record of the string model (an earlier release wrote it), to be converted on its next write. */
  | { readonly raw: string }
  | undefined;

/** One write to a field record: only what changed, applied atomically with its conditions. */
export interface FieldPatch {
  /** Fields to write, name then value. */
  readonly set: readonly (readonly [name: string, value: string])[];
  /** Fields to remove. */
  readonly remove: readonly string[];
  /** The access time: written to field `l` only when later than the stored one (a write is an access). */
  readonly accessedAt: number;
  /** The record's TTL from now, in milliseconds. */
  readonly ttlMs: number;
  /**
   * Refuse the patch when the record would pass a limit and grow past what it had before in that dimension:
   * `maxAttributes` on `n`, `maxBytes` on `b`.
   */
  readonly limits?: { readonly maxAttributes: number; readonly maxBytes: number };
  /** The record was read where the string model keeps records (`FieldRead.legacy`, or a `raw` one). */
  readonly legacy?: boolean;
  /** When the session expires unless accessed again (see {@link SessionExpiryHints}). */
  readonly expiresAt?: number;
  /**
   * For a string-model record: the exact string read, and the same record as fields. The store converts the record
   * only if it still holds exactly that string, then applies the patch; otherwise the answer is `conflict`.
   */
  readonly convert?: { readonly raw: string; readonly fields: StoredFields };
}

/** What a {@link FieldPatch} did. */
export type FieldPatchResult =
  | { readonly status: 'written'; readonly version: number }
  /** No record: a write never brings back a stopped session. */
  | { readonly status: 'missing' }
  /** A string-model record that is no longer the one read (`convert`): read again. */
  | { readonly status: 'conflict' }
  /** Refused by a limit: `value` is what the record would have had. Nothing was written. */
  | { readonly status: 'maxAttributes' | 'maxRecordBytes'; readonly value: number };

/**
 * The field model of a store (optional capability {@link SessionStore.fieldRecords}). Reads stay one command per
 * request; a write carries the changed fields only, so concurrent writers of different attributes never conflict,
 * and its limits are judged inside the store, so concurrent writers cannot pass them together.
 */
export interface FieldRecords {
  /** The record under the id in either model, or undefined. */
  read(id: string): Promise<FieldRead>;
  /**
   * Stores a new record (replacing any under the id), version 1, expiring after `ttlMs`. With the hints `principal`
   * and `maxPerPrincipal` (a store with {@link SessionStore.principalIndex}), nothing is written when the principal
   * already has that many live sessions: it then rejects with a `PrincipalFullError`.
   */
  create(id: string, fields: StoredFields, ttlMs: number, hints?: SessionWriteHints): Promise<void>;
  /** Applies a patch to an existing record. */
  patch(id: string, patch: FieldPatch): Promise<FieldPatchResult>;
}

/** What the library tells a store about a record it `set`s. */
export interface SessionWriteHints extends SessionExpiryHints {
  /** True when the session has no identifiers (a guest): a capped store evicts these first. */
  readonly guest: boolean;
  /**
   * The session's principal (its primary identifier), for a store with {@link SessionStore.principalIndex}: the
   * record joins that principal's index in the same atomic operation that writes it. Absent for a guest.
   */
  readonly principal?: string;
  /**
   * With `principal`: write the record only if the principal has fewer live sessions than this, judged atomically
   * with the write (so concurrent logins on several instances cannot pass it together). Otherwise nothing is written
   * and the write rejects with a `PrincipalFullError` naming the principal's live sessions.
   */
  readonly maxPerPrincipal?: number;
}

/**
 * The principal index of a store (optional capability {@link SessionStore.principalIndex}): which sessions each
 * principal has. It is kept by the record operations themselves (a write hinted with a `principal` adds, every
 * removal of the record removes), atomically with them for every process that shares the store, so it never lists
 * a session that ended and never misses one that was started.
 */
export interface PrincipalIndex {
  /**
   * The ids of the principal's live sessions, oldest (first started) first. Entries whose record the store already
   * dropped by its TTL are pruned here.
   */
  list(principal: string): Promise<readonly string[]>;
}

/** What the library tells a store about a record it deletes. */
export interface SessionDeleteHints {
  /**
   * True when the delete ends a live session (logout, stop, revocation, the old session at login or regeneration),
   * false or absent when it removes a record that was already dead (expired, unreadable).
   */
  readonly revocation: boolean;
}

/** A stored value as {@link SessionStore.readNow} answers it: the string, or `null`/`undefined` for none. */
export type StoredValue = string | null | undefined;

/** Duck-typed check, so that a store from the other build (ESM vs CJS) of this package is accepted too. */
export function isSessionStore(value: unknown): value is SessionStore {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return ['get', 'set', 'compareAndSet', 'delete'].every((m) => typeof v[m] === 'function');
}
