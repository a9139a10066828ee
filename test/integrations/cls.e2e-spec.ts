import { Controller, Get, Injectable, Module, type INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ClsModule } from 'nestjs-cls';
import request from 'supertest';
import { SubjectAccessor, YosaiConfigurationError, YosaiGuard, YosaiModule } from '../../src/index.js';
import { AuditTrail } from '../support/audit-trail.js';
import { bootApp, SignInController } from '../support/boot.js';
import { MapRealm, PLATFORMS, sessionCookie, TEST_HASHING, USERS } from '../support/test-app.js';

// The current Subject from a service deep in the call chain, without passing it down: nestjs-cls holds it for the
// request, YosaiGuard puts it there, SubjectAccessor reads it.

/** Two calls away from the controller, and no Subject parameter anywhere on the way. */
@Injectable()
class Lanes {
  constructor(private readonly audit: AuditTrail) {}
  async book(lane: number): Promise<string> {
    await new Promise((resolve) => setImmediate(resolve)); // across an asynchronous hop too
    return `lane ${lane} booked by ${this.audit.actor()}`;
  }
}

@Controller()
class LaneController {
  constructor(private readonly lanes: Lanes) {}
  @Get('book')
  async book() {
    return { booked: await this.lanes.book(7) };
  }
}

describe.each(PLATFORMS)('SubjectAccessor over nestjs-cls (%s)', (platform) => {
  let app: INestApplication;

  beforeAll(async () => {
    const realm = await MapRealm.create(USERS);
    @Module({
      imports: [
        ClsModule.forRoot({ global: true, middleware: { mount: true } }),
        YosaiModule.forRoot({ realm, passwordHashing: TEST_HASHING, cookie: { secure: false } }),
      ],
      controllers: [LaneController, SignInController],
      providers: [Lanes, AuditTrail, { provide: APP_GUARD, useClass: YosaiGuard }],
    })
    class AppModule {}
    app = await bootApp(AppModule, platform);
  });
  afterAll(() => app.close());

  it('a service deep in the call chain reads the request’s Subject', async () => {
    const server = app.getHttpServer();
    const guest = await request(server).get('/book').expect(200);
    expect(guest.body.booked).toBe('lane 7 booked by guest');
    const login = await request(server).post('/login').send({ username: 'walter', password: USERS.walter });
    const cookie = `sid=${sessionCookie(login.headers)!}`;
    const [a, b] = await Promise.all([
      request(server).get('/book').set('Cookie', cookie),
      request(server).get('/book'),
    ]);
    expect(a.body.booked).toBe('lane 7 booked by walter'); // concurrent requests do not see each other's Subject
    expect(b.body.booked).toBe('lane 7 booked by guest');
  });

  it('outside a request, get() throws a clear error and find() returns undefined', () => {
    const subjects = app.get(SubjectAccessor);
    expect(subjects.find()).toBeUndefined();
    expect(() => subjects.get()).toThrow(YosaiConfigurationError);
    expect(() => subjects.get()).toThrow(/outside a request/);
  });
});
