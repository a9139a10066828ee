import request from 'supertest';
import {
  CacheManagerSessionStore,
  IncorrectCredentialsError,
  SessionStore,
  SessionStoreError,
  SubjectFactory,
  UnknownAccountError,
  UsernamePasswordToken,
} from '../src/index.js';
import { CountingStore } from './support/counting-store.js';
import { CASES, forgedToken, sessionIdOf } from './support/cookies.js';
import { createTestApp, USERS, type TestApp } from './support/test-app.js';

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** A store whose every operation fails, as a broken connection would. */
class BrokenStore extends SessionStore {
  private fail(): Promise<never> {
    return Promise.reject(new Error('connection refused'));
  }
  get() {
    return this.fail();
  }
  set() {
    return this.fail();
  }
  compareAndSet() {
    return this.fail();
  }
  delete() {
    return this.fail();
  }
}

describe.each(CASES)('SubjectFactory.fromToken outside HTTP (%s, %s)', (platform, mount) => {
  let t: TestApp;
  let store: CountingStore;
  let subjects: SubjectFactory;

  beforeAll(async () => {
    store = new CountingStore(CacheManagerSessionStore.inMemory());
    t = await createTestApp({ platform, mount, yosai: { store } });
    subjects = t.app.get(SubjectFactory);
  });
  afterAll(async () => {
    await t.close();
    await store.close();
  });
  beforeEach(() => {
    store.reset();
    t.events.clear();
  });

  function recorder() {
    const tokens: (string | null)[] = [];
    return { tokens, onToken: (token: string | null) => void tokens.push(token) };
  }

  it('no token: a guest, no store traffic until a session is asked for', async () => {
    const { tokens, onToken } = recorder();
    const subject = await subjects.fromToken(null, { onToken });
    expect(subject.isAuthenticated).toBe(false);
    expect(subject.identifiers).toEqual([]);
    expect(subject.tokenStatus).toBe('none');
    expect(await subject.getSession(false)).toBeNull();
    expect(store.total).toBe(0);
    expect(tokens).toEqual([]);
  });

  it('getSession() sends the new token to onToken; the token resolves later, also over HTTP', async () => {
    const { tokens, onToken } = recorder();
    const subject = await subjects.fromToken(undefined, { onToken, host: 'ws-client' });
    const session = await subject.getSession();
    await session.setAttribute('room', 'lanes');
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatch(TOKEN);
    expect(session.id).toBe(sessionIdOf(tokens[0]!));
    expect(session.host).toBe('ws-client');
    expect(t.events.named('yosai.session.started')).toEqual([
      expect.objectContaining({ sessionId: session.id, host: 'ws-client' }),
    ]);

    // A second getSession() reuses the session: no new token.
    expect(await subject.getSession()).toBe(session);
    expect(tokens).toHaveLength(1);

    const again = await subjects.fromToken(tokens[0]);
    expect(again.tokenStatus).toBe('valid');
    expect(again.session?.id).toBe(session.id);
    expect(again.session?.getAttribute('room')).toBe('lanes');

    await request(t.app.getHttpServer() as Parameters<typeof request>[0])
      .get('/attr/room')
      .set('Cookie', `sid=${tokens[0]}`)
      .expect(200, { value: 'lanes' });
  });

  it('login() replaces the token through onToken; logout() sends null', async () => {
    const first = recorder();
    const guest = await (await subjects.fromToken(null, { onToken: first.onToken })).getSession();
    const guestToken = first.tokens[0]!;
    expect(guest).not.toBeNull();

    const { tokens, onToken } = recorder();
    const subject = await subjects.fromToken(guestToken, { onToken });
    await subject.login(new UsernamePasswordToken('thedude', USERS.thedude));
    expect(subject.isAuthenticated).toBe(true);
    expect(subject.identifiers).toEqual(['thedude']);
    expect(tokens).toHaveLength(1);
    const userToken = tokens[0]!;
    expect(userToken).toMatch(TOKEN);
    expect(userToken).not.toBe(guestToken);
    expect(subject.session?.id).toBe(sessionIdOf(userToken));

    expect((await subjects.fromToken(guestToken)).tokenStatus).toBe('unknown');
    const resolved = await subjects.fromToken(userToken);
    expect(resolved.isAuthenticated).toBe(true);
    expect(resolved.primaryIdentifier).toBe('thedude');
    expect(t.events.named('yosai.login.succeeded')).toEqual([
      expect.objectContaining({ sessionId: sessionIdOf(userToken), identifiers: ['thedude'] }),
    ]);

    await subject.logout();
    expect(tokens).toEqual([userToken, null]);
    expect(subject.isAuthenticated).toBe(false);
    expect(subject.session).toBeNull();
    expect(t.events.named('yosai.session.stopped')).toEqual([
      expect.objectContaining({ reason: 'regenerated', sessionId: guest.id }),
      expect.objectContaining({
        reason: 'logout',
        identifiers: ['thedude'],
        sessionId: sessionIdOf(userToken),
      }),
    ]);
    // A second logout is a no-op.
    await subject.logout();
    expect(tokens).toEqual([userToken, null]);
    expect((await subjects.fromToken(userToken)).tokenStatus).toBe('unknown');
  });

  it('login() without a session starts an authenticated one', async () => {
    const { tokens, onToken } = recorder();
    const subject = await subjects.fromToken(null, { onToken });
    await subject.login(new UsernamePasswordToken('walter', USERS.walter));
    expect(tokens).toHaveLength(1);
    expect((await subjects.fromToken(tokens[0])).primaryIdentifier).toBe('walter');
  });

  it('a failed login throws, changes nothing and sends no token', async () => {
    const { tokens, onToken } = recorder();
    const subject = await subjects.fromToken(null, { onToken });
    await expect(subject.login(new UsernamePasswordToken('thedude', 'wrong'))).rejects.toBeInstanceOf(
      IncorrectCredentialsError,
    );
    await expect(subject.login(new UsernamePasswordToken('donny', 'x'))).rejects.toBeInstanceOf(
      UnknownAccountError,
    );
    expect(tokens).toEqual([]);
    expect(subject.isAuthenticated).toBe(false);
    expect(store.total).toBe(0);
  });

  it('unknown and malformed tokens give a guest and tell onToken to drop the token', async () => {
    const forged = recorder();
    const a = await subjects.fromToken(forgedToken(), { onToken: forged.onToken });
    expect(a.tokenStatus).toBe('unknown');
    expect(a.isAuthenticated).toBe(false);
    expect(forged.tokens).toEqual([null]);
    expect(store.counts.get).toBe(1);

    store.reset();
    const garbage = recorder();
    const b = await subjects.fromToken('not a token', { onToken: garbage.onToken });
    expect(b.tokenStatus).toBe('malformed');
    expect(garbage.tokens).toEqual([null]);
    expect(store.total).toBe(0);
  });
});

describe('SubjectFactory.fromToken with a failing store', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      platform: 'express',
      yosai: { store: new BrokenStore(), storeTimeoutMs: 200 },
    });
  });
  afterAll(() => t.close());

  it('rejects with SessionStoreError for a token (fail closed), and works without one', async () => {
    const subjects = t.app.get(SubjectFactory);
    await expect(subjects.fromToken(forgedToken())).rejects.toBeInstanceOf(SessionStoreError);
    const guest = await subjects.fromToken(null);
    expect(guest.isAuthenticated).toBe(false);
    await expect(guest.getSession()).rejects.toBeInstanceOf(SessionStoreError);
  });
});
