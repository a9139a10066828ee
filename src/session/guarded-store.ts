import { SessionStoreError, YosaiError } from '../errors/yosai.errors.js';
import type { MaybePromise } from '../common/maybe-promise.js';
import type {
  FieldPatch,
  FieldPatchResult,
  FieldRead,
  FieldRecords,
  PrincipalIndex,
  SessionDeleteHints,
  SessionExpiryHints,
  SessionStore,
  SessionWriteHints,
  StoredValue,
} from '../store/session.store.js';

/** A store call waiting for its answer: a node of the in-flight list, oldest (earliest deadline) first. */
interface InFlightCall {
  readonly operation: string;
  /** `performance.now()` after which the call fails with SessionStoreError. */
  readonly deadline: number;
  /** Until the call is settled (answered, or failed by the watchdog). */
  reject: ((error: unknown) => void) | undefined;
  prev: InFlightCall | undefined;
  next: InFlightCall | undefined;
}

/**
 * The session store as the life cycle sees it: every call bounded by `storeTimeoutMs`, every failure (a
 * rejection, a throw, no answer in time) turned into `SessionStoreError`, so that requests fail closed.
 *
 * One shared watchdog timer, running only while calls are in flight, fails the calls past their deadline, instead
 * of a timer per call: a call that never answers fails after `storeTimeoutMs`, and at most an eighth of it later.
 * The calls in flight are a linked list, not a `Set`: an old `Set`'s discarded tables kept finished calls (and
 * their replies) alive into the old generation (BENCHMARKS.md, "The in-flight list").
 */
export class GuardedStore {
  /** The calls in flight, in the order they started; one timeout for all, so also in the order of their deadlines. */
  private head: InFlightCall | undefined;
  private tail: InFlightCall | undefined;
  private watchdog: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly store: SessionStore,
    private readonly timeoutMs: number,
  ) {}

  /**
   * The read of the request path: the store's `readNow` where it has one (a store in this process's memory answers
   * at once, without a promise), else `get`.
   */
  read(id: string): MaybePromise<string | undefined> {
    if (!this.store.readNow) return this.get(id);
    let answer: StoredValue | Promise<StoredValue>;
    try {
      answer = this.store.readNow(id);
    } catch (error) {
      return Promise.reject(toStoreError('get', error));
    }
    return answer instanceof Promise ? this.watch('get', answer, orUndefined) : (answer ?? undefined);
  }

  get(id: string): Promise<string | undefined> {
    return this.call('get', () => this.store.get(id));
  }

  set(id: string, value: string, ttlMs: number, hints?: SessionWriteHints): Promise<void> {
    return this.call('set', () => this.store.set(id, value, ttlMs, hints));
  }

  compareAndSet(
    id: string,
    expected: string,
    value: string,
    ttlMs: number,
    hints?: SessionExpiryHints,
  ): Promise<boolean> {
    return this.call('compareAndSet', () =>
      hints && this.store.expiryQueue
        ? this.store.compareAndSet(id, expected, value, ttlMs, hints)
        : this.store.compareAndSet(id, expected, value, ttlMs),
    );
  }

  /** The store's expiry queue, when it has one; its calls bounded and their failures turned as every other call's. */
  get hasExpiryQueue(): boolean {
    return this.store.expiryQueue !== undefined;
  }

  lease(shard: number, owner: string, leaseMs: number): Promise<boolean> {
    return this.call('lease', () => this.store.expiryQueue!.lease(shard, owner, leaseMs));
  }

  release(shard: number, owner: string): Promise<void> {
    return this.call('release', () => this.store.expiryQueue!.release(shard, owner));
  }

  due(shard: number, now: number, limit: number): Promise<string[]> {
    return this.call('due', () => this.store.expiryQueue!.due(shard, now, limit));
  }

  reschedule(id: string, expiresAt: number): Promise<void> {
    return this.call('reschedule', () => this.store.expiryQueue!.reschedule(id, expiresAt));
  }

  drop(id: string): Promise<boolean> {
    return this.call('drop', () => this.store.expiryQueue!.drop(id));
  }

  delete(id: string, hints?: SessionDeleteHints): Promise<boolean> {
    return this.call('delete', () => (hints ? this.store.delete(id, hints) : this.store.delete(id)));
  }

  /** The store's field model, when it has one. */
  get fieldRecords(): FieldRecords | undefined {
    return this.store.fieldRecords;
  }

  /** The store's principal index, when it has one. */
  get principalIndex(): PrincipalIndex | undefined {
    return this.store.principalIndex;
  }

  listPrincipal(principal: string): Promise<readonly string[]> {
    return this.call('list', () => this.store.principalIndex!.list(principal));
  }

  readFields(id: string): Promise<FieldRead> {
    return this.call('get', () => this.store.fieldRecords!.read(id));
  }

  createFields(id: string, fields: Record<string, string>, ttlMs: number, hints?: SessionWriteHints) {
    return this.call('set', () => this.store.fieldRecords!.create(id, fields, ttlMs, hints));
  }

  patchFields(id: string, patch: FieldPatch): Promise<FieldPatchResult> {
    return this.call('patch', () => this.store.fieldRecords!.patch(id, patch));
  }

  /** True when the store has an atomic {@link SessionStore.setIfAbsent}. */
  get hasSetIfAbsent(): boolean {
    return typeof this.store.setIfAbsent === 'function';
  }

  /** The store's atomic `setIfAbsent` (see {@link hasSetIfAbsent}). */
  setIfAbsent(id: string, value: string, ttlMs: number): Promise<boolean> {
    return this.call('setIfAbsent', () => this.store.setIfAbsent!(id, value, ttlMs));
  }

  /** Stops the watchdog when nothing is in flight (at shutdown). */
  close(): void {
    if (this.head === undefined && this.watchdog) {
      clearTimeout(this.watchdog);
      this.watchdog = undefined;
    }
  }

  private call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    let pending: Promise<T>;
    try {
      pending = fn();
    } catch (error) {
      return Promise.reject(toStoreError(operation, error));
    }
    return this.watch(operation, pending);
  }

  private watch<T, R = T>(operation: string, pending: Promise<T>, map?: (value: T) => R): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const call: InFlightCall = {
        operation,
        deadline: performance.now() + this.timeoutMs,
        reject,
        prev: this.tail,
        next: undefined,
      };
      if (this.tail) this.tail.next = call;
      else this.head = call;
      this.tail = call;
      this.watchdog ??= setTimeout(this.checkDeadlines, this.periodMs());
      Promise.resolve(pending).then(
        (value) => {
          if (this.settle(call)) resolve(map ? map(value) : (value as unknown as R));
        },
        (error: unknown) => {
          if (this.settle(call)) reject(toStoreError(operation, error));
        },
      );
    });
  }

  /** Takes a call out of the in-flight list; false when it was already settled (the watchdog failed it). */
  private settle(call: InFlightCall): boolean {
    if (call.reject === undefined) return false;
    call.reject = undefined;
    if (call.prev) call.prev.next = call.next;
    else this.head = call.next;
    if (call.next) call.next.prev = call.prev;
    else this.tail = call.prev;
    call.prev = call.next = undefined;
    return true;
  }

  private periodMs(): number {
    return Math.max(1, Math.ceil(this.timeoutMs / 8));
  }

  private readonly checkDeadlines = () => {
    this.watchdog = undefined;
    const now = performance.now();
    for (let call = this.head; call !== undefined && call.deadline <= now; call = this.head) {
      const reject = call.reject!;
      this.settle(call);
      reject(new SessionStoreError(call.operation, `no answer within ${this.timeoutMs} ms (storeTimeoutMs)`));
    }
    if (this.head !== undefined) this.watchdog ??= setTimeout(this.checkDeadlines, this.periodMs());
  };
}

function orUndefined(value: StoredValue): string | undefined {
  return value ?? undefined;
}

function toStoreError(operation: string, error: unknown): YosaiError {
  if (error instanceof YosaiError) return error; // SessionStoreError included
  return new SessionStoreError(operation, error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}
