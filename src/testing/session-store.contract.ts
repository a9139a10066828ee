import { randomBytes } from 'node:crypto';
import type { SessionStore } from '../store/session.store.js';

/** One store under test, in a namespace of its own over a backend shared with the suite's other namespaces. */
export interface ContractStore {
  store: SessionStore;
  close?(): Promise<void>;
}

export interface SessionStoreContractOptions {
  /**
   * Makes a store in `namespace`. Stores made with different namespaces must share the same backend
   * (one Map, one Redis), so the suite can prove that their keys do not collide.
   */
  create(namespace: string): Promise<ContractStore>;
  /** Removes expired entries now and reports how many (stores that sweep, e.g. the in-memory one). */
  sweep?(store: SessionStore): number;
  /** Number of entries the backend holds, to prove a sweep freed them (stores that can count). */
  backendSize?(): number;
}

/** A fresh id shaped like a session id (43 base64url characters). */
export function contractId(): string {
  return randomBytes(32).toString('base64url');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** TTL short enough to wait out in a test, long enough to read the value back before it lapses. */
const SHORT_TTL = 80;
const PAST_SHORT_TTL = 160;
const LONG_TTL = 60_000;

/**
 * The contract every {@link SessionStore} fulfils. Registers a `describe` block; call it from a spec file
 * once per store, e.g. `sessionStoreContract('in-memory', { create: async (ns) => ({ store: ... }) })`.
 */
export function sessionStoreContract(name: string, options: SessionStoreContractOptions): void {
  describe(`SessionStore contract: ${name}`, () => {
    const opened: ContractStore[] = [];
    let store: SessionStore;

    async function open(namespace: string): Promise<SessionStore> {
      const made = await options.create(namespace);
      opened.push(made);
      return made.store;
    }

    beforeEach(async () => {
      store = await open('main');
    });
    afterEach(async () => {
      for (const made of opened.splice(0)) await made.close?.();
    });

    describe('get / set / delete', () => {
      it('get of a missing id is undefined', async () => {
        await expect(store.get(contractId())).resolves.toBeUndefined();
      });

      it('set then get returns the exact string; set overwrites', async () => {
        const id = contractId();
        await expect(store.set(id, 'first', LONG_TTL)).resolves.toBeUndefined();
        await expect(store.get(id)).resolves.toBe('first');
        await store.set(id, 'second', LONG_TTL);
        await expect(store.get(id)).resolves.toBe('second');
      });

      it.each([
        ['a JSON envelope', JSON.stringify({ v: 1, attributes: { a: [1, { $d: 'x' }] } })],
        ['a JSON string literal', '"quoted"'],
        ['a number-like string', '42'],
        ['"null"', 'null'],
        ['unicode', 'äöü – 日本語 – 🎳'],
        ['a large value', 'x'.repeat(200_000)],
        ['an empty string', ''],
      ])('values are opaque strings: %s round-trips unchanged', async (_, value) => {
        const id = contractId();
        await store.set(id, value, LONG_TTL);
        const back = await store.get(id);
        expect(typeof back).toBe('string');
        expect(back).toBe(value);
      });

      it('delete resolves true for an existing record and removes it', async () => {
        const id = contractId();
        await store.set(id, 'v', LONG_TTL);
        await expect(store.delete(id)).resolves.toBe(true);
        await expect(store.get(id)).resolves.toBeUndefined();
      });

      it('delete resolves false for a missing record and for the second call', async () => {
        const id = contractId();
        await expect(store.delete(id)).resolves.toBe(false);
        await store.set(id, 'v', LONG_TTL);
        await expect(store.delete(id)).resolves.toBe(true);
        await expect(store.delete(id)).resolves.toBe(false);
      });

      it('of concurrent deletes of one record exactly one resolves true', async () => {
        const id = contractId();
        await store.set(id, 'v', LONG_TTL);
        const results = await Promise.all(Array.from({ length: 10 }, () => store.delete(id)));
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('records under different ids are independent', async () => {
        const a = contractId();
        const b = contractId();
        await store.set(a, 'A', LONG_TTL);
        await store.set(b, 'B', LONG_TTL);
        await store.delete(a);
        await expect(store.get(b)).resolves.toBe('B');
      });
    });

    describe('compareAndSet', () => {
      it('replaces the value when the stored one equals expected', async () => {
        const id = contractId();
        await store.set(id, 'one', LONG_TTL);
        await expect(store.compareAndSet(id, 'one', 'two', LONG_TTL)).resolves.toBe(true);
        await expect(store.get(id)).resolves.toBe('two');
      });

      it('resolves false and changes nothing on a mismatch', async () => {
        const id = contractId();
        await store.set(id, 'one', LONG_TTL);
        await expect(store.compareAndSet(id, 'stale', 'two', LONG_TTL)).resolves.toBe(false);
        await expect(store.get(id)).resolves.toBe('one');
      });

      it('resolves false for a missing record and does not create it', async () => {
        const id = contractId();
        await expect(store.compareAndSet(id, 'one', 'two', LONG_TTL)).resolves.toBe(false);
        await expect(store.get(id)).resolves.toBeUndefined();
      });

      it('never brings back a deleted record', async () => {
        const id = contractId();
        await store.set(id, 'one', LONG_TTL);
        await store.delete(id);
        await expect(store.compareAndSet(id, 'one', 'two', LONG_TTL)).resolves.toBe(false);
        await expect(store.get(id)).resolves.toBeUndefined();
      });

      it('of concurrent compareAndSets from one expected value exactly one wins', async () => {
        const id = contractId();
        await store.set(id, 'base', LONG_TTL);
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.compareAndSet(id, 'base', `w${i}`, LONG_TTL)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        await expect(store.get(id)).resolves.toBe(`w${results.indexOf(true)}`);
      });
    });

    describe('TTL (milliseconds)', () => {
      // One wait for every TTL case, to keep the suite fast.
      it('records are readable before their TTL and gone after it; compareAndSet sets the new TTL', async () => {
        const plain = contractId();
        const shortened = contractId();
        const extended = contractId();
        await store.set(plain, 'short', SHORT_TTL);
        await store.set(shortened, 'one', LONG_TTL);
        await store.set(extended, 'one', SHORT_TTL);
        await expect(store.get(plain)).resolves.toBe('short');
        await expect(store.compareAndSet(shortened, 'one', 'two', SHORT_TTL)).resolves.toBe(true);
        await expect(store.compareAndSet(extended, 'one', 'two', LONG_TTL)).resolves.toBe(true);

        await sleep(PAST_SHORT_TTL);
        await expect(store.get(plain)).resolves.toBeUndefined();
        await expect(store.delete(plain)).resolves.toBe(false);
        await expect(store.get(shortened)).resolves.toBeUndefined();
        await expect(store.get(extended)).resolves.toBe('two');
        // An expired record cannot be revived by compareAndSet.
        await expect(store.compareAndSet(shortened, 'two', 'three', LONG_TTL)).resolves.toBe(false);
        await expect(store.get(shortened)).resolves.toBeUndefined();
      });
    });

    describe('namespaces', () => {
      it('stores in different namespaces over the same backend do not collide', async () => {
        const other = await open('other');
        const id = contractId();
        await store.set(id, 'main', LONG_TTL);
        await expect(other.get(id)).resolves.toBeUndefined();
        await other.set(id, 'other', LONG_TTL);
        await expect(store.get(id)).resolves.toBe('main');
        await expect(other.get(id)).resolves.toBe('other');

        await expect(other.compareAndSet(id, 'main', 'x', LONG_TTL)).resolves.toBe(false);
        await expect(other.delete(id)).resolves.toBe(true);
        await expect(store.get(id)).resolves.toBe('main');
        await expect(other.delete(id)).resolves.toBe(false);
      });

      it('a second store in the same namespace sees the same records', async () => {
        const twin = await open('main');
        const id = contractId();
        await store.set(id, 'shared', LONG_TTL);
        await expect(twin.get(id)).resolves.toBe('shared');
        await expect(twin.compareAndSet(id, 'shared', 'changed', LONG_TTL)).resolves.toBe(true);
        await expect(store.get(id)).resolves.toBe('changed');
        await expect(twin.delete(id)).resolves.toBe(true);
        await expect(store.delete(id)).resolves.toBe(false);
      });
    });

    if (options.sweep) {
      const sweep = options.sweep;
      describe('sweep', () => {
        it('removes expired entries without anyone reading them, and keeps live ones', async () => {
          const live = contractId();
          await store.set(live, 'live', LONG_TTL);
          sweep(store); // whatever earlier tests left expired
          const before = options.backendSize?.();
          for (let i = 0; i < 5; i++) await store.set(contractId(), 'dead', 1);
          await sleep(10);
          expect(sweep(store)).toBe(5);
          if (before !== undefined) expect(options.backendSize!()).toBe(before);
          expect(sweep(store)).toBe(0);
          await expect(store.get(live)).resolves.toBe('live');
        });
      });
    }
  });
}
