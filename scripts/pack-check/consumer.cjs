// CommonJS consumer of the packed tarball: require() must pick dist/cjs and boot a Nest app with YosaiModule,
// whose idle timeout a ManualClock from nestjs-yosai/testing (also dist/cjs) then runs out.
'use strict';
require('reflect-metadata');
const assert = require('node:assert/strict');
const { Controller, Get, Module } = require('@nestjs/common');
const { NestFactory, APP_GUARD } = require('@nestjs/core');
const yosai = require('nestjs-yosai');

assert.match(
  require.resolve('nestjs-yosai'),
  /[\\/]dist[\\/]cjs[\\/]index\.js$/,
  'require() must resolve to the CJS build',
);
const loaded = Object.keys(require.cache).filter((file) =>
  /testing[\\/](index|session-store\.contract)\.js$/.test(file),
);
assert.deepEqual(loaded, [], 'the root entry must not load the testing entry');
const testing = require('nestjs-yosai/testing');
assert.match(
  require.resolve('nestjs-yosai/testing'),
  /[\\/]dist[\\/]cjs[\\/]testing[\\/]index\.js$/,
  'require() of nestjs-yosai/testing must resolve to the CJS build',
);
assert.equal(typeof testing.sessionStoreContract, 'function');
assert.match(testing.contractId(), /^[A-Za-z0-9_-]{43}$/);
const clock = new testing.ManualClock();

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
yosai.CurrentSubject()(AppController.prototype, 'hello', 0);
Controller()(AppController);

class AppModule {}
Module({
  imports: [yosai.YosaiModule.forRoot({ cookie: { secure: false }, clock, idleTimeoutMs: 60_000 })],
  controllers: [AppController],
  providers: [{ provide: APP_GUARD, useClass: yosai.YosaiGuard }],
})(AppModule);

(async () => {
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
  process.stdout.write('cjs consumer ok\n');
})().catch((error) => {
  process.stderr.write(`cjs consumer failed: ${error && error.stack}\n`);
  process.exit(1);
});
