import 'reflect-metadata';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Injectable,
  Module,
  Param,
  Post,
  type INestApplication,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import {
  Authorizer,
  CurrentSubject,
  PasswordHasher,
  Realm,
  RequiresAuthentication,
  RequiresPermissions,
  RequiresRoles,
  Subject,
  UsernamePasswordToken,
  VerifiedIdentityRealm,
  VerifiedIdentityToken,
  YosaiGuard,
  YosaiModule,
  type Account,
  type AuthorizationInfo,
  type YosaiModuleOptions,
} from '../../src/index.js';
import { EventLog, TEST_HASHING, USERS, type Mount, type Platform } from './test-app.js';

/** Roles and permissions of the test users (the sample app's, plus a user with one instance permission). */
export const GRANTS: Record<string, { roles: string[]; permissions: string[] }> = {
  thedude: { roles: ['bowler'], permissions: ['lane:read:*', 'drink:order:white-russian'] },
  walter: { roles: ['bowler', 'captain'], permissions: ['lane:*', 'league:manage'] },
  donny: { roles: [], permissions: ['doc:read:7'] },
};
export const PASSWORDS: Record<string, string> = { ...USERS, donny: 'i-am-the-walrus' };

/**
 * The app's user service. It injects the module's `PasswordHasher`, which is what made a realm built inside
 * `forRootAsync`'s factory fail with a circular dependency.
 */
@Injectable()
export class UsersService {
  /** Roles may change while the app runs (tests change them to see invalidation). */
  readonly grants = structuredClone(GRANTS);
  private hashes: Promise<Map<string, string>> | null = null;

  constructor(readonly hasher: PasswordHasher) {}

  async credentialsOf(name: string): Promise<string | undefined> {
    this.hashes ??= (async () => {
      const map = new Map<string, string>();
      for (const [user, password] of Object.entries(PASSWORDS))
        map.set(user, await this.hasher.hash(password));
      return map;
    })();
    return (await this.hashes).get(name);
  }
}

/** A realm resolved by Nest (a class in the options), counting its authorization look-ups. */
@Injectable()
export class UsersRealm extends Realm {
  authorizationCalls = 0;

  constructor(private readonly users: UsersService) {
    super();
  }

  async findAccount(username: string): Promise<Account | null> {
    const credentials = await this.users.credentialsOf(username);
    return credentials ? { identifiers: [username], credentials } : null;
  }

  async getAuthorizationInfo(identifiers: readonly string[]): Promise<AuthorizationInfo | null> {
    this.authorizationCalls++;
    await Promise.resolve();
    return this.users.grants[identifiers[0]] ?? null;
  }
}

@Controller()
@RequiresAuthentication()
class RosterController {
  /** Controller-level role plus handler-level permission plus @RequiresAuthentication: all apply. */
  @Get('roster')
  @RequiresRoles('bowler')
  @RequiresPermissions('league:manage')
  roster() {
    return { ok: true };
  }
}

@Controller()
class AuthzController {
  @Post('login')
  @HttpCode(200)
  async login(@CurrentSubject() subject: Subject, @Body() body: { username: string; password: string }) {
    await subject.login(new UsernamePasswordToken(body.username, body.password));
    return { username: subject.primaryIdentifier };
  }

  /** The "signed in by the app" path (an SSO callback would verify the provider's answer first). */
  @Post('login-verified')
  @HttpCode(200)
  async loginVerified(@CurrentSubject() subject: Subject, @Body() body: { username: string }) {
    await subject.login(new VerifiedIdentityToken([body.username], { source: 'test' }));
    return { username: subject.primaryIdentifier };
  }

  @Post('logout')
  @HttpCode(204)
  async logout(@CurrentSubject() subject: Subject) {
    await subject.logout();
  }

  @Post('regenerate')
  @HttpCode(204)
  async regenerate(@CurrentSubject() subject: Subject) {
    await subject.regenerateSession();
  }

  /** No authorization metadata: must cost nothing beyond the session read. */
  @Get('whoami')
  whoami(@CurrentSubject() subject: Subject) {
    return { username: subject.primaryIdentifier };
  }

  @Get('league')
  @RequiresRoles('captain')
  league() {
    return { ok: true };
  }

  @Get('bowlers')
  @RequiresRoles('captain', 'bowler', { logical: 'any' })
  bowlers() {
    return { ok: true };
  }

  @Get('lanes/:lane')
  @RequiresPermissions('lane:read:{lane}')
  lane(@Param('lane') lane: string) {
    return { lane };
  }

  @Delete('lanes/:lane')
  @HttpCode(204)
  @RequiresPermissions('lane:delete:{lane}')
  deleteLane() {}

  @Get('docs/:id')
  @RequiresPermissions('doc:read:{id}')
  doc(@Param('id') id: string) {
    return { id };
  }

  /** Names a parameter the route does not have: a programming error (500, logged). */
  @Get('broken/:id')
  @RequiresPermissions('doc:read:{missing}')
  broken() {
    return { ok: true };
  }

  /** The Subject's own API, as a handler would use it. */
  @Get('answers')
  async answers(@CurrentSubject() subject: Subject) {
    return {
      captain: await subject.hasRole('captain'),
      roles: await subject.hasRoles(['bowler', 'captain']),
      allRoles: await subject.hasAllRoles(['bowler', 'captain']),
      readLane7: await subject.isPermitted('lane:read:7'),
      many: await subject.isPermitted(['lane:read:7', 'lane:delete:7', 'league:manage']),
      all: await subject.isPermittedAll(['lane:read:7', 'drink:order:white-russian']),
    };
  }

  @Post('drinks/:drink')
  @HttpCode(200)
  async order(@CurrentSubject() subject: Subject, @Param('drink') drink: string) {
    await subject.checkPermission(`drink:order:${drink.replace(/[:,*]/g, '')}`);
    return { drink };
  }

  @Post('check-role/:role')
  @HttpCode(200)
  async checkRole(@CurrentSubject() subject: Subject, @Param('role') role: string) {
    await subject.checkRole(role);
    return { ok: true };
  }
}

export interface AuthzAppOptions {
  platform: Platform;
  mount?: Mount;
  yosai?: Omit<YosaiModuleOptions, 'realm'>;
}

export interface AuthzApp {
  app: INestApplication;
  events: EventLog;
  realm: UsersRealm;
  users: UsersService;
  authorizer: Authorizer;
  close(): Promise<void>;
}

/**
 * A real Nest app (Express or Fastify) whose realm is a class resolved by Nest, injecting a service that injects
 * the module's `PasswordHasher`: the case that was a circular dependency.
 */
export async function createAuthzApp(options: AuthzAppOptions): Promise<AuthzApp> {
  const yosaiOptions: YosaiModuleOptions = {
    passwordHashing: TEST_HASHING,
    cookie: { secure: false },
    ...options.yosai,
    realms: [UsersRealm, new VerifiedIdentityRealm()],
  };
  const yosai =
    (options.mount ?? 'forRoot') === 'forRoot'
      ? YosaiModule.forRoot(yosaiOptions)
      : YosaiModule.forRootAsync({ useFactory: async () => yosaiOptions });

  @Module({
    imports: [EventEmitterModule.forRoot({ wildcard: true, delimiter: '.' }), yosai],
    controllers: [AuthzController, RosterController],
    providers: [UsersService, UsersRealm, { provide: APP_GUARD, useClass: YosaiGuard }],
  })
  class AppModule {}

  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app =
    options.platform === 'express'
      ? moduleRef.createNestApplication(new ExpressAdapter(), { logger: false })
      : moduleRef.createNestApplication(new FastifyAdapter(), { logger: false });
  await app.init();
  if (options.platform === 'fastify')
    await (app.getHttpAdapter().getInstance() as { ready(): Promise<void> }).ready();
  const events = new EventLog();
  const { EventEmitter2 } = await import('@nestjs/event-emitter');
  app.get(EventEmitter2).onAny((name: string | string[], payload: Record<string, unknown>) => {
    events.events.push({ name: Array.isArray(name) ? name.join('.') : name, payload });
  });
  return {
    app,
    events,
    realm: app.get(UsersRealm),
    users: app.get(UsersService),
    authorizer: app.get(Authorizer),
    close: () => app.close(),
  };
}
