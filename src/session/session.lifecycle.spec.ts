import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  CapturingLogger,
  createManagerHarness,
  type ManagerHarness,
} from '../../test/support/manager-module.js';
import { SessionStore } from '../store/session.store.js';
import { CacheManagerSessionStore } from '../store/cache-manager-session.store.js';
import { YosaiModule } from '../yosai.module.js';
import { YOSAI_MODULE_OPTIONS, type YOSAI_OPTIONS_TYPE } from '../yosai.module-definition.js';
import { SessionManager, type SessionChange } from './session.manager.js';
import { ManualClock } from '../testing/manual.clock.js';

let h: ManagerHarness;
afterEach(async () => {
  await h?.close();
});

describe('SessionManager life cycle (0.2 API)', () => {
  it('startSession() gives the session and the token that resolves to it', async () => {
    h = await createManagerHarness();
    const { session, token } = await h.manager.startSession({ identifiers: ['walter'], authenticated: true });
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.isAuthenticated).toBe(true);
    const resolved = await h.manager.resolve(token);
    expect(resolved.status).toBe('valid');
    expect(resolved.status === 'valid' && resolved.session.id).toBe(session.id);
    expect(JSON.stringify(session)).not.toContain(token);
  });

  it('replaceSession() gives a new token; the old one is dead at once', async () => {
    h = await createManagerHarness();
    const first = await h.manager.startSession({ attributes: { cart: ['rug'] } });
    expect(first.session.isAuthenticated).toBe(false);
    const next = await h.manager.replaceSession(first.session, {
      identifiers: ['thedude'],
      authenticated: true,
    });
    expect(next.token).not.toBe(first.token);
    expect(next.session.isAuthenticated).toBe(true);
    expect(next.session.getAttribute('cart')).toEqual(['rug']);
    expect(await h.manager.resolve(first.token)).toEqual({ status: 'unknown' });
    expect((await h.manager.resolve(next.token)).status).toBe('valid');
  });

  it('the deprecated start() and replace() still work and return the Session', async () => {
    h = await createManagerHarness();
    const session = await h.manager.start({ identifiers: ['donny'] });
    expect(session.identifiers).toEqual(['donny']);
    const next = await h.manager.replace(session, { identifiers: ['donny'], authenticated: true });
    expect(next.isAuthenticated).toBe(true);
    expect(session.isStopped).toBe(true);
  });

  it('one notification point: listeners see every start, stop and expiry once, before the public event', async () => {
    h = await createManagerHarness({ yosai: { idleTimeoutMs: 60_000, touchIntervalMs: 1_000 } });
    const seen: string[] = [];
    h.manager.addListener((change: SessionChange) => {
      seen.push(`${change.type}:${change.type === 'started' ? '' : change.reason}`);
      expect(h.events.events.length).toBe(seen.length - 1); // the public event comes after
    });
    const a = await h.manager.startSession();
    const b = await h.manager.replaceSession(a.session, { identifiers: ['walter'], authenticated: true });
    await b.session.stop();
    const c = await h.manager.startSession();
    h.clock.advance(60_001);
    await h.manager.resolve(c.token);
    await h.manager.resolve(c.token);
    expect(seen).toEqual([
      'started:',
      'stopped:regenerated',
      'started:',
      'stopped:stopped',
      'started:',
      'expired:idle',
    ]);
  });

  it("awaits the store's ready() at bootstrap; a store that never gets ready is logged, and the app still boots", async () => {
    const order: string[] = [];
    const store = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
    const readyStore = Object.assign(Object.create(store) as SessionStore, {
      ready: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        order.push('ready');
      },
    });
    h = await createManagerHarness({ store: readyStore });
    order.push('booted');
    expect(order).toEqual(['ready', 'booted']);
    await h.close();

    const logger = new CapturingLogger();
    const broken = Object.assign(Object.create(store) as SessionStore, {
      ready: () => Promise.reject(new Error('no route to redis')),
    });
    h = await createManagerHarness({ store: broken, logger });
    const errors = logger.lines.filter((l) => l.level === 'error').map((l) => l.text);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('The session store is not ready: no route to redis');
  });
});

describe('expiry reported by the store itself (sweep vs read)', () => {
  async function boot(absoluteTimeoutMs = 8 * 60 * 60_000) {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const memory = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0, clock });
    h = await createManagerHarness({
      store: memory,
      yosai: {
        clock,
        idleTimeoutMs: 60_000,
        absoluteTimeoutMs,
        touchIntervalMs: 1_000,
        expiredRecordGraceMs: 10_000,
      },
    });
    return { clock, memory };
  }

  it('an abandoned session removed by the sweep emits one expired event, like a read would', async () => {
    const { clock, memory } = await boot();
    const { session, token } = await h.manager.startSession({ identifiers: ['walter'] });
    h.events.clear();
    clock.advance(60_000 + 10_000 + 2); // past expiry and the grace: the store's TTL has run out
    expect(memory.sweep()).toBe(1);
    expect(h.events.events).toEqual([
      {
        name: 'yosai.session.expired',
        payload: { sessionId: session.id, identifiers: ['walter'], reason: 'idle', at: clock.now() },
      },
    ]);
    expect(await h.manager.resolve(token)).toEqual({ status: 'unknown' });
    expect(memory.sweep()).toBe(0);
    expect(h.events.events).toHaveLength(1);
  });

  it('a session read within the grace is reported by the read; the sweep then finds nothing to report', async () => {
    const { clock, memory } = await boot();
    const { token } = await h.manager.startSession({ identifiers: ['donny'] });
    h.events.clear();
    clock.advance(60_001);
    expect(await h.manager.resolve(token)).toEqual({ status: 'expired', reason: 'idle' });
    clock.advance(20_000);
    expect(memory.sweep()).toBe(0);
    expect(h.events.named('yosai.session.expired')).toHaveLength(1);
  });

  it('the absolute timeout is named when it is what ended the abandoned session', async () => {
    const { clock, memory } = await boot(600_000);
    // Kept alive by touches until the absolute limit, then abandoned.
    const kept = await h.manager.startSession({ identifiers: ['maude'] });
    h.events.clear();
    for (let t = 0; t < 12; t++) {
      clock.advance(50_000);
      await kept.session.touch();
    }
    clock.advance(60_000 + 10_000 + 2);
    memory.sweep();
    expect(h.events.named('yosai.session.expired')).toEqual([
      expect.objectContaining({ sessionId: kept.session.id, reason: 'absolute' }),
    ]);
  });
});

describe('module API', () => {
  it('exports the options token; YOSAI_OPTIONS_TYPE is usable as a type', async () => {
    const options: YOSAI_OPTIONS_TYPE = {
      idleTimeoutMs: 120_000,
      cookie: { secure: false },
      isGlobal: false,
    };
    @Injectable()
    class ReadsOptions {
      constructor(readonly manager: SessionManager) {}
    }
    @Module({ imports: [YosaiModule.forRoot(options)], providers: [ReadsOptions] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    try {
      expect(moduleRef.get(YOSAI_MODULE_OPTIONS, { strict: false })).toEqual({
        idleTimeoutMs: 120_000,
        cookie: { secure: false },
      });
      expect(moduleRef.get(ReadsOptions).manager).toBeInstanceOf(SessionManager);
    } finally {
      await moduleRef.close();
    }
  });
});
