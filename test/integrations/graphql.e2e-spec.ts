import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module, type INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Args, Field, GraphQLModule, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import request from 'supertest';
import {
  CurrentSubject,
  RequiresAuthentication,
  RequiresPermissions,
  RequiresRoles,
  Subject,
  UsernamePasswordToken,
  YosaiGuard,
  YosaiModule,
} from '../../src/index.js';
import { PASSWORDS, UsersRealm, UsersService } from '../support/authz-app.js';
import { bootApp, SignInController } from '../support/boot.js';
import { sessionCookie, TEST_HASHING, type Platform } from '../support/test-app.js';

// Resolvers behind YosaiGuard over real HTTP: Apollo on Express, Mercurius on Fastify (code first). The guard finds
// the HTTP request in the GraphQL context, @CurrentSubject() is the Subject (not the parent object), and a refusal
// is a GraphQL error with an UNAUTHENTICATED or FORBIDDEN code, beside the fields that were allowed.

@ObjectType()
class Me {
  @Field(() => String, { nullable: true })
  username!: string | null;
  @Field()
  authenticated!: boolean;
}

@Resolver()
class LaneResolver {
  @Query(() => Me)
  me(@CurrentSubject() subject: Subject): Me {
    return { username: subject.primaryIdentifier, authenticated: subject.isAuthenticated };
  }

  @Query(() => String)
  @RequiresAuthentication()
  secret(@CurrentSubject() subject: Subject): string {
    return `for ${subject.primaryIdentifier}`;
  }

  @Query(() => String)
  @RequiresRoles('captain')
  roster(): string {
    return 'walter, donny, the dude';
  }

  /** `{lane}` is filled from the field's arguments. */
  @Query(() => String)
  @RequiresPermissions('lane:read:{lane}')
  lane(@Args('lane') lane: string): string {
    return `lane ${lane}`;
  }

  /** A YosaiError thrown by a resolver (a failed login) is answered by the module's filter. */
  @Mutation(() => String)
  async login(
    @CurrentSubject() subject: Subject,
    @Args('username') username: string,
    @Args('password') password: string,
  ): Promise<string> {
    await subject.login(new UsernamePasswordToken(username, password));
    return subject.primaryIdentifier!;
  }
}

const DRIVERS: [Platform, string][] = [
  ['express', 'Apollo'],
  ['fastify', 'Mercurius'],
];

function graphqlModule(platform: Platform) {
  return platform === 'express'
    ? GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true })
    : GraphQLModule.forRoot<MercuriusDriverConfig>({ driver: MercuriusDriver, autoSchemaFile: true });
}

describe.each(DRIVERS)('GraphQL behind YosaiGuard (%s, %s)', (platform) => {
  let app: INestApplication;

  beforeAll(async () => {
    @Module({
      imports: [
        YosaiModule.forRoot({ realm: UsersRealm, passwordHashing: TEST_HASHING, cookie: { secure: false } }),
        graphqlModule(platform),
      ],
      controllers: [SignInController],
      providers: [UsersService, UsersRealm, LaneResolver, { provide: APP_GUARD, useClass: YosaiGuard }],
    })
    class AppModule {}
    app = await bootApp(AppModule, platform);
  });
  afterAll(() => app.close());

  async function login(username: string): Promise<string> {
    const response = await request(app.getHttpServer())
      .post('/login')
      .send({ username, password: PASSWORDS[username] })
      .expect(200);
    return `sid=${sessionCookie(response.headers)!}`;
  }

  async function gql(query: string, cookie?: string) {
    const call = request(app.getHttpServer()).post('/graphql').send({ query });
    const response = await (cookie ? call.set('Cookie', cookie) : call);
    return response.body as {
      data?: Record<string, unknown> | null;
      errors?: { message: string; path?: string[]; extensions?: { code?: string } }[];
    };
  }

  const codes = (body: Awaited<ReturnType<typeof gql>>) =>
    (body.errors ?? []).map((e) => [e.path?.[0], e.extensions?.code, e.message]);

  it('a guest: @CurrentSubject() is the Subject, and a field that needs a user is UNAUTHENTICATED', async () => {
    const body = await gql('{ me { username authenticated } }');
    expect(body).toEqual({ data: { me: { username: null, authenticated: false } } });
    expect(codes(await gql('{ secret }'))).toEqual([
      ['secret', 'UNAUTHENTICATED', 'Authentication required'],
    ]);
  });

  it('a signed-in user passes, and is FORBIDDEN a field that needs a role it lacks, beside the allowed fields', async () => {
    const cookie = await login('thedude');
    const body = await gql('{ me { username } secret lane(lane: "7") }', cookie);
    expect(body).toEqual({ data: { me: { username: 'thedude' }, secret: 'for thedude', lane: 'lane 7' } });
    const refused = await gql('{ me { username } roster }', cookie);
    expect(codes(refused)).toEqual([['roster', 'FORBIDDEN', expect.stringContaining('captain')]]);
    expect(refused.data).toBeNull(); // roster is non-null, so the error nulls the whole result
  });

  it('a failed login in a resolver is UNAUTHENTICATED with one message, whether or not the user exists', async () => {
    const unknown = await gql('mutation { login(username: "jackie", password: "treehorn") }');
    const wrong = await gql('mutation { login(username: "walter", password: "not-shomer") }');
    expect(codes(unknown)).toEqual([['login', 'UNAUTHENTICATED', 'Invalid username or password']]);
    expect(codes(wrong)).toEqual(codes(unknown));
  });

  it('with the role, the field resolves', async () => {
    expect((await gql('{ roster }', await login('walter'))).data).toEqual({
      roster: 'walter, donny, the dude',
    });
  });

  it('a permission with a placeholder is filled from the field arguments', async () => {
    const cookie = await login('donny'); // donny may read doc 7, and no lane
    expect(codes(await gql('{ lane(lane: "3") }', cookie))).toEqual([
      ['lane', 'FORBIDDEN', expect.stringContaining('lane:read:{lane}')],
    ]);
  });
});
