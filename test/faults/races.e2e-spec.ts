// Races, against one shared store seen by two app instances (two SessionManagers, so no in-process queue
// serialises them): login vs logout, a burst across an expiry, and writes in flight while a session stops.
import {
  CacheManagerSessionStore,
  ManualClock,
  SubjectFactory,
  UsernamePasswordToken,
  YOSAI_SESSION_EXPIRED,
  YOSAI_SESSION_STOPPED,
  type SessionStore,
  type Subject,
} from '../../src/index.js';
import { CountingStore } from '../support/counting-store.js';
import { redisAvailable, redisStorePair } from '../support/redis.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { idOf, prng, storedRecord } from './fault-kit.js';

const IDLE = 60_000;
const ROUNDS = 50;

/** A store wrapper that can run a hook on the n-th read (to move the clock in the middle of a burst). */
class HookedStore extends CountingStore {
  onGet: ((n: number) => void) | null = null;
  private hookedReads = 0;
  override get(id: string) {
    this.hookedReads++;
    this.onGet?.(this.hookedReads);
    return super.get(id);
  }
}

interface Pair {
  a: TestApp;
  b: TestApp;
  sa: SubjectFactory;
  sb: SubjectFactory;
  clock: ManualClock;
  hooked: HookedStore;
  peek: SessionStore;
  close(): Promise<void>;
}

/** Yields to the event loop `n` times, a mix of microtasks and macrotasks, to shuffle interleavings. */
async function jitter(r: ReturnType<typeof prng>) {
  for (let i = r.int(0, 4); i > 0; i--) {
    if (r.next() < 0.5) await Promise.resolve();
    else await new Promise((res) => setImmediate(res));
  }
}

const targets = ['memory', 'redis'] as const;

describe.each(targets)('races (%s store, two instances)', (kind) => {
  let p: Pair;
  let run = true;
  const r = prng(kind === 'memory' ? 11 : 12);

  beforeAll(async () => {
    if (kind === 'redis' && !(await redisAvailable('races (redis)'))) {
      run = false;
      return;
    }
    const clock = new ManualClock();
    const namespace = `yosai-faults-races-${process.pid}`;
    let storeA: SessionStore;
    let storeB: SessionStore;
    const closers: (() => Promise<void>)[] = [];
    if (kind === 'memory') {
      storeA = storeB = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
    } else {
      const pair = redisStorePair(namespace);
      storeA = pair.a;
      storeB = pair.b;
      closers.push(pair.close);
    }
    const hooked = new HookedStore(storeA);
    const options = { clock, idleTimeoutMs: IDLE, touchIntervalMs: 0, cookie: { secure: false } as const };
    const a = await createTestApp({ platform: 'express', yosai: { ...options, store: hooked } });
    const b = await createTestApp({ platform: 'express', yosai: { ...options, store: storeB } });
    p = {
      a,
      b,
      sa: a.app.get(SubjectFactory),
      sb: b.app.get(SubjectFactory),
      clock,
      hooked,
      peek: storeB,
      close: async () => {
        await a.close();
        await b.close();
        for (const c of closers) await c();
      },
    };
  });
  afterAll(async () => {
    if (run) await p.close();
  });

  const events = (name: string, id: string) =>
    [...p.a.events.named(name), ...p.b.events.named(name)].filter((e) => e.sessionId === id);

  /** A new guest session with an attribute; returns its token. */
  async function newSession(): Promise<string> {
    let token = '';
    const s = await p.sa.fromToken(null, { onToken: (t) => (token = t ?? '') });
    await (await s.getSession()).setAttribute('cart', [1, 2]);
    return token;
  }

  it(`login and logout racing on one session (${ROUNDS} rounds): old token dead, one stop, at most one live session`, async () => {
    if (!run) return;
    const outcomes = new Map<string, number>();
    /** How long a login takes here (scrypt): the logout starts at a random point within it. */
    let loginMs = 5;
    for (let round = 0; round < ROUNDS; round++) {
      const old = await newSession();
      let next: string | null = null;
      const login = async () => {
        const started = performance.now();
        await jitter(r);
        const s = await (round % 2 ? p.sa : p.sb).fromToken(old, { onToken: (t) => (next = t) });
        await jitter(r);
        await s.login(new UsernamePasswordToken('thedude', 'letsgobowling'));
        loginMs = (loginMs + (performance.now() - started)) / 2;
      };
      const logout = async () => {
        await new Promise((res) => setTimeout(res, r.next() * loginMs * 1.5));
        await jitter(r);
        const s = await (round % 2 ? p.sb : p.sa).fromToken(old);
        await jitter(r);
        await s.logout();
      };
      const settled = await Promise.allSettled([login(), logout()]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled']);

      // The old token is dead whoever won, and it was stopped exactly once.
      expect((await p.sb.fromToken(old)).tokenStatus).toBe('unknown');
      expect(await storedRecord(p.peek, idOf(old))).toBeUndefined();
      const stops = events(YOSAI_SESSION_STOPPED, idOf(old));
      expect(stops).toHaveLength(1);
      outcomes.set(String(stops[0].reason), (outcomes.get(String(stops[0].reason)) ?? 0) + 1);
      // The login's session (if it got one) is authenticated and was not stopped by the logout.
      expect(next).not.toBeNull();
      const after = await p.sa.fromToken(next);
      expect(after.tokenStatus).toBe('valid');
      expect(after.isAuthenticated).toBe(true);
      expect(after.identifiers).toEqual(['thedude']);
      expect(events(YOSAI_SESSION_STOPPED, idOf(next!))).toHaveLength(0);
      await after.logout();
    }
    // Both orders happened (otherwise the race was not a race).
    expect([...outcomes.keys()].sort()).toEqual(['logout', 'regenerated']);
  });

  it('a burst of 50 requests across an expiry (clock moved mid-burst): exactly one expired event, no resurrection', async () => {
    if (!run) return;
    for (let round = 0; round < 20; round++) {
      const token = await newSession();
      p.clock.advance(IDLE / 2);
      const at = r.int(1, 50);
      let reads = 0;
      p.hooked.onGet = () => {
        if (++reads === at) p.clock.advance(IDLE + 1);
      };
      const statuses = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          await jitter(r);
          const s: Subject = await (i % 2 ? p.sa : p.sb).fromToken(token);
          return s.tokenStatus;
        }),
      );
      p.hooked.onGet = null;
      if (reads < at) p.clock.advance(IDLE + 1); // the hooked store saw fewer reads than planned: expire now
      // Anyone still holding the token now sees the end, and nothing brought the record back.
      const late = await p.sb.fromToken(token);
      expect(['expired', 'unknown']).toContain(late.tokenStatus);
      expect(await storedRecord(p.peek, idOf(token))).toBeUndefined();
      expect(statuses.every((s) => ['valid', 'expired', 'unknown'].includes(s))).toBe(true);
      expect(events(YOSAI_SESSION_EXPIRED, idOf(token))).toHaveLength(1);
    }
  });

  it.each([
    ['setAttribute', (s: Subject, i: number) => s.session!.setAttribute('k', i)],
    ['setAttributes', async (s: Subject) => void (await s.session!.setAttributes({ a: 1, b: 2 }))],
    ['removeAttribute', (s: Subject) => s.session!.removeAttribute('cart')],
    ['touch', (s: Subject) => s.session!.touch()],
    // A request that resolves the token while it is being stopped (touchIntervalMs 0: every resolve writes).
    [
      'a resolve (with its touch)',
      async (_s: Subject, _i: number, token: string) => void (await p.sb.fromToken(token)),
    ],
  ] as const)('%s in flight while the session is stopped never brings it back', async (_name, write) => {
    if (!run) return;
    let wrote = 0;
    let refused = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const token = await newSession();
      const writer = await (round % 2 ? p.sa : p.sb).fromToken(token);
      const stopper = await (round % 2 ? p.sb : p.sa).fromToken(token);
      expect(writer.session).not.toBeNull();
      const settled = await Promise.allSettled([
        (async () => {
          await jitter(r);
          await write(writer, round, token);
        })(),
        (async () => {
          await jitter(r);
          await (round % 3 === 0 ? stopper.logout() : stopper.session!.stop());
        })(),
      ]);
      if (settled[0].status === 'fulfilled') wrote++;
      else {
        refused++;
        expect((settled[0].reason as Error).name).toBe('StoppedSessionError');
      }
      expect(settled[1].status).toBe('fulfilled');
      expect(await storedRecord(p.peek, idOf(token))).toBeUndefined();
      expect((await p.sa.fromToken(token)).tokenStatus).toBe('unknown');
      expect(events(YOSAI_SESSION_STOPPED, idOf(token))).toHaveLength(1);
    }
    expect(wrote + refused).toBe(ROUNDS);
  });
});
