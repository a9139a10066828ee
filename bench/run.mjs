// Benchmark runner (`npm run bench`): see BENCHMARKS.md. Starts its own redis-server and one server process per
// scenario, drives each with wrk (or autocannon) from the other CPU core, interleaves the repetitions, takes
// medians, measures heap per idle session, writes bench/results/*.json, and cleans up every process it started.
//
// Environment knobs: BENCH_DURATION (s, 5), BENCH_WARMUP (s, 3), BENCH_REPS (6), BENCH_CONNECTIONS (32),
// BENCH_SESSIONS (100000), BENCH_ONLY (comma list of scenarios), BENCH_LOADGEN (wrk | autocannon),
// BENCH_REDIS_URL (use this Redis instead of starting one; command counts then include other clients' traffic),
// BENCH_BASELINE (a git ref, as `--baseline`).
// Flag `--update-doc` rewrites the results section of BENCHMARKS.md. Flag `--baseline <git-ref>` builds that
// commit's library too and adds a `-before` twin of each scenario in BASELINE_TWINS, run on that build.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const env = process.env;
const DURATION = Number(env.BENCH_DURATION ?? 5);
const WARMUP = Number(env.BENCH_WARMUP ?? 3);
const REPS = Number(env.BENCH_REPS ?? 6);
const PAIRED_REPS = Number(env.BENCH_PAIRED_REPS ?? 4);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 32);
const SESSIONS = Number(env.BENCH_SESSIONS ?? 100_000);
const UPDATE_DOC = process.argv.includes('--update-doc');
const BASELINE_REF = argValue('--baseline') ?? (env.BENCH_BASELINE || null);

/** `--name value` or `--name=value` from the command line. */
function argValue(name) {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  if (i !== -1) {
    const value = args[i + 1];
    if (!value || value.startsWith('--')) throw new Error(`${name} needs a value`);
    return value;
  }
  return args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1) ?? null;
}

/** path: what is requested; cookie: send the session cookie captured at startup; expect: checked before measuring. */
const SCENARIOS = [
  {
    name: 'floor-a',
    label: 'floor A: Nest endpoint, no session',
    path: '/me',
    expect: { body: '{"user":null}' },
  },
  {
    name: 'floor-a-guard',
    label: 'floor A + a no-op global guard and param decorator (Nest machinery)',
    path: '/me',
    expect: { body: '{"user":null}' },
  },
  { name: 'floor-b', label: 'floor B: one raw Redis GET', path: '/me', expect: { body: '{"user":"bench"}' } },
  {
    name: 'floor-b-guard',
    label: 'floor B + a no-op global guard and param decorator (Nest machinery)',
    path: '/me',
    expect: { body: '{"user":"bench"}' },
  },
  {
    name: 'es-redis',
    label: 'express-session + connect-redis, valid cookie',
    path: '/me',
    cookie: true,
    expect: { body: '{"user":"bench"}' },
  },
  {
    name: 'es-memory',
    label: 'express-session + MemoryStore, valid cookie',
    path: '/me',
    cookie: true,
    expect: { body: '{"user":"bench"}' },
  },
  {
    name: 'es-create',
    label: 'express-session + connect-redis, new session per request',
    path: '/create',
    expect: { setCookie: true },
  },
  {
    name: 'ours-redis',
    label: 'ours, Redis, authenticated (touch not due)',
    path: '/me',
    cookie: true,
    expect: { body: '{"user":"bench"}' },
  },
  {
    name: 'ours-memory',
    label: 'ours, in-memory store, authenticated',
    path: '/me',
    cookie: true,
    expect: { body: '{"user":"bench"}' },
  },
  {
    name: 'ours-guest',
    label: 'ours, guest without token (Redis store configured)',
    path: '/guest',
    expect: { body: '{"user":null}' },
  },
  {
    name: 'ours-create',
    label: 'ours, Redis, new guest session per request',
    path: '/create',
    expect: { setCookie: true },
  },
  {
    name: 'floor-b-fastify',
    label: 'floor B on Fastify: one raw Redis GET',
    path: '/me',
    expect: { body: '{"user":"bench"}' },
  },
  {
    name: 'floor-b-guard-fastify',
    label: 'floor B on Fastify + a no-op global guard and param decorator (Nest machinery)',
    path: '/me',
    expect: { body: '{"user":"bench"}' },
  },
  {
    name: 'floor-c-fastify',
    label: 'floor C on Fastify: token from the cookie, SHA-256, one HGETALL, in a guard (the design floor)',
    path: '/me',
    cookie: true,
    expect: { body: '{"user":"bench"}' },
  },
  {
    name: 'ours-redis-fastify',
    label: 'ours on Fastify, Redis, authenticated',
    path: '/me',
    cookie: true,
    expect: { body: '{"user":"bench"}' },
  },
  {
    name: 'fs-redis-fastify',
    label: '@fastify/session + connect-redis, defaults (rolling: saved every request), valid cookie',
    path: '/me',
    cookie: true,
    expect: { body: '{"user":"bench"}', setCookie: true },
  },
  {
    name: 'fs-redis-norolling-fastify',
    label: '@fastify/session + connect-redis, rolling: false, valid cookie',
    path: '/me',
    cookie: true,
    expect: { body: '{"user":"bench"}' },
  },
];

/**
 * Scenarios of ours that `--baseline <ref>` runs twice: as they are (the current dist/, "after") and as
 * `<name>-before` on the library built from <ref>. Both load bench/server.mjs; only the library differs.
 */
const BASELINE_TWINS = ['ours-redis', 'ours-memory', 'ours-guest', 'ours-redis-fastify'];
const BEFORE = '-before';
const beforeOf = (name) => `${name}${BEFORE}`;

/**
 * The order in which each repetition measures the scenarios (rotated by one per repetition). The two sides of
 * every goal are neighbours, so that their ratio compares measurements a few seconds apart: on a shared machine,
 * slow periods last tens of seconds and would otherwise fall on one side of a ratio only. A `-before` twin sits next
 * to its scenario, or one further where a goal already takes both neighbours.
 */
const MEASURE_ORDER = [
  'floor-a-guard',
  'ours-guest-before',
  'ours-guest',
  'floor-a',
  'ours-memory',
  'ours-memory-before',
  'es-memory',
  'floor-b-guard',
  'ours-redis-before',
  'floor-b',
  'ours-redis',
  'es-redis',
  'es-create',
  'ours-create',
  'ours-redis-fastify-before',
  'floor-b-fastify',
  'ours-redis-fastify',
  'floor-b-guard-fastify',
  'floor-c-fastify',
  'fs-redis-norolling-fastify',
  'fs-redis-fastify',
];

const GOALS = [
  {
    id: 'redis-vs-floor-b',
    text: 'Ours on Redis, authenticated ≥ 0.90 × floor B',
    a: 'ours-redis',
    b: 'floor-b',
    min: 0.9,
  },
  {
    id: 'redis-vs-express-session',
    text: 'Ours on Redis, authenticated ≥ 1.4 × express-session + connect-redis',
    a: 'ours-redis',
    b: 'es-redis',
    min: 1.4,
  },
  {
    id: 'redis-commands',
    text: 'Ours on Redis, authenticated: exactly 1 Redis command per request',
    commands: 'ours-redis',
    equals: 1,
  },
  {
    id: 'guest-vs-floor-a',
    text: 'Guest without a token ≥ 0.97 × floor A',
    a: 'ours-guest',
    b: 'floor-a',
    min: 0.97,
  },
  {
    id: 'guest-commands',
    text: 'Guest without a token: 0 store commands',
    commands: 'ours-guest',
    equals: 0,
  },
  {
    id: 'memory-vs-floor-a',
    text: 'Ours on the in-memory store, authenticated ≥ 0.90 × floor A',
    a: 'ours-memory',
    b: 'floor-a',
    min: 0.9,
  },
  {
    id: 'create-vs-express-session',
    text: "Session creation ≥ express-session's rate (both on Redis)",
    a: 'ours-create',
    b: 'es-create',
    min: 1.0,
  },
  { id: 'heap', text: "Heap per idle session, in-memory: ours ≤ express-session's MemoryStore", heap: true },
  {
    id: 'fastify-vs-floor-b',
    text: 'Ours on Fastify, Redis, authenticated ≥ 0.90 × floor B on Fastify',
    a: 'ours-redis-fastify',
    b: 'floor-b-fastify',
    min: 0.9,
  },
  {
    id: 'fastify-p99',
    text: "Ours on Fastify, Redis, authenticated: p99 ≤ 1.3 × floor B on Fastify's",
    // Not `a`/`b`: a latency goal has no simultaneous pairs (two servers sharing a core wait on each other).
    p99: ['ours-redis-fastify', 'floor-b-fastify'],
    max: 1.3,
  },
];
const INFO_RATIOS = [
  {
    text: 'Floor B on Fastify with a no-op guard + param decorator / floor B on Fastify (what Nest itself charges a guard)',
    a: 'floor-b-guard-fastify',
    b: 'floor-b-fastify',
  },
  {
    text: 'Ours on Fastify, Redis, authenticated / floor B on Fastify with a no-op guard + param decorator',
    a: 'ours-redis-fastify',
    b: 'floor-b-guard-fastify',
  },
  {
    text: 'Floor A with a no-op guard + param decorator / floor A (what Nest itself charges a guard)',
    a: 'floor-a-guard',
    b: 'floor-a',
  },
  {
    text: 'Floor C on Fastify (cookie, SHA-256, one HGETALL, in a guard) / floor B on Fastify (what the design itself costs)',
    a: 'floor-c-fastify',
    b: 'floor-b-fastify',
  },
  {
    text: 'Ours on Fastify, Redis, authenticated / floor C on Fastify',
    a: 'ours-redis-fastify',
    b: 'floor-c-fastify',
  },
  {
    text: 'Ours on Fastify, Redis, authenticated / @fastify/session + connect-redis, defaults',
    a: 'ours-redis-fastify',
    b: 'fs-redis-fastify',
  },
  {
    text: 'Ours on Fastify, Redis, authenticated / @fastify/session + connect-redis, rolling: false',
    a: 'ours-redis-fastify',
    b: 'fs-redis-norolling-fastify',
  },
  { text: 'Guest / floor A with a no-op guard + param decorator', a: 'ours-guest', b: 'floor-a-guard' },
  {
    text: 'Ours in-memory, authenticated / floor A with a no-op guard + param decorator',
    a: 'ours-memory',
    b: 'floor-a-guard',
  },
  {
    text: 'Floor B with a no-op guard + param decorator / floor B (what Nest itself charges a guard)',
    a: 'floor-b-guard',
    b: 'floor-b',
  },
  {
    text: 'Ours on Redis, authenticated / floor B with a no-op guard + param decorator',
    a: 'ours-redis',
    b: 'floor-b-guard',
  },
  { text: 'Ours on Redis, authenticated / ours in-memory', a: 'ours-redis', b: 'ours-memory' },
  { text: 'express-session MemoryStore / floor A', a: 'es-memory', b: 'floor-a' },
];
/** With `--baseline`: each twin after / before (informational; simultaneous pairs as for the goals). */
const BEFORE_AFTER = BASELINE_TWINS.map((name) => ({
  id: `after-vs-before:${name}`,
  text: `\`${name}\` after / before`,
  a: name,
  b: beforeOf(name),
}));

// ------------------------------------------------------------------------------------------------ processes
const children = new Set();
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
function killAll(signal = 'SIGKILL') {
  for (const child of children) {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}
process.on('exit', () => killAll('SIGKILL'));
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping every process it started\n`);
    killAll('SIGKILL');
    process.exit(130);
  });
}

async function stop(child, ms = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

const cores = availableParallelism();
const TASKSET = cores >= 2 ? which('taskset') : null;
/** Server processes on core 0; the load generator and Redis on core 1. */
const pin = (core, cmd, args) => (TASKSET ? [TASKSET, ['-c', String(core), cmd, ...args]] : [cmd, args]);
const SERVER_CORE = 0;
const LOAD_CORE = 1;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------------------------------------ redis
function portFree(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** Sends one inline command over RESP and returns the bulk string reply. */
function redisCommand(port, command) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let data = '';
    socket.setEncoding('utf8');
    socket.once('error', reject);
    socket.on('data', (chunk) => {
      data += chunk;
      if (data.startsWith('+') || data.startsWith('-')) {
        if (data.includes('\r\n')) {
          socket.destroy();
          resolve(data.slice(1, data.indexOf('\r\n')));
        }
        return;
      }
      const nl = data.indexOf('\r\n');
      if (nl === -1) return;
      const length = Number(data.slice(1, nl));
      if (Buffer.byteLength(data.slice(nl + 2)) >= length) {
        socket.destroy();
        resolve(data.slice(nl + 2, nl + 2 + length));
      }
    });
    socket.write(`${command}\r\n`);
  });
}

async function commandStats(port) {
  const text = await redisCommand(port, 'INFO commandstats');
  const byCommand = {};
  let total = 0;
  for (const line of text.split('\r\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (!m || m[1] === 'info') continue; // our own INFO does not count
    byCommand[m[1]] = Number(m[2]);
    total += Number(m[2]);
  }
  return { total, byCommand };
}

function statsDelta(before, after) {
  const byCommand = {};
  for (const [cmd, calls] of Object.entries(after.byCommand)) {
    const d = calls - (before.byCommand[cmd] ?? 0);
    if (d > 0) byCommand[cmd] = d;
  }
  return { total: after.total - before.total, byCommand };
}

async function startRedis() {
  if (env.BENCH_REDIS_URL) {
    const url = new URL(env.BENCH_REDIS_URL);
    return { url: env.BENCH_REDIS_URL, port: Number(url.port || 6379), own: false };
  }
  if (!which('redis-server'))
    throw new Error('redis-server not found (apt-get install -y redis-server), or set BENCH_REDIS_URL');
  for (let port = 6410; port <= 6419; port++) {
    if (!(await portFree(port))) continue;
    const [cmd, args] = pin(LOAD_CORE, 'redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--loglevel',
      'warning',
    ]);
    const child = track(spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] }));
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      if (child.exitCode !== null) break;
      try {
        if ((await redisCommand(port, 'PING')) === 'PONG')
          return { url: `redis://127.0.0.1:${port}`, port, own: true, child };
      } catch {
        /* not yet */
      }
    }
    await stop(child);
  }
  throw new Error('could not start redis-server on any port 6410-6419');
}

// ------------------------------------------------------------------------------------------------ baseline
const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();

/**
 * Builds the library of a git ref with that ref's own build script, once per commit, into
 * node_modules/.cache/nestjs-yosai-bench/<sha> (ignored by git and by every tool that walks the tree). The build
 * uses this checkout's node_modules, so both sides run on the same Nest, Redis client and cache-manager; the
 * built files then find them by walking up from the cache directory.
 */
function buildBaseline(ref) {
  let sha;
  try {
    sha = git('rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`);
  } catch (error) {
    throw new Error(`--baseline ${ref}: not a commit in this repository`, { cause: error });
  }
  const dir = join(root, 'node_modules', '.cache', 'nestjs-yosai-bench', sha);
  const entry = join(dir, 'dist', 'esm', 'index.js');
  const baseline = { ref, sha, library: pathToFileURL(entry).href };
  if (existsSync(entry)) {
    console.log(`bench: baseline ${ref} (${sha.slice(0, 7)}) already built in ${dir}`);
    return baseline;
  }
  console.log(`bench: building the baseline library of ${ref} (${sha.slice(0, 7)}) in ${dir}`);
  // Built beside its final place and renamed at the end, so that an interrupted build is never taken for one.
  const building = `${dir}.${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  try {
    const tar = execFileSync('git', ['archive', '--format=tar', sha], { cwd: root, maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', building], { input: tar });
    const modules = join(building, 'node_modules');
    symlinkSync(join(root, 'node_modules'), modules, 'dir');
    execFileSync('npm', ['run', '--silent', 'build'], {
      cwd: building,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    // The link is only for the build's tools; left in place it would make a cycle under node_modules.
    rmSync(modules);
    if (!existsSync(join(building, 'dist', 'esm', 'index.js')))
      throw new Error('the build made no dist/esm/index.js');
    rmSync(dir, { recursive: true, force: true });
    renameSync(building, dir);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(`--baseline ${ref}: build failed: ${error.message}`, { cause: error });
  }
  return baseline;
}

/** The "after" side: the commit checked out here, and whether what the library is built from differs from it. */
function currentTree() {
  try {
    return {
      sha: git('rev-parse', 'HEAD'),
      dirty: git('status', '--porcelain', '--', 'src', 'scripts', 'package.json', 'tsconfig*.json') !== '',
    };
  } catch {
    return null;
  }
}

/** The twin of each scenario in BASELINE_TWINS, run on the baseline build. */
function twinsOn(baseline) {
  return BASELINE_TWINS.map((name) => {
    const scenario = SCENARIOS.find((s) => s.name === name);
    return {
      ...scenario,
      name: beforeOf(name),
      label: `${scenario.label}, before (${baseline.ref})`,
      library: baseline.library,
    };
  });
}

// ------------------------------------------------------------------------------------------------ servers
/** The environment of a server or heap process: BENCH_LIBRARY names the baseline build, or is absent. */
function childEnv(library, extra = {}) {
  const vars = { ...env, ...extra };
  delete vars.BENCH_LIBRARY; // one set for the runner itself must not leak into the "after" side
  if (library) vars.BENCH_LIBRARY = library;
  return vars;
}

async function startServer(scenario, redisUrl) {
  const [cmd, args] = pin(SERVER_CORE, process.execPath, [join(here, 'server.mjs'), scenario.name, redisUrl]);
  const child = track(
    spawn(cmd, args, {
      cwd: root,
      stdio: ['pipe', 'pipe', 'inherit'],
      env: childEnv(scenario.library, { BENCH_WATCH_STDIN: '1' }),
    }),
  );
  const ready = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${scenario.name}: not ready within 30 s`)), 30_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /READY (\{.*\})\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(JSON.parse(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${scenario.name}: server exited with ${code} before it was ready`));
    });
  });
  return { ...scenario, child, pid: child.pid, port: ready.port, cookieValue: ready.cookie };
}

async function check(server) {
  const headers = server.cookie ? { cookie: server.cookieValue } : {};
  const res = await fetch(`http://127.0.0.1:${server.port}${server.path}`, { headers });
  const body = await res.text();
  const setCookie = res.headers.get('set-cookie');
  const problems = [];
  if (res.status !== 200) problems.push(`status ${res.status}`);
  if (server.expect.body !== undefined && body !== server.expect.body) problems.push(`body ${body}`);
  if (!!server.expect.setCookie !== !!setCookie) problems.push(`set-cookie ${setCookie}`);
  if (problems.length) throw new Error(`${server.name}: unexpected response (${problems.join('; ')})`);
}

/** User + system CPU time of a process so far, in ms (from /proc/<pid>/stat; clock ticks are 10 ms). */
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------------------------------------ load
const LOADGEN = env.BENCH_LOADGEN ?? (which('wrk') ? 'wrk' : 'autocannon');

function runProcess(cmd, args, processEnv = env) {
  return new Promise((resolve, reject) => {
    const child = track(spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: processEnv }));
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (err += c));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`)),
    );
  });
}

/** wrk ended without its summary line (seen once in a simultaneous pair): the measurement is repeated, once. */
class NoSummaryError extends Error {
  constructor(out) {
    super(`wrk printed no summary: ${out}`);
  }
}

/** Runs one measurement, and once more when wrk printed no summary, instead of stopping the whole run. */
async function measuredOnce(label, measure) {
  try {
    return await measure();
  } catch (error) {
    if (!(error instanceof NoSummaryError)) throw error;
    console.log(`  ${label}: wrk printed no summary; measuring again`);
    return measure();
  }
}

/** One load run: { requests, seconds, rps, p50Ms, p99Ms, errors } */
async function load(server, seconds, connections = CONNECTIONS) {
  const url = `http://127.0.0.1:${server.port}${server.path}`;
  if (LOADGEN === 'wrk') {
    const args = [
      '-t1',
      `-c${connections}`,
      `-d${seconds}s`,
      '--timeout',
      '5s',
      '-s',
      join(here, 'wrk-report.lua'),
    ];
    if (server.cookie) args.push('-H', `Cookie: ${server.cookieValue}`);
    args.push(url);
    const [cmd, full] = pin(LOAD_CORE, 'wrk', args);
    const out = await runProcess(cmd, full);
    const m = /WRKJSON (\{.*\})/.exec(out);
    if (!m) throw new NoSummaryError(out);
    const r = JSON.parse(m[1]);
    const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
    const secondsRun = r.duration_us / 1e6;
    return {
      requests: r.requests,
      seconds: secondsRun,
      rps: r.requests / secondsRun,
      p50Ms: r.p50_us / 1000,
      p99Ms: r.p99_us / 1000,
      errors,
    };
  }
  const args = [
    join(root, 'node_modules/autocannon/autocannon.js'),
    '-c',
    String(connections),
    '-d',
    String(seconds),
    '-j',
  ];
  if (server.cookie) args.push('-H', `cookie=${server.cookieValue}`);
  args.push(url);
  const [cmd, full] = pin(LOAD_CORE, process.execPath, args);
  const r = JSON.parse(await runProcess(cmd, full));
  return {
    requests: r.requests.total,
    seconds: r.duration,
    rps: r.requests.total / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: (r.non2xx ?? 0) + (r.errors ?? 0) + (r.timeouts ?? 0),
  };
}

// ------------------------------------------------------------------------------------------------ heap
async function heap(kind, library = null) {
  const [cmd, args] = pin(SERVER_CORE, process.execPath, [
    '--expose-gc',
    join(here, 'heap.mjs'),
    kind,
    String(SESSIONS),
  ]);
  const out = await runProcess(cmd, args, childEnv(library));
  const m = /HEAPJSON (\{.*\})/.exec(out);
  if (!m) throw new Error(`heap.mjs ${kind} printed no result: ${out}`);
  return JSON.parse(m[1]);
}

// ------------------------------------------------------------------------------------------------ main
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const round = (x, d = 2) => (Number.isFinite(x) ? Number(x.toFixed(d)) : x);

function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  let redisVersion = null;
  try {
    redisVersion = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    /* none */
  }
  let wrkVersion;
  try {
    wrkVersion = execFileSync('wrk', ['-v'], { encoding: 'utf8' }).split('\n')[0].trim();
  } catch (error) {
    wrkVersion =
      String(error.stdout ?? '')
        .split('\n')[0]
        .trim() || null; // wrk -v exits 1
  }
  return {
    nproc: cores,
    cpu: model,
    node: process.version,
    redis: redisVersion,
    loadgen: LOADGEN === 'wrk' ? wrkVersion : 'autocannon 9',
    loadavgAtStart: readFileSync('/proc/loadavg', 'utf8').trim(),
    pinned: TASKSET
      ? `servers on core ${SERVER_CORE}; load generator and redis-server on core ${LOAD_CORE}`
      : 'not pinned',
  };
}

async function main() {
  const started = new Date();
  const baseline = BASELINE_REF ? buildBaseline(BASELINE_REF) : null;
  const known = baseline ? [...SCENARIOS, ...twinsOn(baseline)] : SCENARIOS;
  const only = env.BENCH_ONLY
    ? new Set(
        env.BENCH_ONLY.split(',')
          .map((name) => name.trim())
          .filter(Boolean),
      )
    : null;
  for (const name of only ?? []) {
    if (known.some((s) => s.name === name)) continue;
    throw new Error(
      name.endsWith(BEFORE) && BASELINE_TWINS.includes(name.slice(0, -BEFORE.length))
        ? `BENCH_ONLY: ${name} needs --baseline <git-ref> (or BENCH_BASELINE)`
        : `BENCH_ONLY: unknown scenario ${name}; one of ${known.map((s) => s.name).join(', ')}`,
    );
  }
  const scenarios = known.filter((s) => !only || only.has(s.name));
  const info = machine();
  console.log(
    `bench: ${scenarios.length} scenarios × ${REPS} × ${DURATION} s (warm-up ${WARMUP} s), ${LOADGEN}, -c ${CONNECTIONS}; ${info.pinned}`,
  );
  const redis = await startRedis();
  console.log(
    `bench: redis at ${redis.url}${redis.own ? ' (started for this run)' : ' (shared: command counts include other clients)'}`,
  );

  const servers = [];
  for (const scenario of scenarios) {
    const server = await startServer(scenario, redis.url);
    await check(server);
    servers.push(server);
  }
  console.log(`bench: ${servers.length} servers ready; warming up`);
  for (const server of servers) await load(server, WARMUP);

  const runs = Object.fromEntries(servers.map((s) => [s.name, []]));
  const sequence = [...servers].sort((x, y) => MEASURE_ORDER.indexOf(x.name) - MEASURE_ORDER.indexOf(y.name));
  for (let rep = 0; rep < REPS; rep++) {
    // Interleaved: each repetition measures every scenario once, in the sequence rotated by one per repetition and
    // reversed in every other one, so that each side of a goal is measured first as often as second.
    const rotated = sequence.map((_, i) => sequence[(i + rep) % sequence.length]);
    const order = rep % 2 === 1 ? rotated.reverse() : rotated;
    for (const server of order) {
      const { before, cpuBefore, r, cpuAfter, after } = await measuredOnce(server.name, async () => {
        const before = await commandStats(redis.port);
        const cpuBefore = cpuMs(server.pid);
        const r = await load(server, DURATION);
        return { before, cpuBefore, r, cpuAfter: cpuMs(server.pid), after: await commandStats(redis.port) };
      });
      const delta = statsDelta(before, after);
      const run = {
        ...r,
        serverCpuUsPerRequest: ((cpuAfter - cpuBefore) * 1000) / r.requests,
        redisCommands: delta.total,
        redisByCommand: delta.byCommand,
        commandsPerRequest: delta.total / r.requests,
      };
      runs[server.name].push(run);
      console.log(
        `  rep ${rep + 1} ${server.name.padEnd(20)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  ${run.commandsPerRequest.toFixed(3)} cmd/req  ${run.serverCpuUsPerRequest.toFixed(0)} µs CPU/req${r.errors ? `  ERRORS ${r.errors}` : ''}`,
      );
    }
  }
  // Simultaneous pairs: both sides of a goal under load at the same moment, half the connections each, their
  // servers sharing core 0. Each then gets about half of that core, so the ratio of their requests/s is the
  // inverse ratio of their CPU cost per request, measured while both see exactly the same machine.
  const paired = {};
  for (const goal of [...GOALS.filter((g) => g.a && g.b), ...BEFORE_AFTER]) {
    const a = servers.find((s) => s.name === goal.a);
    const b = servers.find((s) => s.name === goal.b);
    if (!a || !b || PAIRED_REPS < 1) continue;
    const perRep = [];
    for (let rep = 0; rep < PAIRED_REPS; rep++) {
      const half = Math.max(1, Math.round(CONNECTIONS / 2));
      const [ra, rb] = await measuredOnce(`pair ${goal.a} | ${goal.b}`, async () => {
        // Both loads end before a failure is thrown, so that a repeat never overlaps the other side's wrk.
        const both = await Promise.allSettled([load(a, DURATION, half), load(b, DURATION, half)]);
        for (const side of both) if (side.status === 'rejected') throw side.reason;
        return both.map((side) => side.value);
      });
      perRep.push(ra.rps / rb.rps);
      console.log(
        `  pair ${rep + 1} ${goal.a} ${ra.rps.toFixed(0)} req/s | ${goal.b} ${rb.rps.toFixed(0)} req/s  ratio ${(ra.rps / rb.rps).toFixed(3)}`,
      );
    }
    paired[goal.id] = { value: round(median(perRep), 3), perRep: perRep.map((x) => round(x, 3)) };
  }

  for (const server of servers) {
    server.rssKb = rssKb(server.pid);
    await check(server); // still answering as expected after the load
  }

  console.log('bench: heap per idle session');
  const heapOurs = await heap('ours');
  const heapExpress = await heap('express-session');
  const heapBefore = baseline ? await heap('ours', baseline.library) : null;

  for (const server of servers) await stop(server.child);
  if (redis.own) await stop(redis.child);

  const results = {};
  for (const server of servers) {
    const rs = runs[server.name];
    results[server.name] = {
      label: server.label,
      rps: round(median(rs.map((r) => r.rps)), 0),
      p50Ms: round(median(rs.map((r) => r.p50Ms))),
      p99Ms: round(median(rs.map((r) => r.p99Ms))),
      commandsPerRequest: round(median(rs.map((r) => r.commandsPerRequest)), 3),
      serverCpuUsPerRequest: round(median(rs.map((r) => r.serverCpuUsPerRequest)), 0),
      redisByCommand: rs.at(-1)?.redisByCommand ?? {},
      rssMb: server.rssKb === null ? null : round(server.rssKb / 1024, 1),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      runs: rs,
    };
  }
  const ratio = (a, b) => {
    if (!results[a] || !results[b]) return null;
    const perRep = runs[a].map((r, i) => r.rps / runs[b][i].rps);
    const cpu = results[b].serverCpuUsPerRequest / results[a].serverCpuUsPerRequest;
    // The median of the per-repetition ratios: each pair was measured within a couple of minutes of each other.
    return {
      value: round(median(perRep), 3),
      perRep: perRep.map((x) => round(x, 3)),
      cpuRatio: round(cpu, 3),
    };
  };
  /** What a goal measures in this run; `oursHeap` is the heap result of the side being judged. */
  const measure = (g, oursHeap = heapOurs) => {
    if (g.heap)
      return oursHeap ? { value: round(oursHeap.bytesPerSession / heapExpress.bytesPerSession, 3) } : null;
    if (g.commands) return results[g.commands] ? { value: results[g.commands].commandsPerRequest } : null;
    if (g.p99) {
      const [a, b] = g.p99.map((name) => results[name]);
      return a && b ? { value: round(a.p99Ms / b.p99Ms, 3), p99Ms: [a.p99Ms, b.p99Ms] } : null;
    }
    return ratio(g.a, g.b);
  };
  const goals = GOALS.map((g) => {
    const r = measure(g);
    if (!r) return { ...g, value: null, met: null };
    if (g.heap) return { ...g, ...r, met: heapOurs.bytesPerSession <= heapExpress.bytesPerSession };
    if (g.p99) return { ...g, ...r, met: r.value <= g.max };
    if (g.commands) {
      // Every answered request made exactly `equals` commands; when wrk stops, up to one request per connection
      // may have made its command without being counted as answered, which a short run would show as a miss.
      const exact = (run) =>
        run.redisCommands >= g.equals * run.requests &&
        run.redisCommands <= g.equals * (run.requests + CONNECTIONS);
      return { ...g, ...r, met: runs[g.commands].every(exact) };
    }
    const byRps = r.value >= g.min;
    const pair = paired[g.id];
    // The verdict needs the sequential requests/s ratio and the simultaneous pair ratio to agree; when they do
    // not, the run was too noisy to call it. CPU time per request is shown for diagnosis.
    const byPair = pair ? pair.value >= g.min : byRps;
    return {
      ...g,
      ...r,
      paired: pair ?? null,
      met: byRps && byPair ? true : !byRps && !byPair ? false : 'inconclusive',
      byRps,
      byPair,
    };
  });
  const info2 = INFO_RATIOS.map((x) => ({ ...x, ...(ratio(x.a, x.b) ?? { value: null }) }));
  // Before/after, informational: each twin against its baseline run, and the goals measured on the baseline's
  // side (sequential runs only: the simultaneous pairs are spent on the current side).
  const beforeAfter = BEFORE_AFTER.filter((x) => results[x.b]).map((x) => ({
    ...x,
    ...(ratio(x.a, x.b) ?? { value: null }),
    paired: paired[x.id] ?? null,
  }));
  const onBaseline = (g) =>
    g.heap
      ? g
      : BASELINE_TWINS.includes(g.commands)
        ? { ...g, commands: beforeOf(g.commands) }
        : BASELINE_TWINS.includes(g.a)
          ? { ...g, a: beforeOf(g.a) }
          : null;
  const goalsBefore = baseline
    ? GOALS.map(onBaseline)
        .filter(Boolean)
        .map((g) => ({ ...g, ...(measure(g, heapBefore) ?? { value: null }) }))
    : [];
  const args = process.argv.slice(2);
  const report = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
    settings: {
      durationS: DURATION,
      warmupS: WARMUP,
      reps: REPS,
      pairedReps: PAIRED_REPS,
      connections: CONNECTIONS,
      loadgen: LOADGEN,
      sessions: SESSIONS,
    },
    machine: { ...info, loadavgAtEnd: readFileSync('/proc/loadavg', 'utf8').trim() },
    results,
    heap: { ours: heapOurs, expressSession: heapExpress, ...(heapBefore ? { oursBefore: heapBefore } : {}) },
    goals,
    otherRatios: info2,
    ...(baseline
      ? { baseline: { ref: baseline.ref, sha: baseline.sha }, after: currentTree(), beforeAfter, goalsBefore }
      : {}),
  };
  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(dir, `bench-${stamp}.json`), JSON.stringify(report, null, 2));
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(report, null, 2));
  const md = markdown(report);
  writeFileSync(join(dir, 'latest.md'), md);
  console.log(`\n${md}`);
  console.log(`bench: results in bench/results/bench-${stamp}.json (and latest.json, latest.md)`);
  if (UPDATE_DOC) updateDoc(md);
}

function markdown(report) {
  const lines = [];
  lines.push(
    `Run ${report.started} · ${report.machine.nproc} cores, ${report.machine.cpu} · Node ${report.machine.node} · ${report.machine.redis?.split(' ').slice(0, 3).join(' ')} · ${report.machine.loadgen}`,
  );
  lines.push(
    `${report.settings.reps} × ${report.settings.durationS} s per scenario (interleaved, after a ${report.settings.warmupS} s warm-up), ${report.settings.connections} connections, medians · ${report.machine.pinned} · load average ${report.machine.loadavgAtStart} at start, ${report.machine.loadavgAtEnd} at end`,
  );
  lines.push('');
  lines.push(
    '| scenario | req/s | p50 ms | p99 ms | Redis cmd/req | server CPU µs/req | server RSS MB | errors |',
  );
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [name, r] of Object.entries(report.results)) {
    const cmds = Object.entries(r.redisByCommand)
      .map(([c, n]) => `${c} ${round(n / r.runs.at(-1).requests, 2)}`)
      .join(', ');
    lines.push(
      `| \`${name}\` ${r.label} | ${r.rps} | ${r.p50Ms} | ${r.p99Ms} | ${r.commandsPerRequest}${cmds ? ` (${cmds})` : ''} | ${r.serverCpuUsPerRequest} | ${r.rssMb} | ${r.errors} |`,
    );
  }
  lines.push('');
  const h = report.heap;
  lines.push(
    `Heap per idle session, ${h.ours.count.toLocaleString('en')} sessions in one process (\`node --expose-gc\`): ours (in-memory store, authenticated records made by SessionManager) **${Math.round(h.ours.bytesPerSession)} B**${h.oursBefore ? ` (before: ${Math.round(h.oursBefore.bytesPerSession)} B)` : ''}, express-session MemoryStore **${Math.round(h.expressSession.bytesPerSession)} B**.`,
  );
  lines.push('');
  lines.push(
    'Ratios: the median of the per-repetition req/s ratios of the sequential runs; the ratio of server CPU time per request; the median req/s ratio of the simultaneous pairs (both servers loaded at once on one core). Verdict: met when the sequential and the simultaneous ratios both reach the goal, not met when both miss it, else inconclusive.',
  );
  lines.push('');
  lines.push('| goal | measured | verdict |');
  lines.push('|---|---:|---|');
  for (const g of report.goals) {
    const verdict =
      g.met === null
        ? 'not measured'
        : g.met === 'inconclusive'
          ? `inconclusive (${g.byRps ? 'met' : 'not met'} by sequential req/s, ${g.byPair ? 'met' : 'not met'} simultaneously)`
          : g.met
            ? '**met**'
            : '**not met**';
    lines.push(`| ${g.text} | ${measured(g)} | ${verdict} |`);
  }
  lines.push('');
  lines.push('| other ratio | measured |');
  lines.push('|---|---:|');
  for (const x of report.otherRatios)
    lines.push(`| ${x.text} | ${x.value === null ? 'n/a' : `${x.value}× (by CPU/req ${x.cpuRatio}×)`} |`);
  if (report.baseline) lines.push('', ...beforeAfterMarkdown(report));
  return `${lines.join('\n')}\n`;
}

/** A goal's or ratio's measurement as one table cell. */
function measured(g) {
  if (g.value === null) return 'n/a';
  if (g.commands) return `${g.value} cmd/req`;
  if (g.heap) return `${g.value}×`;
  if (g.p99) return `${g.value}× (p99 medians ${g.p99Ms[0]} and ${g.p99Ms[1]} ms)`;
  const pair = g.paired ? `; simultaneous ${g.paired.value}×, per pair ${g.paired.perRep.join(', ')}` : '';
  return `${g.value}× (per rep ${g.perRep.join(', ')}; by CPU/req ${g.cpuRatio}×${pair})`;
}

function beforeAfterMarkdown(report) {
  const { baseline, after } = report;
  const afterSide = after
    ? `\`dist/\` built from ${after.sha.slice(0, 7)}${after.dirty ? ' with uncommitted changes' : ''}`
    : 'the current `dist/`';
  const lines = [
    `Before/after, informational (no threshold): "before" is the library of \`${baseline.ref}\` (${baseline.sha.slice(0, 7)}), built by the runner; "after" is ${afterSide}. Both sides run the same \`bench/server.mjs\` in this run, interleaved; a ratio above 1 means after is faster.`,
    '',
    '| after / before | measured |',
    '|---|---:|',
    ...report.beforeAfter.map((x) => `| ${x.text} | ${measured(x)} |`),
  ];
  if (report.goalsBefore.length) {
    lines.push(
      '',
      '| goal, measured on each side | after | before (sequential runs only) |',
      '|---|---:|---:|',
    );
    for (const b of report.goalsBefore) {
      const a = report.goals.find((g) => g.id === b.id);
      if (a.value === null && b.value === null) continue;
      lines.push(`| ${b.text} | ${measured(a)} | ${measured(b)} |`);
    }
  }
  return lines;
}

function updateDoc(md) {
  const path = join(root, 'BENCHMARKS.md');
  const start = '<!-- bench:results:start -->';
  const end = '<!-- bench:results:end -->';
  const doc = readFileSync(path, 'utf8');
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i === -1 || j === -1) throw new Error('BENCHMARKS.md has no results markers');
  writeFileSync(path, `${doc.slice(0, i + start.length)}\n${md}${doc.slice(j)}`);
  console.log('bench: BENCHMARKS.md results section updated');
}

main().catch((error) => {
  console.error(`bench: ${error?.stack ?? error}`);
  killAll('SIGKILL');
  process.exit(1);
});
