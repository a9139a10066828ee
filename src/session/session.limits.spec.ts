import { createManagerHarness, type ManagerHarness } from '../../test/support/manager-module.js';
import { SessionLimitError } from '../errors/yosai.errors.js';

describe('session limits (maxAttributes, maxRecordBytes)', () => {
  let h: ManagerHarness;
  afterEach(() => h?.close());

  async function storedOf(id: string) {
    const raw = (await h.store.inner.get(id))!;
    return { bytes: Buffer.byteLength(raw), attributes: Object.keys(JSON.parse(raw).at as object).length };
  }

  it('defaults: 100 attributes, 64 KiB', async () => {
    h = await createManagerHarness();
    const session = await h.manager.start();
    const hundred = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
    await session.setAttributes(hundred);
    const refused = await session.setAttribute('one-more', 1).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SessionLimitError);
    expect(refused).toMatchObject({ limit: 'maxAttributes', max: 100, actual: 101, sessionId: session.id });
    expect((await storedOf(session.id)).attributes).toBe(100);

    const other = await h.manager.start();
    await expect(other.setAttribute('big', 'x'.repeat(64 * 1024))).rejects.toMatchObject({
      limit: 'maxRecordBytes',
      max: 65_536,
    });
    await other.setAttribute('fits', 'x'.repeat(60 * 1024));
    expect((await storedOf(other.id)).bytes).toBeLessThanOrEqual(65_536);
  });

  it('a refused write writes nothing, and later writes within the limits still work', async () => {
    h = await createManagerHarness({ yosai: { maxAttributes: 3 } });
    const session = await h.manager.start({ attributes: { a: 1, b: 2 } });
    const writes = h.store.counts.compareAndSet;
    await expect(session.setAttributes({ c: 3, d: 4 })).rejects.toBeInstanceOf(SessionLimitError);
    expect(h.store.counts.compareAndSet).toBe(writes);
    expect(session.attributeKeys.sort()).toEqual(['a', 'b']);
    await session.setAttribute('a', 10); // replacing a key does not add one
    await session.setAttribute('c', 3);
    expect((await storedOf(session.id)).attributes).toBe(3);
  });

  it('counts bytes, not characters', async () => {
    h = await createManagerHarness({ yosai: { maxRecordBytes: 2048 } });
    const session = await h.manager.start();
    // 700 characters of 3 UTF-8 bytes each: 2100 bytes, though only 700 characters.
    await expect(session.setAttribute('s', '€'.repeat(700))).rejects.toMatchObject({
      limit: 'maxRecordBytes',
    });
    await session.setAttribute('s', 'e'.repeat(700));
  });

  it('startSession with initial attributes is checked too: nothing is stored, no event', async () => {
    h = await createManagerHarness({ yosai: { maxAttributes: 2 } });
    const before = h.store.counts.set;
    await expect(h.manager.startSession({ attributes: { a: 1, b: 2, c: 3 } })).rejects.toMatchObject({
      limit: 'maxAttributes',
    });
    expect(h.store.counts.set).toBe(before);
    expect(h.events.named('yosai.session.started')).toEqual([]);
  });

  it('a session over a lowered limit can still shrink, and a login still carries it', async () => {
    const { CacheManagerSessionStore, ManualClock } = await import('../index.js');
    const shared = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
    const clock = new ManualClock();
    const before = await createManagerHarness({ store: shared, yosai: { clock, maxAttributes: 10 } });
    const { token } = await before.manager.startSession({
      attributes: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`k${i}`, i])),
    });
    h = await createManagerHarness({ store: shared, yosai: { clock, maxAttributes: 4 } });
    try {
      const resolved = await h.manager.resolve(token);
      if (resolved.status !== 'valid') throw new Error(resolved.status);
      const session = resolved.session;
      await expect(session.setAttribute('k9', 9)).rejects.toBeInstanceOf(SessionLimitError);
      await session.removeAttribute('k0');
      expect(session.attributeKeys).toHaveLength(5);
      const { session: user } = await h.manager.replaceSession(session, {
        identifiers: ['walter'],
        authenticated: true,
      });
      expect(user.attributeKeys).toHaveLength(5);
    } finally {
      await before.close();
    }
  });

  it('concurrent writers of different keys cannot pass the limit together', async () => {
    h = await createManagerHarness({ yosai: { maxAttributes: 10 } });
    const { token } = await h.manager.startSession();
    // Each write through its own Session object (as separate requests would): they race on compare-and-set.
    const sessions = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const r = await h.manager.resolve(token);
        if (r.status !== 'valid') throw new Error(r.status);
        return r.session;
      }),
    );
    const results = await Promise.allSettled(sessions.map((s, i) => s.setAttribute(`k${i}`, i)));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter(
      (r) => r.status === 'rejected' && r.reason instanceof SessionLimitError,
    ).length;
    const id = sessions[0].id;
    expect((await storedOf(id)).attributes).toBe(ok);
    expect(ok).toBeLessThanOrEqual(10);
    expect(refused).toBeGreaterThan(0);
  });
});
