import { randomBytes } from 'node:crypto';
import { SESSION_BUCKETS } from '../store/session-tag.js';
import type { FieldPatch, SessionStore } from '../store/session.store.js';

/** One store under test, in a namespace of its own over a backend shared with the suite's other namespaces. */
export interface ContractStore {
  store: SessionStore;
  /** Called after each test for every store the test made. Defaults to the store's own `close()`, if any. */
  close?(): Promise<void>;
}

/** How {@link sessionStoreContract} makes the stores it tests, and what it may ask of their backend. */
export interface SessionStoreContractOptions {
  /**
   * Makes a store in `namespace`. Stores made with different namespaces must share the same backend
   * (one Map, one Redis), so the suite can prove that their keys do not collide; two stores made with the same
   * namespace must see the same records. A store that keeps its records in the instance itself may answer
   * the same instance for the same namespace.
   */
  create(namespace: string): Promise<ContractStore>;
  /** Removes expired entries now and reports how many (stores that sweep, e.g. the in-memory one). */
  sweep?(store: SessionStore): number;
  /** Number of entries the backend holds, to prove a sweep freed them (stores that can count). */
  backendSize?(): number;
  /**
   * The store offers the field model (`fieldRecords`): its tests run. Either way the suite checks that the store
   * offers it exactly when this says so.
   */
  fieldRecords?: boolean;
  /**
   * The store offers an expiry queue (`expiryQueue`): its tests run. Either way the suite checks that the store
   * offers it exactly when this says so.
   */
  expiryQueue?: boolean;
}

/** What the suite asks of an assertion: matchers that Jest and Vitest both have. */
export interface ContractAssertion {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
}

/**
 * The parts of a test framework the suite uses. Jest, and Vitest with `globals: true`, provide them as globals;
 * otherwise pass them: `sessionStoreContract(name, options, { describe, it, expect, beforeEach, afterEach })`.
 */
export interface ContractTestApi {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>): void;
  expect(actual: unknown): ContractAssertion;
  beforeEach(hook: () => Promise<void>): void;
  afterEach(hook: () => Promise<void>): void;
}

const API_NAMES = ['describe', 'it', 'expect', 'beforeEach', 'afterEach'] as const;

function globalTestApi(): ContractTestApi {
  const scope = globalThis as unknown as Partial<Record<(typeof API_NAMES)[number], unknown>>;
  const missing = API_NAMES.filter((name) => typeof scope[name] !== 'function');
  if (missing.length > 0) {
    throw new Error(
      `sessionStoreContract: the test framework's ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} ` +
        'not global. Run it under Jest or Vitest with `globals: true`, or pass them as the third argument: ' +
        'sessionStoreContract(name, options, { describe, it, expect, beforeEach, afterEach }).',
    );
  }
  return scope as unknown as ContractTestApi;
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The first two base64url characters of an id in bucket `bucket` (its first 8 bits). */
function base64urlOfByte(bucket: number): string {
  return BASE64URL[bucket >> 2] + BASE64URL[(bucket & 3) << 4];
}

/** A fresh id shaped like a session id (43 base64url characters). */
export function contractId(): string {
  return randomBytes(32).toString('base64url');
}

// Real time: a store's TTL runs on its backend's clock (Redis's, say), which no test can move forward.
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** TTL short enough to wait out in a test, long enough to read the value back before it lapses. */
const SHORT_TTL = 80;
const PAST_SHORT_TTL = 160;
const LONG_TTL = 60_000;

/** How many of the answers were each value, so a failure reads "true: 10" rather than "10 is not 1". */
function tally(answers: unknown[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) counts[String(answer)] = (counts[String(answer)] ?? 0) + 1;
  return counts;
}

const OPAQUE_VALUES: ReadonlyArray<readonly [label: string, value: string]> = [
  ['a JSON envelope', JSON.stringify({ v: 1, attributes: { a: [1, { $d: 'x' }] } })],
  ['a JSON string literal', '"quoted"'],
  ['a number-like string', '42'],
  ['"null"', 'null'],
  ['unicode', 'äöü – 日本語 – 🎳'],
  ['a large value', 'x'.repeat(200_000)],
  ['an empty string', ''],
];

/**
 * The contract every {@link SessionStore} fulfils, as a test suite. Registers one `describe` block; call it
 * from a spec file once per store:
 * @example
 * sessionStoreContract('RedisStore', {
 *   create: async (namespace) => ({ store: new RedisStore(client, { prefix: `test:${namespace}:` }) }),
 * });
 *
 * It uses the store's public methods only, so it runs against any implementation. Optional capabilities are
 * checked where the store has them: `readNow` must answer as `get` does, `ready()` must resolve, and with
 * `sweep` given, `onExpired` must hear of exactly the records a sweep removed. TTLs are waited out in real
 * time (a few hundred milliseconds), so do not run it under fake timers.
 */
export function sessionStoreContract(
  name: string,
  options: SessionStoreContractOptions,
  api: ContractTestApi = globalTestApi(),
): void {
  if (typeof options?.create !== 'function') {
    throw new TypeError(
      'sessionStoreContract: options.create(namespace) must be a function that makes a store',
    );
  }
  for (const key of API_NAMES) {
    if (typeof api?.[key] !== 'function') {
      throw new TypeError(`sessionStoreContract: the test API's \`${key}\` must be a function`);
    }
  }
  const { describe, it, expect, beforeEach, afterEach } = api;

  describe(`SessionStore contract: ${name}`, () => {
    const opened: ContractStore[] = [];
    let store: SessionStore;

    async function open(namespace: string): Promise<SessionStore> {
      const made = await options.create(namespace);
      opened.push(made);
      return made.store;
    }

    /** `get`, checking on the way that `readNow`, where the store has it, answers the same. */
    async function read(id: string, from: SessionStore = store): Promise<string | undefined> {
      const value = await from.get(id);
      if (typeof from.readNow === 'function') {
        const now = await from.readNow(id);
        expect(now ?? undefined).toBe(value);
      }
      return value;
    }

    beforeEach(async () => {
      store = await open('main');
    });
    afterEach(async () => {
      for (const made of opened.splice(0)) {
        await (made.close ? made.close() : made.store.close?.());
      }
    });

    describe('get / set / delete', () => {
      it('get of a missing id is undefined', async () => {
        expect(await read(contractId())).toBe(undefined);
      });

      it('set then get returns the exact string; set overwrites', async () => {
        const id = contractId();
        expect(await store.set(id, 'first', LONG_TTL)).toBe(undefined);
        expect(await read(id)).toBe('first');
        await store.set(id, 'second', LONG_TTL);
        expect(await read(id)).toBe('second');
      });

      for (const [label, value] of OPAQUE_VALUES) {
        it(`values are opaque strings: ${label} round-trips unchanged`, async () => {
          const id = contractId();
          await store.set(id, value, LONG_TTL);
          const back = await read(id);
          expect(typeof back).toBe('string');
          expect(back).toBe(value);
        });
      }

      it('delete resolves true for an existing record and removes it', async () => {
        const id = contractId();
        await store.set(id, 'v', LONG_TTL);
        expect(await store.delete(id)).toBe(true);
        expect(await read(id)).toBe(undefined);
      });

      it('delete resolves false for a missing record and for the second call', async () => {
        const id = contractId();
        expect(await store.delete(id)).toBe(false);
        await store.set(id, 'v', LONG_TTL);
        expect(await store.delete(id)).toBe(true);
        expect(await store.delete(id)).toBe(false);
      });

      it('of concurrent deletes of one record exactly one resolves true', async () => {
        const id = contractId();
        await store.set(id, 'v', LONG_TTL);
        const results = await Promise.all(Array.from({ length: 10 }, () => store.delete(id)));
        expect(tally(results)).toEqual({ true: 1, false: 9 });
      });

      it('records under different ids are independent', async () => {
        const a = contractId();
        const b = contractId();
        await store.set(a, 'A', LONG_TTL);
        await store.set(b, 'B', LONG_TTL);
        await store.delete(a);
        expect(await read(b)).toBe('B');
      });
    });

    describe('compareAndSet', () => {
      it('replaces the value when the stored one equals expected', async () => {
        const id = contractId();
        await store.set(id, 'one', LONG_TTL);
        expect(await store.compareAndSet(id, 'one', 'two', LONG_TTL)).toBe(true);
        expect(await read(id)).toBe('two');
      });

      it('resolves false and changes nothing on a mismatch', async () => {
        const id = contractId();
        await store.set(id, 'one', LONG_TTL);
        expect(await store.compareAndSet(id, 'stale', 'two', LONG_TTL)).toBe(false);
        expect(await read(id)).toBe('one');
      });

      it('resolves false for a missing record and does not create it', async () => {
        const id = contractId();
        expect(await store.compareAndSet(id, 'one', 'two', LONG_TTL)).toBe(false);
        expect(await read(id)).toBe(undefined);
      });

      it('never brings back a deleted record', async () => {
        const id = contractId();
        await store.set(id, 'one', LONG_TTL);
        await store.delete(id);
        expect(await store.compareAndSet(id, 'one', 'two', LONG_TTL)).toBe(false);
        expect(await read(id)).toBe(undefined);
      });

      it('of concurrent compareAndSets from one expected value exactly one wins', async () => {
        const id = contractId();
        await store.set(id, 'base', LONG_TTL);
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.compareAndSet(id, 'base', `w${i}`, LONG_TTL)),
        );
        expect(tally(results)).toEqual({ true: 1, false: 9 });
        expect(await read(id)).toBe(`w${results.indexOf(true)}`);
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
        expect(await read(plain)).toBe('short');
        expect(await store.compareAndSet(shortened, 'one', 'two', SHORT_TTL)).toBe(true);
        expect(await store.compareAndSet(extended, 'one', 'two', LONG_TTL)).toBe(true);

        await sleep(PAST_SHORT_TTL);
        expect(await read(plain)).toBe(undefined);
        expect(await store.delete(plain)).toBe(false);
        expect(await read(shortened)).toBe(undefined);
        expect(await read(extended)).toBe('two');
        // An expired record cannot be revived by compareAndSet.
        expect(await store.compareAndSet(shortened, 'two', 'three', LONG_TTL)).toBe(false);
        expect(await read(shortened)).toBe(undefined);
      });
    });

    describe('namespaces', () => {
      it('stores in different namespaces over the same backend do not collide', async () => {
        const other = await open('other');
        const id = contractId();
        await store.set(id, 'main', LONG_TTL);
        expect(await read(id, other)).toBe(undefined);
        await other.set(id, 'other', LONG_TTL);
        expect(await read(id)).toBe('main');
        expect(await read(id, other)).toBe('other');

        expect(await other.compareAndSet(id, 'main', 'x', LONG_TTL)).toBe(false);
        expect(await other.delete(id)).toBe(true);
        expect(await read(id)).toBe('main');
        expect(await other.delete(id)).toBe(false);
      });

      it('a second store in the same namespace sees the same records', async () => {
        const twin = await open('main');
        const id = contractId();
        await store.set(id, 'shared', LONG_TTL);
        expect(await read(id, twin)).toBe('shared');
        expect(await twin.compareAndSet(id, 'shared', 'changed', LONG_TTL)).toBe(true);
        expect(await read(id)).toBe('changed');
        expect(await twin.delete(id)).toBe(true);
        expect(await store.delete(id)).toBe(false);
      });
    });

    describe('optional capabilities', () => {
      it('ready(), where the store has it, resolves and the store then serves', async () => {
        if (typeof store.ready === 'function') expect(await store.ready()).toBe(undefined);
        const id = contractId();
        await store.set(id, 'ready', LONG_TTL);
        expect(await read(id)).toBe('ready');
      });

      it('setIfAbsent(), where the store has it, writes only a missing record, and one of concurrent calls wins', async () => {
        if (typeof store.setIfAbsent !== 'function') return;
        const twin = await open('main');
        const id = contractId();
        const wins = await Promise.all(
          Array.from({ length: 6 }, (_, i) => (i % 2 ? twin : store).setIfAbsent!(id, `v${i}`, LONG_TTL)),
        );
        expect(wins.filter(Boolean).length).toBe(1);
        expect(await read(id)).toBe(`v${wins.indexOf(true)}`);
        expect(await store.setIfAbsent(id, 'again', LONG_TTL)).toBe(false);
        expect(await store.delete(id)).toBe(true);
        expect(await store.setIfAbsent(id, 'after delete', LONG_TTL)).toBe(true);
        expect(await read(id)).toBe('after delete');
        const short = contractId();
        expect(await store.setIfAbsent(short, 'short', 1)).toBe(true);
        await sleep(10);
        expect(await store.setIfAbsent(short, 'after ttl', LONG_TTL)).toBe(true);
        expect(await read(short)).toBe('after ttl');
      });
    });

    it(`offers the field model (fieldRecords) ${options.fieldRecords ? 'as declared' : 'only when declared'}`, async () => {
      expect(store.fieldRecords !== undefined).toBe(options.fieldRecords === true);
    });

    if (options.fieldRecords) {
      describe('fieldRecords', () => {
        const base = { m: '{"v":2}', l: '100', 'a:x': '1' };
        const patch = (over: Partial<FieldPatch> = {}): FieldPatch => ({
          set: [],
          remove: [],
          accessedAt: 0,
          ttlMs: LONG_TTL,
          ...over,
        });
        const bytes = (fields: Record<string, string>) =>
          Object.entries(fields).reduce((sum, [k, v]) => sum + new TextEncoder().encode(k + v).length, 0);

        it('create then read: the fields, version 1, attribute count and byte total; delete removes the record', async () => {
          const fields = store.fieldRecords!;
          const id = contractId();
          await fields.create(id, base, LONG_TTL);
          expect(await fields.read(id)).toEqual({
            fields: { ...base, v: '1', n: '1', b: String(bytes(base)) },
            legacy: false,
          });
          expect(await store.delete(id)).toBe(true);
          expect(await fields.read(id)).toBe(undefined);
          expect(await fields.patch(id, patch({ set: [['a:y', '2']] }))).toEqual({ status: 'missing' });
          expect(await fields.read(id)).toBe(undefined);
        });

        it('patch: only what it names changes, the access time only forward, the version one more each time', async () => {
          const fields = store.fieldRecords!;
          const id = contractId();
          await fields.create(id, base, LONG_TTL);
          expect(await fields.patch(id, patch({ set: [['a:y', '"two"']], accessedAt: 200 }))).toEqual({
            status: 'written',
            version: 2,
          });
          expect(await fields.patch(id, patch({ remove: ['a:x', 'a:none'], accessedAt: 150 }))).toEqual({
            status: 'written',
            version: 3,
          });
          const expected = { m: base.m, l: '200', 'a:y': '"two"' };
          expect(await fields.read(id)).toEqual({
            fields: { ...expected, v: '3', n: '1', b: String(bytes(expected)) },
            legacy: false,
          });
        });

        it('limits: a patch that would pass one, and grow, is refused and writes nothing', async () => {
          const fields = store.fieldRecords!;
          const id = contractId();
          await fields.create(id, base, LONG_TTL);
          const limits = { maxAttributes: 2, maxBytes: 1_000 };
          expect((await fields.patch(id, patch({ set: [['a:y', '2']], limits }))).status).toBe('written');
          expect(await fields.patch(id, patch({ set: [['a:z', '3']], limits }))).toEqual({
            status: 'maxAttributes',
            value: 3,
          });
          const big = 'x'.repeat(2_000);
          expect((await fields.patch(id, patch({ set: [['a:y', big]], limits }))).status).toBe(
            'maxRecordBytes',
          );
          // Replacing a value within the limits, or shrinking, is allowed.
          expect((await fields.patch(id, patch({ set: [['a:y', '22']], limits }))).status).toBe('written');
          const found = await fields.read(id);
          expect(
            found && 'fields' in found ? [found.fields.n, found.fields['a:y'], found.fields['a:z']] : [],
          ).toEqual(['2', '22', undefined]);
        });

        it('concurrent patches of different fields all land', async () => {
          const fields = store.fieldRecords!;
          const id = contractId();
          await fields.create(id, base, LONG_TTL);
          const answers = await Promise.all(
            Array.from({ length: 20 }, (_, i) => fields.patch(id, patch({ set: [[`a:k${i}`, String(i)]] }))),
          );
          expect(tally(answers.map((a) => a.status))).toEqual({ written: 20 });
          const found = await fields.read(id);
          expect(found && 'fields' in found ? found.fields.n : undefined).toBe('21');
        });

        it('a string record is read as raw, and converted by a patch only while it is still that string', async () => {
          const fields = store.fieldRecords!;
          const id = contractId();
          await store.set(id, 'old-form', LONG_TTL);
          expect(await fields.read(id)).toEqual({ raw: 'old-form' });
          const convert = { raw: 'other', fields: base };
          expect(await fields.patch(id, patch({ legacy: true, convert }))).toEqual({ status: 'conflict' });
          const converted = await fields.patch(
            id,
            patch({ legacy: true, convert: { ...convert, raw: 'old-form' } }),
          );
          expect(converted).toEqual({ status: 'written', version: 1 });
          expect(await fields.read(id)).toEqual({
            fields: { ...base, v: '1', n: '1', b: String(bytes(base)) },
            legacy: true,
          });
          expect(await store.delete(id)).toBe(true);
          expect(await fields.read(id)).toBe(undefined);
        });
      });
    }

    it(`offers an expiry queue (expiryQueue) ${options.expiryQueue ? 'as declared' : 'only when declared'}`, async () => {
      expect(store.expiryQueue !== undefined).toBe(options.expiryQueue === true);
    });

    if (options.expiryQueue) {
      describe('expiryQueue', () => {
        /** A fresh id in a shard of its own for this test (shards are shared with the suite's other tests). */
        let shard = 0;
        const idInShard = () => base64urlOfByte(shard) + contractId().slice(2);
        beforeEach(async () => {
          shard = Math.floor(Math.random() * SESSION_BUCKETS);
        });
        /** A new record scored at `expiresAt`, written the way the queue's model is fed. */
        async function create(id: string, expiresAt: number) {
          if (store.expiryQueue!.model === 'fields') {
            await store.fieldRecords!.create(id, { l: '1' }, LONG_TTL, { guest: true, expiresAt });
          } else {
            await store.set(id, 'value', LONG_TTL, { guest: true, expiresAt });
          }
        }
        /** A later write of the record (a touch) scored at `expiresAt`. */
        async function touch(id: string, expiresAt: number) {
          if (store.expiryQueue!.model === 'fields') {
            const patch: FieldPatch = { set: [], remove: [], accessedAt: 2, ttlMs: LONG_TTL, expiresAt };
            expect((await store.fieldRecords!.patch(id, patch)).status).toBe('written');
          } else {
            const value = await store.get(id);
            expect(await store.compareAndSet(id, value!, 'value', LONG_TTL, { expiresAt })).toBe(true);
          }
        }
        const mine = (ids: string[], of: string[]) => ids.filter((id) => of.includes(id));

        it('due: the shard’s ids scored at or before now, earliest first, at most limit; a touch moves one later', async () => {
          const queue = store.expiryQueue!;
          expect(queue.shards).toBe(SESSION_BUCKETS);
          const ids = [idInShard(), idInShard(), idInShard()];
          await create(ids[0], 3_000);
          await create(ids[1], 1_000);
          await create(ids[2], 2_000);
          expect(mine(await queue.due(shard, 2_000, 100), ids)).toEqual([ids[1], ids[2]]);
          expect(mine(await queue.due(shard, 5_000, 100), ids)).toEqual([ids[1], ids[2], ids[0]]);
          expect((await queue.due(shard, 5_000, 1)).length).toBe(1);
          await touch(ids[1], 4_000);
          expect(mine(await queue.due(shard, 3_500, 100), ids)).toEqual([ids[2], ids[0]]);
          // A touch that lands late (an earlier deadline) never moves an entry back.
          await touch(ids[1], 500);
          expect(mine(await queue.due(shard, 3_500, 100), ids)).toEqual([ids[2], ids[0]]);
          for (const id of ids) expect(await store.delete(id)).toBe(true);
          expect(mine(await queue.due(shard, 5_000, 100), ids)).toEqual([]);
        });

        it('due at the same now twice sees the writes and deletes made in between', async () => {
          const queue = store.expiryQueue!;
          const [a, b, c] = [idInShard(), idInShard(), idInShard()];
          await create(a, 1_000);
          await create(c, 1_200);
          expect(mine(await queue.due(shard, 2_000, 100), [a, b, c])).toEqual([a, c]);
          await create(b, 1_500);
          await touch(c, 9_000);
          expect(mine(await queue.due(shard, 2_000, 100), [a, b, c])).toEqual([a, b]);
          expect(await store.delete(a)).toBe(true);
          expect(mine(await queue.due(shard, 2_000, 100), [a, b, c])).toEqual([b]);
          for (const id of [b, c]) expect(await store.delete(id)).toBe(true);
        });

        it('reschedule moves a live record’s entry later only; drop removes only the entry of a record that is gone', async () => {
          const queue = store.expiryQueue!;
          const id = idInShard();
          await create(id, 1_000);
          await queue.reschedule(id, 5_000);
          expect(mine(await queue.due(shard, 4_000, 100), [id])).toEqual([]);
          await queue.reschedule(id, 2_000);
          expect(mine(await queue.due(shard, 5_000, 100), [id])).toEqual([id]);
          expect(await queue.drop(id)).toBe(false); // the record is there
          expect(mine(await queue.due(shard, 5_000, 100), [id])).toEqual([id]);
          // A record gone by its TTL: a store that reports such records (onExpired) removes the entry with it when
          // it finds the record past its TTL; any other leaves the entry, which one drop removes.
          const short = idInShard();
          if (queue.model === 'fields') {
            await store.fieldRecords!.create(short, { l: '1' }, SHORT_TTL, { guest: true, expiresAt: 1_000 });
          } else {
            await store.set(short, 'value', SHORT_TTL, { guest: true, expiresAt: 1_000 });
          }
          await sleep(PAST_SHORT_TTL);
          if (typeof store.onExpired === 'function') {
            expect(await store.get(short)).toBe(undefined);
            expect(await queue.drop(short)).toBe(false);
          } else {
            const answers = await Promise.all([queue.drop(short), queue.drop(short), queue.drop(short)]);
            expect(tally(answers)).toEqual({ true: 1, false: 2 });
          }
          expect(mine(await queue.due(shard, 5_000, 100), [short])).toEqual([]);
          expect(await store.delete(id)).toBe(true);
        });

        it('lease: one owner at a time, renewed by its owner, given up by release, free again once it runs out', async () => {
          const queue = store.expiryQueue!;
          const [a, b] = [`a-${contractId()}`, `b-${contractId()}`];
          const answers = await Promise.all([queue.lease(shard, a, 150), queue.lease(shard, b, 150)]);
          expect(tally(answers)).toEqual({ true: 1, false: 1 });
          const [holder, other] = answers[0] ? [a, b] : [b, a];
          expect(await queue.lease(shard, holder, 150)).toBe(true);
          await queue.release(shard, other); // not the holder's: nothing happens
          expect(await queue.lease(shard, other, 150)).toBe(false);
          await queue.release(shard, holder);
          expect(await queue.lease(shard, other, 100)).toBe(true);
          await sleep(200);
          expect(await queue.lease(shard, holder, 100)).toBe(true);
          await queue.release(shard, holder);
        });
      });
    }

    if (options.sweep) {
      const sweep = options.sweep;
      describe('sweep', () => {
        it('removes expired entries without anyone reading them, keeps live ones, and reports them to onExpired', async () => {
          const live = contractId();
          await store.set(live, 'live', LONG_TTL);
          sweep(store); // whatever earlier tests left expired
          const heard: Array<[string, string]> = [];
          store.onExpired?.((id, value) => heard.push([id, value]));
          const before = options.backendSize?.();
          const dead = Array.from({ length: 5 }, () => contractId());
          for (const id of dead) await store.set(id, `dead ${id}`, 1);
          await sleep(10);
          expect(sweep(store)).toBe(5);
          if (before !== undefined) expect(options.backendSize!()).toBe(before);
          expect(sweep(store)).toBe(0);
          expect(await read(live)).toBe('live');
          if (typeof store.onExpired === 'function') {
            const byId = (a: [string, string], b: [string, string]) => a[0].localeCompare(b[0]);
            expect(heard.sort(byId)).toEqual(
              dead.map((id): [string, string] => [id, `dead ${id}`]).sort(byId),
            );
          }
        });
      });
    }
  });
}
