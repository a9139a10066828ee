import { Injectable, Module } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import {
  CapturingLogger,
  createManagerHarness,
  type ManagerHarness,
} from '../../test/support/manager-module.js';
import { MapRealm, TEST_HASHING, USERS } from '../../test/support/test-app.js';
import { UsernamePasswordToken } from '../auth/username-password.token.js';
import { AuthenticationError } from '../errors/yosai.errors.js';
import { SessionManager } from './session.manager.js';
import { YosaiModule } from '../yosai.module.js';
import { ManualClock } from '../testing/manual.clock.js';
import {
  YOSAI_LOGIN_FAILED,
  YOSAI_LOGIN_SUCCEEDED,
  YOSAI_SESSION_EXPIRED,
  YOSAI_SESSION_STARTED,
  YOSAI_SESSION_STOPPED,
} from '../yosai.constants.js';
import {
  LoginFailedEvent,
  LoginSucceededEvent,
  SessionExpiredEvent,
  SessionStartedEvent,
  SessionStoppedEvent,
} from './session.events.js';
import { tokenOf } from './session.js';

let h: ManagerHarness;
let logger: CapturingLogger;
/** Every token issued during a test, to prove none shows up in an event or a log line. */
let tokens: string[];

async function boot(options: { withoutEvents?: boolean } = {}) {
  logger = new CapturingLogger();
  tokens = [];
  h = await createManagerHarness({
    logger,
    withoutEvents: options.withoutEvents,
    yosai: {
      idleTimeoutMs: 60_000,
      realm: await MapRealm.create(USERS),
      passwordHashing: TEST_HASHING,
    },
  });
}
afterEach(async () => {
  await h?.close();
});

function expectNoTokenLeaked() {
  expect(tokens.length).toBeGreaterThan(0);
  const payloads = JSON.stringify(h.events.events);
  const logs = logger.text();
  for (const token of tokens) {
    expect(payloads).not.toContain(token);
    expect(logs).not.toContain(token);
  }
}

describe('session events through a real EventEmitterModule listener', () => {
  it('started, expired and stopped carry exact payloads', async () => {
    await boot();
    const session = await h.manager.start({ host: '192.0.2.7', identifiers: ['walter'] });
    tokens.push(tokenOf(session));
    const startedAt = h.clock.now();

    h.clock.advance(60_001);
    await h.manager.resolve(tokenOf(session));
    const expiredAt = h.clock.now();

    const other = await h.manager.start();
    tokens.push(tokenOf(other));
    h.clock.advance(1234);
    await other.stop();

    expect(h.events.events).toEqual([
      {
        name: YOSAI_SESSION_STARTED,
        payload: { sessionId: session.id, identifiers: ['walter'], host: '192.0.2.7', at: startedAt },
      },
      {
        name: YOSAI_SESSION_EXPIRED,
        payload: { sessionId: session.id, identifiers: ['walter'], reason: 'idle', at: expiredAt },
      },
      {
        name: YOSAI_SESSION_STARTED,
        payload: { sessionId: other.id, identifiers: null, host: null, at: expiredAt },
      },
      {
        name: YOSAI_SESSION_STOPPED,
        payload: { sessionId: other.id, identifiers: null, reason: 'stopped', at: expiredAt + 1234 },
      },
    ]);
    expect(h.events.events[0].payload).toBeInstanceOf(SessionStartedEvent);
    expect(h.events.events[1].payload).toBeInstanceOf(SessionExpiredEvent);
    expect(h.events.events[3].payload).toBeInstanceOf(SessionStoppedEvent);
    for (const e of h.events.events) expect(Object.isFrozen(e.payload)).toBe(true);
    expectNoTokenLeaked();
  });

  it('login: stopped(regenerated), started, login.succeeded; logout: stopped(logout); failures: login.failed', async () => {
    await boot();
    const subject = await h.subjects.fromToken(null, {
      host: '198.51.100.1',
      onToken: (t) => t && tokens.push(t),
    });
    const guest = await subject.getSession();
    h.events.clear();
    h.clock.advance(1000);

    await subject.login(new UsernamePasswordToken('thedude', USERS.thedude));
    const user = subject.session!;
    const at = h.clock.now();
    expect(h.events.events).toEqual([
      {
        name: YOSAI_SESSION_STOPPED,
        payload: { sessionId: guest.id, identifiers: null, reason: 'regenerated', at },
      },
      {
        name: YOSAI_SESSION_STARTED,
        payload: { sessionId: user.id, identifiers: ['thedude'], host: '198.51.100.1', at },
      },
      {
        name: YOSAI_LOGIN_SUCCEEDED,
        payload: { sessionId: user.id, identifiers: ['thedude'], at, clientAddress: '198.51.100.1' },
      },
    ]);
    expect(h.events.events[2].payload).toBeInstanceOf(LoginSucceededEvent);

    h.events.clear();
    h.clock.advance(1000);
    await subject.logout();
    await subject.logout(); // no-op
    expect(h.events.events).toEqual([
      {
        name: YOSAI_SESSION_STOPPED,
        payload: { sessionId: user.id, identifiers: ['thedude'], reason: 'logout', at: h.clock.now() },
      },
    ]);

    h.events.clear();
    const anon = await h.subjects.fromToken(null, { onToken: (t) => t && tokens.push(t) });
    await expect(anon.login(new UsernamePasswordToken('thedude', 'wrong-password'))).rejects.toBeInstanceOf(
      AuthenticationError,
    );
    await expect(anon.login(new UsernamePasswordToken('nobody', 'letsgobowling'))).rejects.toBeInstanceOf(
      AuthenticationError,
    );
    expect(h.events.events).toEqual([
      {
        name: YOSAI_LOGIN_FAILED,
        payload: { username: 'thedude', at: h.clock.now(), clientAddress: null, reason: 'credentials' },
      },
      {
        name: YOSAI_LOGIN_FAILED,
        payload: { username: 'nobody', at: h.clock.now(), clientAddress: null, reason: 'credentials' },
      },
    ]);
    expect(h.events.events[0].payload).toBeInstanceOf(LoginFailedEvent);
    expect(JSON.stringify(h.events.events)).not.toContain('wrong-password');
    expect(JSON.stringify(h.events.events)).not.toContain('letsgobowling');
    expectNoTokenLeaked();
  });

  it('listeners that throw (sync and async) do not break the operation; the failure is logged', async () => {
    await boot();
    const emitter = h.moduleRef.get(EventEmitter2);
    emitter.on(YOSAI_SESSION_STARTED, () => {
      throw new Error('sync listener failure');
    });
    // A listener that returns a rejected promise (an async listener that throws): the point of the test.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    emitter.on(YOSAI_SESSION_STOPPED, () => Promise.reject(new Error('async listener failure')));
    emitter.on(YOSAI_SESSION_EXPIRED, () => {
      throw new Error('sync expired listener failure');
    });

    const session = await h.manager.start({ attributes: { a: 1 } });
    tokens.push(tokenOf(session));
    const next = await h.manager.replace(session, { identifiers: ['walter'], authenticated: true });
    tokens.push(tokenOf(next));
    await expect(h.manager.resolve(tokenOf(next))).resolves.toMatchObject({ status: 'valid' });
    h.clock.advance(60_001);
    await expect(h.manager.resolve(tokenOf(next))).resolves.toEqual({ status: 'expired', reason: 'idle' });
    const last = await h.manager.start();
    tokens.push(tokenOf(last));
    await last.stop();
    await new Promise((resolve) => setImmediate(resolve)); // let the async listener's rejection land

    const errors = logger.lines.filter((l) => l.level === 'error').map((l) => l.text);
    expect(errors.some((t) => t.includes('sync listener failure'))).toBe(true);
    expect(errors.some((t) => t.includes('async listener failure'))).toBe(true);
    expect(errors.some((t) => t.includes('sync expired listener failure'))).toBe(true);
    expectNoTokenLeaked();
  });

  it('an @OnEvent listener with suppressErrors: false that throws does not break the operation', async () => {
    @Injectable()
    class Throwing {
      calls = 0;
      @OnEvent(YOSAI_SESSION_STARTED, { suppressErrors: false })
      onStarted() {
        this.calls++;
        throw new Error('decorated listener failure');
      }
      @OnEvent(YOSAI_SESSION_STOPPED, { suppressErrors: false })
      async onStopped() {
        this.calls++;
        await Promise.resolve();
        throw new Error('decorated async listener failure');
      }
    }
    @Module({
      imports: [
        EventEmitterModule.forRoot(),
        YosaiModule.forRoot({ clock: new ManualClock(), cookie: { secure: false } }),
      ],
      providers: [Throwing],
    })
    class AppModule {}
    const capture = new CapturingLogger();
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .setLogger(capture)
      .compile();
    await moduleRef.init();
    try {
      const manager = moduleRef.get(SessionManager);
      const session = await manager.start();
      await session.stop();
      await new Promise((resolve) => setImmediate(resolve));
      expect(moduleRef.get(Throwing).calls).toBe(2);
      expect(capture.text()).not.toContain(tokenOf(session));
    } finally {
      await moduleRef.close();
    }
  });

  it('the module works without EventEmitterModule', async () => {
    await boot({ withoutEvents: true });
    const subject = await h.subjects.fromToken(null, { onToken: (t) => t && tokens.push(t) });
    const guest = await subject.getSession();
    await guest.setAttribute('cart', [1]);
    await subject.login(new UsernamePasswordToken('walter', USERS.walter));
    const user = subject.session!;
    expect(user.getAttribute('cart')).toEqual([1]);
    await expect(h.manager.resolve(tokenOf(user))).resolves.toMatchObject({ status: 'valid' });
    await expect(subject.login(new UsernamePasswordToken('walter', 'nope'))).rejects.toBeInstanceOf(
      AuthenticationError,
    );
    h.clock.advance(60_001);
    await expect(h.manager.resolve(tokenOf(user))).resolves.toEqual({ status: 'expired', reason: 'idle' });
    const other = await h.manager.start();
    await other.stop();
    expect(h.events.events).toEqual([]);
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});
