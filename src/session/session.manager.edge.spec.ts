import { UsernamePasswordToken, type Subject } from '../index.js';
import {
  CapturingLogger,
  createManagerHarness,
  type ManagerHarness,
} from '../../test/support/manager-module.js';
import { RECORD_FORMAT_V1, RecordCodec } from './record.codec.js';

const decodeRecord = (raw: string) => new RecordCodec().decode(raw);
const encodeRecord = RECORD_FORMAT_V1.encode;
import { MapRealm, TEST_HASHING, USERS } from '../../test/support/test-app.js';

describe('SessionManager edge cases', () => {
  let h: ManagerHarness;
  const logger = new CapturingLogger();

  beforeEach(async () => {
    h = await createManagerHarness({
      yosai: { realm: await MapRealm.create(USERS), passwordHashing: TEST_HASHING },
      logger,
    });
  });
  afterEach(() => h.close());

  async function tokenOfNewGuest(attributes: Record<string, unknown>): Promise<string> {
    let token: string | null = null;
    const subject = await h.subjects.fromToken(null, { onToken: (t) => (token = t) });
    await (await subject.getSession()).setAttributes(attributes);
    return token!;
  }

  it('a login that loses the race with a logout carries nothing from the ended session', async () => {
    const token = await tokenOfNewGuest({ cart: ['rug'] });
    // Two requests resolved the same session; the logout finishes before the login replaces it.
    const loggingIn: Subject = await h.subjects.fromToken(token);
    const loggingOut: Subject = await h.subjects.fromToken(token);
    await loggingOut.logout();
    h.events.clear();

    await loggingIn.login(new UsernamePasswordToken('thedude', USERS.thedude));

    expect(loggingIn.isAuthenticated).toBe(true);
    expect(loggingIn.session!.getAttribute('cart')).toBeUndefined();
    // The logout already reported the stop; the replacement removed nothing, so it reports none.
    expect(h.events.named('yosai.session.stopped')).toEqual([]);
    expect(h.events.named('yosai.session.started')).toHaveLength(1);
  });

  it('a login that wins carries the attributes and reports the old session as regenerated', async () => {
    const token = await tokenOfNewGuest({ cart: ['rug'] });
    const subject = await h.subjects.fromToken(token);
    h.events.clear();
    await subject.login(new UsernamePasswordToken('thedude', USERS.thedude));
    expect(subject.session!.getAttribute('cart')).toEqual(['rug']);
    expect(h.events.named('yosai.session.stopped').map((e) => e.reason)).toEqual(['regenerated']);
    expect((await h.subjects.fromToken(token)).tokenStatus).toBe('unknown');
  });

  async function forge(times: { startedAt: number; lastAccessedAt: number }) {
    const token = await tokenOfNewGuest({ n: 1 });
    const { sessionIdOf } = await import('./session-token.js');
    const id = sessionIdOf(token);
    const stored = decodeRecord((await h.store.get(id))!);
    const now = h.clock.now();
    const forged = {
      ...stored,
      startedAt: now + times.startedAt,
      lastAccessedAt: now + times.lastAccessedAt,
    };
    await h.store.set(id, encodeRecord(forged), 60_000);
    logger.lines.length = 0;
    return { token, id };
  }

  it.each([
    [
      'started further ahead than a session lives',
      { startedAt: +9 * 60 * 60_000, lastAccessedAt: +9 * 60 * 60_000 },
    ],
    ['last accessed before it started', { startedAt: 0, lastAccessedAt: -1 }],
  ])('a record %s is discarded, not kept forever', async (_label, times) => {
    const { token, id } = await forge(times);

    const subject = await h.subjects.fromToken(token);

    expect(subject.tokenStatus).toBe('unknown');
    expect(await h.store.get(id)).toBeUndefined();
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].text).toContain(id);
    expect(warnings[0].text).not.toContain(token);
  });

  it.each([
    ['started 6 minutes ahead', { startedAt: +6 * 60_000, lastAccessedAt: +6 * 60_000 }],
    ['last accessed 10 minutes ahead', { startedAt: 0, lastAccessedAt: +10 * 60_000 }],
  ])(
    'a record %s (another instance whose clock runs ahead) is served and kept, and the skew logged as an error',
    async (_label, times) => {
      const { token, id } = await forge(times);

      for (let i = 0; i < 3; i++) expect((await h.subjects.fromToken(token)).tokenStatus).toBe('valid');

      expect(await h.store.get(id)).toBeDefined();
      const errors = logger.lines.filter((l) => l.level === 'error');
      expect(errors).toHaveLength(1); // once, not per request
      expect(errors[0].text).toContain('clock runs ahead');
      expect(errors[0].text).not.toContain(token);
    },
  );

  it('a record written by a newer release is left in the store, and the client keeps its token', async () => {
    const { sessionIdOf } = await import('./session-token.js');
    let token: string | null = null;
    const subject = await h.subjects.fromToken(null, { onToken: (t) => (token = t) });
    await subject.getSession();
    const id = sessionIdOf(token!);
    const newer = JSON.stringify({ v: 99, anything: 'a future release stores' });
    await h.store.set(id, newer, 60_000);
    const seen: (string | null)[] = [];

    const again = await h.subjects.fromToken(token, { onToken: (t) => seen.push(t) });

    expect(again.tokenStatus).toBe('unknown');
    expect(again.isAuthenticated).toBe(false);
    expect(await h.store.get(id)).toBe(newer);
    expect(seen).toEqual([]); // no clearing of the token
  });

  it('clock skew within five minutes is tolerated', async () => {
    const token = await tokenOfNewGuest({ n: 1 });
    const { sessionIdOf } = await import('./session-token.js');
    const id = sessionIdOf(token);
    const stored = decodeRecord((await h.store.get(id))!);
    const now = h.clock.now();
    await h.store.set(
      id,
      encodeRecord({ ...stored, startedAt: now + 60_000, lastAccessedAt: now + 60_000 }),
      60_000,
    );
    expect((await h.subjects.fromToken(token)).tokenStatus).toBe('valid');
  });

  it('reports the timeouts in force: a session made under longer timeouts is capped by the current ones', async () => {
    const { CacheManagerSessionStore, ManualClock } = await import('../index.js');
    const shared = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
    const clock = new ManualClock();
    const before = await createManagerHarness({
      store: shared,
      yosai: {
        clock,
        idleTimeoutMs: 60 * 60_000,
        guestIdleTimeoutMs: 60 * 60_000,
        absoluteTimeoutMs: 10 * 60 * 60_000,
      },
    });
    const after = await createManagerHarness({
      store: shared,
      yosai: {
        clock,
        idleTimeoutMs: 10 * 60_000,
        guestIdleTimeoutMs: 10 * 60_000,
        absoluteTimeoutMs: 60 * 60_000,
        touchIntervalMs: 60_000,
      },
    });
    try {
      let token: string | null = null;
      const made = await before.subjects.fromToken(null, { onToken: (t) => (token = t) });
      const session = await made.getSession();
      expect(session.idleTimeoutMs).toBe(60 * 60_000);
      expect(session.expiresAt).toBe(clock.now() + 60 * 60_000);

      const seen = (await after.subjects.fromToken(token)).session!;
      expect(seen.idleTimeoutMs).toBe(10 * 60_000);
      expect(seen.absoluteTimeoutMs).toBe(60 * 60_000);
      expect(seen.expiresAt).toBe(session.lastAccessedAt + 10 * 60_000);
      clock.advance(10 * 60_000 + 1);
      expect((await after.subjects.fromToken(token)).tokenStatus).toBe('expired');
    } finally {
      await before.close();
      await after.close();
    }
  });
});
