import { Test, type TestingModule } from '@nestjs/testing';
import { Authorizer, Realm, SessionManager, SubjectFactory, YosaiModule } from '../src/index.js';
import { ManualClock } from '../src/testing/index.js';

class RolesRealm extends Realm {
  calls = 0;
  getAuthorizationInfo() {
    this.calls++;
    return { roles: ['bowler'], permissions: ['lane:read:*'] };
  }
}

// The grants cached for a session go with it, whichever way it ends: not only logout and regeneration (tested over
// HTTP in authorization.e2e-spec.ts), but also a direct stop and an expiry.
describe('authorization cache follows the session life cycle', () => {
  let moduleRef: TestingModule;
  let clock: ManualClock;
  let manager: SessionManager;
  let authorizer: Authorizer;
  let subjects: SubjectFactory;

  beforeEach(async () => {
    clock = new ManualClock();
    moduleRef = await Test.createTestingModule({
      imports: [
        YosaiModule.forRoot({
          realm: new RolesRealm(),
          clock,
          idleTimeoutMs: 60_000,
          touchIntervalMs: 1_000,
        }),
      ],
    }).compile();
    await moduleRef.init();
    manager = moduleRef.get(SessionManager);
    authorizer = moduleRef.get(Authorizer);
    subjects = moduleRef.get(SubjectFactory);
  });
  afterEach(() => moduleRef.close());

  async function checkedSession() {
    const { session, token } = await manager.startSession({ identifiers: ['walter'], authenticated: true });
    const subject = await subjects.fromToken(token);
    expect(await subject.hasRole('bowler')).toBe(true);
    return { session, token };
  }

  it('a direct stop drops the grants', async () => {
    const { session } = await checkedSession();
    expect(authorizer.cachedSessions).toBe(1);
    await manager.stop(session, 'stopped');
    expect(authorizer.cachedSessions).toBe(0);
  });

  it('an expiry drops the grants', async () => {
    const { token } = await checkedSession();
    const other = await checkedSession();
    expect(authorizer.cachedSessions).toBe(2);
    clock.advance(60_001);
    expect((await manager.resolve(token)).status).toBe('expired');
    expect(authorizer.cachedSessions).toBe(1);
    expect((await manager.resolve(other.token)).status).toBe('expired');
    expect(authorizer.cachedSessions).toBe(0);
  });
});
