// ESM consumer of the packed tarball: import must pick dist/esm and boot a Nest app with YosaiModule.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory, APP_GUARD } from '@nestjs/core';
import { CurrentSubject, YosaiGuard, YosaiModule } from 'nestjs-yosai';

assert.match(
  import.meta.resolve('nestjs-yosai'),
  /\/dist\/esm\/index\.js$/,
  'import must resolve to the ESM build',
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
CurrentSubject()(AppController.prototype, 'hello', 0);
Controller()(AppController);

class AppModule {}
Module({
  imports: [YosaiModule.forRoot({ cookie: { secure: false } })],
  controllers: [AppController],
  providers: [{ provide: APP_GUARD, useClass: YosaiGuard }],
})(AppModule);

const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(0, '127.0.0.1');
const { port } = app.getHttpServer().address();
const res = await fetch(`http://127.0.0.1:${port}/`);
const body = await res.json();
assert.equal(res.status, 200);
assert.equal(body.guest, true);
assert.match(res.headers.get('set-cookie') ?? '', /^sid=[A-Za-z0-9_-]{43};/);
await app.close();
process.stdout.write('esm consumer ok\n');
