import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { KeyedQueue } from '../common/keyed-queue.js';
import { andThen, type MaybePromise } from '../common/maybe-promise.js';
import {
  ExpiredSessionError,
  PrincipalFullError,
  ReplicationTimeoutError,
  SessionLimitError,
  SessionSerializationError,
  SessionStoreError,
  StoppedSessionError,
  TooManySessionsError,
  YosaiConfigurationError,
} from '../errors/yosai.errors.js';
import type { ResolvedYosaiConfig } from '../options/yosai-options.interface.js';
import { YOSAI_SESSION_EXPIRED, YOSAI_SESSION_STARTED, YOSAI_SESSION_STOPPED } from '../yosai.constants.js';
import { YOSAI_CONFIG } from '../yosai.internal-constants.js';
import { ChangedKeyWriter, MAX_WRITE_ATTEMPTS, type RecordSnapshot } from './changed-key.writer.js';
import { attributeField, attributeValue, FieldRecordCodec } from './field-record.codec.js';
import { ExpiryPolicy } from './expiry.policy.js';
import { GuardedStore } from './guarded-store.js';
import { RecordCodec, UnreadableRecordError, type SessionRecord } from './record.codec.js';
import { checkSessionLimits } from './session.limits.js';
import {
  SessionExpiredEvent,
  SessionStartedEvent,
  SessionStoppedEvent,
  type SessionExpiryReason,
  type SessionStopReason,
} from './session.events.js';
import { decodeValue, defineEntry, encodeValue } from './session.serializer.js';
import {
  generateToken,
  isWellFormedSessionId,
  isWellFormedToken,
  principalBucket,
  sessionIdOf,
} from './session-token.js';
import { Session, stateOf, type FieldForm, type SessionOwner, type SessionState } from './session.js';
import type { FieldRead, SessionWriteHints, StoredFields } from '../store/session.store.js';
import { YosaiEventPublisher } from './yosai-event.publisher.js';

/** What {@link SessionManager.resolve} found for a token. */
export type SessionResolution =
  | { readonly status: 'valid'; readonly session: Session }
  /** No token was presented. */
  | { readonly status: 'none' }
  /** The token does not have the shape of one we issue; the store was not asked. */
  | { readonly status: 'malformed' }
  /**
   * Well-formed but no readable record exists: never issued, stopped, or removed. `newer` when a newer release
   * of this library wrote the record (a rolling deploy): it is left in the store and the client keeps its token.
   */
  | { readonly status: 'unknown'; readonly newer?: true }
  /** The record existed but the session had timed out; it has now been removed. */
  | { readonly status: 'expired'; readonly reason: SessionExpiryReason };

/** Options of {@link SessionManager.startSession}. */
export interface StartSessionOptions {
  /** Client address, kept as the session's `host`. */
  host?: string | null;
  /** Owner's identifiers, primary first. Omit for a guest session. */
  identifiers?: readonly string[] | null;
  /** Whether the owner authenticated in this session. */
  authenticated?: boolean;
  /** Initial attributes. Same rules as `setAttribute`. */
  attributes?: Record<string, unknown>;
}

/** Options of {@link SessionManager.replaceSession}. */
export interface ReplaceSessionOptions {
  /**
   * `login`: a new identity was proven, so a new absolute-timeout window starts. `regenerate`: the same
   * session under a new token (e.g. after a privilege change); it keeps its `startedAt` and fails with
   * `StoppedSessionError` when the old session is already gone.
   * @default 'login'
   */
  reason?: 'login' | 'regenerate';
}

/** A session just started, with the token to hand to its client (the only time the token is at hand). */
export interface IssuedSession {
  readonly session: Session;
  /** The secret the client presents from now on. Send it to the client; never log or store it. */
  readonly token: string;
}

/** The identity a replacement session carries. */
export interface SessionIdentity {
  readonly identifiers: readonly string[] | null;
  readonly authenticated: boolean;
}

/**
 * What the life cycle tells the parts that must stay consistent with sessions (index, sweeper,
 * authorization cache), after the store operation and before the public event.
 */
export type SessionChange =
  | { readonly type: 'started'; readonly id: string; readonly record: SessionRecord }
  | {
      readonly type: 'stopped';
      readonly id: string;
      readonly record: SessionRecord;
      readonly reason: SessionStopReason;
    }
  | {
      readonly type: 'expired';
      readonly id: string;
      readonly record: SessionRecord;
      readonly reason: SessionExpiryReason;
    };

/** A live session of a principal, as {@link SessionRegistry} lists it. */
export interface SessionInfo {
  /** Public id (a hash of the token; safe to show and to log). */
  readonly id: string;
  /** When it started, epoch milliseconds. */
  readonly startedAt: number;
  /** When it was last accessed (as written: at most `touchIntervalMs` behind). */
  readonly lastAccessedAt: number;
  /** When it expires unless accessed again (the earlier of its idle and absolute deadlines). */
  readonly expiresAt: number;
  /** The client address it started from, or null. */
  readonly host: string | null;
  /** The owner's identifiers, primary first. */
  readonly identifiers: readonly string[];
  readonly authenticated: boolean;
  /** The string the app stored in the session's `userAgent` attribute, if any (see README, "Every session of a user"). */
  readonly userAgent: string | null;
}

/** The session attribute that {@link SessionInfo.userAgent} is read from. */
export const USER_AGENT_ATTRIBUTE = 'userAgent';

const NONE = Object.freeze({ status: 'none' as const });
const MALFORMED = Object.freeze({ status: 'malformed' as const });
const UNKNOWN = Object.freeze({ status: 'unknown' as const });
const UNKNOWN_NEWER = Object.freeze({ status: 'unknown' as const, newer: true as const });
const MAX_KEY_LENGTH = 256;
/** Attempts of a new session under `maxSessionsPerPrincipal` (`evict-oldest`) that other instances' logins outran. */
const MAX_ADMIT_ATTEMPTS = 16;
const REVOCATION = Object.freeze({ revocation: true });
/** How many due sessions the sweeper works on at once, renewing its lease between such chunks. */
const SWEEP_CHUNK = 50;
/**
 * What an `expired` event carries for a session whose record the store had already dropped (by its TTL) when the
 * sweeper reached its queue entry: nothing is known of it but its id.
 */
const GONE_RECORD: SessionRecord = Object.freeze({
  startedAt: 0,
  lastAccessedAt: 0,
  idleTimeoutMs: 0,
  absoluteTimeoutMs: 0,
  host: null,
  identifiers: null,
  authenticated: false,
  attributes: Object.freeze({}),
});
/** How often, at most, a clock-skew error is logged. */
const SKEW_LOG_INTERVAL_MS = 60_000;

/**
 * The session life cycle: start, resolve, touch, update, replace, stop, expire. The parts it stands on are
 * {@link GuardedStore} (store timeout, failures as `SessionStoreError`), {@link ExpiryPolicy} (timeouts,
 * plausibility), {@link RecordCodec} (the stored form) and {@link ChangedKeyWriter} (compare-and-set writes).
 * Every change of a session's existence goes through one notification point, `notify`.
 */
@Injectable()
export class SessionManager implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('SessionManager');
  private readonly store: GuardedStore;
  /** @internal */
  readonly policy: ExpiryPolicy;
  private readonly codec: RecordCodec;
  private readonly writer: ChangedKeyWriter;
  /**
   * The field model's codec, when the store has the field model (`fieldRecords`) and records are not signed
   * (`recordKeys`: signed records stay whole strings, whose MAC covers the whole record).
   */
  private readonly fields: FieldRecordCodec | undefined;
  /** Writes to one session from this process never race each other. */
  private readonly queues = new KeyedQueue();
  /** Sessions whose touch this process is writing now: concurrent resolutions do not write theirs too. */
  private readonly touching = new Set<string>();
  /** New sessions of one principal under `maxSessionsPerPrincipal` are written one at a time in this process. */
  private readonly principalQueues = new KeyedQueue();
  private readonly listeners: ((change: SessionChange) => void)[] = [];
  private readonly closing: (() => Promise<void>)[] = [];
  private skewLoggedAt = -Infinity;
  /**
   * Whether the store keeps the principal index for the records this manager writes (`principalIndex`, or
   * `maxSessionsPerPrincipal`; checked at bootstrap against the store's capability and the model in use).
   */
  private readonly indexed: boolean;

  constructor(
    @Inject(YOSAI_CONFIG) private readonly config: ResolvedYosaiConfig,
    private readonly events: YosaiEventPublisher,
  ) {
    this.store = new GuardedStore(config.store, config.storeTimeoutMs);
    this.codec = new RecordCodec(undefined, [], undefined, config.recordKeys);
    this.policy = new ExpiryPolicy(config);
    this.fields =
      config.store.fieldRecords && config.recordKeys.length === 0 ? new FieldRecordCodec() : undefined;
    this.indexed = config.principalIndex;
    if (config.principalIndex) {
      const capable =
        config.store.principalIndex !== undefined &&
        (this.fields !== undefined || config.store.fieldRecords === undefined);
      if (!capable) {
        const option = config.maxSessionsPerPrincipal !== null ? 'maxSessionsPerPrincipal' : 'principalIndex';
        throw new YosaiConfigurationError(
          `YosaiModule option \`${option}\` needs a session store with the principal index ` +
            '(SessionStore.principalIndex): `CacheManagerSessionStore` in memory, or on Redis with the field model ' +
            '(not `fieldRecords: false`), and records not signed with `recordKeys`. This store ' +
            (config.store.principalIndex ? 'keeps it for field records only.' : 'has none.'),
          option,
        );
      }
    }
    this.writer = new ChangedKeyWriter(
      this.store,
      this.codec,
      (record, now) => this.policy.ttlOf(record, now),
      () => this.now(),
      (id, next, current) => checkSessionLimits(config, id, next, current),
      (record) => this.deadlineOf(record),
    );
  }

  async onModuleInit(): Promise<void> {
    this.config.store.onExpired?.((id, raw) => this.expiredInStore(id, raw));
    this.config.store.onEvicted?.((id, raw) => this.evictedInStore(id, raw));
    try {
      await this.config.store.ready?.();
    } catch (error) {
      // Requests fail closed (503) until the store answers; the app still boots, so it can report its health.
      this.logger.error(
        `The session store is not ready: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  async onModuleDestroy(): Promise<void> {
    // The sweeper (and any other part that uses the store) finishes before the store closes.
    for (const close of this.closing) await close();
    this.store.close();
    if (this.config.ownsStore) await this.config.store.close?.();
  }

  /**
   * Starts a new session: a fresh 256-bit token, one store write, then `yosai.session.started`.
   * @returns The session and its token, to send to the client.
   * @throws SessionSerializationError when an initial attribute cannot be stored.
   * @throws SessionLimitError when the initial attributes pass `maxAttributes` or `maxRecordBytes`.
   * @throws SessionStoreError when the store fails.
   */
  async startSession(options: StartSessionOptions = {}): Promise<IssuedSession> {
    const attributes: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options.attributes ?? {})) {
      defineEntry(attributes, checkKey(key), encodeValue(value, key));
    }
    const now = this.now();
    const identifiers = options.identifiers ? [...options.identifiers] : null;
    return this.create(
      {
        startedAt: now,
        lastAccessedAt: now,
        idleTimeoutMs: this.policy.configuredIdleTimeoutOf(identifiers),
        absoluteTimeoutMs: this.config.absoluteTimeoutMs,
        host: options.host ?? null,
        identifiers,
        authenticated: options.authenticated ?? false,
        attributes,
      },
      true,
    );
  }

  /** @deprecated Use {@link startSession}, which also gives the new token. Removed in 0.3. */
  async start(options: StartSessionOptions = {}): Promise<Session> {
    return (await this.startSession(options)).session;
  }

  /**
   * Finds the session for a token presented by a client. At most one store read; one more write only
   * when the touch is due. Unknown, malformed and expired tokens resolve to a status, not an error.
   * @throws SessionStoreError when the store fails or does not answer in time.
   */
  async resolve(token: string | null | undefined): Promise<SessionResolution> {
    return this.lookup(token);
  }

  /**
   * @internal {@link resolve}, answered at once when the store answers at once (a store in this process's
   * memory, or no token at all); `SubjectFactory` uses it on every request.
   */
  lookup(token: string | null | undefined): MaybePromise<SessionResolution> {
    if (token === null || token === undefined || token === '') return NONE;
    if (!isWellFormedToken(token)) return MALFORMED;
    const id = sessionIdOf(token);
    if (this.fields) return this.store.readFields(id).then((found) => this.judgeFields(id, token, found));
    return andThen(this.store.read(id), (raw) => this.judge(id, token, raw));
  }

  /** The rest of a resolution, once the record was read: a promise only when it must write. */
  private judge(id: string, token: string, raw: string | undefined): MaybePromise<SessionResolution> {
    if (raw === undefined) return UNKNOWN;
    const now = this.now();
    let record: SessionRecord;
    try {
      record = this.readable(id, raw, now);
    } catch (error) {
      if (error instanceof UnreadableRecordError && error.newer) return UNKNOWN_NEWER;
      return this.discard(id, error).then(() => UNKNOWN);
    }
    return this.settle(id, token, { raw, record }, undefined, now);
  }

  /** {@link judge} for a store with the field model. */
  private judgeFields(id: string, token: string, found: FieldRead): MaybePromise<SessionResolution> {
    if (found === undefined) return UNKNOWN;
    const now = this.now();
    let loaded: { snapshot: RecordSnapshot; form: FieldForm };
    try {
      loaded = this.readableFields(id, found, now);
    } catch (error) {
      if (error instanceof UnreadableRecordError && error.newer) return UNKNOWN_NEWER;
      return this.discard(id, error).then(() => UNKNOWN);
    }
    return this.settle(id, token, loaded.snapshot, loaded.form, now);
  }

  /** A readable record: expired (removed), or valid (touched when due). */
  private settle(
    id: string,
    token: string,
    snapshot: RecordSnapshot,
    form: FieldForm | undefined,
    now: number,
  ): MaybePromise<SessionResolution> {
    const { raw, record } = snapshot;
    const expired = this.policy.expiryOf(record, now);
    if (expired) {
      this.codec.forget(raw);
      return this.expire(id, record, expired).then(() => ({ status: 'expired', reason: expired }));
    }
    const session = this.materialize(id, token, snapshot, form);
    if (now - record.lastAccessedAt >= this.config.touchIntervalMs && !this.touching.has(id)) {
      return form ? this.touchFields(id, session, record, form, now) : this.touch(id, session, snapshot, now);
    }
    return { status: 'valid', session };
  }

  /**
   * {@link touch} in the field model: one patch of the access time alone (kept only when later than the stored
   * one, so a concurrent write that already counted as an access is not undone).
   */
  private async touchFields(
    id: string,
    session: Session,
    record: SessionRecord,
    form: FieldForm,
    now: number,
  ): Promise<SessionResolution> {
    this.touching.add(id);
    try {
      const next: SessionRecord = { ...record, lastAccessedAt: now };
      const result = await this.store.patchFields(id, {
        set: [],
        remove: [],
        accessedAt: now,
        ttlMs: this.policy.ttlOf(next, now),
        expiresAt: this.deadlineOf(next),
        legacy: form.legacy,
        convert: this.conversionOf(record, form),
      });
      if (result.status === 'written') this.wrote(id, stateOf(session), next, form, result.version);
    } finally {
      this.touching.delete(id);
    }
    return { status: 'valid', session };
  }

  /** What a patch of a string-model record carries to convert it: the string read, and the record as fields. */
  private conversionOf(record: SessionRecord, form: FieldForm) {
    return form.convertFrom === undefined
      ? undefined
      : { raw: form.convertFrom, fields: this.fields!.encode(record) };
  }

  /**
   * Keeps what a patch wrote. This process's record is the whole stored one only when no other write came between
   * the version it held and the one it wrote; then it is cached as that version. Otherwise it lacks the others'
   * changes until the next read, and is marked so (version -1: never cached, never followed by a cached one).
   */
  private wrote(id: string, state: SessionState, record: SessionRecord, form: FieldForm, version: number) {
    const whole = form.version >= 0 && version === form.version + 1;
    if (whole) this.fields!.remember(id, String(version), record);
    state.record = record;
    state.form = { version: whole ? version : -1, legacy: form.legacy };
  }

  /**
   * Coalesced touch: one attempt, and one at a time per session in this process, so a burst of concurrent
   * requests is one write; if another request changed the record meanwhile, that counts as the access.
   */
  private async touch(
    id: string,
    session: Session,
    held: RecordSnapshot,
    now: number,
  ): Promise<SessionResolution> {
    this.touching.add(id);
    try {
      const next = this.codec.encode({ ...held.record, lastAccessedAt: now }, id);
      const ttl = this.policy.ttlOf(next.record, now);
      const hints = { expiresAt: this.deadlineOf(next.record) };
      if (await this.store.compareAndSet(id, held.raw, next.raw, ttl, hints)) {
        this.codec.forget(held.raw);
        const state = stateOf(session);
        state.raw = next.raw;
        state.record = next.record;
      } else {
        this.codec.forget(next.raw);
      }
    } finally {
      this.touching.delete(id);
    }
    return { status: 'valid', session };
  }

  /**
   * Replaces a session by a new one (new token and id) with the given identity; the old record is deleted
   * first, so the old token is dead at once. Emits `stopped` (reason `regenerated`) for the old and `started`
   * for the new.
   *
   * The attributes are carried over (unless `carryAttributesOnLogin` is off) only from a guest session or from a
   * session of the same primary identifier: one user's data never reaches the next user of the same browser.
   * A `login` (the default) starts a new absolute-timeout window; a `regenerate` keeps the old `startedAt`, so
   * regenerating cannot make a session live longer than `absoluteTimeoutMs`.
   * @returns The new session and its token, to send to the client.
   * @throws StoppedSessionError for a `regenerate` whose old session was already gone (e.g. a concurrent logout
   * deleted it): nothing is started.
   * @throws ExpiredSessionError for a `regenerate` whose old session is past its timeouts in the store (it is
   * expired here, one `expired` event): nothing is started. A `login` then starts a session without its attributes.
   * @throws SessionStoreError when the store fails.
   */
  async replaceSession(
    session: Session,
    identity: SessionIdentity,
    options: ReplaceSessionOptions = {},
  ): Promise<IssuedSession> {
    const regenerate = options.reason === 'regenerate';
    // What the store holds now, not what this request read: another request may have written attributes since,
    // or the session may have passed its timeouts while it was held (a gateway's Subject, a slow login).
    const fresh = await this.currentRecord(session);
    if (typeof fresh === 'string' && regenerate) throw new ExpiredSessionError(session.id, fresh);
    const old = fresh !== null && typeof fresh === 'object' ? fresh : stateOf(session).record;
    await this.refuseEarly(session.id, identity.identifiers?.[0]);
    // The old token is dead before the new one exists. Only a replacement that actually ended the old session
    // carries its attributes: a logout that won the race, or a timeout, leaves nothing to carry, and nothing to
    // regenerate.
    const ended = typeof fresh === 'string' ? false : await this.end(session, 'regenerated');
    if (!ended && regenerate) throw new StoppedSessionError(session.id);
    const identifiers = identity.identifiers ? [...identity.identifiers] : null;
    const oldPrimary = old.identifiers?.[0];
    const sameOwner = oldPrimary === undefined || oldPrimary === identifiers?.[0];
    const now = this.now();
    return this.create({
      startedAt: regenerate ? old.startedAt : now,
      lastAccessedAt: now,
      // A login gets the full idle timeout; a replacement that leaves a guest keeps the guest one.
      idleTimeoutMs: this.policy.configuredIdleTimeoutOf(identifiers),
      absoluteTimeoutMs: regenerate ? old.absoluteTimeoutMs : this.config.absoluteTimeoutMs,
      host: old.host,
      identifiers,
      authenticated: identity.authenticated,
      attributes: this.config.carryAttributesOnLogin && ended && sameOwner ? { ...old.attributes } : {},
    });
  }

  /** @deprecated Use {@link replaceSession}, which also gives the new token. Removed in 0.3. */
  async replace(session: Session, identity: SessionIdentity): Promise<Session> {
    return (await this.replaceSession(session, identity)).session;
  }

  /**
   * Ends a session: deletes its record and emits `yosai.session.stopped` with the identifiers it had.
   * Stopping a stopped session is a no-op.
   */
  async stop(session: Session, reason: SessionStopReason): Promise<void> {
    // A session held past its timeouts is reported expired (once), as a read would report it, not stopped. Only
    // when this request's view says so is the store asked: another request may have extended it since.
    const state = stateOf(session);
    if (
      !state.stopped &&
      this.policy.expiryOf(state.record, this.now()) &&
      typeof (await this.currentRecord(session)) === 'string'
    )
      return;
    await this.end(session, reason);
  }

  /**
   * The session's record as the store holds it now: the record while it is within its timeouts; the timeout that
   * ended it when it is past them (it is then expired here: removed, one `expired` event, the session marked
   * stopped); null when it is stopped, gone, or cannot be read (left to `end`, which finds nothing to delete).
   */
  private async currentRecord(session: Session): Promise<SessionRecord | SessionExpiryReason | null> {
    const state = stateOf(session);
    if (state.stopped) return null;
    const record = await this.storedRecord(session.id);
    if (!record) return null;
    const expired = this.policy.expiryOf(record, this.now());
    if (!expired) return record;
    await this.queues.run(session.id, async () => {
      if (state.stopped) return;
      await this.expire(session.id, record, expired);
      this.codec.forget(state.raw);
      this.markStopped(session, state);
    });
    return expired;
  }

  /** Stops a session; true when this call removed its record (and so emitted `stopped`). */
  private end(session: Session, reason: SessionStopReason): Promise<boolean> {
    return this.queues.run(session.id, async () => {
      const state = stateOf(session);
      if (state.stopped) return false;
      let removed: boolean;
      try {
        removed = await this.store.delete(session.id, REVOCATION);
      } catch (error) {
        // Deleted on the Redis master but not acknowledged by enough replicas: the session is over here (so it is
        // stopped, and its event goes out once), and the caller still learns that the revocation is not durable.
        if (!(error instanceof ReplicationTimeoutError)) throw error;
        this.codec.forget(state.raw);
        this.fields?.forget(session.id);
        this.markStopped(session, state);
        if (error.removed) this.notify({ type: 'stopped', id: session.id, record: state.record, reason });
        throw error;
      }
      this.codec.forget(state.raw);
      this.fields?.forget(session.id);
      this.markStopped(session, state);
      if (removed) this.notify({ type: 'stopped', id: session.id, record: state.record, reason });
      return removed;
    });
  }

  /**
   * @internal Applies attribute changes to the freshest stored record. Values are checked before anything is
   * written, and the record about to be written against `maxAttributes` and `maxRecordBytes` (on every attempt
   * of the compare-and-set loop). Also records an access. Called by `Session`; use the Session's methods.
   * @throws SessionLimitError when the record would pass a limit: nothing is written.
   */
  async updateAttributes(
    session: Session,
    set: Record<string, unknown>,
    remove: readonly string[],
  ): Promise<void> {
    const encoded: [string, unknown][] = [];
    for (const [key, value] of Object.entries(set)) encoded.push([checkKey(key), encodeValue(value, key)]);
    for (const key of remove) checkKey(key);
    if (this.fields) return this.updateFields(this.fields, session, encoded, remove);

    await this.queues.run(session.id, async () => {
      const state = stateOf(session);
      if (state.stopped) throw new StoppedSessionError(session.id);
      let held: RecordSnapshot = { raw: state.raw, record: state.record };
      let reread = false;
      const refresh = async () => {
        held = await this.reread(session, state);
        reread = true;
        return held;
      };
      // The record a long-lived Session object holds may be stale (other requests touched the session since):
      // judge an expiry on the freshest one, or such an object would end an active session.
      if (this.policy.expiryOf(held.record, this.now())) await refresh();
      let expired: SessionExpiryReason | null = null;
      try {
        held = await this.writer.write(
          session.id,
          held,
          (record, now) => {
            expired = this.policy.expiryOf(record, now);
            if (expired) throw new ExpiredSessionError(session.id, expired);
            const attributes = { ...record.attributes };
            for (const [key, value] of encoded) defineEntry(attributes, key, value);
            for (const key of remove) delete attributes[key];
            return { ...record, lastAccessedAt: Math.max(record.lastAccessedAt, now), attributes };
          },
          refresh,
        );
      } catch (error) {
        if (error instanceof ExpiredSessionError && expired) {
          this.codec.forget(held.raw);
          await this.expire(session.id, held.record, expired);
          this.markStopped(session, state);
        }
        throw error;
      }
      state.raw = held.raw;
      state.record = held.record;
      if (reread) state.decoded = undefined;
      for (const [key] of encoded) state.decoded?.delete(key);
      for (const key of remove) state.decoded?.delete(key);
    });
  }

  /**
   * The attribute update in the field model: one patch carrying only the changed attributes and the access
   * time. The store applies it to whatever the record holds now, so writers of other attributes never conflict;
   * it refuses a write to a record that is gone and judges the limits itself. Only converting a string-model
   * record can conflict (another write converted or changed it first): then the record is read again.
   */
  private updateFields(
    codec: FieldRecordCodec,
    session: Session,
    encoded: readonly (readonly [string, unknown])[],
    remove: readonly string[],
  ): Promise<void> {
    const id = session.id;
    const set = encoded.map(([key, value]) => [attributeField(key), attributeValue(value)] as const);
    const removed = remove.map(attributeField);
    return this.queues.run(id, async () => {
      const state = stateOf(session);
      if (state.stopped) throw new StoppedSessionError(id);
      let record = state.record;
      let form = state.form!;
      let reread = false;
      const refresh = async () => {
        ({ record, form } = await this.rereadFields(session, state));
        reread = true;
      };
      // A long-lived Session object may hold a stale record: judge an expiry on the freshest one.
      if (this.policy.expiryOf(record, this.now())) await refresh();
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
        const now = this.now();
        const expired = this.policy.expiryOf(record, now);
        if (expired) {
          await this.expire(id, record, expired);
          this.markStopped(session, state);
          throw new ExpiredSessionError(id, expired);
        }
        const attributes = { ...record.attributes };
        for (const [key, value] of encoded) defineEntry(attributes, key, value);
        for (const key of remove) delete attributes[key];
        const next: SessionRecord = {
          ...record,
          lastAccessedAt: Math.max(record.lastAccessedAt, now),
          attributes,
        };
        const result = await this.store.patchFields(id, {
          set,
          remove: removed,
          accessedAt: now,
          ttlMs: this.policy.ttlOf(next, now),
          expiresAt: this.deadlineOf(next),
          limits: { maxAttributes: this.config.maxAttributes, maxBytes: this.config.maxRecordBytes },
          legacy: form.legacy,
          convert: this.conversionOf(record, form),
        });
        switch (result.status) {
          case 'written':
            this.wrote(id, state, next, form, result.version);
            if (reread) state.decoded = undefined;
            for (const [key] of encoded) state.decoded?.delete(key);
            for (const key of remove) state.decoded?.delete(key);
            return;
          case 'missing':
            codec.forget(id);
            this.markStopped(session, state);
            throw new StoppedSessionError(id);
          case 'conflict':
            await refresh();
            continue;
          case 'maxAttributes':
            throw new SessionLimitError(id, 'maxAttributes', this.config.maxAttributes, result.value);
          case 'maxRecordBytes':
            throw new SessionLimitError(id, 'maxRecordBytes', this.config.maxRecordBytes, result.value);
        }
      }
      throw new SessionStoreError(
        'patch',
        `the session was converted or changed by others ${MAX_WRITE_ATTEMPTS} times while writing; giving up`,
      );
    });
  }

  /** {@link reread} in the field model. */
  private async rereadFields(
    session: Session,
    state: SessionState,
  ): Promise<{ record: SessionRecord; form: FieldForm }> {
    const found = await this.store.readFields(session.id);
    if (found === undefined) {
      this.markStopped(session, state);
      throw new StoppedSessionError(session.id);
    }
    try {
      const { snapshot, form } = this.readableFields(session.id, found, this.now());
      return { record: snapshot.record, form };
    } catch (error) {
      if (error instanceof UnreadableRecordError && error.newer) {
        throw new SessionStoreError('patch', 'the session was written by a newer release; try again');
      }
      await this.discard(session.id, error);
      this.markStopped(session, state);
      throw new StoppedSessionError(session.id);
    }
  }

  /** @internal Makes `owner` the one told when the session stops (the Subject holding it). */
  own(session: Session, owner: SessionOwner): void {
    stateOf(session).owner = owner;
  }

  /**
   * @internal Registers a part that must stay consistent with sessions (index, sweeper, authorization cache). It
   * is told of every start, stop and expiry after the store operation, before the public event.
   */
  addListener(listener: (change: SessionChange) => void): void {
    this.listeners.push(listener);
  }

  /** The one notification point: internal listeners first, then the public event. */
  private notify(change: SessionChange): void {
    for (const listener of this.listeners) listener(change);
    const { id, record } = change;
    switch (change.type) {
      case 'started':
        this.events.publish(
          YOSAI_SESSION_STARTED,
          new SessionStartedEvent(id, record.identifiers, record.host, record.startedAt),
        );
        return;
      case 'stopped':
        this.events.publish(
          YOSAI_SESSION_STOPPED,
          new SessionStoppedEvent(id, record.identifiers, change.reason, this.now()),
        );
        return;
      case 'expired':
        this.events.publish(
          YOSAI_SESSION_EXPIRED,
          new SessionExpiredEvent(id, record.identifiers, change.reason, this.now()),
        );
    }
  }

  /**
   * Writes a new session. `limited`: check the limits (a new session's attributes come from the caller). A
   * replacement is not checked: it carries attributes that were admitted when written, and a login must not fail
   * over them.
   */
  private async create(record: SessionRecord, limited = false): Promise<IssuedSession> {
    if (this.fields) return this.createFields(this.fields, record, limited);
    const token = generateToken();
    const id = sessionIdOf(token);
    const written = this.codec.encode(record, id);
    try {
      if (limited) checkSessionLimits(this.config, id, written);
    } catch (error) {
      this.codec.forget(written.raw);
      throw error;
    }
    const ttlMs = this.policy.ttlOf(written.record, this.now());
    const expiresAt = this.deadlineOf(written.record);
    try {
      await this.admit(written.record.identifiers?.[0], (hints) =>
        this.store.set(id, written.raw, ttlMs, { ...hints, expiresAt }),
      );
    } catch (error) {
      this.codec.forget(written.raw);
      throw error;
    }
    const session = this.materialize(id, token, written);
    this.notify({ type: 'started', id, record: written.record });
    return { session, token };
  }

  /**
   * {@link create} in the field model. The id of a principal's session is drawn into the principal's bucket, so
   * that a Redis Cluster keeps the principal's sessions in one hash slot; a guest's id falls where it falls.
   */
  private async createFields(
    codec: FieldRecordCodec,
    record: SessionRecord,
    limited: boolean,
  ): Promise<IssuedSession> {
    const primary = record.identifiers?.[0];
    const token = generateToken(primary === undefined ? undefined : principalBucket(primary));
    const id = sessionIdOf(token);
    const fields = codec.encode(record);
    if (limited) this.checkNewFields(id, record, fields);
    const ttlMs = this.policy.ttlOf(record, this.now());
    const expiresAt = this.deadlineOf(record);
    await this.admit(primary, (hints) => this.store.createFields(id, fields, ttlMs, { ...hints, expiresAt }));
    codec.remember(id, '1', record);
    const session = this.materialize(id, token, { raw: '', record }, { version: 1, legacy: false });
    this.notify({ type: 'started', id, record });
    return { session, token };
  }

  /**
   * Writes a new session with the hints of its principal: it joins the principal's index, under the cap of
   * `maxSessionsPerPrincipal`, which the store judges atomically with the write. Over the cap, `refuse` throws
   * {@link TooManySessionsError}; `evict-oldest` stops the oldest sessions (through the one delete path, reason
   * `evicted`) and writes again, as concurrent logins may have taken the room meanwhile.
   */
  private async admit(
    primary: string | undefined,
    write: (hints: SessionWriteHints) => Promise<void>,
  ): Promise<void> {
    if (primary === undefined || !this.indexed) return write({ guest: primary === undefined });
    const max = this.config.maxSessionsPerPrincipal ?? undefined;
    const hints: SessionWriteHints = { guest: false, principal: primary, maxPerPrincipal: max };
    if (max === undefined) return write(hints);
    // This process's logins of one principal take turns, so only other instances' can take the room an eviction
    // made: a burst of logins on one instance does not turn into a burst of retries.
    return this.principalQueues.run(primary, async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await write(hints);
        } catch (error) {
          if (!(error instanceof PrincipalFullError)) throw error;
          if (this.config.maxSessionsPerPrincipalPolicy === 'refuse') {
            // Once: the store counted sessions past their timeouts that it still holds; expiring them makes room.
            if (attempt === 1 && !(await this.fullOfLiveSessions(primary, max))) continue;
            throw new TooManySessionsError(max);
          }
          if (attempt >= MAX_ADMIT_ATTEMPTS) {
            throw new SessionStoreError(
              'set',
              `other logins of the principal took the room ${MAX_ADMIT_ATTEMPTS} times while evicting; giving up`,
            );
          }
          // Another instance took the room this one made: wait a little, at random, so the two do not meet again.
          if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, Math.random() * 4 * attempt));
          const excess = error.sessions.length - max + 1;
          await Promise.all(error.sessions.slice(0, excess).map((id) => this.stopById(id, 'evicted')));
        }
      }
    });
  }

  /**
   * With `maxSessionsPerPrincipal` and the policy `refuse`: refuses a login over the cap before the session it
   * would replace is ended, so the client keeps that one. The store judges the cap again, atomically, at the write.
   */
  private async refuseEarly(replaced: string, primary: string | undefined): Promise<void> {
    const max = this.config.maxSessionsPerPrincipal;
    if (max === null || primary === undefined || this.config.maxSessionsPerPrincipalPolicy !== 'refuse')
      return;
    const live = await this.store.listPrincipal(primary);
    if (live.filter((id) => id !== replaced).length < max) return;
    if (await this.fullOfLiveSessions(primary, max, replaced)) throw new TooManySessionsError(max);
  }

  /**
   * With `refuse`, before refusing: whether the principal's sessions within their timeouts fill the cap. The index
   * lists every record the store still holds, and a record past its timeouts stays there until the sweeper or its
   * TTL removes it; reading them expires those (one `expired` event each, as `SessionRegistry.list` does).
   */
  private async fullOfLiveSessions(primary: string, max: number, replaced?: string): Promise<boolean> {
    const live = await this.sessionsOf(primary);
    return live.filter((session) => session.id !== replaced).length >= max;
  }

  /** @internal Throws when a feature needs the principal index and the module does not keep it. */
  requireIndex(feature: string): void {
    if (this.indexed) return;
    throw new YosaiConfigurationError(
      `${feature} needs the principal index: set the YosaiModule option \`principalIndex: true\` (or ` +
        '`maxSessionsPerPrincipal`), with a store that has it (`CacheManagerSessionStore` in memory, or on Redis ' +
        'with the field model).',
      'principalIndex',
    );
  }

  /**
   * @internal The live sessions of a principal, oldest first (see `SessionRegistry.list`). A listed session found
   * past its timeout is expired here, as a read would: one `expired` event.
   * @throws YosaiConfigurationError when the store has no principal index.
   */
  async sessionsOf(principal: string): Promise<SessionInfo[]> {
    this.requireIndex('SessionRegistry');
    const ids = await this.store.listPrincipal(principal);
    const found = await Promise.all(ids.map((id) => this.storedRecord(id)));
    const now = this.now();
    const sessions: SessionInfo[] = [];
    for (let i = 0; i < ids.length; i++) {
      const record = found[i];
      if (!record || record.identifiers?.[0] !== principal) continue;
      const expired = this.policy.expiryOf(record, now);
      if (expired) {
        await this.expire(ids[i], record, expired);
        continue;
      }
      const agent = record.attributes[USER_AGENT_ATTRIBUTE];
      const userAgent = agent === undefined ? null : decodeValue(agent);
      sessions.push({
        id: ids[i],
        startedAt: record.startedAt,
        lastAccessedAt: record.lastAccessedAt,
        expiresAt: this.policy.expiresAtOf(record),
        host: record.host,
        identifiers: [...record.identifiers],
        authenticated: record.authenticated,
        userAgent: typeof userAgent === 'string' ? userAgent : null,
      });
    }
    return sessions;
  }

  /**
   * @internal Stops the session with this id: its record is read (for the event), deleted through the one delete
   * path, and `yosai.session.stopped` goes out with `reason` if this call removed it.
   * @param principal When given, only a session of that principal is stopped.
   * @returns Whether this call stopped it (false: none, not the principal's, or stopped meanwhile by another).
   */
  async stopById(id: string, reason: SessionStopReason, principal?: string): Promise<boolean> {
    const record = await this.storedRecord(id);
    if (!record || (principal !== undefined && record.identifiers?.[0] !== principal)) return false;
    const expired = this.policy.expiryOf(record, this.now());
    if (expired) {
      // Already over: it is reported as expired (once), not as stopped.
      await this.expire(id, record, expired);
      return false;
    }
    return this.queues.run(id, async () => {
      this.fields?.forget(id);
      let removed: boolean;
      try {
        removed = await this.store.delete(id, REVOCATION);
      } catch (error) {
        if (error instanceof ReplicationTimeoutError && error.removed) {
          this.notify({ type: 'stopped', id, record, reason });
        }
        throw error;
      }
      if (removed) this.notify({ type: 'stopped', id, record, reason });
      return removed;
    });
  }

  /**
   * The stored record of a session id, or undefined when there is none or it cannot be read (left as it is). An id
   * that is not a session id's shape (from an app, or from the store's index) names none: the store is not asked.
   */
  private async storedRecord(id: string): Promise<SessionRecord | undefined> {
    if (!isWellFormedSessionId(id)) return undefined;
    try {
      if (this.fields) {
        const found = await this.store.readFields(id);
        return found && this.readableFields(id, found, this.now()).snapshot.record;
      }
      const raw = await this.store.get(id);
      return raw === undefined ? undefined : this.readable(id, raw, this.now());
    } catch (error) {
      if (error instanceof UnreadableRecordError) return undefined;
      throw error;
    }
  }

  /** The limits on a new session's fields (the store judges every later write itself). */
  private checkNewFields(id: string, record: SessionRecord, fields: StoredFields): void {
    const attributes = Object.keys(record.attributes).length;
    if (attributes > this.config.maxAttributes) {
      throw new SessionLimitError(id, 'maxAttributes', this.config.maxAttributes, attributes);
    }
    let bytes = 0;
    for (const name in fields) bytes += Buffer.byteLength(name) + Buffer.byteLength(fields[name]);
    if (bytes > this.config.maxRecordBytes) {
      throw new SessionLimitError(id, 'maxRecordBytes', this.config.maxRecordBytes, bytes);
    }
  }

  private materialize(id: string, token: string, snapshot: RecordSnapshot, form?: FieldForm): Session {
    return Session.create(id, {
      token,
      operations: this,
      raw: snapshot.raw,
      record: snapshot.record,
      form,
      decoded: undefined,
      stopped: false,
      owner: undefined,
    });
  }

  /** The freshest stored record of a session this process holds; a missing or unreadable one means stopped. */
  private async reread(session: Session, state: SessionState): Promise<RecordSnapshot> {
    const raw = await this.store.get(session.id);
    if (raw === undefined) {
      this.markStopped(session, state);
      throw new StoppedSessionError(session.id);
    }
    try {
      return { raw, record: this.readable(session.id, raw, this.now()) };
    } catch (error) {
      if (error instanceof UnreadableRecordError && error.newer) {
        // A newer release holds the session now (rolling deploy): neither overwrite nor delete its record.
        throw new SessionStoreError('compareAndSet', 'the session was written by a newer release; try again');
      }
      await this.discard(session.id, error);
      this.markStopped(session, state);
      throw new StoppedSessionError(session.id);
    }
  }

  /**
   * Decodes a stored record and checks that its times can be believed.
   * @throws UnreadableRecordError when it cannot be read or believed.
   */
  private readable(id: string, raw: string, now: number): SessionRecord {
    return this.plausible(id, this.codec.decode(raw, id), now, () => this.codec.forget(raw));
  }

  /**
   * A field-model read as a snapshot (`raw` is empty for a field record) and where the record is kept.
   * @throws UnreadableRecordError when it cannot be read or believed.
   */
  private readableFields(
    id: string,
    found: NonNullable<FieldRead>,
    now: number,
  ): { snapshot: RecordSnapshot; form: FieldForm } {
    if ('raw' in found) {
      const record = this.readable(id, found.raw, now);
      return {
        snapshot: { raw: found.raw, record },
        form: { version: 0, legacy: true, convertFrom: found.raw },
      };
    }
    const codec = this.fields!;
    const record = this.plausible(id, codec.decode(id, found.fields), now, () => codec.forget(id));
    return {
      snapshot: { raw: '', record },
      form: { version: Number(found.fields.v), legacy: found.legacy },
    };
  }

  /** The record, when its times can be believed; `forget` drops an unbelievable one from its decode cache. */
  private plausible(id: string, record: SessionRecord, now: number, forget: () => void): SessionRecord {
    const plausibility = this.policy.plausibility(record, now);
    if (plausibility === 'implausible') {
      forget();
      throw new UnreadableRecordError('stored session record has times that no session of this library has');
    }
    if (plausibility === 'ahead' && now - this.skewLoggedAt >= SKEW_LOG_INTERVAL_MS) {
      this.skewLoggedAt = now;
      this.logger.error(
        `Session ${id} was written by an instance whose clock runs ahead of this one by ` +
          `${Math.round((Math.max(record.startedAt, record.lastAccessedAt) - now) / 1000)} s. ` +
          'It is served as if its times were now; synchronise the clocks of the instances (NTP).',
      );
    }
    return record;
  }

  private markStopped(session: Session, state: SessionState) {
    if (state.stopped) return;
    state.stopped = true;
    state.owner?.sessionStopped(session);
  }

  /**
   * Removes an expired record; only the caller whose delete removed it emits `expired` (exactly once): a request
   * that found the session expired, or the sweeper. Resolves to whether this call emitted it.
   */
  private async expire(id: string, record: SessionRecord, reason: SessionExpiryReason): Promise<boolean> {
    this.fields?.forget(id);
    if (!(await this.store.delete(id))) return false;
    this.notify({ type: 'expired', id, record, reason });
    return true;
  }

  /**
   * @internal Whether the store has an expiry queue fed by the writes this manager makes (the field model's on
   * Redis, the string model's in memory): the sweeper needs one.
   */
  get sweepable(): boolean {
    const queue = this.config.store.expiryQueue;
    return queue !== undefined && (queue.model === 'fields') === (this.fields !== undefined);
  }

  /**
   * The deadline a write hands the store for its expiry queue: only while the sweeper is on, so that a store whose
   * queue nothing sweeps does not collect an entry per session (undefined: the write leaves the queue alone).
   */
  private deadlineOf(record: SessionRecord): number | undefined {
    return this.config.expirySweepIntervalMs > 0 && this.sweepable
      ? this.policy.expiresAtOf(record)
      : undefined;
  }

  /** @internal Runs `close` at shutdown, before the store closes (the sweeper's stop). */
  beforeStoreCloses(close: () => Promise<void>): void {
    this.closing.push(close);
  }

  /** @internal The time a sweeper pass asks the queue about: the manager's clock, read once per pass. */
  sweepTime(): number {
    return this.now();
  }

  /** @internal The number of shards of the store's expiry queue. */
  get sweepShards(): number {
    return this.config.store.expiryQueue?.shards ?? 0;
  }

  /**
   * @internal One bounded batch of one shard of the expiry queue, under the shard's lease (taken, renewed between
   * chunks, given up at the end): the sessions due at `now` (a pass gives every shard the same time, see
   * {@link sweepTime}). Resolves to how many `expired` events this call emitted.
   */
  async sweepShard(
    shard: number,
    owner: string,
    leaseMs: number,
    limit: number,
    now: number,
  ): Promise<number> {
    if (!(await this.store.lease(shard, owner, leaseMs))) return 0;
    let emitted = 0;
    try {
      const ids = await this.store.due(shard, now, limit);
      for (let i = 0; i < ids.length; i += SWEEP_CHUNK) {
        // A lease lost while sweeping (this instance stalled past it): another instance has the shard now.
        if (i > 0 && !(await this.store.lease(shard, owner, leaseMs))) break;
        const results = await Promise.allSettled(
          ids.slice(i, i + SWEEP_CHUNK).map((id) => this.sweepOne(id)),
        );
        for (const result of results) {
          if (result.status === 'rejected') throw result.reason;
          if (result.value) emitted++;
        }
      }
    } finally {
      await this.store.release(shard, owner).catch(() => undefined);
    }
    return emitted;
  }

  /**
   * The sweeper's step for one due session: expired, it is removed through the same delete a request uses (so
   * exactly one of them reports it); alive (a later access moved its deadline), its entry is moved to the new
   * deadline; gone (the store dropped the record by its TTL before any sweep), its entry is dropped and reported
   * without identifiers. Resolves to whether this call emitted `expired`.
   */
  private async sweepOne(id: string): Promise<boolean> {
    // Not a session id (the store's queue holds something no write of this library put there): nothing to read.
    if (!isWellFormedSessionId(id)) return false;
    const now = this.now();
    let record: SessionRecord | undefined;
    try {
      if (this.fields) {
        const found = await this.store.readFields(id);
        if (found !== undefined) record = this.readableFields(id, found, now).snapshot.record;
      } else {
        const raw = await this.store.get(id);
        if (raw !== undefined) {
          record = this.readable(id, raw, now);
          this.codec.forget(raw);
        }
      }
    } catch (error) {
      if (!(error instanceof UnreadableRecordError)) throw error;
      // A newer release's record is that release's to judge; an unreadable one is removed, as a request would.
      if (!error.newer) await this.discard(id, error);
      return false;
    }
    if (record === undefined) {
      if (!(await this.store.drop(id))) return false;
      this.notify({ type: 'expired', id, record: GONE_RECORD, reason: 'idle' });
      return true;
    }
    const reason = this.policy.expiryOf(record, now);
    if (reason) return this.expire(id, record, reason);
    await this.store.reschedule(id, this.policy.expiresAtOf(record));
    return false;
  }

  /** A record the store removed by itself (its TTL passed): the same `expired` event a read would have caused. */
  private expiredInStore(id: string, raw: string): void {
    const record = this.removedByStore(id, raw);
    if (!record) return;
    const at = Math.max(this.now(), this.policy.expiresAtOf(record) + 1);
    this.notify({ type: 'expired', id, record, reason: this.policy.expiryOf(record, at) ?? 'idle' });
  }

  /** A record a capped store removed to make room: the session stopped, reason `evicted`. */
  private evictedInStore(id: string, raw: string): void {
    const record = this.removedByStore(id, raw);
    if (record) this.notify({ type: 'stopped', id, record, reason: 'evicted' });
  }

  /** The record a store removed by itself, or undefined when it is not one of ours (or a newer release's). */
  private removedByStore(id: string, raw: string): SessionRecord | undefined {
    try {
      const record = this.codec.decode(raw, id);
      this.codec.forget(raw);
      return record;
    } catch {
      return undefined;
    }
  }

  /** A record that cannot be read back is treated as no session: removed and logged (without the token). */
  private async discard(id: string, error: unknown) {
    const why = error instanceof Error ? error.message : String(error);
    this.logger.warn(`Discarded an unreadable session record (session ${id}): ${why}`);
    this.fields?.forget(id);
    await this.store.delete(id);
  }

  private now(): number {
    return this.config.clock.now();
  }
}

function checkKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new SessionSerializationError(
      `Session attribute keys must be non-empty strings of at most ${MAX_KEY_LENGTH} characters.`,
      String(key).slice(0, 64),
    );
  }
  return key;
}
