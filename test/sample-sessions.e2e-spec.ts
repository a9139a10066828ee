// The sample's "every session of a user" contract (issue #14), on the built sample as users run it: in memory, and
// on a Redis server of its own (so no other test's sessions of the same users are in its index). GET /api/sessions,
// DELETE /api/sessions/:id (404 for anything but the caller's own), POST /api/sessions/revoke-others,
// DELETE /api/users/:username/sessions (league:manage only), and YOSAI_MAX_SESSIONS_PER_USER with both policies.
import { freePorts } from './support/redis-cluster.js';
import { OwnRedis, redisServerAvailable } from './support/redis.js';
import { ensureSampleBuilt, SampleClient, startSample, type SampleProcess } from './support/sample-app.js';

const DUDE = { username: 'thedude', password: 'letsgobowling' };
const WALTER = { username: 'walter', password: 'shomer-shabbos' };
const hasRedisServer = redisServerAvailable('sample sessions on Redis');

interface Entry {
  id: string;
  startedAt: number;
  lastAccessedAt: number;
  host: string | null;
  current: boolean;
}

async function signedIn(url: string, who = DUDE): Promise<{ client: SampleClient; id: string }> {
  const client = new SampleClient(url);
  expect((await client.post('/api/login', who)).status).toBe(200);
  const session = await client.get('/api/session');
  return { client, id: (session.body as { id: string }).id };
}

async function stoppedReasons(client: SampleClient, ids: string[]): Promise<string[]> {
  const reply = await client.get('/api/events', { cookie: null });
  return (reply.body as { name: string; sessionId: string; reason: string }[])
    .filter((e) => e.name === 'yosai.session.stopped' && ids.includes(e.sessionId))
    .map((e) => `${e.sessionId}:${e.reason}`);
}

/** The routes' contract, from a sample with no sessions yet. */
async function checkSessionsContract(url: string): Promise<void> {
  const guest = new SampleClient(url);
  expect((await guest.get('/api/sessions')).status).toBe(401);
  expect((await guest.request('DELETE', '/api/users/thedude/sessions')).status).toBe(401);
  expect((await guest.post('/api/sessions/revoke-others')).status).toBe(401);
  expect(guest.token).toBeUndefined();

  const one = await signedIn(url);
  const two = await signedIn(url);
  const walter = await signedIn(url, WALTER);

  const listed = await one.client.get('/api/sessions');
  expect(listed.status).toBe(200);
  const entries = listed.body as Entry[];
  expect(entries.map((e) => e.id)).toEqual([one.id, two.id]);
  expect(entries[0]).toEqual({
    id: one.id,
    startedAt: expect.any(Number),
    lastAccessedAt: expect.any(Number),
    host: expect.any(String),
    current: true,
  });
  expect(entries[1].current).toBe(false);
  expect(((await two.client.get('/api/sessions')).body as Entry[]).map((e) => e.current)).toEqual([
    false,
    true,
  ]);

  // Another user's id, an unknown id, and junk all get the same 404; walter's session is untouched.
  for (const id of [walter.id, 'A'.repeat(43), 'x'.repeat(500)]) {
    const reply = await one.client.request('DELETE', `/api/sessions/${id}`);
    expect(reply.status).toBe(404);
  }
  expect((await walter.client.get('/api/profile')).status).toBe(200);

  // Signing out another device of one's own: 204, its token is dead; a second time 404.
  expect((await one.client.request('DELETE', `/api/sessions/${two.id}`)).status).toBe(204);
  expect((await two.client.get('/api/profile')).status).toBe(401);
  expect((await one.client.request('DELETE', `/api/sessions/${two.id}`)).status).toBe(404);

  // Every other device: the caller's own session stays valid.
  const three = await signedIn(url);
  const four = await signedIn(url);
  expect((await one.client.post('/api/sessions/revoke-others')).status).toBe(204);
  expect((await one.client.get('/api/profile')).status).toBe(200);
  for (const other of [three, four]) expect((await other.client.get('/api/profile')).status).toBe(401);
  expect(((await one.client.get('/api/sessions')).body as Entry[]).map((e) => e.id)).toEqual([one.id]);

  // Every session of a user: the league captain only.
  expect((await one.client.request('DELETE', '/api/users/walter/sessions')).status).toBe(403);
  expect((await walter.client.get('/api/profile')).status).toBe(200);
  const five = await signedIn(url);
  expect((await walter.client.request('DELETE', '/api/users/thedude/sessions')).status).toBe(204);
  for (const s of [one, five]) expect((await s.client.get('/api/profile')).status).toBe(401);
  expect(((await walter.client.get('/api/sessions')).body as Entry[]).map((e) => e.id)).toEqual([walter.id]);

  const revoked = [two.id, three.id, four.id, one.id, five.id];
  expect((await stoppedReasons(walter.client, revoked)).sort()).toEqual(
    revoked.map((id) => `${id}:revoked`).sort(),
  );

  // The current session can sign itself out from the list too.
  expect((await walter.client.request('DELETE', `/api/sessions/${walter.id}`)).status).toBe(204);
  expect((await walter.client.get('/api/profile')).status).toBe(401);
}

/** YOSAI_MAX_SESSIONS_PER_USER=2 with the given policy. */
async function checkCap(url: string, policy: 'evict-oldest' | 'refuse'): Promise<void> {
  const first = await signedIn(url);
  const second = await signedIn(url);
  const third = new SampleClient(url);
  const login = await third.post('/api/login', DUDE);
  if (policy === 'refuse') {
    expect(login.status).toBe(409);
    expect((login.body as { message: string }).message).toMatch(/already has 2 active sessions/);
    for (const s of [first, second]) expect((await s.client.get('/api/profile')).status).toBe(200);
    return;
  }
  expect(login.status).toBe(200);
  expect((await first.client.get('/api/profile')).status).toBe(401);
  expect((await second.client.get('/api/profile')).status).toBe(200);
  expect(await stoppedReasons(third, [first.id])).toEqual([`${first.id}:evicted`]);
  expect(((await third.get('/api/sessions')).body as Entry[]).map((e) => e.current)).toEqual([false, true]);
}

beforeAll(async () => {
  await ensureSampleBuilt();
}, 180_000);

describe('sample sessions routes (memory)', () => {
  const started: SampleProcess[] = [];
  afterAll(async () => {
    for (const sample of started) await sample.stop();
  });
  const start = async (env: Record<string, string> = {}) => {
    const sample = await startSample(env);
    started.push(sample);
    return sample.url;
  };

  it('GET /api/sessions, DELETE /api/sessions/:id, revoke-others, DELETE /api/users/:username/sessions', async () => {
    await checkSessionsContract(await start());
  }, 60_000);

  it.each(['evict-oldest', 'refuse'] as const)(
    'YOSAI_MAX_SESSIONS_PER_USER=2, YOSAI_MAX_SESSIONS_POLICY=%s',
    async (policy) => {
      await checkCap(
        await start({ YOSAI_MAX_SESSIONS_PER_USER: '2', YOSAI_MAX_SESSIONS_POLICY: policy }),
        policy,
      );
    },
    60_000,
  );

  it('YOSAI_MAX_SESSIONS_POLICY with another value stops the start with a message naming it', async () => {
    await expect(startSample({ YOSAI_MAX_SESSIONS_POLICY: 'oldest' })).rejects.toThrow(
      /YOSAI_MAX_SESSIONS_POLICY/,
    );
  }, 60_000);
});

(hasRedisServer ? describe : describe.skip)('sample sessions routes (a Redis of their own)', () => {
  let redis: OwnRedis;
  const started: SampleProcess[] = [];
  beforeAll(async () => {
    const [port] = await freePorts(1);
    redis = new OwnRedis(port);
    await redis.start();
  }, 30_000);
  afterAll(async () => {
    for (const sample of started) await sample.stop();
    await redis?.stop();
  });
  const start = async (env: Record<string, string> = {}) => {
    const sample = await startSample({ REDIS_URL: redis.url, ...env });
    started.push(sample);
    return sample.url;
  };

  it('the same contract; every session key and index is gone once every session ended', async () => {
    await checkSessionsContract(await start());
    // Sessions and their indexes; the login throttle's per-address counters expire by themselves.
    const keys = redis.cli('--scan').trim().split('\n').filter(Boolean);
    expect(keys.filter((k) => !k.includes(':yosai-login-throttle:'))).toEqual([]);
  }, 60_000);

  it('YOSAI_MAX_SESSIONS_PER_USER=2 evicts the oldest, on two instances', async () => {
    // Two instances over one Redis: the second login lands on the other instance.
    const a = await start({ YOSAI_MAX_SESSIONS_PER_USER: '2' });
    const b = await start({ YOSAI_MAX_SESSIONS_PER_USER: '2' });
    const first = await signedIn(a);
    const second = await signedIn(b);
    const third = await signedIn(a);
    expect((await first.client.get('/api/profile')).status).toBe(401);
    const onB = new SampleClient(b);
    onB.token = third.client.token;
    expect(((await onB.get('/api/sessions')).body as Entry[]).map((e) => e.id)).toEqual([
      second.id,
      third.id,
    ]);
  }, 60_000);
});
