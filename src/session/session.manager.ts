import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { KeyedQueue } from '../common/keyed-queue.js';
import {
  ExpiredSessionError,
  SessionSerializationError,
  SessionStoreError,
  StoppedSessionError,
  YosaiError,
} from '../errors/yosai.errors.js';
import type { ResolvedYosaiConfig } from '../options/yosai-options.interface.js';
import { fastReadOf, type FastRead, type RawRecord, type SessionStore } from '../store/session.store.js';
import { YOSAI_SESSION_EXPIRED, YOSAI_SESSION_STARTED, YOSAI_SESSION_STOPPED } from '../yosai.constants.js';
import { YOSAI_CONFIG } from '../yosai.internal-constants.js';
import {
  SessionExpiredEvent,
  SessionStartedEvent,
  SessionStoppedEvent,
  type SessionExpiryReason,
  type SessionStopReason,
} from './session.events.js';
import { bindState, SESSION_STOPPED, stateOf, type SessionState } from './session.internals.js';
import { defineEntry, encodeRecord, encodeValue, type SessionRecord } from './session.serializer.js';
import { RecordCache } from './record-cache.js';
import { generateToken, isWellFormedToken, sessionIdOf } from './session-token.js';
import { Session } from './session.js';
import { YosaiEventPublisher } from './yosai-event.publisher.js';

/** What {@link SessionManager.resolve} found for a token. */
export type SessionResolution =
  | { readonly status: 'valid'; readonly session: Session }
  /** No token was presented. */
  | { readonly status: 'none' }
  /** The token does not have the shape of one we issue; the store was not asked. */
  | { readonly status: 'malformed' }
  /** Well-formed but no (readable) record exists: never issued, stopped, or removed. */
  | { readonly status: 'unknown' }
  /** The record existed but the session had timed out; it has now been removed. */
  | { readonly status: 'expired'; readonly reason: SessionExpiryReason };

/** Options of {@link SessionManager.start}. */
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

const NONE = Object.freeze({ status: 'none' as const });
const MALFORMED = Object.freeze({ status: 'malformed' as const });
const UNKNOWN = Object.freeze({ status: 'unknown' as const });
const MAX_WRITE_ATTEMPTS = 8;
const asIs = <T>(value: T): T => value;
const MAX_KEY_LENGTH = 256;
/** How far apart the clocks of app instances sharing a store may be. */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Starts, resolves, validates, touches, updates, replaces and stops sessions. Every store operation it
 * makes is bounded by `storeTimeoutMs` and turns any failure into `SessionStoreError`.
 */
@Injectable()
export class SessionManager implements OnModuleDestroy {
  private readonly logger = new Logger('SessionManager');
  private readonly store: SessionStore;
  /** In-process write queue per session id: writes to one session from this process never race. */
  private readonly queues = new KeyedQueue();
  /** Sessions whose touch this process is writing now: concurrent resolutions do not write theirs too. */
  private readonly touching = new Set<string>();
  /** Store calls waiting for an answer, watched by one timer (see `call`). */
  private readonly inFlight = new InFlightList();
  /** Decoded records by stored string: an unchanged session is not decoded again on every request. */
  private readonly records = new RecordCache();
  /** The store's cheaper read, if it offers one (see `FAST_READ`): synchronous for a store in this process. */
  private readonly fastRead: FastRead | undefined;
  private watchdog: ReturnType<typeof setTimeout> | undefined;

  constructor(
    @Inject(YOSAI_CONFIG) private readonly config: ResolvedYosaiConfig,
    private readonly events: YosaiEventPublisher,
  ) {
    this.store = config.store;
    this.fastRead = fastReadOf(config.store);
  }

  async onModuleDestroy(): Promise<void> {
    // The watchdog outlives the last call by up to one period; with nothing in flight it can go now.
    if (this.inFlight.size === 0 && this.watchdog) {
      clearTimeout(this.watchdog);
      this.watchdog = undefined;
    }
    if (this.config.ownsStore) await this.store.close?.();
  }

  /** Starts a new session: a fresh 256-bit token, one store write, then `yosai.session.started`. */
  async start(options: StartSessionOptions = {}): Promise<Session> {
    const attributes: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options.attributes ?? {})) {
      defineEntry(attributes, checkKey(key), encodeValue(value, key));
    }
    const session = await this.create({
      host: options.host ?? null,
      identifiers: options.identifiers ? [...options.identifiers] : null,
      authenticated: options.authenticated ?? false,
      attributes,
    });
    this.publishStarted(session);
    return session;
  }

  /**
   * Finds the session for a token presented by a client. At most one store read; one more write only
   * when the touch is due. Unknown, malformed and expired tokens resolve to a status, not an error.
   * @throws SessionStoreError when the store fails or does not answer in time.
   */
  resolve(token: string | null | undefined): Promise<SessionResolution> {
    const resolution = this.resolveNow(token);
    return resolution instanceof Promise ? resolution : Promise.resolve(resolution);
  }

  /**
   * {@link resolve} without a promise when none is needed: a store in this process's memory is read
   * synchronously, and the common case (valid, touch not due) is then answered at once. `andThen` receives the
   * resolution in the same callback as the store's answer, so a caller that needs a promise anyway does not add
   * one of its own. A store failure comes back as a rejected promise.
   * @internal Used by `SubjectFactory` on every request.
   */
  resolveNow(token: string | null | undefined): SessionResolution | Promise<SessionResolution>;
  resolveNow<R>(
    token: string | null | undefined,
    andThen: (resolution: SessionResolution) => R | Promise<R>,
  ): R | Promise<R>;
  resolveNow<R>(
    token: string | null | undefined,
    andThen: (resolution: SessionResolution) => R | Promise<R> = asIs as never,
  ): R | Promise<R> {
    if (token === null || token === undefined || token === '') return andThen(NONE);
    if (!isWellFormedToken(token)) return andThen(MALFORMED);
    const id = sessionIdOf(token);
    let pending: Promise<RawRecord> | undefined;
    if (this.fastRead) {
      let answer: RawRecord | Promise<RawRecord>;
      try {
        answer = this.fastRead(id);
      } catch (error) {
        return Promise.reject(toStoreError('get', error));
      }
      if (!(answer instanceof Promise)) return this.judge(id, token, answer, andThen);
      pending = answer;
    }
    const judge = (raw: RawRecord): R | Promise<R> => this.judge(id, token, raw, andThen);
    return pending ? this.watch('get', pending, judge) : this.call('get', () => this.store.get(id), judge);
  }

  private judge<R>(
    id: string,
    token: string,
    raw: RawRecord,
    andThen: (resolution: SessionResolution) => R | Promise<R>,
  ): R | Promise<R> {
    const resolution = this.resolved(id, token, raw ?? undefined);
    return resolution instanceof Promise ? resolution.then(andThen) : andThen(resolution);
  }

  /** The rest of {@link resolve}, once the record was read: a promise only when it must write. */
  private resolved(
    id: string,
    token: string,
    raw: string | undefined,
  ): SessionResolution | Promise<SessionResolution> {
    if (raw === undefined) return UNKNOWN;
    const now = this.config.clock.now();
    let record: SessionRecord;
    try {
      record = this.plausible(this.records.decode(raw), now);
    } catch (error) {
      return this.discard(id, error).then(() => UNKNOWN);
    }
    const expired = this.expiryOf(record, now);
    if (expired) {
      this.records.forget(raw);
      return this.expire(id, record, expired, now).then(() => ({ status: 'expired', reason: expired }));
    }
    const session = this.materialize(id, token, raw, record);
    if (now - record.lastAccessedAt >= this.config.touchIntervalMs && !this.touching.has(id)) {
      return this.touch(id, session, raw, record, now);
    }
    return { status: 'valid', session };
  }

  /**
   * Coalesced touch: one attempt, and one at a time per session in this process, so a burst of concurrent
   * requests is one write; if another request changed the record meanwhile, it counts as access.
   */
  private async touch(
    id: string,
    session: Session,
    raw: string,
    record: SessionRecord,
    now: number,
  ): Promise<SessionResolution> {
    this.touching.add(id);
    try {
      const next = { ...record, lastAccessedAt: now };
      const nextRaw = encodeRecord(next);
      if (
        await this.call('compareAndSet', () =>
          this.store.compareAndSet(id, raw, nextRaw, this.ttlOf(next, now)),
        )
      ) {
        const state = stateOf(session);
        this.records.forget(raw);
        state.raw = nextRaw;
        state.record = this.records.remember(nextRaw, next);
      }
    } finally {
      this.touching.delete(id);
    }
    return { status: 'valid', session };
  }

  /**
   * Replaces a session by a new one (new token and id) that carries its attributes (unless
   * `carryAttributesOnLogin` is off) and the given identity; the old record is deleted, so the old token
   * is dead at once. Emits `stopped` (reason `regenerated`) for the old and `started` for the new.
   */
  async replace(
    session: Session,
    identity: { identifiers: readonly string[] | null; authenticated: boolean },
  ): Promise<Session> {
    const old = stateOf(session);
    const attributes = { ...old.record.attributes };
    // The old record goes first: only a replacement that actually ended the old session carries its
    // attributes (a logout that won the race leaves nothing to carry), and the old token is dead before
    // the new one exists.
    const ended = await this.end(session, 'regenerated');
    const next = await this.create({
      host: old.record.host,
      identifiers: identity.identifiers ? [...identity.identifiers] : null,
      authenticated: identity.authenticated,
      attributes: this.config.carryAttributesOnLogin && ended ? attributes : {},
    });
    this.publishStarted(next);
    return next;
  }

  /**
   * Ends a session: deletes its record and emits `yosai.session.stopped` with the identifiers it had.
   * Stopping a stopped session is a no-op.
   */
  async stop(session: Session, reason: SessionStopReason): Promise<void> {
    await this.end(session, reason);
  }

  /** Stops a session; true when this call removed its record (and so emitted `stopped`). */
  private end(session: Session, reason: SessionStopReason): Promise<boolean> {
    return this.queues.run(session.id, async () => {
      const state = stateOf(session);
      if (state.stopped) return false;
      const removed = await this.call('delete', () => this.store.delete(session.id));
      this.records.forget(state.raw);
      this.markStopped(session, state);
      if (removed) {
        this.events.publish(
          YOSAI_SESSION_STOPPED,
          new SessionStoppedEvent(session.id, state.record.identifiers, reason, this.config.clock.now()),
        );
      }
      return removed;
    });
  }

  /**
   * Applies attribute changes to the freshest stored record (compare-and-set, re-read on conflict).
   * Values are checked before anything is written. Also records an access.
   * @internal Called by `Session`; use the Session's methods.
   */
  async updateAttributes(
    session: Session,
    set: Record<string, unknown>,
    remove: readonly string[],
  ): Promise<void> {
    const encoded: [string, unknown][] = [];
    for (const [key, value] of Object.entries(set)) encoded.push([checkKey(key), encodeValue(value, key)]);
    for (const key of remove) checkKey(key);

    await this.queues.run(session.id, async () => {
      const state = stateOf(session);
      if (state.stopped) throw new StoppedSessionError(session.id);
      let raw = state.raw;
      let record = state.record;
      let reread = false;
      /** Replaces what this process holds by the freshest stored record; a missing one means stopped. */
      const refresh = async () => {
        const fresh = await this.call('get', () => this.store.get(session.id));
        if (fresh === undefined) {
          this.markStopped(session, state);
          throw new StoppedSessionError(session.id);
        }
        try {
          record = this.plausible(this.records.decode(fresh), this.config.clock.now());
        } catch (error) {
          await this.discard(session.id, error);
          this.markStopped(session, state);
          throw new StoppedSessionError(session.id);
        }
        raw = fresh;
        reread = true;
      };
      for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
        const now = this.config.clock.now();
        const expired = this.expiryOf(record, now);
        if (expired && !reread) {
          // The record this Session object holds may be stale (other requests touched the session since):
          // judge the expiry on the freshest one, or a long-lived object would end an active session.
          await refresh();
          continue;
        }
        if (expired) {
          this.records.forget(raw);
          await this.expire(session.id, record, expired, now);
          this.markStopped(session, state);
          throw new ExpiredSessionError(session.id, expired);
        }
        const attributes = { ...record.attributes };
        for (const [key, value] of encoded) defineEntry(attributes, key, value);
        for (const key of remove) delete attributes[key];
        const next: SessionRecord = {
          ...record,
          lastAccessedAt: Math.max(record.lastAccessedAt, now),
          attributes,
        };
        const nextRaw = encodeRecord(next);
        const expected = raw;
        if (
          await this.call('compareAndSet', () =>
            this.store.compareAndSet(session.id, expected, nextRaw, this.ttlOf(next, now)),
          )
        ) {
          this.records.forget(raw);
          state.raw = nextRaw;
          state.record = this.records.remember(nextRaw, next);
          if (reread) state.decoded = undefined;
          for (const [key] of encoded) state.decoded?.delete(key);
          for (const key of remove) state.decoded?.delete(key);
          return;
        }
        // Someone else wrote (or deleted) the record since we read it: start again from the freshest one,
        // after a short random pause, so that two instances writing the same session do not keep colliding.
        await conflictPause(attempt);
        await refresh();
      }
      throw new SessionStoreError(
        'compareAndSet',
        `the session changed ${MAX_WRITE_ATTEMPTS} times while writing; giving up`,
      );
    });
  }

  private async create(
    record: Omit<SessionRecord, 'startedAt' | 'lastAccessedAt' | 'idleTimeoutMs' | 'absoluteTimeoutMs'>,
  ): Promise<Session> {
    const token = generateToken();
    const id = sessionIdOf(token);
    const now = this.config.clock.now();
    const full: SessionRecord = {
      startedAt: now,
      lastAccessedAt: now,
      idleTimeoutMs: this.config.idleTimeoutMs,
      absoluteTimeoutMs: this.config.absoluteTimeoutMs,
      ...record,
    };
    const raw = encodeRecord(full);
    await this.call('set', () => this.store.set(id, raw, this.ttlOf(full, now)));
    return this.materialize(id, token, raw, this.records.remember(raw, full));
  }

  private materialize(id: string, token: string, raw: string, record: SessionRecord): Session {
    const session = new Session(id);
    const state: SessionState = {
      token,
      manager: this,
      raw,
      record,
      decoded: undefined,
      stopped: false,
      owner: undefined,
    };
    bindState(session, state);
    return session;
  }

  private publishStarted(session: Session) {
    const { record } = stateOf(session);
    this.events.publish(
      YOSAI_SESSION_STARTED,
      new SessionStartedEvent(session.id, record.identifiers, record.host, record.startedAt),
    );
  }

  private markStopped(session: Session, state: SessionState) {
    if (state.stopped) return;
    state.stopped = true;
    state.owner?.[SESSION_STOPPED](session);
  }

  /**
   * A record whose times lie in the future (beyond what clock skew between instances explains) or run
   * backwards would never expire: it was not written by this library, so it is treated as unreadable.
   */
  private plausible(record: SessionRecord, now: number): SessionRecord {
    if (record.startedAt > now + MAX_CLOCK_SKEW_MS || record.lastAccessedAt > now + MAX_CLOCK_SKEW_MS) {
      throw new SessionSerializationError('stored session record has times in the future');
    }
    if (record.lastAccessedAt < record.startedAt) {
      throw new SessionSerializationError('stored session record was last accessed before it started');
    }
    return record;
  }

  /** Timeouts in force: the record's own, but never longer than the current configuration allows. */
  private expiryOf(record: SessionRecord, now: number): SessionExpiryReason | null {
    if (now - record.startedAt > this.absoluteTimeoutOf(record)) return 'absolute';
    if (now - record.lastAccessedAt > this.idleTimeoutOf(record)) return 'idle';
    return null;
  }

  /** @internal The idle timeout enforced for a record: its own, capped by the configuration. */
  idleTimeoutOf(record: SessionRecord): number {
    return Math.min(record.idleTimeoutMs, this.config.idleTimeoutMs);
  }

  /** @internal The absolute timeout enforced for a record: its own, capped by the configuration. */
  absoluteTimeoutOf(record: SessionRecord): number {
    return Math.min(record.absoluteTimeoutMs, this.config.absoluteTimeoutMs);
  }

  /** @internal When a record expires unless accessed again, epoch ms. */
  expiresAtOf(record: SessionRecord): number {
    return Math.min(
      record.startedAt + this.absoluteTimeoutOf(record),
      record.lastAccessedAt + this.idleTimeoutOf(record),
    );
  }

  /** Store TTL: until the session would expire, plus the grace that lets a late request report the expiry. */
  private ttlOf(record: SessionRecord, now: number): number {
    return Math.max(this.expiresAtOf(record) - now, 0) + this.config.expiredRecordGraceMs + 1;
  }

  /** Removes an expired record; only the caller whose delete removed it emits `expired` (exactly once). */
  private async expire(id: string, record: SessionRecord, reason: SessionExpiryReason, now: number) {
    const removed = await this.call('delete', () => this.store.delete(id));
    if (removed) {
      this.events.publish(
        YOSAI_SESSION_EXPIRED,
        new SessionExpiredEvent(id, record.identifiers, reason, now),
      );
    }
  }

  /** A record that cannot be read back is treated as no session: removed and logged (without the token). */
  private async discard(id: string, error: unknown) {
    const why = error instanceof SessionSerializationError ? error.message : String(error);
    this.logger.warn(`Discarded an unreadable session record (session ${id}): ${why}`);
    await this.call('delete', () => this.store.delete(id));
  }

  /**
   * Runs one store operation with the store timeout, turning every failure into SessionStoreError.
   * This is on every request, so it arms no timer of its own: the call joins `inFlight`, and one shared
   * watchdog timer (running only while calls are in flight) fails those past their deadline. A call that
   * never answers fails after storeTimeoutMs, and at most storeTimeoutMs / 8 later (the watchdog's period).
   */
  private call<T>(operation: string, fn: () => Promise<T>): Promise<T>;
  /** The same, handing the answer to `then` inside the store's own callback (one promise less per request). */
  private call<T, R>(operation: string, fn: () => Promise<T>, then: (value: T) => R | Promise<R>): Promise<R>;
  private call<T, R>(
    operation: string,
    fn: () => Promise<T>,
    then?: (value: T) => R | Promise<R>,
  ): Promise<R> {
    let pending: Promise<T>;
    try {
      pending = fn();
    } catch (error) {
      return Promise.reject(toStoreError(operation, error));
    }
    return this.watch(operation, pending, then);
  }

  /** {@link call} for an operation already under way. */
  private watch<T, R>(
    operation: string,
    pending: Promise<T>,
    then?: (value: T) => R | Promise<R>,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const entry = this.inFlight.add(operation, performance.now() + this.config.storeTimeoutMs, reject);
      this.watchdog ??= setTimeout(this.checkDeadlines, this.watchdogPeriodMs());
      Promise.resolve(pending).then(
        (value) => {
          if (!this.inFlight.remove(entry)) return;
          if (!then) {
            resolve(value as unknown as R);
            return;
          }
          try {
            resolve(then(value));
          } catch (error) {
            // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passed on as `then` threw it
            reject(error);
          }
        },
        (error: unknown) => {
          if (this.inFlight.remove(entry)) reject(toStoreError(operation, error));
        },
      );
    });
  }

  private watchdogPeriodMs(): number {
    return Math.max(1, Math.ceil(this.config.storeTimeoutMs / 8));
  }

  /** The watchdog: fails the calls past their deadline, and runs again only while calls are in flight. */
  private readonly checkDeadlines = () => {
    this.watchdog = undefined;
    for (const entry of this.inFlight.overdue(performance.now())) {
      entry.reject(
        new SessionStoreError(
          entry.operation,
          `no answer within ${this.config.storeTimeoutMs} ms (storeTimeoutMs)`,
        ),
      );
    }
    if (this.inFlight.size > 0) this.watchdog = setTimeout(this.checkDeadlines, this.watchdogPeriodMs());
  };
}

/** A store call waiting for its answer: a link of {@link InFlightList}. */
interface InFlightCall {
  readonly operation: string;
  /** `performance.now()` after which the call fails with SessionStoreError. */
  readonly deadline: number;
  readonly reject: (error: unknown) => void;
  prev: InFlightCall | null;
  next: InFlightCall | null;
  /** False once removed: an answer and the watchdog may both try, and only the first counts. */
  linked: boolean;
}

/**
 * The calls in flight, as an intrusive doubly linked list: adding and removing (twice per store call, on every
 * request) allocate nothing beyond the entry, where a `Set` reallocates its table as it grows and shrinks.
 */
class InFlightList {
  private head: InFlightCall | null = null;
  size = 0;

  add(operation: string, deadline: number, reject: (error: unknown) => void): InFlightCall {
    const entry: InFlightCall = { operation, deadline, reject, prev: null, next: this.head, linked: true };
    if (this.head) this.head.prev = entry;
    this.head = entry;
    this.size++;
    return entry;
  }

  /** Unlinks the entry; false when it was already removed. */
  remove(entry: InFlightCall): boolean {
    if (!entry.linked) return false;
    entry.linked = false;
    if (entry.prev) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    entry.prev = entry.next = null;
    this.size--;
    return true;
  }

  /** Removes and returns the entries whose deadline is not after `now`. */
  overdue(now: number): InFlightCall[] {
    const out: InFlightCall[] = [];
    for (let entry = this.head; entry;) {
      const next = entry.next;
      if (entry.deadline <= now && this.remove(entry)) out.push(entry);
      entry = next;
    }
    return out;
  }
}

function toStoreError(operation: string, error: unknown): YosaiError {
  if (error instanceof YosaiError) return error; // SessionStoreError included
  return new SessionStoreError(operation, error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}

/** Random wait (jittered, growing with the attempt, at most 16 ms) before retrying a lost compare-and-set. */
function conflictPause(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(2 ** attempt, 16);
  return new Promise((resolve) => setTimeout(resolve, ms));
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
