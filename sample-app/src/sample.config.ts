/** The sample app's configuration, read from environment variables once at startup. */
export interface SampleConfig {
  /** `PORT`, default 3000. */
  readonly port: number;
  /**
   * Where sessions live: `REDIS_URL` (one server), `REDIS_CLUSTER_NODES` (a Redis Cluster) or `REDIS_SENTINELS`
   * with `REDIS_SENTINEL_NAME` (a master watched by Sentinel); null keeps sessions in this process's memory.
   */
  readonly redis: RedisTarget | null;
  /**
   * `REDIS_WAIT_REPLICAS` (and `REDIS_WAIT_TIMEOUT_MS`, default 500): durable revocation, the store's
   * `waitForReplicas`. Undefined: logouts do not wait for replicas.
   */
  readonly waitForReplicas: { replicas: number; timeoutMs: number } | undefined;
  /** `YOSAI_IDLE_TIMEOUT_MS`; undefined keeps the module's default (30 min). */
  readonly idleTimeoutMs: number | undefined;
  /** `YOSAI_ABSOLUTE_TIMEOUT_MS`; undefined keeps the module's default (8 h). */
  readonly absoluteTimeoutMs: number | undefined;
  /** `YOSAI_GUEST_IDLE_TIMEOUT_MS`; undefined keeps the module's default (15 min, at most the idle timeout). */
  readonly guestIdleTimeoutMs: number | undefined;
  /** `YOSAI_COOKIE_SECURE`: `true`, `false`, or `auto` (the default: Secure only over HTTPS). */
  readonly cookieSecure: boolean | 'auto';
  /** `YOSAI_LOGIN_MAX_FAILURES`: failed logins for one username before it is locked. Default 5. */
  readonly loginMaxFailures: number;
  /** `YOSAI_LOGIN_LOCK_MS`: how long such a lock lasts (1 s to 24 h). Default 900,000 (15 min). */
  readonly loginLockMs: number;
  /** `YOSAI_LOGIN_REFUSAL_DELAY_MS`: how long a refused login (429) is held before it is answered (0 to 60 s). Default 1,000. */
  readonly loginRefusalDelayMs: number;
  /** `YOSAI_MAX_SESSIONS_PER_USER`: most live sessions of one user. Undefined (unset): no cap. */
  readonly maxSessionsPerUser: number | undefined;
  /** `YOSAI_MAX_SESSIONS_POLICY`: `evict-oldest` (the default) or `refuse` (the login then gets 409). */
  readonly maxSessionsPolicy: 'evict-oldest' | 'refuse';
  /**
   * `YOSAI_SWEEP_INTERVAL_MS`: how often the expiry sweeper runs (0 to 24 h; `0` turns it off). Default 60,000: every
   * abandoned session then reports its `expired` event within about a minute of its deadline.
   */
  readonly expirySweepIntervalMs: number;
}

/** A `host:port` of a Redis node or sentinel. */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** The Redis set-up the sample's sessions live in. */
export type RedisTarget =
  | { readonly kind: 'standalone'; readonly url: string }
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisNode[] }
  | { readonly kind: 'sentinel'; readonly sentinels: readonly RedisNode[]; readonly name: string };

/** Where `npm run sample:redis` looks when none of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS is set. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** Keyv namespace of the sample's Redis keys (`yosai-sample::yosai:sess:{<tag>}<id>`, see the README's key layout). */
export const REDIS_NAMESPACE = 'yosai-sample';

/** Limits on what clients may send. Anything beyond them is a 400, never a 500. */
export const LIMITS = Object.freeze({
  /** Largest request body, bytes. */
  bodyBytes: 16 * 1024,
  /** Largest attribute value, bytes of its JSON. */
  attributeValueBytes: 4 * 1024,
  /** Deepest attribute value, levels of arrays and objects (what the library accepts in a session). */
  attributeValueDepth: 64,
  /** Most attributes one session may hold. */
  attributesPerSession: 32,
  /** Attribute keys: 1–64 characters of letters, digits, `_`, `.`, `-`. */
  attributeKey: /^[A-Za-z0-9_.-]{1,64}$/,
  /** Longest username, characters. */
  usernameLength: 128,
  /** Longest session id a route takes (ids are 43 characters): anything longer is not looked up. */
  sessionIdLength: 64,
  /** Longest password, characters. */
  passwordLength: 1024,
  /** How many events `GET /api/events` keeps. */
  events: 100,
});

/** A configuration problem, reported at startup with the variable's name. */
export class SampleConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'SampleConfigError';
  }
}

function unset(value: string | undefined): value is undefined {
  return value === undefined || value.trim() === '';
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, unit = 'milliseconds'): number | undefined {
  const raw = env[name];
  if (unset(raw)) return undefined;
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new SampleConfigError(name, `expected a positive whole number of ${unit}, got "${raw}"`);
  }
  return value;
}

/** A positive whole number within bounds, or the default when unset. */
function boundedInteger(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  [min, max]: [number, number],
  unit: string,
): number {
  const raw = env[name];
  if (unset(raw)) return fallback;
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new SampleConfigError(
      name,
      `expected a whole number of ${unit} from ${min} to ${max}, got "${raw}"`,
    );
  }
  return value;
}

/**
 * Reads the configuration from `env`.
 * @throws SampleConfigError naming the variable when a value is not usable.
 */
export function readSampleConfig(env: NodeJS.ProcessEnv): SampleConfig {
  let port = 3000;
  if (!unset(env.PORT)) {
    port = Number(env.PORT.trim());
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new SampleConfigError('PORT', `expected a port number (0-65535), got "${env.PORT}"`);
    }
  }

  const redis = readRedisTarget(env);

  let cookieSecure: boolean | 'auto' = 'auto';
  const secure = env.YOSAI_COOKIE_SECURE?.trim().toLowerCase();
  if (secure === 'true') cookieSecure = true;
  else if (secure === 'false') cookieSecure = false;
  else if (secure !== undefined && secure !== '' && secure !== 'auto') {
    throw new SampleConfigError(
      'YOSAI_COOKIE_SECURE',
      `expected true, false or auto, got "${env.YOSAI_COOKIE_SECURE}"`,
    );
  }

  const replicas = positiveInteger(env, 'REDIS_WAIT_REPLICAS', 'replicas');
  const waitTimeoutMs = positiveInteger(env, 'REDIS_WAIT_TIMEOUT_MS');
  if (waitTimeoutMs !== undefined && replicas === undefined) {
    throw new SampleConfigError('REDIS_WAIT_TIMEOUT_MS', 'expected REDIS_WAIT_REPLICAS to be set too');
  }
  if (replicas !== undefined && redis === null) {
    throw new SampleConfigError(
      'REDIS_WAIT_REPLICAS',
      'expected REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS to be set too (replicas are Redis’s)',
    );
  }

  const policy = env.YOSAI_MAX_SESSIONS_POLICY?.trim().toLowerCase();
  if (policy !== undefined && policy !== '' && policy !== 'evict-oldest' && policy !== 'refuse') {
    throw new SampleConfigError(
      'YOSAI_MAX_SESSIONS_POLICY',
      `expected evict-oldest or refuse, got "${env.YOSAI_MAX_SESSIONS_POLICY}"`,
    );
  }

  return {
    port,
    redis,
    waitForReplicas: replicas === undefined ? undefined : { replicas, timeoutMs: waitTimeoutMs ?? 500 },
    idleTimeoutMs: positiveInteger(env, 'YOSAI_IDLE_TIMEOUT_MS'),
    absoluteTimeoutMs: positiveInteger(env, 'YOSAI_ABSOLUTE_TIMEOUT_MS'),
    guestIdleTimeoutMs: positiveInteger(env, 'YOSAI_GUEST_IDLE_TIMEOUT_MS'),
    cookieSecure,
    loginMaxFailures: boundedInteger(env, 'YOSAI_LOGIN_MAX_FAILURES', 5, [1, 1000], 'failed logins'),
    loginLockMs: boundedInteger(
      env,
      'YOSAI_LOGIN_LOCK_MS',
      15 * 60_000,
      [1000, 24 * 60 * 60_000],
      'milliseconds',
    ),
    loginRefusalDelayMs: boundedInteger(
      env,
      'YOSAI_LOGIN_REFUSAL_DELAY_MS',
      1000,
      [0, 60_000],
      'milliseconds',
    ),
    maxSessionsPerUser: positiveInteger(env, 'YOSAI_MAX_SESSIONS_PER_USER', 'sessions'),
    maxSessionsPolicy: policy === 'refuse' ? 'refuse' : 'evict-oldest',
    expirySweepIntervalMs: boundedInteger(
      env,
      'YOSAI_SWEEP_INTERVAL_MS',
      60_000,
      [0, 24 * 60 * 60_000],
      'milliseconds',
    ),
  };
}

/** `REDIS_URL`, checked: a redis:// or rediss:// URL. */
function redisUrl(env: NodeJS.ProcessEnv): string | undefined {
  if (unset(env.REDIS_URL)) return undefined;
  const url = env.REDIS_URL.trim();
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new SampleConfigError('REDIS_URL', 'expected a URL such as redis://127.0.0.1:6379');
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new SampleConfigError('REDIS_URL', `expected a redis:// or rediss:// URL, got ${protocol}//`);
  }
  return url;
}

/** A comma-separated `host:port` list (an IPv6 host in brackets: `[::1]:6379`). */
function nodeList(env: NodeJS.ProcessEnv, name: string): RedisNode[] | undefined {
  const raw = env[name];
  if (unset(raw)) return undefined;
  return raw.split(',').map((part) => {
    const match = /^\s*(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\s*$/.exec(part);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      throw new SampleConfigError(
        name,
        `expected host:port[,host:port...] such as 10.0.0.1:6379,10.0.0.2:6379, got "${part.trim()}"`,
      );
    }
    return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
  });
}

/** The Redis set-up from REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS + REDIS_SENTINEL_NAME (at most one). */
function readRedisTarget(env: NodeJS.ProcessEnv): RedisTarget | null {
  const url = redisUrl(env);
  const nodes = nodeList(env, 'REDIS_CLUSTER_NODES');
  const sentinels = nodeList(env, 'REDIS_SENTINELS');
  const name = unset(env.REDIS_SENTINEL_NAME) ? undefined : env.REDIS_SENTINEL_NAME.trim();
  if (name !== undefined && !/^[A-Za-z0-9_.-]{1,128}$/.test(name)) {
    throw new SampleConfigError(
      'REDIS_SENTINEL_NAME',
      `expected a master name such as mymaster, got "${name}"`,
    );
  }
  const chosen = [url && 'REDIS_URL', nodes && 'REDIS_CLUSTER_NODES', sentinels && 'REDIS_SENTINELS'].filter(
    (variable): variable is string => typeof variable === 'string',
  );
  if (chosen.length > 1) {
    throw new SampleConfigError(chosen[1], `expected only one of ${chosen.join(' and ')} to be set`);
  }
  if (sentinels) {
    if (name === undefined) {
      throw new SampleConfigError(
        'REDIS_SENTINEL_NAME',
        'expected the name of the master the sentinels watch (as in `sentinel monitor <name> ...`), with REDIS_SENTINELS',
      );
    }
    return { kind: 'sentinel', sentinels, name };
  }
  if (name !== undefined) {
    throw new SampleConfigError('REDIS_SENTINEL_NAME', 'expected only together with REDIS_SENTINELS');
  }
  if (nodes) return { kind: 'cluster', nodes };
  return url === undefined ? null : { kind: 'standalone', url };
}

/** What the log says about where sessions live (a URL without its password). */
export function describeRedis(target: RedisTarget): string {
  const list = (nodes: readonly RedisNode[]) =>
    nodes.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(', ');
  if (target.kind === 'cluster') return `Redis Cluster (nodes ${list(target.nodes)})`;
  if (target.kind === 'sentinel')
    return `Redis via Sentinel (master ${target.name}, sentinels ${list(target.sentinels)})`;
  return `Redis at ${redactUrl(target.url)}`;
}

/** A Redis URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
