// Login flood and guest flood (issue 12). `npm run bench:login [-- login|guests]` builds the library, then:
//
// - login: the time of a real login (default scrypt cost, 2^15/8/3) unloaded, then while 64 junk logins are kept in
//   flight (each answered one is sent again at once), from one address and from 64 addresses, with the default cap on
//   concurrent verifications and with no cap (0.1's behaviour). Login throttling is off here, so that the junk keeps
//   costing verifications (with it on, one address is locked after 50 failures and its junk is refused for free).
//   Addresses come from X-Forwarded-For with Express's `trust proxy` on.
// - guests: process memory after one minute of one client creating guest sessions as fast as it can (8 requests in
//   flight, no cookie jar) on the in-memory store, without a cap and with `maxSessions: 10_000`.
//
// Knobs: LOGIN_FLOOD_SAMPLES (real logins per measurement, 15), GUEST_FLOOD_MS (60000), LOGIN_FLOOD_ONLY.
// Each server runs in a child process (`node bench/login-flood.mjs serve <kind>`); this process is the client.
// Prints a table and one `LOGINFLOODJSON {...}` line. Run it on a quiet machine: the figures are wall-clock times.
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const [mode = 'all', kind = ''] = process.argv.slice(2);
const SELF = fileURLToPath(import.meta.url);
const REAL = { username: 'real-user', password: 'correct horse battery staple' };
const JUNK_IN_FLIGHT = 64;
const SAMPLES = Number(process.env.LOGIN_FLOOD_SAMPLES ?? 15);
const GUEST_FLOOD_MS = Number(process.env.GUEST_FLOOD_MS ?? 60_000);
const GUEST_CAP = 10_000;

// ---------------------------------------------------------------- server (child process)
async function serve(serverKind) {
  const { Controller, Get, HttpCode, Module, Post, Req } = await import('@nestjs/common');
  const { APP_GUARD, NestFactory } = await import('@nestjs/core');
  const { ExpressAdapter } = await import('@nestjs/platform-express');
  const lib = await import(process.env.BENCH_LIBRARY || 'nestjs-yosai');
  const {
    CacheManagerSessionStore,
    CurrentSubject,
    PasswordHasher,
    Realm,
    UsernamePasswordToken,
    YosaiGuard,
    YosaiModule,
  } = lib;

  class FloodRealm extends Realm {
    accounts = new Map();
    findAccount(username) {
      return this.accounts.get(username) ?? null;
    }
  }
  const realm = new FloodRealm();
  realm.accounts.set(REAL.username, {
    identifiers: [REAL.username],
    credentials: await new PasswordHasher().hash(REAL.password),
  });
  const store = CacheManagerSessionStore.inMemory(
    serverKind === 'guests-capped' ? { maxSessions: GUEST_CAP } : {},
  );
  const options = {
    realm,
    store,
    cookie: { secure: false },
    loginThrottle: { enabled: false },
    ...(serverKind === 'login-uncapped' && { passwordVerification: { maxConcurrent: 1024, maxQueued: 0 } }),
  };

  class C {
    async login(subject, req) {
      await subject.login(new UsernamePasswordToken(String(req.body?.username), String(req.body?.password)));
      return { ok: true };
    }
    async guest(subject) {
      await subject.getSession();
      return { ok: true };
    }
    memory() {
      if (typeof globalThis.gc === 'function') globalThis.gc();
      const { rss, heapUsed } = process.memoryUsage();
      return { rss, heapUsed, sessions: store.backend?.map?.size ?? null };
    }
  }
  const route = (name, decorators, params) => {
    params.forEach((decorate, i) => decorate(C.prototype, name, i));
    for (const decorate of decorators) {
      const result = decorate(C.prototype, name, Object.getOwnPropertyDescriptor(C.prototype, name));
      if (result) Object.defineProperty(C.prototype, name, result);
    }
  };
  route('login', [Post('login'), HttpCode(200)], [CurrentSubject(), Req()]);
  route('guest', [Get('guest')], [CurrentSubject()]);
  route('memory', [Get('memory')], []);
  Controller()(C);
  class FloodModule {}
  Module({
    imports: [YosaiModule.forRoot(options)],
    controllers: [C],
    providers: [{ provide: APP_GUARD, useClass: YosaiGuard }],
  })(FloodModule);

  const app = await NestFactory.create(FloodModule, new ExpressAdapter(), { logger: ['error'] });
  app.getHttpAdapter().getInstance().set('trust proxy', true);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  process.once('SIGTERM', () => app.close().finally(() => process.exit(0)));
  process.stdin.on('end', () => process.exit(0)); // the client died: do not linger
  process.stdin.resume();
  process.stdout.write(`READY ${port}\n`);
}

// ---------------------------------------------------------------- client
function startServer(serverKind, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, SELF, 'serve', serverKind], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /READY (\d+)/.exec(out);
      if (match) resolve({ url: `http://127.0.0.1:${match[1]}`, stop: () => stop(child) });
    });
    child.once('exit', (code) => reject(new Error(`server ${serverKind} exited (${code})`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
  });
}

async function login(url, body, address) {
  const started = performance.now();
  const response = await fetch(`${url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN;
};
const p90 = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))] : NaN;
};

/** Real logins one after another from their own address: times of the successful ones, and how many got 429. */
async function realLogins(url) {
  const times = [];
  let refused = 0;
  for (let i = 0; i < SAMPLES; i++) {
    const { status, ms } = await login(url, REAL, '192.0.2.1');
    if (status === 200) times.push(ms);
    else if (status === 429) refused++;
    else throw new Error(`real login answered ${status}`);
  }
  return { median: median(times), p90: p90(times), refused };
}

async function loginScenario(serverKind, junkAddresses) {
  const server = await startServer(serverKind);
  try {
    await realLogins(server.url); // warm-up
    const unloaded = await realLogins(server.url);
    let flooding = true;
    const junk = { answered: 0, refused: 0 };
    const loops = Array.from({ length: JUNK_IN_FLIGHT }, async (_, i) => {
      const address = junkAddresses === 1 ? '198.51.100.1' : `198.51.100.${i + 1}`;
      while (flooding) {
        const { status } = await login(server.url, { username: `junk-${i}`, password: 'guess' }, address);
        junk.answered++;
        if (status === 429) junk.refused++;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // let the flood fill the queue
    const loaded = await realLogins(server.url);
    flooding = false;
    await Promise.all(loops);
    return { serverKind, junkAddresses, unloaded, loaded, junk, ratio: loaded.median / unloaded.median };
  } finally {
    await server.stop();
  }
}

async function guestScenario(serverKind) {
  const server = await startServer(serverKind, ['--expose-gc']);
  try {
    const before = await (await fetch(`${server.url}/memory`)).json();
    let flooding = true;
    let created = 0;
    const loops = Array.from({ length: 8 }, async () => {
      while (flooding) {
        const response = await fetch(`${server.url}/guest`);
        await response.arrayBuffer();
        if (response.status === 200) created++;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, GUEST_FLOOD_MS));
    flooding = false;
    await Promise.all(loops);
    const after = await (await fetch(`${server.url}/memory`)).json();
    return {
      serverKind,
      seconds: GUEST_FLOOD_MS / 1000,
      created,
      perSecond: created / (GUEST_FLOOD_MS / 1000),
      before,
      after,
    };
  } finally {
    await server.stop();
  }
}

const MB = (bytes) => (bytes / 1024 / 1024).toFixed(1);

async function main() {
  if (mode === 'serve') return serve(kind);
  const results = { at: new Date().toISOString(), login: [], guests: [] };
  if (mode === 'all' || mode === 'login') {
    for (const [serverKind, addresses] of [
      ['login-capped', 1],
      ['login-capped', 64],
      ['login-uncapped', 1],
    ]) {
      // LOGIN_FLOOD_ONLY=login-capped/1 (comma-separated) runs only those login scenarios.
      const only = process.env.LOGIN_FLOOD_ONLY?.split(',');
      if (only && !only.includes(`${serverKind}/${addresses}`)) continue;
      const r = await loginScenario(serverKind, addresses);
      results.login.push(r);
      console.log(
        `${serverKind.padEnd(15)} junk from ${String(addresses).padStart(2)} address(es): real login ` +
          `${r.unloaded.median.toFixed(0)} ms unloaded, ${r.loaded.median.toFixed(0)} ms (p90 ${r.loaded.p90.toFixed(0)}) ` +
          `under flood = ${r.ratio.toFixed(2)}x; real logins refused ${r.loaded.refused}/${SAMPLES}; ` +
          `junk answered ${r.junk.answered}, of which 429 ${r.junk.refused}`,
      );
    }
  }
  if (mode === 'all' || mode === 'guests') {
    for (const serverKind of ['guests-uncapped', 'guests-capped']) {
      const r = await guestScenario(serverKind);
      results.guests.push(r);
      console.log(
        `${serverKind.padEnd(15)} ${r.created} guest sessions in ${r.seconds} s (${r.perSecond.toFixed(0)}/s): ` +
          `rss ${MB(r.before.rss)} -> ${MB(r.after.rss)} MB, heap ${MB(r.before.heapUsed)} -> ${MB(r.after.heapUsed)} MB, ` +
          `${r.after.sessions} sessions held`,
      );
    }
  }
  console.log(`LOGINFLOODJSON ${JSON.stringify(results)}`);
}

main().catch((error) => {
  console.error(error?.stack ?? error);
  process.exit(1);
});
