import { Controller, Get, Module, type INestApplication, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import request from 'supertest';
import { SubjectAccessor, YosaiGuard, YosaiModule } from '../../src/index.js';
import { AuditTrail } from '../support/audit-trail.js';
import { bootApp, SignInController } from '../support/boot.js';
import { MapRealm, PLATFORMS, sessionCookie, TEST_HASHING, USERS } from '../support/test-app.js';

// nestjs-cls is installed here (a devDependency of this repository), but an app that does not use it must not pay
// for it: nestjs-cls 7 enters an AsyncLocalStorage context as it loads, which turns on Node's promise hooks for the
// whole process, a cost on every promise of every request (BENCHMARKS.md, issue 17). So the library loads it only
// when the app has loaded it or registered one of its modules. This file imports nestjs-cls only in the last test.

/** Where nestjs-cls 7 keeps its AsyncLocalStorage once loaded. */
const CLS_STORAGE = Symbol.for('nestjs-cls:AsyncLocalStorage');
const clsLoaded = () => (globalThis as Record<symbol, unknown>)[CLS_STORAGE] !== undefined;

@Controller()
class AuditController {
  constructor(private readonly audit: AuditTrail) {}
  @Get('actor')
  actor() {
    return { actor: this.audit.actor() };
  }
}

async function boot(platform: (typeof PLATFORMS)[number], imports: Type[] | unknown[] = []) {
  const realm = await MapRealm.create(USERS);
  @Module({
    imports: [
      ...(imports as Type[]),
      YosaiModule.forRoot({ realm, passwordHashing: TEST_HASHING, cookie: { secure: false } }),
    ],
    controllers: [AuditController, SignInController],
    providers: [AuditTrail, { provide: APP_GUARD, useClass: YosaiGuard }],
  })
  class AppModule {}
  return bootApp(AppModule, platform);
}

let app: INestApplication | undefined;
afterEach(() => app?.close());

// Every app that does not use nestjs-cls first: once loaded, it stays loaded.
describe.each(PLATFORMS)('nestjs-cls installed, not used (%s)', (platform) => {
  it('an app that does not use it: not loaded, and SubjectAccessor says what is missing', async () => {
    app = await boot(platform);
    const server = app.getHttpServer();
    const login = await request(server).post('/login').send({ username: 'walter', password: USERS.walter });
    await request(server)
      .get('/whoami')
      .set('Cookie', `sid=${sessionCookie(login.headers)!}`)
      .expect(200, { username: 'walter' });
    expect(clsLoaded()).toBe(false);
    const failed = await request(server).get('/actor').expect(500);
    expect(failed.body.actor).toBeUndefined();
    expect(() => app!.get(SubjectAccessor).get()).toThrow(/needs nestjs-cls/);
  });
});

describe.each(PLATFORMS)('nestjs-cls used (%s)', (platform) => {
  it('an app that registers ClsModule: loaded, also when nestjs-cls keeps no storage on globalThis', async () => {
    const { ClsModule } = await import('nestjs-cls');
    // nestjs-cls before 7 keeps nothing there: the registered module alone must be enough.
    delete (globalThis as Record<symbol, unknown>)[CLS_STORAGE];
    app = await boot(platform, [ClsModule.forRoot({ global: true, middleware: { mount: true } })]);
    const server = app.getHttpServer();
    await request(server).get('/actor').expect(200, { actor: 'guest' });
    const login = await request(server).post('/login').send({ username: 'walter', password: USERS.walter });
    await request(server)
      .get('/actor')
      .set('Cookie', `sid=${sessionCookie(login.headers)!}`)
      .expect(200, { actor: 'walter' });
  });
});
