import 'reflect-metadata';
import {
  Req,
  Body,
  Controller,
  Delete,
  Get,
  Header,
  HttpCode,
  Module,
  NotFoundException,
  Param,
  Patch,
  Post,
  Put,
  Res,
  type DynamicModule,
  type INestApplication,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import {
  CurrentSubject,
  PasswordHasher,
  Realm,
  RequiresAuthentication,
  RequiresGuest,
  RequiresUser,
  SessionRegistry,
  SessionStoreError,
  Subject,
  UsernamePasswordToken,
  subjectOf,
  YOSAI_SUBJECT,
  YosaiGuard,
  YosaiModule,
  type Account,
  type YosaiModuleOptions,
} from '../../src/index.js';

export type Platform = 'express' | 'fastify';
export type Mount = 'forRoot' | 'forRootAsync';
export const PLATFORMS: Platform[] = ['express', 'fastify'];
export const MOUNTS: Mount[] = ['forRoot', 'forRootAsync'];

/** Cheap scrypt cost for tests: the work is the same shape, just smaller. */
export const TEST_HASHING = { logN: 10, r: 8, p: 1, allowWeakParameters: true };

/** A realm over a fixed map of username → password, hashed once. */
export class MapRealm extends Realm {
  private readonly accounts = new Map<string, Account>();
  static async create(users: Record<string, string>): Promise<MapRealm> {
    const realm = new MapRealm();
    const hasher = new PasswordHasher(TEST_HASHING);
    for (const [name, password] of Object.entries(users)) {
      realm.accounts.set(name, { identifiers: [name], credentials: await hasher.hash(password) });
    }
    return realm;
  }
  findAccount(username: string) {
    return this.accounts.get(username) ?? null;
  }
}

export const USERS = { thedude: 'letsgobowling', walter: 'shomer-shabbos' };

/** Every event the app received, in order. */
export class EventLog {
  readonly events: { name: string; payload: Record<string, unknown> }[] = [];
  named(name: string) {
    return this.events.filter((e) => e.name === name).map((e) => e.payload);
  }
  clear() {
    this.events.length = 0;
  }
}

@Controller()
class TestController {
  constructor(private readonly registry: SessionRegistry) {}

  /** The signed-in user's sessions (issue #14): ids, and which one made the request. */
  @Get('sessions')
  @RequiresAuthentication()
  async sessions(@CurrentSubject() subject: Subject) {
    const all = await this.registry.list(subject.primaryIdentifier!);
    return all.map((s) => ({ id: s.id, current: s.id === subject.session?.id }));
  }

  /** Signs out one of the caller's own sessions; 404 for any other id. */
  @Delete('sessions/:id')
  @HttpCode(204)
  @RequiresAuthentication()
  async stopSession(@CurrentSubject() subject: Subject, @Param('id') id: string) {
    if (!(await this.registry.stop(subject.primaryIdentifier!, id))) throw new NotFoundException();
  }

  /** Answers by hand, then fails with a domain error (the exception filter must leave the answer alone). */
  @Get('answered-then-failed')
  answeredThenFailed(@Res() res: { send(body: string): unknown; status(code: number): unknown }) {
    res.status(200);
    res.send('answered');
    throw new SessionStoreError('get', 'after the answer');
  }

  /** Routes that set cache headers of their own, which Nest applies after the guards (issue #12's marks). */
  @Get('headed/vary')
  @Header('Vary', 'Accept-Encoding')
  headedVary(@CurrentSubject() subject: Subject) {
    return { authenticated: subject.isAuthenticated };
  }

  @Get('headed/cache')
  @Header('cache-control', 'public, max-age=60')
  headedCache(@CurrentSubject() subject: Subject) {
    return { authenticated: subject.isAuthenticated };
  }

  @Get('whoami')
  whoami(@CurrentSubject() subject: Subject) {
    return {
      authenticated: subject.isAuthenticated,
      identifiers: subject.identifiers,
      sessionId: subject.session?.id ?? null,
      tokenStatus: subject.tokenStatus,
    };
  }

  /** What interceptors and filters see: `subjectOf(request)` is the handler's Subject. */
  @Get('subject-of')
  subjectOfRequest(@CurrentSubject() subject: Subject, @Req() request: object) {
    return {
      same: subjectOf(request) === subject,
      onRequest: Object.getOwnPropertySymbols(request).includes(YOSAI_SUBJECT),
      username: subjectOf(request)?.primaryIdentifier ?? null,
    };
  }

  @Post('login')
  @HttpCode(200)
  async login(@CurrentSubject() subject: Subject, @Body() body: { username: string; password: string }) {
    await subject.login(new UsernamePasswordToken(body.username, body.password));
    return { username: subject.primaryIdentifier, sessionId: subject.session?.id };
  }

  /** Starts a guest session, then logs in, in one request: only the final token may reach the client. */
  @Post('session-then-login')
  @HttpCode(200)
  async sessionThenLogin(
    @CurrentSubject() subject: Subject,
    @Body() body: { username: string; password: string },
  ) {
    const guest = await subject.getSession();
    await guest.setAttribute('before', 'login');
    await subject.login(new UsernamePasswordToken(body.username, body.password));
    return { guestSessionId: guest.id, sessionId: subject.session?.id };
  }

  /** Regenerates the session (as after a privilege change). */
  @Post('regenerate')
  @HttpCode(200)
  async regenerate(@CurrentSubject() subject: Subject) {
    const session = await subject.regenerateSession();
    return { sessionId: session.id, startedAt: session.startedAt };
  }

  @Post('logout')
  @HttpCode(204)
  async logout(@CurrentSubject() subject: Subject) {
    await subject.logout();
  }

  @Put('attr/:key')
  @HttpCode(200)
  async setAttr(
    @CurrentSubject() subject: Subject,
    @Param('key') key: string,
    @Body() body: { value: unknown },
  ) {
    const session = await subject.getSession();
    await session.setAttribute(key, body.value);
    return { sessionId: session.id };
  }

  /** A programming error on purpose: a Map is not storable (as when an app stores a class instance). */
  @Put('attr-unstorable')
  @HttpCode(200)
  async setUnstorable(@CurrentSubject() subject: Subject) {
    const session = await subject.getSession();
    await session.setAttribute('secret-path', { inner: new Map([['a', 1]]) });
    return { sessionId: session.id };
  }

  @Delete('attr/:key')
  @HttpCode(204)
  async removeAttr(@CurrentSubject() subject: Subject, @Param('key') key: string) {
    await subject.session?.removeAttribute(key);
  }

  @Patch('attr/:key')
  @HttpCode(200)
  async patchAttr(
    @CurrentSubject() subject: Subject,
    @Param('key') key: string,
    @Body() body: { value: unknown },
  ) {
    return this.setAttr(subject, key, body);
  }

  @Get('attr/:key')
  getAttr(@CurrentSubject() subject: Subject, @Param('key') key: string) {
    const value = subject.session?.getAttribute(key);
    if (value === undefined) throw new NotFoundException();
    return { value };
  }

  @Post('stop')
  @HttpCode(204)
  async stop(@CurrentSubject() subject: Subject) {
    await subject.session?.stop();
  }

  @Get('protected')
  @RequiresAuthentication()
  protectedRoute(@CurrentSubject() subject: Subject) {
    return { username: subject.primaryIdentifier };
  }

  @Get('user')
  @RequiresUser()
  userRoute(@CurrentSubject() subject: Subject) {
    return { username: subject.primaryIdentifier };
  }

  @Get('guest-only')
  @RequiresGuest()
  guestOnly() {
    return { ok: true };
  }
}

export interface TestAppOptions {
  platform: Platform;
  mount?: Mount;
  yosai?: YosaiModuleOptions;
  /** Leave out EventEmitterModule (the module must work without it). */
  withoutEvents?: boolean;
  /** A PasswordHasher to use instead of the module's (e.g. one that counts or holds derivations). */
  hasher?: PasswordHasher;
  /** Fastify only: its `trustProxy` option (Express: the app's `trust proxy` setting), for client addresses. */
  trustProxy?: boolean;
}

export interface TestApp {
  app: INestApplication;
  events: EventLog;
  close(): Promise<void>;
}

/** Boots a real Nest app on Express or Fastify with YosaiGuard global and the test controller. */
export async function createTestApp(options: TestAppOptions): Promise<TestApp> {
  const events = new EventLog();
  const realm = options.yosai?.realm ?? (await MapRealm.create(USERS));
  const yosaiOptions: YosaiModuleOptions = {
    passwordHashing: TEST_HASHING,
    cookie: { secure: false },
    ...options.yosai,
    realm,
  };

  class EventsListener {
    @OnEvent('yosai.**')
    onAny(this: void, payload: Record<string, unknown>) {
      void payload;
    }
  }
  void EventsListener;

  const yosai: DynamicModule =
    (options.mount ?? 'forRoot') === 'forRoot'
      ? YosaiModule.forRoot(yosaiOptions)
      : YosaiModule.forRootAsync({ useFactory: async () => yosaiOptions });

  @Module({
    imports: [
      ...(options.withoutEvents ? [] : [EventEmitterModule.forRoot({ wildcard: true, delimiter: '.' })]),
      yosai,
    ],
    controllers: [TestController],
    providers: [{ provide: APP_GUARD, useClass: YosaiGuard }],
  })
  class AppModule {}

  const builder = Test.createTestingModule({ imports: [AppModule] });
  if (options.hasher) builder.overrideProvider(PasswordHasher).useValue(options.hasher);
  const moduleRef = await builder.compile();
  const app =
    options.platform === 'express'
      ? moduleRef.createNestApplication(new ExpressAdapter(), { logger: false })
      : moduleRef.createNestApplication(new FastifyAdapter({ trustProxy: options.trustProxy ?? false }), {
          logger: false,
        });
  if (options.platform === 'express' && options.trustProxy) {
    (app.getHttpAdapter().getInstance() as { set(name: string, value: unknown): void }).set(
      'trust proxy',
      true,
    );
  }
  await app.init();
  if (options.platform === 'fastify')
    await (app.getHttpAdapter().getInstance() as { ready(): Promise<void> }).ready();
  if (!options.withoutEvents) {
    const { EventEmitter2 } = await import('@nestjs/event-emitter');
    const emitter = app.get(EventEmitter2);
    emitter.onAny((name: string | string[], payload: Record<string, unknown>) => {
      events.events.push({ name: Array.isArray(name) ? name.join('.') : name, payload });
    });
  }
  return { app, events, close: () => app.close() };
}

/** The session cookie value from a response's Set-Cookie, or undefined; '' when cleared. */
export function sessionCookie(headers: Record<string, unknown>, name = 'sid'): string | undefined {
  const raw = headers['set-cookie'];
  const list = Array.isArray(raw) ? (raw as string[]) : typeof raw === 'string' ? [raw] : [];
  const ours = list.find((c) => c.startsWith(`${name}=`));
  if (!ours) return undefined;
  return ours.slice(name.length + 1).split(';')[0];
}
