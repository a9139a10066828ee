// CommonJS consumer of the packed tarball: require() must pick dist/cjs and boot a Nest app with YosaiModule.
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
  imports: [yosai.YosaiModule.forRoot({ cookie: { secure: false } })],
  controllers: [AppController],
  providers: [{ provide: APP_GUARD, useClass: yosai.YosaiGuard }],
})(AppModule);

(async () => {
  const app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  const res = await fetch(`http://127.0.0.1:${port}/`);
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.equal(body.guest, true);
  assert.match(res.headers.get('set-cookie') ?? '', /^sid=[A-Za-z0-9_-]{43};/);
  await app.close();
  process.stdout.write('cjs consumer ok\n');
})().catch((error) => {
  process.stderr.write(`cjs consumer failed: ${error && error.stack}\n`);
  process.exit(1);
});
