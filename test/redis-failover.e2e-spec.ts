import { randomBytes } from 'node:crypto';
import { createClient } from '@keyv/redis';
import request from 'supertest';
import { sessionIdOf } from './support/cookies.js';
import { redisServerAvailable } from './support/redis.js';
import {
  OwnRedisSentinel,
  sentinelSessionStore,
  type SentinelStoreOptions,
} from './support/redis-sentinel.js';
import { createTestApp, sessionCookie, USERS, type TestApp } from './support/test-app.js';

/**
 * Killing the master under Sentinel: the sentinel promotes the replica and the apps follow it. Sessions that were
 * acknowledged and replicated before the kill are all there after it; and with `waitForReplicas`, a logout is
 * acknowledged only once a replica has it, so no acknowledged logout comes back with the promoted replica. Each
 * test starts its own master, replica and sentinel (the kill ends them).
 */
const RUN = `yosai-e2e-failover-${process.pid}-${randomBytes(3).toString('hex')}`;
const hasServer = redisServerAvailable('Redis Sentinel failover');

type Server = Parameters<typeof request>[0];

/** Generous, so that a slow machine never ends a store call that a failover merely delays. */
const STORE_TIMEOUT_MS = 15_000;

/** An app over a fresh sentinel client; `close` closes both. */
async function appOn(sentinel: OwnRedisSentinel, namespace: string, options: SentinelStoreOptions = {}) {
  const made = sentinelSessionStore(sentinel, namespace, options);
  const app: TestApp = await createTestApp({
    platform: 'express',
    yosai: { store: made.store, storeTimeoutMs: STORE_TIMEOUT_MS },
  });
  return {
    server: app.app.getHttpServer() as Server,
    store: made.store,
    close: async () => {
      await app.close();
      await made.close();
    },
  };
}

/** Logs `count` users in (alternating accounts), each session with attribute `n` = its index; their tokens. */
async function signIn(server: Server, count: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const username = i % 2 === 0 ? 'thedude' : 'walter';
    const login = await request(server)
      .post('/login')
      .send({ username, password: USERS[username] })
      .expect(200);
    const token = sessionCookie(login.headers)!;
    await request(server).put('/attr/n').set('Cookie', `sid=${token}`).send({ value: i }).expect(200);
    tokens.push(token);
  }
  return tokens;
}

async function signedIn(server: Server, token: string): Promise<boolean> {
  const res = await request(server).get('/protected').set('Cookie', `sid=${token}`);
  if (res.status !== 200 && res.status !== 401) throw new Error(`unexpected ${res.status}: ${res.text}`);
  return res.status === 200;
}

(hasServer ? describe : describe.skip)('Failover under Sentinel (master killed, replica promoted)', () => {
  let sentinel: OwnRedisSentinel;
  beforeEach(async () => {
    sentinel = new OwnRedisSentinel();
    await sentinel.start();
  });
  afterEach(() => sentinel.stop());

  it('every session and logout acknowledged and replicated before the kill is there after it', async () => {
    const namespace = `${RUN}-kept`;
    const app = await appOn(sentinel, namespace);
    try {
      const tokens = await signIn(app.server, 20);
      const [loggedOut, live] = [tokens.slice(0, 5), tokens.slice(5)];
      for (const token of loggedOut) {
        await request(app.server).post('/logout').set('Cookie', `sid=${token}`).expect(204);
      }
      await sentinel.waitForReplication();

      await sentinel.killMaster();
      await sentinel.waitForPromotion();

      // The same instance (its client follows the sentinel) and a fresh one see the same thing.
      const fresh = await appOn(sentinel, namespace);
      try {
        for (const server of [app.server, fresh.server]) {
          for (const [i, token] of live.entries()) {
            await request(server)
              .get('/attr/n')
              .set('Cookie', `sid=${token}`)
              .expect(200, { value: i + 5 });
            expect(await signedIn(server, token)).toBe(true);
          }
          for (const token of loggedOut) expect(await signedIn(server, token)).toBe(false);
        }
        // And the promoted master takes writes.
        await request(app.server)
          .put('/attr/after')
          .set('Cookie', `sid=${live[0]}`)
          .send({ value: 1 })
          .expect(200);
        await request(fresh.server)
          .get('/attr/after')
          .set('Cookie', `sid=${live[0]}`)
          .expect(200, { value: 1 });
      } finally {
        await fresh.close();
      }
    } finally {
      await app.close();
    }
  });

  it('the test set-up loses what the master acknowledged but did not replicate (what waitForReplicas is for)', async () => {
    // Without WAIT, a write is acknowledged by the master alone; held on the relay, it never reaches the replica.
    const client = createClient({ url: `redis://127.0.0.1:${sentinel.masterPort}` });
    await client.connect();
    const key = `${RUN}-raw`;
    try {
      await client.set(key, 'revoked?');
      await sentinel.waitForReplication();
      sentinel.link.hold();
      expect(await client.del(key)).toBe(1);
    } finally {
      client.destroy();
    }
    await sentinel.killMaster();
    await sentinel.waitForPromotion();
    expect(await sentinel.cli(sentinel.replicaPort, 'get', key)).toBe('revoked?\n');
  });

  it('with waitForReplicas, a logout is acknowledged only once a replica has it, and none comes back', async () => {
    const namespace = `${RUN}-wait`;
    // Each logout holds a master connection for its DEL and WAIT (up to timeoutMs while no replica answers): with
    // node-redis' default pool of one, the logouts, and every other command of this instance, would queue behind it.
    const app = await appOn(sentinel, namespace, {
      waitForReplicas: { replicas: 1, timeoutMs: 3_000 },
      masterPoolSize: 12,
    });
    const reader = sentinelSessionStore(sentinel, namespace);
    try {
      const tokens = await signIn(app.server, 15);
      const [before, during] = [tokens.slice(0, 5), tokens.slice(5)];
      await sentinel.waitForReplication();
      // With the replica listening, logouts are acknowledged (their WAIT is answered by it).
      for (const token of before) {
        await request(app.server).post('/logout').set('Cookie', `sid=${token}`).expect(204);
      }

      // The replica stops hearing from the master; the logouts reach the master, which deletes the sessions.
      sentinel.link.hold();
      const answers: (number | Error | undefined)[] = during.map(() => undefined);
      const logouts = during.map((token, i) =>
        request(app.server)
          .post('/logout')
          .set('Cookie', `sid=${token}`)
          .then(
            (res) => (answers[i] = res.status),
            (error: Error) => (answers[i] = error),
          ),
      );
      for (const token of during) {
        while ((await reader.store.get(sessionIdOf(token))) !== undefined) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      // Deleted on the master, but not on any replica: WAIT holds every logout's answer back (without it, each
      // would be 204 by now, and back after the promotion: see the previous test).
      expect(answers).toEqual(during.map(() => undefined));

      await sentinel.killMaster();
      await sentinel.waitForPromotion();
      await Promise.all(logouts);

      const acknowledged = [...before, ...during.filter((_, i) => answers[i] === 204)];
      for (const token of acknowledged) expect(await signedIn(app.server, token)).toBe(false);
      // The others were not acknowledged: the client was told the logout failed (503), never that it worked.
      for (const answer of answers) if (answer !== 204) expect(answer).toBe(503);
    } finally {
      await reader.close();
      await app.close();
    }
  });
});
