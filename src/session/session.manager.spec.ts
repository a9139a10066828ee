import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import {
  CapturingLogger,
  createManagerHarness,
  type ManagerHarness,
  type ManagerHarnessOptions,
} from '../../test/support/manager-module.js';
import { SessionSerializationError, SessionStoreError, StoppedSessionError } from '../errors/yosai.errors.js';
import { YOSAI_SESSION_STARTED, YOSAI_SESSION_STOPPED } from '../yosai.constants.js';
import { CacheManagerSessionStore } from '../store/cache-manager-session.store.js';
import { tokenOf } from './session.js';
import type { SessionResolution } from './session.manager.js';
import type { Session } from './session.js';

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;

let h: ManagerHarness;
/** Which way the manager reads the in-memory store: synchronously (as in production), or through `get`. */
let syncReads = true;
async function boot(options: ManagerHarnessOptions = {}) {
  h = await createManagerHarness({ syncReads, ...options });
  return h;
}
afterEach(async () => {
  await h?.close();
});

function valid(resolution: SessionResolution): Session {
  if (resolution.status !== 'valid') throw new Error(`expected a valid session, got ${resolution.status}`);
  return resolution.session;
}

function writes(): number {
  const c = h.store.counts;
  return c.set + c.compareAndSet + c.delete;
}

async function reresolve(session: Session): Promise<Session> {
  return valid(await h.manager.resolve(tokenOf(session)));
}

describe.each([
  ['synchronous reads', true],
  ['asynchronous reads', false],
])('SessionManager, %s', (_, sync) => {
  beforeAll(() => {
    syncReads = sync;
  });

  describe('SessionManager timeouts (ManualClock)', () => {
    const idle = { idleTimeoutMs: 60 * SEC, absoluteTimeoutMs: 10 * MIN, touchIntervalMs: 5 * SEC };

    it('a session accessed exactly at the idle limit is still valid', async () => {
      await boot({ yosai: idle });
      const session = await h.manager.start();
      h.clock.advance(60 * SEC);
      const resolved = valid(await h.manager.resolve(tokenOf(session)));
      expect(resolved.id).toBe(session.id);
    });

    it('a session 1 ms past the idle limit is expired (idle) and removed', async () => {
      await boot({ yosai: idle });
      const session = await h.manager.start();
      h.clock.advance(60 * SEC + 1);
      await expect(h.manager.resolve(tokenOf(session))).resolves.toEqual({
        status: 'expired',
        reason: 'idle',
      });
      expect(await h.store.inner.get(session.id)).toBeUndefined();
      await expect(h.manager.resolve(tokenOf(session))).resolves.toEqual({ status: 'unknown' });
    });

    it('the idle limit counts from the last recorded access', async () => {
      await boot({ yosai: idle });
      const session = await h.manager.start();
      h.clock.advance(50 * SEC);
      valid(await h.manager.resolve(tokenOf(session))); // touch due: lastAccessedAt = +50 s
      h.clock.advance(60 * SEC);
      valid(await h.manager.resolve(tokenOf(session)));
      h.clock.advance(60 * SEC + 1);
      await expect(h.manager.resolve(tokenOf(session))).resolves.toEqual({
        status: 'expired',
        reason: 'idle',
      });
    });

    it('absolute: valid exactly at the limit, expired 1 ms past it, however active', async () => {
      await boot({
        yosai: { idleTimeoutMs: 60 * SEC, absoluteTimeoutMs: 3 * MIN, touchIntervalMs: 5 * SEC },
      });
      const session = await h.manager.start();
      const token = tokenOf(session);
      for (let t = 0; t < 3; t++) {
        h.clock.advance(50 * SEC);
        valid(await h.manager.resolve(token)); // keeps it alive: 150 s
      }
      h.clock.advance(30 * SEC); // exactly 180 s after start, 30 s idle
      valid(await h.manager.resolve(token));
      h.clock.advance(1);
      await expect(h.manager.resolve(token)).resolves.toEqual({ status: 'expired', reason: 'absolute' });
    });

    it('absolute wins when both timeouts hold', async () => {
      await boot({
        yosai: { idleTimeoutMs: 60 * SEC, absoluteTimeoutMs: 100 * SEC, touchIntervalMs: 5 * SEC },
      });
      const session = await h.manager.start();
      h.clock.advance(100 * SEC + 1); // idle (100 s > 60 s) and absolute (100 s + 1 > 100 s)
      await expect(h.manager.resolve(tokenOf(session))).resolves.toEqual({
        status: 'expired',
        reason: 'absolute',
      });
    });

    it('absolute wins also when idle and absolute timeouts are equal', async () => {
      await boot({
        yosai: { idleTimeoutMs: 60 * SEC, absoluteTimeoutMs: 60 * SEC, touchIntervalMs: 5 * SEC },
      });
      const session = await h.manager.start();
      h.clock.advance(60 * SEC + 1);
      await expect(h.manager.resolve(tokenOf(session))).resolves.toEqual({
        status: 'expired',
        reason: 'absolute',
      });
    });

    it('default idle timeout: 30 min (signed-in sessions)', async () => {
      await boot();
      const session = await h.manager.start({ identifiers: ['thedude'], authenticated: true });
      expect(session.idleTimeoutMs).toBe(30 * MIN);
      h.clock.advance(30 * MIN);
      valid(await h.manager.resolve(tokenOf(session))); // exactly 30 min idle: valid (and touched)
      h.clock.advance(30 * MIN + 1);
      await expect(h.manager.resolve(tokenOf(session))).resolves.toEqual({
        status: 'expired',
        reason: 'idle',
      });
    });

    it('default absolute timeout: 8 h', async () => {
      await boot();
      const session = await h.manager.start({ identifiers: ['thedude'], authenticated: true });
      expect(session.absoluteTimeoutMs).toBe(8 * HOUR);
      const token = tokenOf(session);
      let elapsed = 0;
      while (elapsed + 29 * MIN < 8 * HOUR) {
        h.clock.advance(29 * MIN);
        elapsed += 29 * MIN;
        valid(await h.manager.resolve(token));
      }
      h.clock.advance(8 * HOUR - elapsed);
      valid(await h.manager.resolve(token));
      h.clock.advance(1);
      await expect(h.manager.resolve(token)).resolves.toEqual({ status: 'expired', reason: 'absolute' });
    });

    it('default guest idle timeout: 15 min, written into the record', async () => {
      await boot();
      const session = await h.manager.start();
      expect(session.idleTimeoutMs).toBe(15 * MIN);
      expect(JSON.parse((await h.store.inner.get(session.id))!)).toMatchObject({ i: 15 * MIN });
      h.clock.advance(15 * MIN);
      valid(await h.manager.resolve(tokenOf(session)));
      h.clock.advance(15 * MIN + 1);
      await expect(h.manager.resolve(tokenOf(session))).resolves.toEqual({
        status: 'expired',
        reason: 'idle',
      });
    });

    it('guestIdleTimeoutMs: a guest expires after it, the session that replaces it at login gets the full idle timeout', async () => {
      await boot({
        yosai: { idleTimeoutMs: 10 * MIN, guestIdleTimeoutMs: 2 * MIN, touchIntervalMs: 10 * SEC },
      });
      const guest = await h.manager.start();
      expect(guest.idleTimeoutMs).toBe(2 * MIN);
      const other = await h.manager.start();
      h.clock.advance(2 * MIN + 1);
      await expect(h.manager.resolve(tokenOf(other))).resolves.toEqual({ status: 'expired', reason: 'idle' });

      const fresh = await h.manager.start();
      const { session: user, token } = await h.manager.replaceSession(fresh, {
        identifiers: ['walter'],
        authenticated: true,
      });
      expect(user.idleTimeoutMs).toBe(10 * MIN);
      h.clock.advance(9 * MIN);
      expect(valid(await h.manager.resolve(token)).id).toBe(user.id);
    });

    it('guestIdleTimeoutMs: a guest regenerated stays a guest (guest timeout); a logout-like replacement to a guest gets it too', async () => {
      await boot({
        yosai: { idleTimeoutMs: 10 * MIN, guestIdleTimeoutMs: 2 * MIN, touchIntervalMs: 10 * SEC },
      });
      const guest = await h.manager.start();
      const regenerated = await h.manager.replaceSession(
        guest,
        { identifiers: null, authenticated: false },
        { reason: 'regenerate' },
      );
      expect(regenerated.session.idleTimeoutMs).toBe(2 * MIN);
      const user = await h.manager.start({ identifiers: ['walter'], authenticated: true });
      expect(user.idleTimeoutMs).toBe(10 * MIN);
      const dropped = await h.manager.replaceSession(user, { identifiers: null, authenticated: false });
      expect(dropped.session.idleTimeoutMs).toBe(2 * MIN);
    });

    it('guestIdleTimeoutMs shortened: running guests are held to the new one at once, signed-in sessions are not', async () => {
      const shared = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
      await boot({ store: shared, yosai: { idleTimeoutMs: 10 * MIN, guestIdleTimeoutMs: 10 * MIN } });
      const guest = await h.manager.start();
      const user = await h.manager.start({ identifiers: ['walter'], authenticated: true });
      const after = await createManagerHarness({
        store: shared,
        syncReads,
        yosai: {
          clock: h.clock,
          idleTimeoutMs: 10 * MIN,
          guestIdleTimeoutMs: MIN,
          touchIntervalMs: 10 * SEC,
        },
      });
      try {
        h.clock.advance(MIN + 1);
        await expect(after.manager.resolve(tokenOf(guest))).resolves.toEqual({
          status: 'expired',
          reason: 'idle',
        });
        expect(valid(await after.manager.resolve(tokenOf(user))).idleTimeoutMs).toBe(10 * MIN);
      } finally {
        await after.close();
      }
    });

    it('default touch interval: 60 s with the default idle timeout', async () => {
      await boot();
      const session = await h.manager.start();
      h.store.reset();
      h.clock.advance(60 * SEC - 1);
      valid(await h.manager.resolve(tokenOf(session)));
      expect(writes()).toBe(0);
      h.clock.advance(1);
      const touched = valid(await h.manager.resolve(tokenOf(session)));
      expect(h.store.counts.compareAndSet).toBe(1);
      expect(touched.lastAccessedAt).toBe(h.clock.now());
    });

    it('default touch interval: idle / 10 when that is below 60 s', async () => {
      await boot({ yosai: { idleTimeoutMs: 100 * SEC } });
      const session = await h.manager.start();
      h.store.reset();
      h.clock.advance(10 * SEC - 1);
      valid(await h.manager.resolve(tokenOf(session)));
      expect(writes()).toBe(0);
      h.clock.advance(1);
      valid(await h.manager.resolve(tokenOf(session)));
      expect(writes()).toBe(1);
    });
  });

  describe('SessionManager touch coalescing', () => {
    it('N resolutions inside the interval cost one write; the first after the interval one more', async () => {
      await boot({ yosai: { idleTimeoutMs: 10 * MIN, touchIntervalMs: 10 * SEC } });
      const session = await h.manager.start();
      const token = tokenOf(session);
      h.store.reset();

      for (let i = 0; i < 9; i++) {
        h.clock.advance(SEC);
        valid(await h.manager.resolve(token));
      }
      expect(h.store.counts).toEqual({ get: 9, set: 0, compareAndSet: 0, delete: 0 });

      h.clock.advance(SEC); // 10 s since the last write: due
      for (let i = 0; i < 10; i++) {
        valid(await h.manager.resolve(token));
        h.clock.advance(900);
      }
      expect(h.store.counts).toEqual({ get: 19, set: 0, compareAndSet: 1, delete: 0 });

      h.clock.advance(10 * SEC);
      const touched = valid(await h.manager.resolve(token));
      expect(h.store.counts.compareAndSet).toBe(2);
      expect(touched.lastAccessedAt).toBe(h.clock.now());
      // The write happened: a fresh resolution sees the new lastAccessedAt.
      expect((await reresolve(session)).lastAccessedAt).toBe(h.clock.now());
    });

    it('a burst of concurrent resolutions when the touch is due costs one write', async () => {
      await boot({ yosai: { idleTimeoutMs: 10 * MIN, touchIntervalMs: 10 * SEC } });
      const session = await h.manager.start();
      h.clock.advance(10 * SEC);
      h.store.reset();
      const results = await Promise.all(
        Array.from({ length: 10 }, () => h.manager.resolve(tokenOf(session))),
      );
      for (const r of results) expect(r.status).toBe('valid');
      expect(h.store.counts).toEqual({ get: 10, set: 0, compareAndSet: 1, delete: 0 });
      expect((await reresolve(session)).lastAccessedAt).toBe(h.clock.now());
      // The next due touch is written again.
      h.clock.advance(10 * SEC);
      h.store.reset();
      await Promise.all(Array.from({ length: 5 }, () => h.manager.resolve(tokenOf(session))));
      expect(h.store.counts.compareAndSet).toBe(1);
    });

    it('reading attributes never writes', async () => {
      await boot();
      const session = await h.manager.start({ attributes: { a: 1 } });
      h.store.reset();
      const resolved = valid(await h.manager.resolve(tokenOf(session)));
      expect(resolved.getAttribute('a')).toBe(1);
      expect(resolved.getAttributes()).toEqual({ a: 1 });
      expect(resolved.attributeKeys).toEqual(['a']);
      expect(h.store.counts).toEqual({ get: 1, set: 0, compareAndSet: 0, delete: 0 });
    });
  });

  describe('SessionManager store operation counts', () => {
    it('resolving a valid session whose touch is not due costs exactly one get and no write', async () => {
      await boot();
      const session = await h.manager.start();
      h.store.reset();
      h.clock.advance(SEC);
      valid(await h.manager.resolve(tokenOf(session)));
      expect(h.store.counts).toEqual({ get: 1, set: 0, compareAndSet: 0, delete: 0 });
    });

    it.each([null, undefined, ''])('resolving no token (%p) costs no store operation', async (token) => {
      await boot();
      await expect(h.manager.resolve(token)).resolves.toEqual({ status: 'none' });
      const subject = await h.subjects.fromToken(token);
      expect(subject.session).toBeNull();
      expect(h.store.total).toBe(0);
    });

    it.each([
      ['too short', 'abc'],
      ['too long', 'a'.repeat(44)],
      ['bad alphabet', `${'a'.repeat(42)}=`],
      ['whitespace', ` ${'a'.repeat(42)}`],
      ['non-ascii', `${'a'.repeat(42)}é`],
    ])('a malformed token (%s) never reaches the store', async (_, token) => {
      await boot();
      await expect(h.manager.resolve(token)).resolves.toEqual({ status: 'malformed' });
      expect(h.store.total).toBe(0);
    });

    it('start costs one write', async () => {
      await boot();
      await h.manager.start();
      expect(h.store.counts).toEqual({ get: 0, set: 1, compareAndSet: 0, delete: 0 });
    });
  });

  describe('SessionManager start, stop, replace', () => {
    it('tokens are 43-char base64url and the id is their SHA-256, never the token', async () => {
      await boot();
      const a = await h.manager.start({ host: '10.0.0.1' });
      const b = await h.manager.start();
      expect(tokenOf(a)).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(tokenOf(a)).not.toBe(tokenOf(b));
      expect(a.id).not.toBe(tokenOf(a));
      expect(a.host).toBe('10.0.0.1');
      expect(JSON.stringify(a)).not.toContain(tokenOf(a));
      expect(a.startedAt).toBe(h.clock.now());
    });

    it('stop deletes the record and emits stopped; a second stop is a no-op', async () => {
      await boot();
      const session = await h.manager.start({ identifiers: ['walter'] });
      h.events.clear();
      h.store.reset();
      h.clock.advance(SEC);
      await session.stop();
      expect(session.isStopped).toBe(true);
      expect(h.store.counts).toEqual({ get: 0, set: 0, compareAndSet: 0, delete: 1 });
      expect(await h.store.inner.get(session.id)).toBeUndefined();
      expect(h.events.events).toEqual([
        {
          name: YOSAI_SESSION_STOPPED,
          payload: { sessionId: session.id, identifiers: ['walter'], reason: 'stopped', at: h.clock.now() },
        },
      ]);
      await expect(h.manager.resolve(tokenOf(session))).resolves.toEqual({ status: 'unknown' });

      h.store.reset();
      h.events.clear();
      await session.stop();
      await h.manager.stop(session, 'logout');
      expect(h.store.total).toBe(0);
      expect(h.events.events).toEqual([]);
      await expect(session.setAttribute('x', 1)).rejects.toBeInstanceOf(StoppedSessionError);
    });

    it('a stop through another Session object of the same token emits once', async () => {
      await boot();
      const session = await h.manager.start();
      const twin = await reresolve(session);
      h.events.clear();
      await session.stop();
      await twin.stop();
      expect(twin.isStopped).toBe(true);
      expect(h.events.named(YOSAI_SESSION_STOPPED)).toHaveLength(1);
    });

    it('replace: new token and id, attributes carried, old token dead at once, stopped then started', async () => {
      await boot();
      const guest = await h.manager.start({
        host: '10.1.1.1',
        attributes: { cart: [1, 2], seen: new Date(0) },
      });
      const oldToken = tokenOf(guest);
      h.events.clear();
      h.clock.advance(5 * SEC);

      const next = await h.manager.replace(guest, {
        identifiers: ['thedude', 'dude@example.com'],
        authenticated: true,
      });
      expect(next.id).not.toBe(guest.id);
      expect(tokenOf(next)).not.toBe(oldToken);
      expect(next.getAttribute('cart')).toEqual([1, 2]);
      expect(next.getAttribute('seen')).toEqual(new Date(0));
      expect(next.identifiers).toEqual(['thedude', 'dude@example.com']);
      expect(next.host).toBe('10.1.1.1');
      expect(next.startedAt).toBe(h.clock.now());
      expect(guest.isStopped).toBe(true);

      await expect(h.manager.resolve(oldToken)).resolves.toEqual({ status: 'unknown' });
      expect(await h.store.inner.get(guest.id)).toBeUndefined();
      const fresh = await reresolve(next);
      expect(fresh.getAttribute('cart')).toEqual([1, 2]);
      expect(fresh.identifiers).toEqual(['thedude', 'dude@example.com']);

      expect(h.events.events).toEqual([
        {
          name: YOSAI_SESSION_STOPPED,
          payload: { sessionId: guest.id, identifiers: null, reason: 'regenerated', at: h.clock.now() },
        },
        {
          name: YOSAI_SESSION_STARTED,
          payload: {
            sessionId: next.id,
            identifiers: ['thedude', 'dude@example.com'],
            host: '10.1.1.1',
            at: h.clock.now(),
          },
        },
      ]);
    });

    it('replace without carrying attributes when carryAttributesOnLogin is off', async () => {
      await boot({ yosai: { carryAttributesOnLogin: false } });
      const guest = await h.manager.start({ attributes: { cart: [1] } });
      const next = await h.manager.replace(guest, { identifiers: ['walter'], authenticated: true });
      expect(next.attributeKeys).toEqual([]);
    });
  });

  describe('SessionManager store TTLs', () => {
    /** Records the TTL of every write. */
    class TtlStore extends CacheManagerSessionStore {
      readonly ttls: number[] = [];
      constructor() {
        super(createCache({ stores: [new Keyv({ store: new Map() })] }), { sweepIntervalMs: 0 });
      }
      override set(id: string, value: string, ttlMs: number) {
        this.ttls.push(ttlMs);
        return super.set(id, value, ttlMs);
      }
      override compareAndSet(id: string, expected: string, value: string, ttlMs: number) {
        this.ttls.push(ttlMs);
        return super.compareAndSet(id, expected, value, ttlMs);
      }
    }

    it('each write sets the TTL to the remaining lifetime plus the grace', async () => {
      const store = new TtlStore();
      await boot({
        store,
        yosai: {
          idleTimeoutMs: 60 * SEC,
          absoluteTimeoutMs: 100 * SEC,
          touchIntervalMs: 5 * SEC,
          expiredRecordGraceMs: 7 * SEC,
        },
      });
      const session = await h.manager.start();
      h.clock.advance(30 * SEC);
      await session.setAttribute('a', 1); // idle ends at +90 s, absolute at +100 s
      h.clock.advance(50 * SEC);
      valid(await h.manager.resolve(tokenOf(session))); // touch: idle would end at +140 s, absolute wins at +100 s
      expect(store.ttls).toEqual([60 * SEC + 7 * SEC + 1, 60 * SEC + 7 * SEC + 1, 20 * SEC + 7 * SEC + 1]);
    });
  });

  describe('SessionManager attribute values', () => {
    it('Dates round-trip as Dates', async () => {
      await boot();
      const session = await h.manager.start();
      const when = new Date('2026-03-04T05:06:07.089Z');
      await session.setAttribute('when', when);
      await session.setAttribute('nested', { list: [when, { at: when }] });
      const back = await reresolve(session);
      const got = back.getAttribute<Date>('when');
      expect(got).toBeInstanceOf(Date);
      expect(got!.getTime()).toBe(when.getTime());
      expect(back.getAttribute('nested')).toEqual({ list: [when, { at: when }] });
    });

    it.each([
      ['0', 0],
      ['false', false],
      ['empty string', ''],
      ['null', null],
      ['-0 as 0', 0],
      ['empty object', {}],
      ['empty array', []],
    ])('falsy or empty value %s round-trips', async (_, value) => {
      await boot();
      const session = await h.manager.start();
      await session.setAttribute('v', value);
      const back = await reresolve(session);
      expect(back.attributeKeys).toEqual(['v']);
      expect(back.getAttribute('v')).toStrictEqual(value);
    });

    it('falsy values set together round-trip, and start() accepts them too', async () => {
      await boot();
      const values = { zero: 0, no: false, empty: '', nothing: null };
      const session = await h.manager.start({ attributes: values });
      expect((await reresolve(session)).getAttributes()).toStrictEqual(values);
      await session.setAttributes({ zero2: 0, no2: false });
      expect((await reresolve(session)).getAttributes()).toStrictEqual({ ...values, zero2: 0, no2: false });
    });

    it('$-keys at any depth round-trip and cannot pass for a Date', async () => {
      await boot();
      const session = await h.manager.start();
      const value = {
        $d: '2020-01-01T00:00:00.000Z',
        $$d: 1,
        inner: { $: 'dollar', $x: [{ $d: 'not a date' }, { $$$: null }] },
      };
      await session.setAttribute('dollars', value);
      await session.setAttribute('$d', '2020-01-01T00:00:00.000Z');
      const back = await reresolve(session);
      expect(back.getAttribute('dollars')).toStrictEqual(value);
      expect(back.getAttribute('$d')).toBe('2020-01-01T00:00:00.000Z');
    });

    it('__proto__ keys round-trip as own data, without prototype pollution', async () => {
      await boot();
      const session = await h.manager.start();
      const hostile = JSON.parse(
        '{"__proto__": {"polluted": true}, "a": {"__proto__": {"polluted": true}}}',
      ) as object;
      await session.setAttribute('obj', hostile);
      await session.setAttribute('__proto__', { polluted: true });
      const back = await reresolve(session);

      const obj = back.getAttribute<Record<string, unknown>>('obj')!;
      expect(Object.getPrototypeOf(obj)).toBe(Object.prototype);
      expect(Object.prototype.hasOwnProperty.call(obj, '__proto__')).toBe(true);
      expect(Object.getOwnPropertyDescriptor(obj, '__proto__')!.value).toEqual({ polluted: true });
      expect((obj as { polluted?: unknown }).polluted).toBeUndefined();
      const a = obj.a as Record<string, unknown>;
      expect(Object.getPrototypeOf(a)).toBe(Object.prototype);
      expect((a as { polluted?: unknown }).polluted).toBeUndefined();

      expect(back.attributeKeys).toEqual(['obj', '__proto__']);
      expect(back.getAttribute('__proto__')).toEqual({ polluted: true });
      const all = back.getAttributes();
      expect(Object.getPrototypeOf(all)).toBe(Object.prototype);
      expect((all as { polluted?: unknown }).polluted).toBeUndefined();
      expect(({} as { polluted?: unknown }).polluted).toBeUndefined();

      await back.removeAttribute('__proto__');
      expect((await reresolve(session)).attributeKeys).toEqual(['obj']);
    });

    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;

    it.each([
      ['a function', () => 1],
      ['a symbol', Symbol('s')],
      ['a BigInt', 10n],
      ['a circular object', circular],
      ['a class instance', new Point(1, 2)],
      ['a Map', new Map([[1, 2]])],
      ['NaN', NaN],
      ['Infinity', Infinity],
      ['undefined', undefined],
      ['an invalid Date', new Date('nope')],
      ['a nested function', { deep: { fn: () => 1 } }],
      ['undefined in an array', [1, undefined]],
      ['a sparse array', [1, , 3]], // eslint-disable-line no-sparse-arrays
      ['a symbol-keyed object', { [Symbol('k')]: 1 }],
    ])('%s is refused with SessionSerializationError and nothing is written', async (_, value) => {
      await boot();
      const session = await h.manager.start({ attributes: { keep: 1 } });
      h.store.reset();
      await expect(session.setAttribute('bad', value)).rejects.toBeInstanceOf(SessionSerializationError);
      await expect(session.setAttributes({ fine: 1, bad: value })).rejects.toBeInstanceOf(
        SessionSerializationError,
      );
      await expect(h.manager.start({ attributes: { bad: value } })).rejects.toBeInstanceOf(
        SessionSerializationError,
      );
      expect(h.store.total).toBe(0);
      expect(session.attributeKeys).toEqual(['keep']);
      expect((await reresolve(session)).attributeKeys).toEqual(['keep']);
    });

    it.each([
      ['empty', ''],
      ['too long', 'k'.repeat(257)],
    ])('an attribute key that is %s is refused and nothing is written', async (_, key) => {
      await boot();
      const session = await h.manager.start();
      h.store.reset();
      await expect(session.setAttribute(key, 1)).rejects.toBeInstanceOf(SessionSerializationError);
      await expect(session.removeAttribute(key)).rejects.toBeInstanceOf(SessionSerializationError);
      expect(h.store.total).toBe(0);
    });

    it('the error names the path of the offending value', async () => {
      await boot();
      const session = await h.manager.start();
      const error = await session.setAttribute('cart', { items: [{ price: 1n }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SessionSerializationError);
      expect((error as SessionSerializationError).path).toBe('cart.items[0].price');
      expect((error as Error).message).toContain('cart.items[0].price');
    });
  });

  describe('SessionManager unreadable records', () => {
    const cases: [string, (valid: Record<string, unknown>) => string][] = [
      ['not JSON', () => '{"v":1,'],
      ['an older version this release does not read', (r) => JSON.stringify({ ...r, v: 0 })],
      ['no version', (r) => JSON.stringify({ ...r, v: undefined })],
      ['mistyped fields', (r) => JSON.stringify({ ...r, s: 'yesterday' })], // s: startedAt
      ['a JSON array', () => '[1,2,3]'],
      ['a JSON string', () => '"hello"'],
    ];

    it.each(cases)(
      'a record that is %s resolves to unknown, is removed and logged without the token',
      async (_, make) => {
        const logger = new CapturingLogger();
        await boot({ logger });
        const session = await h.manager.start({ attributes: { a: 1 } });
        const token = tokenOf(session);
        const stored = JSON.parse((await h.store.inner.get(session.id))!) as Record<string, unknown>;
        await h.store.inner.set(session.id, make(stored), 60_000);

        await expect(h.manager.resolve(token)).resolves.toEqual({ status: 'unknown' });
        expect(await h.store.inner.get(session.id)).toBeUndefined();
        const warnings = logger.lines.filter((l) => l.level === 'warn');
        expect(warnings).toHaveLength(1);
        expect(warnings[0].text).toContain(session.id);
        expect(logger.text()).not.toContain(token);
      },
    );

    it('a write to a session whose record became unreadable stops it instead of overwriting', async () => {
      await boot({ logger: new CapturingLogger() });
      const session = await h.manager.start();
      await h.store.inner.set(session.id, 'garbage', 60_000);
      await expect(session.setAttribute('a', 1)).rejects.toBeInstanceOf(StoppedSessionError);
      expect(await h.store.inner.get(session.id)).toBeUndefined();
    });
  });

  describe('SessionManager attribute writes', () => {
    it('a write never brings back a session deleted meanwhile', async () => {
      await boot();
      const session = await h.manager.start();
      const twin = await reresolve(session);
      await session.stop();
      await expect(twin.setAttribute('a', 1)).rejects.toBeInstanceOf(StoppedSessionError);
      expect(twin.isStopped).toBe(true);
      expect(await h.store.inner.get(session.id)).toBeUndefined();
    });

    it('a write to an expired session removes it and emits expired', async () => {
      await boot({ yosai: { idleTimeoutMs: 60 * SEC } });
      const session = await h.manager.start();
      h.events.clear();
      h.clock.advance(60 * SEC + 1);
      await expect(session.setAttribute('a', 1)).rejects.toMatchObject({
        name: 'ExpiredSessionError',
        kind: 'idle',
      });
      expect(await h.store.inner.get(session.id)).toBeUndefined();
      expect(h.events.events.map((e) => e.name)).toEqual(['yosai.session.expired']);
    });

    it('removeAttribute and touch write through', async () => {
      await boot();
      const session = await h.manager.start({ attributes: { a: 1, b: 2 } });
      expect(await session.removeAttribute('a')).toBe(1);
      h.clock.advance(SEC);
      await session.touch();
      const back = await reresolve(session);
      expect(back.attributeKeys).toEqual(['b']);
      expect(back.lastAccessedAt).toBe(h.clock.now());
    });
  });

  describe('SessionManager concurrency (in-memory store)', () => {
    it('50 concurrent setAttribute calls for distinct keys on one session all survive', async () => {
      await boot();
      const session = await h.manager.start();
      await Promise.all(Array.from({ length: 50 }, (_, i) => session.setAttribute(`k${i}`, i)));
      const back = await reresolve(session);
      expect(back.attributeKeys).toHaveLength(50);
      for (let i = 0; i < 50; i++) expect(back.getAttribute(`k${i}`)).toBe(i);
    });

    it('50 concurrent setAttribute calls through two Session objects of one token all survive (compare-and-set)', async () => {
      await boot();
      const session = await h.manager.start();
      const a = await reresolve(session);
      const b = await reresolve(session);
      expect(a).not.toBe(b);
      h.store.reset();
      await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).setAttribute(`k${i}`, i)));
      const back = await reresolve(session);
      expect(back.attributeKeys).toHaveLength(50);
      for (let i = 0; i < 50; i++) expect(back.getAttribute(`k${i}`)).toBe(i);
      // Interleaved writers conflict: some compare-and-set attempts failed and were retried on a fresh read.
      expect(h.store.counts.compareAndSet).toBeGreaterThan(50);
      expect(h.store.counts.get).toBe(h.store.counts.compareAndSet - 50 + 1);
    });

    it('20 concurrent resolutions of one expired session emit exactly one expired', async () => {
      await boot({ yosai: { idleTimeoutMs: 60 * SEC } });
      const session = await h.manager.start({ identifiers: ['walter'] });
      h.events.clear();
      h.clock.advance(60 * SEC + 1);
      const results = await Promise.all(
        Array.from({ length: 20 }, () => h.manager.resolve(tokenOf(session))),
      );
      // Resolutions that read the record before the first one removed it report the expiry; with synchronous
      // reads the first removes it before the next one reads, and those find nothing ('unknown').
      expect(results[0]).toEqual({ status: 'expired', reason: 'idle' });
      for (const r of results.slice(1)) {
        expect(r).toEqual(sync ? { status: 'unknown' } : { status: 'expired', reason: 'idle' });
      }
      expect(h.events.events).toEqual([
        {
          name: 'yosai.session.expired',
          payload: { sessionId: session.id, identifiers: ['walter'], reason: 'idle', at: h.clock.now() },
        },
      ]);
    });
  });

  describe('decoded records are shared, never stale', () => {
    it('the identifiers a session hands out cannot be changed, nor can a change reach the next request', async () => {
      await boot();
      const session = await h.manager.start({ identifiers: ['thedude'], authenticated: true });
      const first = await reresolve(session);
      expect(() => (first.identifiers as string[]).push('walter')).toThrow(TypeError);
      expect((await reresolve(session)).identifiers).toEqual(['thedude']);
    });

    it('a write by another manager sharing the store is seen by the next resolution', async () => {
      const shared = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
      const other = await createManagerHarness({ store: shared, syncReads });
      try {
        await boot({ store: shared });
        const session = await h.manager.start({ attributes: { n: 1 } });
        expect((await reresolve(session)).getAttribute('n')).toBe(1);
        const there = await other.manager.resolve(tokenOf(session));
        if (there.status !== 'valid') throw new Error(there.status);
        await there.session.setAttribute('n', 2);
        expect((await reresolve(session)).getAttribute('n')).toBe(2);
        await there.session.stop();
        await expect(h.manager.resolve(tokenOf(session))).resolves.toEqual({ status: 'unknown' });
      } finally {
        await other.moduleRef.close();
      }
    });

    it('a store that throws while reading fails the resolution with SessionStoreError', async () => {
      class BrokenMap extends Map<string, unknown> {
        override get(): never {
          throw new Error('disk on fire');
        }
      }
      await boot({
        store: new CacheManagerSessionStore(createCache({ stores: [new Keyv({ store: new BrokenMap() })] })),
      });
      await expect(h.manager.resolve('a'.repeat(43))).rejects.toBeInstanceOf(SessionStoreError);
    });
  });
});
