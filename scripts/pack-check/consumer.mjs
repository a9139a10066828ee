// ESM consumer of the packed tarball: import must pick dist/esm and boot a Nest app with YosaiModule,
// whose idle timeout a ManualClock from nestjs-yosai/testing (also dist/esm) then runs out.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory, APP_GUARD } from '@nestjs/core';
import { CurrentSubject, YosaiGuard, YosaiModule } from 'nestjs-yosai';
import { contractId, ManualClock, sessionStoreContract } from 'nestjs-yosai/testing';

assert.match(
  import.meta.resolve('nestjs-yosai'),
  /\/dist\/esm\/index\.js$/,
  'import must resolve to the ESM build',
);
assert.match(
  import.meta.resolve('nestjs-yosai/testing'),
  /\/dist\/esm\/testing\/index\.js$/,
  'import of nestjs-yosai/testing must resolve to the ESM build',
);
assert.equal(typeof sessionStoreContract, 'function');
assert.match(contractId(), /^[A-Za-z0-9_-]{43}$/);
const clock = new ManualClock();

class AppController {
  async hello(subject) {
    const session = await subject.getSession();
    return { id: session.id, guest: !subject.isAuthenticated };
  }
}
Reflect.decorate(
  [Get('/')],
  AppController.prototype,
  'hello',
  Object.getOwnPropertyDescriptor(AppController.prototype, 'hello'),
);
CurrentSubject()(AppController.prototype, 'hello', 0);
Controller()(AppController);

class AppModule {}
Module({
  imports: [YosaiModule.forRoot({ cookie: { secure: false }, clock, idleTimeoutMs: 60_000 })],
  controllers: [AppController],
  providers: [{ provide: APP_GUARD, useClass: YosaiGuard }],
})(AppModule);

const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(0, '127.0.0.1');
const { port } = app.getHttpServer().address();
const get = async (cookie) => {
  const res = await fetch(`http://127.0.0.1:${port}/`, { headers: cookie ? { cookie } : {} });
  assert.equal(res.status, 200);
  return { body: await res.json(), cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] };
};
const first = await get();
assert.equal(first.body.guest, true);
assert.match(first.cookie, /^sid=[A-Za-z0-9_-]{43}$/);
clock.advance(59_000);
assert.equal((await get(first.cookie)).body.id, first.body.id, 'session kept within the idle timeout');
clock.advance(60_001);
assert.notEqual((await get(first.cookie)).body.id, first.body.id, 'ManualClock ran out the idle timeout');
await app.close();
process.stdout.write('esm consumer ok\n');
