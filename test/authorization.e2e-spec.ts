import request from 'supertest';
import {
  ManualClock,
  SubjectFactory,
  UsernamePasswordToken,
  YOSAI_AUTHORIZATION_DENIED,
  YOSAI_AUTHORIZATION_GRANTED,
  WildcardPermission,
} from '../src/index.js';
import { createAuthzApp, PASSWORDS, type AuthzApp } from './support/authz-app.js';
import { CASES } from './support/cookies.js';
import { sessionCookie } from './support/test-app.js';

type Server = Parameters<typeof request>[0];

describe.each(CASES)('Authorization over HTTP (%s, %s)', (platform, mount) => {
  const clock = new ManualClock(Date.now());
  let t: AuthzApp;
  let server: Server;

  beforeAll(async () => {
    t = await createAuthzApp({ platform, mount, yosai: { clock } });
    server = t.app.getHttpServer() as Server;
  });
  afterAll(() => t.close());

  async function login(username: string): Promise<string> {
    const res = await request(server)
      .post('/login')
      .send({ username, password: PASSWORDS[username] })
      .expect(200);
    return `sid=${sessionCookie(res.headers)}`;
  }

  it('@RequiresRoles: 401 for a guest, 403 without the role, 200 with it', async () => {
    await request(server).get('/league').expect(401);
    const dude = await login('thedude');
    const denied = await request(server).get('/league').set('Cookie', dude).expect(403);
    expect((denied.body as { message: string }).message).toBe('Not permitted: requires role captain.');
    await request(server)
      .get('/league')
      .set('Cookie', await login('walter'))
      .expect(200, { ok: true });
  });

  it("logical 'any' admits a Subject with one of the roles", async () => {
    await request(server).get('/bowlers').expect(401);
    await request(server)
      .get('/bowlers')
      .set('Cookie', await login('thedude'))
      .expect(200);
    await request(server)
      .get('/bowlers')
      .set('Cookie', await login('donny'))
      .expect(403);
  });

  it('a case-sensitive grant is compared with the route parameter as written', async () => {
    const saved = t.users.grants.donny.permissions;
    try {
      (t.users.grants.donny.permissions as unknown[]) = [
        new WildcardPermission('doc:read:abc', { caseSensitive: true }),
      ];
      const donny = await login('donny');
      await request(server).get('/docs/abc').set('Cookie', donny).expect(200);
      await request(server).get('/docs/ABC').set('Cookie', donny).expect(403);
      (t.users.grants.donny.permissions as unknown[]) = [
        new WildcardPermission('doc:read:aBc', { caseSensitive: true }),
      ];
      const again = await login('donny');
      await request(server).get('/docs/aBc').set('Cookie', again).expect(200);
      await request(server).get('/docs/abc').set('Cookie', again).expect(403);
    } finally {
      (t.users.grants.donny as { permissions: unknown }).permissions = saved;
    }
  });

  it('instance-level permissions are filled from route parameters', async () => {
    const dude = await login('thedude');
    const walter = await login('walter');
    await request(server).get('/lanes/7').expect(401);
    await request(server).get('/lanes/7').set('Cookie', dude).expect(200, { lane: '7' });
    await request(server).get('/lanes/7').set('Cookie', walter).expect(200, { lane: '7' });
    await request(server).delete('/lanes/7').set('Cookie', walter).expect(204);
    const denied = await request(server).delete('/lanes/7').set('Cookie', dude).expect(403);
    // Named as written: the message names the checked permission, never the request's value or other grants.
    expect((denied.body as { message: string }).message).toBe(
      'Not permitted: requires permission lane:delete:{lane}.',
    );
  });

  it.each([
    ['7', 200],
    ['%2A', 403], // *
    ['7%2C8', 403], // 7,8
    ['7%3A8', 403], // 7:8
    ['7%3Adelete', 403],
    ['%2A%3A%2A', 403],
  ])('a parameter %s cannot widen doc:read:7 (%i)', async (id, status) => {
    const donny = await login('donny');
    await request(server).get(`/docs/${id}`).set('Cookie', donny).expect(status);
  });

  it('controller-level and handler-level rules and @RequiresAuthentication all apply', async () => {
    await request(server).get('/roster').expect(401);
    await request(server)
      .get('/roster')
      .set('Cookie', await login('thedude'))
      .expect(403);
    await request(server)
      .get('/roster')
      .set('Cookie', await login('donny'))
      .expect(403);
    await request(server)
      .get('/roster')
      .set('Cookie', await login('walter'))
      .expect(200);
  });

  it('a route naming a parameter it does not have is a 500, not a pass', async () => {
    await request(server)
      .get('/broken/7')
      .set('Cookie', await login('walter'))
      .expect(500);
  });

  it('the Subject API answers roles and permissions (one or many)', async () => {
    const res = await request(server)
      .get('/answers')
      .set('Cookie', await login('thedude'))
      .expect(200);
    expect(res.body).toEqual({
      captain: false,
      roles: [true, false],
      allRoles: false,
      readLane7: true,
      many: [true, false, false],
      all: true,
    });
    const guest = await request(server).get('/answers').expect(200);
    expect(guest.body).toEqual({
      captain: false,
      roles: [false, false],
      allRoles: false,
      readLane7: false,
      many: [false, false, false],
      all: false,
    });
  });

  it('checkPermission / checkRole in a handler: 401 for a guest, 403 when lacking', async () => {
    await request(server).post('/drinks/white-russian').expect(401);
    const dude = await login('thedude');
    await request(server).post('/drinks/white-russian').set('Cookie', dude).expect(200);
    await request(server).post('/drinks/caucasian').set('Cookie', dude).expect(403);
    await request(server).post('/check-role/bowler').set('Cookie', dude).expect(200);
    await request(server).post('/check-role/captain').set('Cookie', dude).expect(403);
  });

  it('emits granted and denied with the identifier and what was checked, never a token', async () => {
    const dude = await login('thedude');
    t.events.clear();
    await request(server).get('/lanes/3').set('Cookie', dude).expect(200);
    await request(server).get('/league').set('Cookie', dude).expect(403);
    const granted = t.events.named(YOSAI_AUTHORIZATION_GRANTED);
    const denied = t.events.named(YOSAI_AUTHORIZATION_DENIED);
    expect(granted).toEqual([
      expect.objectContaining({ identifier: 'thedude', kind: 'permission', checked: ['lane:read:{lane}'] }),
    ]);
    expect(denied).toEqual([
      expect.objectContaining({ identifier: 'thedude', kind: 'role', missing: ['captain'], logical: 'all' }),
    ]);
    const token = dude.slice('sid='.length);
    expect(JSON.stringify(t.events.events)).not.toContain(token);
  });

  it('asks the realm once per session, not once per check', async () => {
    const dude = await login('thedude');
    const before = t.realm.authorizationCalls;
    for (let i = 0; i < 5; i++) await request(server).get('/lanes/1').set('Cookie', dude).expect(200);
    await request(server).get('/answers').set('Cookie', dude).expect(200);
    expect(t.realm.authorizationCalls - before).toBe(1);
  });

  it('drops the cache at logout and at regeneration (the new session asks again)', async () => {
    let dude = await login('thedude');
    await request(server).get('/lanes/1').set('Cookie', dude).expect(200);
    let before = t.realm.authorizationCalls;
    const regenerated = await request(server).post('/regenerate').set('Cookie', dude).expect(204);
    dude = `sid=${sessionCookie(regenerated.headers)}`;
    await request(server).get('/lanes/1').set('Cookie', dude).expect(200);
    expect(t.realm.authorizationCalls - before).toBe(1);
    before = t.realm.authorizationCalls;
    await request(server).post('/logout').set('Cookie', dude).expect(204);
    await request(server).get('/lanes/1').set('Cookie', dude).expect(401);
    await request(server)
      .get('/lanes/1')
      .set('Cookie', await login('thedude'))
      .expect(200);
    expect(t.realm.authorizationCalls - before).toBe(1);
  });

  it('invalidateAuthorization(principal) takes effect on the next check of every session of the principal', async () => {
    const one = await login('thedude');
    const two = await login('thedude');
    await request(server).get('/league').set('Cookie', one).expect(403);
    await request(server).get('/league').set('Cookie', two).expect(403);
    t.users.grants.thedude.roles.push('captain');
    try {
      // Still cached: the app has not said the roles changed.
      await request(server).get('/league').set('Cookie', one).expect(403);
      await t.authorizer.invalidateAuthorization('thedude');
      await request(server).get('/league').set('Cookie', one).expect(200);
      await request(server).get('/league').set('Cookie', two).expect(200);
    } finally {
      t.users.grants.thedude.roles.pop();
      await t.authorizer.invalidateAuthorization('thedude');
    }
    await request(server).get('/league').set('Cookie', one).expect(403);
  });

  it('signs in an identity the app verified itself, only through the VerifiedIdentityRealm', async () => {
    const res = await request(server).post('/login-verified').send({ username: 'walter' }).expect(200);
    const cookie = `sid=${sessionCookie(res.headers)}`;
    // Roles come from the other realm's getAuthorizationInfo.
    await request(server).get('/league').set('Cookie', cookie).expect(200);
  });

  it('works the same through SubjectFactory.fromToken (no HTTP)', async () => {
    const factory = t.app.get(SubjectFactory);
    let token: string | null = null;
    const subject = await factory.fromToken(null, { onToken: (t) => (token = t) });
    await expect(subject.checkRole('captain')).rejects.toThrow('guest');
    await subject.login(new UsernamePasswordToken('walter', PASSWORDS.walter));
    const again = await factory.fromToken(token);
    expect(await again.hasRole('captain')).toBe(true);
    expect(await again.isPermitted('lane:delete:9')).toBe(true);
    await expect(again.checkPermission('drink:order:white-russian')).rejects.toThrow(
      'requires permission drink:order:white-russian',
    );
  });
});
