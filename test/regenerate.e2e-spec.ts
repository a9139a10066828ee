import { Test } from '@nestjs/testing';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { SubjectFactory, UsernamePasswordToken, YosaiModule } from '../src/index.js';
import { MapRealm, TEST_HASHING, USERS } from './support/test-app.js';

describe('Subject.regenerateSession()', () => {
  it('issues a new token with the same identity and attributes and kills the old one', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        EventEmitterModule.forRoot({ wildcard: true, delimiter: '.' }),
        YosaiModule.forRoot({ realm: await MapRealm.create(USERS), passwordHashing: TEST_HASHING }),
      ],
    }).compile();
    await moduleRef.init();
    const events: { name: string; reason?: unknown }[] = [];
    moduleRef.get(EventEmitter2).onAny((name: string | string[], payload: { reason?: unknown }) => {
      events.push({ name: String(name), reason: payload.reason });
    });
    const subjects = moduleRef.get(SubjectFactory);
    const tokens: (string | null)[] = [];
    const subject = await subjects.fromToken(null, { onToken: (t) => tokens.push(t) });
    await subject.login(new UsernamePasswordToken('walter', USERS.walter));
    await subject.session!.setAttribute('role', 'admin');
    const before = subject.session!;
    events.length = 0;

    const after = await subject.regenerateSession();

    expect(after.id).not.toEqual(before.id);
    expect(before.isStopped).toBe(true);
    expect(subject.isAuthenticated).toBe(true);
    expect(subject.identifiers).toEqual(['walter']);
    expect(after.getAttribute('role')).toBe('admin');
    expect(tokens).toHaveLength(2);
    expect(tokens[1]).not.toEqual(tokens[0]);
    expect((await subjects.fromToken(tokens[0])).tokenStatus).toBe('unknown');
    const fresh = await subjects.fromToken(tokens[1]);
    expect(fresh.isAuthenticated).toBe(true);
    expect(fresh.session!.getAttribute('role')).toBe('admin');
    expect(events.filter((e) => e.name.startsWith('yosai.session'))).toEqual([
      { name: 'yosai.session.stopped', reason: 'regenerated' },
      { name: 'yosai.session.started', reason: undefined },
    ]);
    await moduleRef.close();
  });
});
