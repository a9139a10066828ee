import { SessionStoreError } from '../errors/yosai.errors.js';
import { CacheManagerSessionStore } from '../store/cache-manager-session.store.js';
import { SessionStore, type StoredValue } from '../store/session.store.js';
import { GuardedStore } from './guarded-store.js';

/** A store whose every call waits for the test to answer it (or never answers). */
class HeldStore extends SessionStore {
  readonly pending: { op: string; resolve: (value: unknown) => void; reject: (error: unknown) => void }[] =
    [];
  private held<T>(op: string): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.pending.push({ op, resolve: resolve as (value: unknown) => void, reject }),
    );
  }
  get(): Promise<string | undefined> {
    return this.held('get');
  }
  set(): Promise<void> {
    return this.held('set');
  }
  compareAndSet(): Promise<boolean> {
    return this.held('compareAndSet');
  }
  delete(): Promise<boolean> {
    return this.held('delete');
  }
}

describe('GuardedStore', () => {
  it('a call that never answers fails with SessionStoreError after the timeout, naming the operation', async () => {
    const guarded = new GuardedStore(new HeldStore(), 40);
    const started = performance.now();
    const error = await guarded.delete('id').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).operation).toBe('delete');
    expect((error as Error).message).toContain('no answer within 40 ms (storeTimeoutMs)');
    // At most an eighth of the timeout late (the shared watchdog's period), with room for a loaded machine.
    expect(performance.now() - started).toBeGreaterThanOrEqual(39);
    guarded.close();
  });

  it('a rejection or a throw becomes SessionStoreError with the cause kept; an answer after the deadline is ignored', async () => {
    const store = new HeldStore();
    const guarded = new GuardedStore(store, 1_000);
    const rejected = guarded.compareAndSet('id', 'a', 'b', 1);
    const cause = new Error('READONLY You cannot write against a read only replica.');
    store.pending[0].reject(cause);
    const error = await rejected.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).cause).toBe(cause);

    const throwing = Object.assign(Object.create(store) as SessionStore, {
      set: () => {
        throw new TypeError('sync failure');
      },
    });
    await expect(new GuardedStore(throwing, 1_000).set('id', 'v', 1)).rejects.toBeInstanceOf(
      SessionStoreError,
    );

    const late = new GuardedStore(store, 20);
    const timedOut = late.get('id').catch((e: unknown) => e);
    expect(await timedOut).toBeInstanceOf(SessionStoreError);
    store.pending[store.pending.length - 1].resolve('too late'); // nothing to settle any more, nothing thrown
    guarded.close();
    late.close();
  });

  it('calls answered out of order settle each their own promise; the unanswered ones fail at their deadlines', async () => {
    const store = new HeldStore();
    const guarded = new GuardedStore(store, 60);
    const outcome = (p: Promise<unknown>) =>
      p.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
    const failedAs = (result: unknown, operation: string) => {
      const { error } = result as { error: SessionStoreError };
      expect(error).toBeInstanceOf(SessionStoreError);
      expect(error.operation).toBe(operation);
    };
    const a = outcome(guarded.get('a'));
    const b = outcome(guarded.delete('b'));
    const c = outcome(guarded.get('c'));
    const d = outcome(guarded.set('d', 'v', 1));
    const e = outcome(guarded.get('e'));
    // The head, a middle call and the tail answer while the others are still in flight.
    store.pending[0].resolve('A');
    store.pending[2].resolve('C');
    store.pending[4].resolve('E');
    expect(await Promise.all([a, c, e])).toEqual([{ value: 'A' }, { value: 'C' }, { value: 'E' }]);
    failedAs(await b, 'delete');
    failedAs(await d, 'set');
    // A late answer to a call that already failed changes nothing: a new call is bounded as before.
    store.pending[1].resolve('too late');
    failedAs(await outcome(guarded.get('f')), 'get');
    const g = outcome(guarded.get('g'));
    store.pending[6].resolve('G');
    expect(await g).toEqual({ value: 'G' });
    guarded.close();
  });

  it('read() uses readNow: synchronous for the in-memory store, the same value as get', async () => {
    const memory = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
    await memory.set('id', 'value', 60_000);
    const guarded = new GuardedStore(memory, 1_000);
    expect(guarded.read('id')).toBe('value');
    expect(guarded.read('missing')).toBeUndefined();
    await expect(guarded.get('id')).resolves.toBe('value');
  });

  it('read() maps a readNow null to undefined, bounds an asynchronous readNow, and turns its throw into a rejection', async () => {
    const store = new HeldStore();
    const withReadNow = (readNow: (id: string) => StoredValue | Promise<StoredValue>) =>
      new GuardedStore(Object.assign(Object.create(store) as SessionStore, { readNow }), 30);
    await expect(withReadNow(() => Promise.resolve(null)).read('id')).resolves.toBeUndefined();
    expect(withReadNow(() => null).read('id')).toBeUndefined();
    await expect(withReadNow(() => new Promise<StoredValue>(() => {})).read('id')).rejects.toBeInstanceOf(
      SessionStoreError,
    );
    await expect(
      withReadNow(() => {
        throw new Error('boom');
      }).read('id'),
    ).rejects.toBeInstanceOf(SessionStoreError);
  });

  it('without readNow, read() goes through get (a promise, bounded)', async () => {
    const store = new HeldStore();
    const guarded = new GuardedStore(store, 1_000);
    const answer = guarded.read('id');
    expect(answer).toBeInstanceOf(Promise);
    store.pending[0].resolve('v');
    await expect(answer).resolves.toBe('v');
    guarded.close();
  });
});
