// One benchmark scenario as its own server process: `node bench/server.mjs <scenario> <redisUrl>`.
// Prints one line `READY {"port":…,"pid":…,"cookie":…}` on stdout when it listens on 127.0.0.1.
// Plain ESM without a TypeScript step: Nest decorators are applied by hand.
//
// The library comes from `BENCH_LIBRARY` (a module specifier or file URL) when set, else from the package itself
// (`dist/`): a `<scenario>-before` twin runs the same scenario on a baseline build made by bench/run.mjs. Only
// public API that the v0.1 line and the redesign both keep is used here, so one file serves both.
import 'reflect-metadata';
import { Controller, Get, Injectable, Module, Req, createParamDecorator } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { createCache } from 'cache-manager';
import { createKeyv } from '@keyv/redis';
import { hash, randomBytes } from 'node:crypto';

const [scenario, redisUrl = 'redis://127.0.0.1:6379'] = process.argv.slice(2);
const BEFORE = '-before';
/** The scenario a `-before` twin repeats; the twin keeps its own name for its Redis keys. */
const base = scenario?.endsWith(BEFORE) ? scenario.slice(0, -BEFORE.length) : scenario;
if (base !== scenario && !process.env.BENCH_LIBRARY) {
  // Without a baseline build the twin would measure the current library under the wrong name.
  throw new Error(`${scenario} needs BENCH_LIBRARY (bench/run.mjs sets it from --baseline <git-ref>)`);
}
const library = await import(process.env.BENCH_LIBRARY || 'nestjs-yosai');
const {
  CacheManagerSessionStore,
  CurrentSubject,
  PasswordHasher,
  Realm,
  RequiresAuthentication,
  SubjectFactory,
  UsernamePasswordToken,
  YosaiGuard,
  YosaiModule,
} = library;
const IDLE_MS = 30 * 60_000;
const USER = 'bench';
const PASSWORD = 'bench-password';
const KEY_PREFIX = `bench:${scenario}:`;

/** Applies method decorators (and parameter decorators, by index) to `Class.prototype[name]`. */
function route(Class, name, methodDecorators, paramDecorators = []) {
  const proto = Class.prototype;
  paramDecorators.forEach((decorate, index) => decorate(proto, name, index));
  for (const decorate of methodDecorators) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, name);
    const result = decorate(proto, name, descriptor);
    if (result) Object.defineProperty(proto, name, result);
  }
}

function moduleOf(metadata) {
  class BenchModule {}
  Module(metadata)(BenchModule);
  return BenchModule;
}

/**
 * A provider that connects a scenario's Redis client while Nest starts the app (`onModuleInit`), where an app's own
 * provider would and where the library's store connects. A client connected before Nest's bootstrap left the whole
 * process in a faster state, which favoured the scenarios that did so (BENCHMARKS.md, 2026-12-04).
 */
function connectAtBootstrap(connect) {
  class RedisConnector {
    onModuleInit() {
      return connect();
    }
  }
  Injectable()(RedisConnector);
  return RedisConnector;
}

// ---------------------------------------------------------------- floors
async function floorA() {
  class C {
    me() {
      return { user: null };
    }
  }
  route(C, 'me', [Get('me')]);
  Controller()(C);
  return { module: moduleOf({ controllers: [C] }) };
}

// Floor A plus what any guard-based session module costs in Nest: a global guard that allows everything and a
// custom parameter decorator. Not a goal; it shows how much of a gap to floor A is Nest's own machinery.
async function floorAGuard() {
  return {
    module: moduleOf({ controllers: [noopGuardController(() => ({ user: null }))], providers: [allowAll()] }),
  };
}

function allowAll() {
  class AllowAll {
    canActivate() {
      return true;
    }
  }
  Injectable()(AllowAll);
  return { provide: APP_GUARD, useClass: AllowAll };
}

/** A controller whose `GET /me` takes a custom parameter decorator and answers `handle()`. */
function noopGuardController(handle) {
  const RequestParam = createParamDecorator((_data, context) => context.switchToHttp().getRequest());
  class C {
    me(request) {
      void request; // taken so that Nest runs the parameter decorator, as it does for @CurrentSubject()
      return handle();
    }
  }
  route(C, 'me', [Get('me')], [RequestParam()]);
  Controller()(C);
  return C;
}

/** A client of the floors' own: the one @keyv/redis itself uses (@redis/client), and how to close it. */
async function rawRedis() {
  const { createClient } = await import('@redis/client');
  const client = createClient({ url: redisUrl });
  return { client, close: () => client.close?.() ?? client.quit() };
}

async function floorB({ guard = false } = {}) {
  // One GET per request on a key that exists.
  const { client, close } = await rawRedis();
  const key = `${KEY_PREFIX}k`;
  const connector = connectAtBootstrap(async () => {
    await client.connect();
    await client.set(key, JSON.stringify({ user: USER }), { PX: IDLE_MS });
  });
  if (guard) {
    const C = noopGuardController(async () => ({ user: (await client.get(key)) === null ? null : USER }));
    return { module: moduleOf({ controllers: [C], providers: [allowAll(), connector] }), close };
  }
  class C {
    async me() {
      const raw = await client.get(key);
      return { user: raw === null ? null : USER };
    }
  }
  route(C, 'me', [Get('me')]);
  Controller()(C);
  return { module: moduleOf({ controllers: [C], providers: [connector] }), close };
}

/**
 * Floor C: the least any server-side session with hashed tokens and a hash per record has to do on an authenticated
 * request, written as lean as it goes, in a global guard: the token from the `Cookie` header, its SHA-256, one
 * `HGETALL` of a hash with the fields (and sizes) of ours' signed-in record here, the idle deadline checked, the
 * user handed to the handler by a parameter decorator. No cache headers, no shape check, no store timeout, no
 * Subject: what ours adds over floor C is ours to cut; what floor C adds over floor B is not (issue 17).
 */
async function floorC() {
  const { client, close } = await rawRedis();
  const token = randomBytes(32).toString('base64url');
  const keyOf = (presented) => `${KEY_PREFIX}{00}${hash('sha256', presented, 'base64url')}`;
  const key = keyOf(token);
  const connector = connectAtBootstrap(async () => {
    await client.connect();
    const now = Date.now();
    // The fields of ours' signed-in record in this benchmark: version, counts, compact metadata, last access.
    const meta = `2,${now.toString(36)},${IDLE_MS.toString(36)},${(8 * 3_600_000).toString(36)},1,null,["${USER}"]`;
    await client.hSet(key, { v: '1', n: '0', b: '54', m: meta, l: String(now) });
    await client.pExpire(key, IDLE_MS);
  });
  class SessionGuard {
    async canActivate(context) {
      const request = context.switchToHttp().getRequest();
      const cookie = request.headers.cookie ?? '';
      const at = cookie.indexOf('sid=');
      if (at === -1) return true;
      const fields = await client.hGetAll(keyOf(cookie.slice(at + 4, at + 47)));
      if (fields.l !== undefined && Number(fields.l) + IDLE_MS > Date.now()) request.user = USER;
      return true;
    }
  }
  Injectable()(SessionGuard);
  const UserParam = createParamDecorator(
    (_data, context) => context.switchToHttp().getRequest().user ?? null,
  );
  class C {
    me(user) {
      return { user };
    }
  }
  route(C, 'me', [Get('me')], [UserParam()]);
  Controller()(C);
  return {
    module: moduleOf({
      controllers: [C],
      providers: [{ provide: APP_GUARD, useClass: SessionGuard }, connector],
    }),
    cookie: async () => `sid=${token}`,
    close,
  };
}

// ---------------------------------------------------------------- express-session, @fastify/session
/** connect-redis over node-redis: the store express-session users pick, and one @fastify/session accepts. */
async function connectRedis() {
  const { RedisStore } = await import('connect-redis');
  const { createClient } = await import('redis');
  const client = createClient({ url: redisUrl });
  return {
    store: new RedisStore({ client, prefix: KEY_PREFIX }),
    close: () => client.close?.() ?? client.quit(),
    providers: [connectAtBootstrap(() => client.connect())],
  };
}

/** Logs in over HTTP (`GET /login`) and returns the session cookie it set, as a `Cookie` header value. */
async function loginCookie(port) {
  const res = await fetch(`http://127.0.0.1:${port}/login`);
  const setCookie = res.headers.get('set-cookie');
  if (!setCookie) throw new Error(`${scenario}: login set no cookie`);
  return setCookie.split(';')[0];
}

const UNAUTHENTICATED = '{"message":"Authentication required"}';

async function expressSession(kind) {
  const { default: session } = await import('express-session');
  const {
    store,
    close,
    providers = [],
  } = kind === 'redis' ? await connectRedis() : { store: new session.MemoryStore() };
  class C {
    me(req) {
      return { user: req.session.user ?? null };
    }
    create(req) {
      req.session.created = true;
      return { created: true };
    }
    login(req) {
      req.session.user = USER;
      return { user: USER };
    }
  }
  route(C, 'me', [Get('me')], [Req()]);
  route(C, 'create', [Get('create')], [Req()]);
  route(C, 'login', [Get('login')], [Req()]);
  Controller()(C);
  return {
    module: moduleOf({ controllers: [C], providers }),
    setup(app) {
      app.use(
        session({
          secret: 'bench-secret-not-for-production',
          store,
          resave: false,
          saveUninitialized: false,
          cookie: { maxAge: IDLE_MS, secure: false, httpOnly: true, sameSite: 'lax' },
        }),
      );
      // Same contract as ours: /me refuses a request without an authenticated session.
      app.use('/me', (req, res, next) => {
        if (req.session?.user) return next();
        res.statusCode = 401;
        res.end(UNAUTHENTICATED);
      });
    },
    cookie: loginCookie,
    close,
  };
}

/** @fastify/session + connect-redis; its defaults unless `options` override them (`rolling: true` saves every time). */
async function fastifySession(options) {
  const { default: cookiePlugin } = await import('@fastify/cookie');
  const { default: sessionPlugin } = await import('@fastify/session');
  const { store, close, providers } = await connectRedis();
  class C {
    me(req) {
      return { user: req.session.get('user') ?? null };
    }
    login(req) {
      req.session.set('user', USER);
      return { user: USER };
    }
  }
  route(C, 'me', [Get('me')], [Req()]);
  route(C, 'login', [Get('login')], [Req()]);
  Controller()(C);
  return {
    module: moduleOf({ controllers: [C], providers }),
    async setup(app) {
      await app.register(cookiePlugin);
      await app.register(sessionPlugin, {
        secret: 'bench-secret-not-for-production-0123456789',
        store,
        cookie: { maxAge: IDLE_MS, secure: false, httpOnly: true, sameSite: 'lax' },
        ...options,
      });
      // Same contract as ours: /me refuses a request without an authenticated session.
      app
        .getHttpAdapter()
        .getInstance()
        .addHook('preHandler', (req, reply, done) => {
          if (!req.url.startsWith('/me') || req.session.get('user')) return done();
          reply.code(401).type('application/json').send(UNAUTHENTICATED);
        });
    },
    cookie: loginCookie,
    close,
  };
}

// ---------------------------------------------------------------- ours
class BenchRealm extends Realm {
  accounts = new Map();
  findAccount(username) {
    return this.accounts.get(username) ?? null;
  }
}

async function ours(storeKind) {
  const realm = new BenchRealm();
  // A cheap hash: the benchmark measures requests, not logins. Builds with OWASP's floor need the test switch.
  const hashing = { logN: 10, r: 8, p: 1, ...('SCRYPT_FLOOR' in library && { allowWeakParameters: true }) };
  realm.accounts.set(USER, {
    identifiers: [USER],
    credentials: await new PasswordHasher(hashing).hash(PASSWORD),
  });
  const store =
    storeKind === 'redis'
      ? new CacheManagerSessionStore(
          createCache({ stores: [createKeyv(redisUrl, { namespace: `bench-${scenario}` })] }),
        )
      : CacheManagerSessionStore.inMemory();
  class C {
    me(subject) {
      return { user: subject.primaryIdentifier };
    }
    guest(subject) {
      return { user: subject.primaryIdentifier };
    }
    async create(subject) {
      await subject.getSession();
      return { created: true };
    }
  }
  route(C, 'me', [Get('me'), RequiresAuthentication()], [CurrentSubject()]);
  route(C, 'guest', [Get('guest')], [CurrentSubject()]);
  route(C, 'create', [Get('create')], [CurrentSubject()]);
  Controller()(C);
  return {
    module: moduleOf({
      imports: [
        YosaiModule.forRoot({
          store,
          realm,
          passwordHashing: hashing,
          idleTimeoutMs: IDLE_MS,
          // Touch not due while measuring: the session is fresh and the interval is long (but < idle).
          touchIntervalMs: IDLE_MS - 60_000,
          cookie: { secure: false },
          // Every server shares the bench's Redis, whose command counts are global, so another server's sweeper
          // pass (a fixed cost per pass, measured on its own by `npm run bench:sweeper`) would show in every
          // scenario's count. The sweeper stays on (writes still keep its queue), but no pass falls in a run.
          ...('SessionSweeper' in library && { expirySweepIntervalMs: 3_600_000 }),
          // bench/instructions.mjs runs the server under valgrind, where a garbage collection can take seconds.
          ...(process.env.BENCH_STORE_TIMEOUT_MS && {
            storeTimeoutMs: Number(process.env.BENCH_STORE_TIMEOUT_MS),
          }),
        }),
      ],
      controllers: [C],
      providers: [{ provide: APP_GUARD, useClass: YosaiGuard }],
    }),
    async cookie(_port, app) {
      // Log in once through the public API (no HTTP): the token arrives through onToken.
      let token = null;
      const subject = await app.get(SubjectFactory).fromToken(null, { onToken: (t) => (token = t) });
      await subject.login(new UsernamePasswordToken(USER, PASSWORD));
      if (!token || !subject.isAuthenticated) throw new Error('login for the benchmark failed');
      return `sid=${token}`;
    },
    close: () => store.close(),
  };
}

const SCENARIOS = {
  'floor-a': () => floorA(),
  'floor-a-guard': () => floorAGuard(),
  'floor-b': () => floorB(),
  'floor-b-guard': () => floorB({ guard: true }),
  'floor-b-fastify': () => floorB(),
  'floor-b-guard-fastify': () => floorB({ guard: true }),
  'floor-c': () => floorC(),
  'floor-c-fastify': () => floorC(),
  'es-redis': () => expressSession('redis'),
  'es-memory': () => expressSession('memory'),
  'es-create': () => expressSession('redis'),
  'ours-redis': () => ours('redis'),
  'ours-memory': () => ours('memory'),
  'ours-guest': () => ours('redis'),
  'ours-create': () => ours('redis'),
  'ours-redis-fastify': () => ours('redis'),
  'fs-redis-fastify': () => fastifySession({}),
  'fs-redis-norolling-fastify': () => fastifySession({ rolling: false }),
};

async function main() {
  const make = SCENARIOS[base];
  if (!make) throw new Error(`unknown scenario ${scenario}; one of ${Object.keys(SCENARIOS).join(', ')}`);
  const parts = await make();
  const fastify = base.endsWith('-fastify');
  const app = await NestFactory.create(parts.module, fastify ? new FastifyAdapter() : new ExpressAdapter(), {
    logger: ['error'],
  });
  await parts.setup?.(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  const cookie = parts.cookie ? await parts.cookie(port, app) : null;
  const shutdown = async () => {
    try {
      await app.close();
      await parts.close?.();
    } finally {
      process.exit(0);
    }
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  if (process.env.BENCH_WATCH_STDIN === '1') {
    // Started by bench/run.mjs with a pipe on stdin: if the runner dies, do not linger.
    process.stdin.on('end', shutdown);
    process.stdin.resume();
  }
  process.stdout.write(`READY ${JSON.stringify({ port, pid: process.pid, cookie })}\n`);
}

main().catch((error) => {
  process.stderr.write(`${scenario}: ${error?.stack ?? error}\n`);
  process.exit(1);
});
