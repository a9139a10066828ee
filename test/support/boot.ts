import { Body, Controller, Get, HttpCode, Post, type INestApplication, type Type } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { CurrentSubject, Subject, UsernamePasswordToken } from '../../src/index.js';
import type { Platform } from './test-app.js';

/** Boots a real Nest app of the given root module on Express or Fastify, listening on a free local port. */
export async function bootApp(
  root: Type,
  platform: Platform,
  options: { listen?: boolean; configure?: (app: INestApplication) => void } = {},
) {
  const moduleRef = await Test.createTestingModule({ imports: [root] }).compile();
  const app: INestApplication =
    platform === 'express'
      ? moduleRef.createNestApplication(new ExpressAdapter(), {
          logger: process.env.TEST_LOGS ? undefined : false,
        })
      : moduleRef.createNestApplication(new FastifyAdapter(), {
          logger: process.env.TEST_LOGS ? undefined : false,
        });
  options.configure?.(app);
  if (options.listen) await app.listen(0, '127.0.0.1');
  else await app.init();
  if (platform === 'fastify')
    await (app.getHttpAdapter().getInstance() as { ready(): Promise<void> }).ready();
  return app;
}

/** `http://127.0.0.1:<port>` of a listening app. */
export async function baseUrl(app: INestApplication): Promise<string> {
  return (await app.getUrl()).replace(/\[::1\]|localhost/, '127.0.0.1');
}

/** `POST /login` `{ username, password }` → `{ username }`, `POST /logout` → 204 and `GET /whoami` → `{ username }`: how the integration apps sign in. */
@Controller()
export class SignInController {
  @Post('login')
  @HttpCode(200)
  async login(@CurrentSubject() subject: Subject, @Body() body: { username: string; password: string }) {
    await subject.login(new UsernamePasswordToken(body.username, body.password));
    return { username: subject.primaryIdentifier };
  }

  @Post('logout')
  @HttpCode(204)
  async logout(@CurrentSubject() subject: Subject) {
    await subject.logout();
  }

  @Get('whoami')
  whoami(@CurrentSubject() subject: Subject) {
    return { username: subject.primaryIdentifier };
  }
}
