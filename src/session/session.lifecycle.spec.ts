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
