// Scripts survive a server that forgets them: writes go by EVALSHA, and a node that answers NOSCRIPT (a restart,
// a failover to a replica, a resharded slot, SCRIPT FLUSH) gets the script by EVAL once, then EVALSHA again.
// Runs on a test-owned redis-server, since it flushes that server's scripts.
import { tokenOf } from '../src/session/session.js';
import { createManagerHarness, type ManagerHarness } from './support/manager-module.js';
import { freePorts } from './support/redis-cluster.js';
import { OwnRedis, redisServerAvailable, redisSessionStore } from './support/redis.js';

const hasServer = redisServerAvailable('Redis scripts (NOSCRIPT)');
const maybe = hasServer ? describe : describe.skip;

/** How many times the server ran each command (INFO commandstats). */
function calls(own: OwnRedis): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const match of own.cli('INFO', 'commandstats').matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
    counts[match[1]] = Number(match[2]);
  }
  return counts;
}

maybe('Redis scripts: EVALSHA with a NOSCRIPT fallback', () => {
  let own: OwnRedis;
  let h: ManagerHarness;
  let close: () => Promise<void>;

  beforeAll(async () => {
    own = new OwnRedis((await freePorts(1))[0]);
    await own.start();
    const r = redisSessionStore('yosai-scripts', own.url);
    close = r.close;
    h = await createManagerHarness({ store: r.store, yosai: { principalIndex: true } });
  });
  afterAll(async () => {
    await h?.close();
    await close?.();
    await own?.stop();
  });

  it('writes keep working after SCRIPT FLUSH, and the script is sent in full only once per flush', async () => {
    const session = await h.manager.start();
    await session.setAttribute('a', 1);
    own.cli('CONFIG', 'RESETSTAT');
    for (let round = 0; round < 3; round++) {
      expect(own.cli('SCRIPT', 'FLUSH').trim()).toBe('OK');
      for (let i = 0; i < 5; i++) await session.setAttribute(`k${round}-${i}`, i);
    }
    const resolved = await h.manager.resolve(tokenOf(session));
    expect(resolved.status).toBe('valid');
    if (resolved.status !== 'valid') return;
    expect(await resolved.session.getAttribute('k2-4')).toBe(4);
    expect(await resolved.session.getAttribute('k0-0')).toBe(0);
    const stats = calls(own);
    // 15 writes: each flush costs one NOSCRIPT answer and one EVAL; the rest go by EVALSHA.
    expect(stats.eval).toBe(3);
    expect(stats.evalsha).toBe(15);
  });

  it('the principal index adds no command: an authenticated read is one HGETALL; a login, a logout one script each', async () => {
    const commands = () => {
      const { config, info, ...rest } = calls(own);
      void config;
      void info;
      return rest;
    };
    const login = async () => h.manager.startSession({ identifiers: ['thedude'], authenticated: true });
    await login(); // the scripts are loaded
    own.cli('CONFIG', 'RESETSTAT');
    const issued = await login();
    // commandstats also counts the commands a script runs: one EVALSHA sent, nothing else from the client.
    expect(commands()).toMatchObject({ evalsha: 1 });
    expect(commands().eval).toBeUndefined();
    own.cli('CONFIG', 'RESETSTAT');
    for (let i = 0; i < 10; i++) expect((await h.manager.resolve(issued.token)).status).toBe('valid');
    expect(commands()).toEqual({ hgetall: 10 });
    own.cli('CONFIG', 'RESETSTAT');
    await h.manager.stop(issued.session, 'logout');
    // Inside the one script: the record, its index entry and its expiry-queue entry.
    expect(commands()).toMatchObject({ evalsha: 1, del: 1, zrem: 2 });
  });
});
