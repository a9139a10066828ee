import { Body, Controller, Get, HttpCode, Injectable, Module, Post, UseGuards } from '@nestjs/common';
import request from 'supertest';
import {
  CurrentSubject,
  PasswordHasher,
  Realm,
  RequiresAuthentication,
  Subject,
  UsernamePasswordToken,
  YosaiGuard,
  YosaiModule,
  type Account,
} from '../../src/index.js';
import { bootApp } from '../support/boot.js';
import { PLATFORMS, sessionCookie, TEST_HASHING } from '../support/test-app.js';

// The README recipes "A realm that uses the module's PasswordHasher" and "Feature modules and isGlobal", as an app:
// the Yosai module is imported once, in the root module, with isGlobal; feature modules that do not import it
// inject its PasswordHasher and mount YosaiGuard with @UseGuards.

/** The accounts feature: its service hashes with the module's PasswordHasher (the cost set in the options). */
@Injectable()
class AccountsService {
  private readonly accounts = new Map<string, string>();
  constructor(private readonly hasher: PasswordHasher) {}
  async register(username: string, password: string): Promise<void> {
    this.accounts.set(username, await this.hasher.hash(password));
  }
  find(username: string): string | undefined {
    return this.accounts.get(username);
  }
}

/** The realm is a class that Nest builds, so it may inject the service that injects the hasher: no cycle. */
@Injectable()
class AccountsRealm extends Realm {
  constructor(private readonly accounts: AccountsService) {
    super();
  }
  findAccount(username: string): Account | null {
    const credentials = this.accounts.find(username);
    return credentials ? { identifiers: [username], credentials } : null;
  }
}

@Controller('accounts')
@UseGuards(YosaiGuard)
class AccountsController {
  constructor(private readonly accounts: AccountsService) {}
  @Post()
  @HttpCode(201)
  async register(@Body() body: { username: string; password: string }) {
    await this.accounts.register(body.username, body.password);
    return {};
  }
  @Post('login')
  @HttpCode(200)
  async login(@CurrentSubject() subject: Subject, @Body() body: { username: string; password: string }) {
    await subject.login(new UsernamePasswordToken(body.username, body.password));
    return { username: subject.primaryIdentifier };
  }
}

@Module({
  controllers: [AccountsController],
  providers: [AccountsService, AccountsRealm],
  exports: [AccountsRealm],
})
class AccountsModule {}

/** Another feature: it does not import YosaiModule either, and guards its own controller. */
@Controller('lanes')
@UseGuards(YosaiGuard)
class LanesController {
  @Get('mine')
  @RequiresAuthentication()
  mine(@CurrentSubject() subject: Subject) {
    return { owner: subject.primaryIdentifier };
  }
}

@Module({ controllers: [LanesController] })
class LanesModule {}

@Module({
  imports: [
    YosaiModule.forRoot({
      isGlobal: true,
      realm: AccountsRealm,
      passwordHashing: TEST_HASHING,
      cookie: { secure: false },
    }),
    AccountsModule,
    LanesModule,
  ],
})
class AppModule {}

describe.each(PLATFORMS)('feature modules with isGlobal (%s)', (platform) => {
  it('register, sign in and reach a guarded route, each in a feature module that does not import YosaiModule', async () => {
    const app = await bootApp(AppModule, platform);
    try {
      const server = app.getHttpServer();
      await request(server).get('/lanes/mine').expect(401);
      await request(server).post('/accounts').send({ username: 'maude', password: 'fluxus-art' }).expect(201);
      // The hash is the module's hasher's: the cost set in the options.
      expect(app.get(AccountsService).find('maude')).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/);
      const login = await request(server)
        .post('/accounts/login')
        .send({ username: 'maude', password: 'fluxus-art' })
        .expect(200);
      const cookie = `sid=${sessionCookie(login.headers)!}`;
      const mine = await request(server).get('/lanes/mine').set('Cookie', cookie).expect(200);
      expect(mine.body).toEqual({ owner: 'maude' });
    } finally {
      await app.close();
    }
  });

  it('without isGlobal, a feature module that mounts YosaiGuard fails at bootstrap, naming the guard', async () => {
    @Module({
      imports: [YosaiModule.forRoot({ cookie: { secure: false } }), LanesModule],
    })
    class NotGlobal {}
    await expect(bootApp(NotGlobal, platform)).rejects.toThrow(/YosaiGuard/);
  });
});
