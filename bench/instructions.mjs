// Instructions per request of one benchmark server, counted by Valgrind's callgrind: a measure that does not move
// with what else runs on the machine (unlike requests/s or CPU time), for judging a change on a busy machine.
//
//   node bench/instructions.mjs <redisUrl> <scenario>[,<scenario>…] [requests, 20000] [warm-up requests, 20000]
//
// Each scenario's `bench/server.mjs` runs as `node --single-threaded` under `valgrind --tool=callgrind
// --instr-atstart=no` (JIT-compiled code, the compiler, the garbage collector, libuv: all counted). It is warmed up with the warm-up requests while
// nothing is counted, then counting is switched on (`callgrind_control -i on`) for exactly `requests` requests
// (autocannon, `amount`; one connection unless BENCH_CONNECTIONS says more: with one, every request is handled
// alone, so the count does not depend on how many requests one event-loop turn happens to batch), and the count is
// dumped. Printed: instructions per request.
// `<scenario>@<file URL>` runs the scenario on another build (the file URL of its dist/esm/index.js, such as
// `npm run bench -- --baseline <ref>` leaves in node_modules/.cache/nestjs-yosai-bench/<sha>/), as a `-before` twin;
// `<scenario>-before` takes that URL from BENCH_LIBRARY; any other scenario runs on dist/. Interleave the two
// sides (a,b,a,b): counts still move by a few per cent between runs (GC and JIT timing).
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const here = dirname(fileURLToPath(import.meta.url));
const [redisUrl, scenarios, requests = '20000', warmup = '20000'] = process.argv.slice(2);
if (!redisUrl || !scenarios) {
  throw new Error('usage: node bench/instructions.mjs <redisUrl> <scenario>[,…] [requests] [warm-up]');
}
const PATHS = { 'ours-guest': '/guest', 'ours-create': '/create' };
const COOKIE_LESS = /^(floor-[ab]|ours-guest|ours-create|es-create)/;

function load(port, path, cookie, amount) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `http://127.0.0.1:${port}${path}`,
        connections: Number(process.env.BENCH_CONNECTIONS ?? 1),
        amount,
        timeout: 120, // s: a server under valgrind on a busy machine can be slow; a failure is still a failure
        headers: cookie ? { cookie } : {},
      },
      (error, result) => {
        if (error) return reject(error);
        const bad = result.non2xx + result.errors + result.timeouts;
        if (bad > 0) return reject(new Error(`${bad} failed requests of ${amount}`));
        resolve(result);
      },
    );
  });
}

/** `<scenario>@<file URL of a build's dist/esm/index.js>` runs the scenario's `-before` twin on that build. */
function parse(spec) {
  const at = spec.indexOf('@');
  if (at === -1)
    return {
      scenario: spec,
      label: spec,
      library: spec.endsWith('-before') ? process.env.BENCH_LIBRARY : null,
    };
  return { scenario: `${spec.slice(0, at)}-before`, label: spec, library: spec.slice(at + 1) };
}

function envFor({ scenario, library }) {
  // A garbage collection under valgrind can take seconds: no 503 for a store call that waited behind one.
  const env = { ...process.env, BENCH_STORE_TIMEOUT_MS: '600000' };
  delete env.BENCH_LIBRARY;
  if (library) env.BENCH_LIBRARY = library;
  else if (scenario.endsWith('-before')) throw new Error(`${scenario} needs BENCH_LIBRARY`);
  return env;
}

async function measure(spec) {
  const { scenario } = spec;
  const dir = mkdtempSync(join(tmpdir(), 'yosai-callgrind-'));
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${join(dir, 'out.%p')}`,
      process.execPath,
      // Compilation and GC on the main thread: under valgrind, background compile jobs finish late and at varying
      // points, which moved the count by ±10 %; single-threaded, both sides tier up alike during the warm-up.
      '--single-threaded',
      join(here, 'server.mjs'),
      scenario,
      redisUrl,
    ],
    { cwd: join(here, '..'), stdio: ['ignore', 'pipe', 'pipe'], env: envFor(spec) },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  try {
    const ready = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const m = /READY (\{.*\})\n/.exec(out);
        if (m) resolve(JSON.parse(m[1]));
      });
      child.once('exit', (code) =>
        reject(new Error(`${scenario} exited with ${code}: ${stderr.slice(-2000)}`)),
      );
    });
    const path = PATHS[scenario.replace(/-before$/, '')] ?? '/me';
    const cookie = COOKIE_LESS.test(scenario) ? null : ready.cookie;
    await load(ready.port, path, cookie, Number(warmup));
    const control = (...args) =>
      execFileSync('callgrind_control', [...args, String(child.pid)], { stdio: 'pipe' });
    control('-i', 'on');
    await load(ready.port, path, cookie, Number(requests));
    control('-i', 'off');
    control('-d');
    const file = readdirSync(dir).find((name) => /\.\d+\.\d+$/.test(name)); // the dump of `-d`
    const text = readFileSync(join(dir, file), 'utf8');
    const total = Number(/^totals: (\d+)/m.exec(text)[1]);
    if (process.env.KEEP) process.stderr.write(`${spec.label}: ${join(dir, file)}\n`);
    return total / Number(requests);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

for (const spec of scenarios.split(',').map(parse)) {
  const perRequest = await measure(spec);
  process.stdout.write(`${spec.label}\t${Math.round(perRequest)} instructions/request\n`);
}
