import request from 'supertest';
import type { SessionStore } from '../../src/index.js';
import { createTestApp, sessionCookie, USERS } from './test-app.js';

type Server = Parameters<typeof request>[0];

/**
 * Two app instances (A on Express, B on Fastify), each over its own store and so its own Redis connection, run
 * the session story against each other: a guest's cart from A read on B, a login on B seen on A (and the
 * pre-login token dead there), attributes written on one read on the other for many sessions (spread over every
 * shard a cluster has), and a logout on A ending the session on B at its next request.
 */
export async function twoInstancesShareSessions(storeA: SessionStore, storeB: SessionStore): Promise<void> {
  const a = await createTestApp({ platform: 'express', yosai: { store: storeA } });
  const b = await createTestApp({ platform: 'fastify', yosai: { store: storeB } });
  try {
    const serverA = a.app.getHttpServer() as Server;
    const serverB = b.app.getHttpServer() as Server;

    const put = await request(serverA)
      .put('/attr/cart')
      .send({ value: ['rug'] })
      .expect(200);
    const guest = sessionCookie(put.headers)!;
    await request(serverB)
      .get('/attr/cart')
      .set('Cookie', `sid=${guest}`)
      .expect(200, { value: ['rug'] });

    const login = await request(serverB)
      .post('/login')
      .set('Cookie', `sid=${guest}`)
      .send({ username: 'thedude', password: USERS.thedude })
      .expect(200);
    const user = sessionCookie(login.headers)!;
    expect(user).not.toBe(guest);
    await request(serverA)
      .get('/protected')
      .set('Cookie', `sid=${user}`)
      .expect(200, { username: 'thedude' });
    await request(serverA)
      .get('/attr/cart')
      .set('Cookie', `sid=${user}`)
      .expect(200, { value: ['rug'] });
    await request(serverA).get('/protected').set('Cookie', `sid=${guest}`).expect(401);

    // Many sessions, so that on a cluster they sit on every master: each written on one instance, read on the other.
    const tokens: string[] = [];
    for (let i = 0; i < 30; i++) {
      const [writer, reader] = i % 2 === 0 ? [serverA, serverB] : [serverB, serverA];
      const res = await request(writer).put('/attr/n').send({ value: i }).expect(200);
      const token = sessionCookie(res.headers)!;
      tokens.push(token);
      await request(reader)
        .put('/attr/m')
        .set('Cookie', `sid=${token}`)
        .send({ value: 100 + i })
        .expect(200);
    }
    for (const [i, token] of tokens.entries()) {
      const [first, second] = i % 2 === 0 ? [serverB, serverA] : [serverA, serverB];
      await request(first).get('/attr/n').set('Cookie', `sid=${token}`).expect(200, { value: i });
      await request(second)
        .get('/attr/m')
        .set('Cookie', `sid=${token}`)
        .expect(200, { value: 100 + i });
    }

    await request(serverA).post('/logout').set('Cookie', `sid=${user}`).expect(204);
    const onB = await request(serverB).get('/whoami').set('Cookie', `sid=${user}`).expect(200);
    expect(onB.body).toMatchObject({ authenticated: false, sessionId: null });
    await request(serverB).get('/protected').set('Cookie', `sid=${user}`).expect(401);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}
