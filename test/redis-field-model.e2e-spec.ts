// The field model on real Redis (shared server, own namespace): concurrent writers of distinct keys on two app
// instances never conflict, a write carries only what changed, a write never revives a stopped session, and
// records written by the string model (0.1 and 0.2 before the field model) are read and converted in place.
import { randomBytes } from 'node:crypto';
import { ManualClock, StoppedSessionError, type SessionStore } from '../src/index.js';
import { RecordCodec, type SessionRecord } from '../src/session/record.codec.js';
import { generateToken, principalBucket, sessionIdOf } from '../src/session/session-token.js';
import { tokenOf } from '../src/session/session.js';
import { bucketTag, sessionBucketOf } from '../src/store/session-tag.js';
import { createManagerHarness, type ManagerHarness } from './support/manager-module.js';
import { redisAvailable, redisSessionStore } from './support/redis.js';

const hasRedis = await redisAvailable('Redis field model');
const maybe = hasRedis ? describe : describe.skip;
const NS = `yosai-fields-${process.pid}-${randomBytes(3).toString('hex')}`;
/** The JSON of an array nested `depth` levels deep. */
const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

maybe('Redis field model', () => {
  const opened: { close(): Promise<void> }[] = [];
  let raw: ReturnType<typeof redisSessionStore>;

  beforeAll(() => {
    raw = redisSessionStore(NS);
  });
  afterEach(async () => {
    for (const h of opened.splice(0)) await h.close();
  });
  afterAll(async () => {
    const client = await raw.adapter.getClient();
    const keys = await client.keys(`${NS}::*`);
    if (keys.length) await client.del(keys);
    await raw.close();
  });

  /** An app instance: its own connection to the namespace, its own SessionManager. */
  async function instance(clock: ManualClock, store?: SessionStore): Promise<ManagerHarness> {
    const r = redisSessionStore(NS);
    const h = await createManagerHarness({ store: store ?? r.store, yosai: { clock, maxAttributes: 1_000 } });
    opened.push({ close: () => h.close().then(() => r.close()) });
    return h;
  }

  const fieldKey = (id: string) => `${NS}::yosai:sess:{${bucketTag(sessionBucketOf(id))}}${id}`;
  const stringKey = (id: string) => `${NS}::yosai:sess:${id}`;

  it('200 concurrent writers of distinct keys on two instances: no failure, all 200 keys kept', async () => {
    const clock = new ManualClock();
    const one = await instance(clock);
    const two = await instance(clock);
    const started = await one.manager.start({ identifiers: ['thedude'], authenticated: true });
    const a = await one.manager.resolve(tokenOf(started));
    const b = await two.manager.resolve(tokenOf(started));
    if (a.status !== 'valid' || b.status !== 'valid') throw new Error('not valid');
    one.store.patches.length = 0;
    two.store.patches.length = 0;
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a.session : b.session).setAttribute(`k${i}`, i)),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const back = await two.manager.resolve(tokenOf(started));
    if (back.status !== 'valid') throw new Error('not valid');
    expect(back.session.attributeKeys).toHaveLength(200);
    for (let i = 0; i < 200; i++) expect(await back.session.getAttribute(`k${i}`)).toBe(i);
    // One patch per write, each carrying its own attribute only.
    const patches = [...one.store.patches, ...two.store.patches];
    expect(patches).toHaveLength(200);
    for (const patch of patches) {
      expect(patch.set).toHaveLength(1);
      expect(patch.convert).toBeUndefined();
    }
  });

  it('a write sends what changed, whatever the size of the session', async () => {
    const h = await instance(new ManualClock());
    const big = await h.manager.start({ attributes: { blob: 'x'.repeat(30_000) } });
    h.store.patches.length = 0;
    await big.setAttribute('small', 1);
    expect(h.store.patches).toHaveLength(1);
    expect(JSON.stringify(h.store.patches[0]).length).toBeLessThan(300);
    const client = await raw.adapter.getClient();
    const fields = await client.hGetAll(fieldKey(big.id));
    expect(fields['a:small']).toBe('1');
    expect(fields['a:blob']).toHaveLength(30_002);
  });

  it('a principal’s sessions share a bucket (one hash slot); a guest’s id falls anywhere', async () => {
    const h = await instance(new ManualClock());
    const bucket = principalBucket('walter');
    for (let i = 0; i < 5; i++) {
      const { session, token } = await h.manager.startSession({
        identifiers: ['walter'],
        authenticated: true,
      });
      expect(sessionBucketOf(session.id)).toBe(bucket);
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    const buckets = new Set<number>();
    for (let i = 0; i < 20; i++) buckets.add(sessionBucketOf((await h.manager.start()).id));
    expect(buckets.size).toBeGreaterThan(1);
  });

  it('the deepest value a write accepts is read back on another instance', async () => {
    const clock = new ManualClock();
    const one = await instance(clock);
    const two = await instance(clock);
    // 64 levels of arrays around a Date, whose stored form is one more level ({"$d": …}).
    let value: unknown = new Date(0);
    for (let i = 0; i < 64; i++) value = [value];
    const started = await one.manager.start();
    await started.setAttribute('deep', value);
    const read = await two.manager.resolve(tokenOf(started));
    if (read.status !== 'valid') throw new Error(`not valid: ${read.status}`);
    expect(read.session.getAttribute('deep')).toEqual(value);
  });

  it('a write never revives a session stopped on the other instance', async () => {
    const clock = new ManualClock();
    const one = await instance(clock);
    const two = await instance(clock);
    const started = await one.manager.start({ attributes: { a: 1 } });
    const onTwo = await two.manager.resolve(tokenOf(started));
    if (onTwo.status !== 'valid') throw new Error('not valid');
    await started.stop();
    await expect(onTwo.session.setAttribute('b', 2)).rejects.toBeInstanceOf(StoppedSessionError);
    const client = await raw.adapter.getClient();
    expect(await client.exists([fieldKey(started.id), stringKey(started.id)])).toBe(0);
  });

  describe('a corrupt or foreign field record', () => {
    const meta = (over: Record<string, unknown> = {}) =>
      JSON.stringify({ v: 2, s: 0, i: 60_000, x: 86_400_000, h: null, u: ['thedude'], au: true, ...over });
    /** Writes `fields` under a fresh token's field key, resolves the token, and says what became of the key. */
    async function present(clock: ManualClock, fields: Record<string, string>) {
      const h = await instance(clock);
      const token = generateToken();
      const id = sessionIdOf(token);
      const client = await raw.adapter.getClient();
      await client.hSet(fieldKey(id), { v: '1', n: '0', b: '0', ...fields });
      await client.pExpire(fieldKey(id), 60_000);
      const resolved = await h.manager.resolve(token);
      return { resolved, kept: (await client.exists(fieldKey(id))) === 1 };
    }

    it('a readable one is honoured (so each case below fails for its own fault)', async () => {
      const clock = new ManualClock();
      const { resolved } = await present(clock, { m: meta({ s: clock.now() }), l: String(clock.now()) });
      expect(resolved.status).toBe('valid');
    });

    it.each([
      ['metadata missing', { l: '0' }],
      ['access time missing', { m: meta() }],
      ['metadata not JSON', { m: '{', l: '0' }],
      ['metadata mistyped', { m: meta({ au: 'yes' }), l: '0' }],
      ['an attribute not JSON', { m: meta(), l: '0', 'a:x': '{' }],
      ['an unknown version', { m: meta({ v: 'two' }), l: '0' }],
    ])('%s: no session, and the record is removed', async (_, fields) => {
      const clock = new ManualClock();
      const at = String(clock.now());
      const patched = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, k === 'l' ? at : v]));
      const { resolved, kept } = await present(clock, patched);
      expect(resolved).toEqual({ status: 'unknown' });
      expect(kept).toBe(false);
    });

    it('an attribute nested 200,000 levels deep: no session, and the record is removed (never a RangeError)', async () => {
      const clock = new ManualClock();
      const now = clock.now();
      const m = `2,${now.toString(36)},${(1_800_000).toString(36)},${(28_800_000).toString(36)},1,null,["thedude"]`;
      const { resolved, kept } = await present(clock, { m, l: String(now), 'a:d': deep(200_000) });
      expect(resolved).toEqual({ status: 'unknown' });
      expect(kept).toBe(false);
    });

    // The store's scripts read these fields with Lua's `tonumber` and Redis's HINCRBY: a value JavaScript's Number
    // reads and they do not would make every later touch or write of the session fail (a 503 until its TTL ends).
    it.each([
      ['an access time in binary', (now: number) => ({ l: `0b${now.toString(2)}` })],
      ['an access time in hexadecimal', (now: number) => ({ l: `0x${now.toString(16)}` })],
      ['an access time with an exponent', (now: number) => ({ l: `${now / 1000}e3` })],
      ['an access time padded with spaces', (now: number) => ({ l: ` ${now} ` })],
      ['a version that is not an integer', () => ({ v: '1.5' })],
      ['an attribute count that is not a number', () => ({ n: 'none' })],
      ['a byte total with a separator', () => ({ b: '1_000' })],
    ])('%s: no session, and the record is removed', async (_, fault) => {
      const clock = new ManualClock();
      const now = clock.now();
      const { resolved, kept } = await present(clock, { m: meta({ s: now }), l: String(now), ...fault(now) });
      expect(resolved).toEqual({ status: 'unknown' });
      expect(kept).toBe(false);
    });

    it('a newer release’s record is left alone', async () => {
      const clock = new ManualClock();
      const { resolved, kept } = await present(clock, { m: meta({ v: 3 }), l: String(clock.now()) });
      expect(resolved).toEqual({ status: 'unknown', newer: true });
      expect(kept).toBe(true);
    });
  });

  describe('records of the string model (written as 0.1 and 0.2 before the field model wrote them)', () => {
    const codec = new RecordCodec();
    function legacyRecord(now: number, attributes: Record<string, unknown>): SessionRecord {
      return {
        startedAt: now,
        lastAccessedAt: now,
        idleTimeoutMs: 30 * 60_000,
        absoluteTimeoutMs: 24 * 60 * 60_000,
        host: '10.0.0.7',
        identifiers: ['thedude'],
        authenticated: true,
        attributes,
      };
    }
    /** A session as the string model stores it: `SET <prefix><id> <envelope> PX ttl`. */
    async function writeLegacy(now: number, attributes: Record<string, unknown>) {
      const token = generateToken();
      const id = sessionIdOf(token);
      const stringStore = redisSessionStore(NS, undefined, { fieldRecords: false });
      const envelope = codec.encode(legacyRecord(now, attributes)).raw;
      await stringStore.store.set(id, envelope, 60 * 60_000);
      await stringStore.close();
      return { token, id, envelope };
    }

    it('are read, and converted in place (a hash under the same key) on their next write: nobody is signed out', async () => {
      const clock = new ManualClock();
      const h = await instance(clock);
      const { token, id } = await writeLegacy(clock.now(), { cart: ['ball'], lane: 7 });
      const client = await raw.adapter.getClient();
      expect(await client.type(stringKey(id))).toBe('string');

      const first = await h.manager.resolve(token);
      if (first.status !== 'valid') throw new Error(`not valid: ${first.status}`);
      expect(first.session.identifiers).toEqual(['thedude']);
      expect(await first.session.getAttribute('cart')).toEqual(['ball']);

      await first.session.setAttribute('shoes', 42);
      expect(await client.type(stringKey(id))).toBe('hash');
      expect(await client.exists(fieldKey(id))).toBe(0);
      expect(await client.hGetAll(stringKey(id))).toMatchObject({
        'a:cart': '["ball"]',
        'a:lane': '7',
        'a:shoes': '42',
        n: '3',
        v: '1',
      });
      expect(await client.pTTL(stringKey(id))).toBeGreaterThan(0);

      // Another instance reads the converted record, and writes it (in place) too.
      const other = await instance(clock);
      const again = await other.manager.resolve(token);
      if (again.status !== 'valid') throw new Error(`not valid: ${again.status}`);
      expect(await again.session.getAttribute('lane')).toBe(7);
      expect(await again.session.getAttribute('shoes')).toBe(42);
      await again.session.removeAttribute('lane');
      expect(await client.hGet(stringKey(id), 'n')).toBe('2');
      await again.session.stop();
      expect(await client.exists(stringKey(id))).toBe(0);
    });

    it('a write refused by a limit still converts, and the record keeps its TTL', async () => {
      const clock = new ManualClock();
      const r = redisSessionStore(NS);
      const h = await createManagerHarness({ store: r.store, yosai: { clock, maxAttributes: 1 } });
      opened.push({ close: () => h.close().then(() => r.close()) });
      const { token, id } = await writeLegacy(clock.now(), { a: 1 });
      const held = await h.manager.resolve(token);
      if (held.status !== 'valid') throw new Error('not valid');
      await expect(held.session.setAttribute('b', 2)).rejects.toMatchObject({ limit: 'maxAttributes' });
      const client = await raw.adapter.getClient();
      expect(await client.type(stringKey(id))).toBe('hash');
      expect(await client.hGet(stringKey(id), 'a:b')).toBeNull();
      const pttl = await client.pTTL(stringKey(id));
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(60 * 60_000);
    });

    it('a touch converts too', async () => {
      const clock = new ManualClock();
      const h = await instance(clock);
      const { token, id } = await writeLegacy(clock.now(), { a: 1 });
      clock.advance(120_000);
      expect((await h.manager.resolve(token)).status).toBe('valid');
      const client = await raw.adapter.getClient();
      expect(await client.hGet(stringKey(id), 'l')).toBe(String(clock.now()));
      expect(await client.hGet(stringKey(id), 'a:a')).toBe('1');
    });

    it('one with an attribute nested 200,000 levels deep is no session when its touch is due, and is removed', async () => {
      const clock = new ManualClock();
      const h = await instance(clock);
      const token = generateToken();
      const id = sessionIdOf(token);
      const now = clock.now();
      const envelope =
        `{"v":1,"s":${now},"l":${now},"i":1800000,"x":28800000,"h":null,"u":["thedude"],"au":true,` +
        `"at":{"d":${deep(200_000)}}}`;
      const client = await raw.adapter.getClient();
      await client.set(stringKey(id), envelope, { PX: 60 * 60_000 });
      clock.advance(120_000);
      expect(await h.manager.resolve(token)).toEqual({ status: 'unknown' });
      expect(await client.exists(stringKey(id))).toBe(0);
    });

    it('a string changed since it was read (an instance of the earlier release wrote it) is read again: both writes kept', async () => {
      const clock = new ManualClock();
      const h = await instance(clock);
      const { token, id, envelope } = await writeLegacy(clock.now(), { a: 1 });
      const held = await h.manager.resolve(token);
      if (held.status !== 'valid') throw new Error('not valid');
      // An instance of the earlier release changes the record by compare-and-set, as it does.
      const changed = codec.encode(legacyRecord(clock.now(), { a: 1, old: 'release' })).raw;
      expect(await raw.store.compareAndSet(id, envelope, changed, 60 * 60_000)).toBe(true);

      await held.session.setAttribute('new', 'release');
      const client = await raw.adapter.getClient();
      expect(await client.hGetAll(stringKey(id))).toMatchObject({
        'a:a': '1',
        'a:old': '"release"',
        'a:new': '"release"',
      });
    });
  });
});
