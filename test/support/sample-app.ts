import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/support/sample-app.ts). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SAMPLE_MAIN = join(ROOT, 'sample-app/dist/main.js');
const LIBRARY_ENTRY = join(ROOT, 'dist/esm/index.js');
const LOCK = join(ROOT, '.artifacts/locks/sample-build');

function newestMtime(dir: string, filter: (name: string) => boolean): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !filter(entry.name)) continue;
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

function mtime(file: string): number {
  return existsSync(file) ? statSync(file).mtimeMs : 0;
}

async function withLock<T>(work: () => T): Promise<T> {
  mkdirSync(dirname(LOCK), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // Another test file (or another person's run) is building; a lock older than 3 minutes is stale.
      if (Date.now() - mtime(LOCK) > 180_000) rmSync(LOCK, { recursive: true, force: true });
      if (attempt > 1200) throw new Error(`Gave up waiting for the build lock ${LOCK}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return work();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

function run(script: string) {
  execFileSync('npm', ['run', '--silent', script], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 180_000,
  });
}

/**
 * Makes sure `node sample-app/dist/main.js` can run: builds the package (`npm run build`) when dist/ is
 * missing, and the sample (`npm run build:sample`) when its output is missing or older than its sources
 * or the package build. A package build older than src/ is only reported: rebuilding dist/ under other
 * test runs would break them; CI (`.ci/run`) builds before it tests.
 */
export async function ensureSampleBuilt(): Promise<void> {
  await withLock(() => {
    if (!existsSync(LIBRARY_ENTRY)) run('build');
    else if (
      newestMtime(join(ROOT, 'src'), (n) => n.endsWith('.ts') && !n.endsWith('.spec.ts')) >
      mtime(LIBRARY_ENTRY)
    ) {
      process.stderr.write(
        '\n*** sample-app tests: dist/ is older than src/; the sample runs the last build. Run `npm run build` to test your changes. ***\n\n',
      );
    }
    const sampleSources = newestMtime(join(ROOT, 'sample-app/src'), (n) => n.endsWith('.ts'));
    if (mtime(SAMPLE_MAIN) < Math.max(sampleSources, mtime(join(ROOT, 'dist/esm/index.d.ts'))))
      run('build:sample');
  });
}

/** A free TCP port on 127.0.0.1 (asked from the OS, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A running `node sample-app/dist/main.js`. */
export interface SampleProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then waits for the exit (SIGKILL after 5 s). Returns the exit code or signal. */
  stop(): Promise<number | string | null>;
}

/**
 * Spawns the built sample app on a free port with exactly the given sample variables (REDIS_URL and
 * YOSAI_* from the test runner's environment are not passed on) and waits until it answers HTTP.
 */
export async function startSample(
  env: Record<string, string> = {},
  args: string[] = [],
): Promise<SampleProcess> {
  const port = await freePort();
  const base: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== 'REDIS_URL' && key !== 'PORT' && !key.startsWith('YOSAI_'))
      base[key] = value;
  }
  const child = spawn(process.execPath, [SAMPLE_MAIN, ...args], {
    cwd: ROOT,
    env: { ...base, NO_COLOR: '1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string | null>((r) =>
    child.once('exit', (code, signal) => r(code ?? signal)),
  );
  let running = true;
  void exited.then(() => (running = false));

  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (running) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    }
    return exited;
  };
  for (let i = 0; i < 300; i++) {
    if (!running)
      throw new Error(`The sample app exited before answering (${String(await exited)}):\n${output}`);
    try {
      const response = await fetch(`${url}/api/me`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.ok) return { url, child, output: () => output, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`The sample app did not answer on ${url} within 30 s:\n${output}`);
}

/** One HTTP answer, body parsed when it is JSON. */
export interface Reply {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the text when the body is not JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read fields of many shapes
  body: any;
  text: string;
  /** The sid cookie this answer set: a token, '' when cleared, undefined when untouched. */
  cookie: string | undefined;
}

/** A client with a one-cookie jar (`sid`), like a browser or `curl -b/-c` talking to the sample. */
export class SampleClient {
  token: string | undefined;

  /** @param cookieName the session cookie's name: `__Host-sid` when the sample runs with a Secure cookie. */
  constructor(
    readonly baseUrl: string,
    readonly cookieName = 'sid',
  ) {}

  async request(
    method: string,
    path: string,
    options: { json?: unknown; body?: string; headers?: Record<string, string>; cookie?: string | null } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    const cookie = options.cookie === undefined ? this.token : options.cookie;
    if (cookie) headers.cookie = `${this.cookieName}=${cookie}`;
    let body = options.body;
    if (options.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(options.json);
    }
    const response = await fetch(this.baseUrl + path, {
      method,
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // not JSON
    }
    const prefix = `${this.cookieName}=`;
    const sid = response.headers.getSetCookie().find((c) => c.startsWith(prefix));
    const value = sid === undefined ? undefined : sid.slice(prefix.length).split(';')[0];
    // Only requests that used the jar update it; an explicit `cookie` option is a one-off.
    if (value !== undefined && options.cookie === undefined) this.token = value === '' ? undefined : value;
    return { status: response.status, headers: response.headers, body: parsed, text, cookie: value };
  }

  get(path: string, options?: Parameters<SampleClient['request']>[2]) {
    return this.request('GET', path, options);
  }
  post(path: string, json?: unknown, options: Parameters<SampleClient['request']>[2] = {}) {
    return this.request('POST', path, { ...options, json });
  }
  put(path: string, json?: unknown, options: Parameters<SampleClient['request']>[2] = {}) {
    return this.request('PUT', path, { ...options, json });
  }
  /** All set-cookie lines of a reply (for attribute checks). */
  static setCookies(reply: Reply): string[] {
    return reply.headers.getSetCookie();
  }
}

/**
 * Boots the built sample with exactly `env`, signs the dude in, writes and reads an attribute, signs out, and
 * returns what the process printed. For checking that each Redis set-up the sample accepts really serves.
 */
export async function sampleSignsIn(env: Record<string, string>): Promise<string> {
  await ensureSampleBuilt();
  const sample = await startSample(env);
  try {
    const c = new SampleClient(sample.url);
    expect((await c.post('/api/login', { username: 'thedude', password: 'letsgobowling' })).status).toBe(200);
    expect((await c.get('/api/me')).body).toEqual({
      authenticated: true,
      username: 'thedude',
      roles: ['bowler'],
    });
    expect((await c.put('/api/session/attributes/cart', { value: ['rug'] })).status).toBe(204);
    expect((await c.get('/api/session/attributes/cart')).body).toEqual({ value: ['rug'] });
    expect((await c.get('/')).text).toContain('<strong id="store-kind">redis</strong>');
    const token = c.token;
    expect((await c.post('/api/logout')).status).toBe(204);
    expect((await c.get('/api/me', { cookie: token })).body).toMatchObject({ authenticated: false });
    return sample.output();
  } finally {
    expect(await sample.stop()).not.toBe('SIGKILL');
  }
}
