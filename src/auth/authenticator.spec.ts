import { Test } from '@nestjs/testing';
import { PasswordHasher, type ScryptParameters } from './password.hasher.js';
import { Authenticator } from './authenticator.js';
import { Realm, type Account } from './realm.js';
import { UsernamePasswordToken } from './username-password.token.js';
import {
  IncorrectCredentialsError,
  UnknownAccountError,
  YosaiConfigurationError,
} from '../errors/yosai.errors.js';
import { YosaiModule } from '../yosai.module.js';

const CHEAP = { logN: 10, r: 8, p: 1, allowWeakParameters: true };

class CountingHasher extends PasswordHasher {
  derivations = 0;
  protected derive(password: string, salt: Buffer, keylen: number, parameters: ScryptParameters) {
    this.derivations++;
    return super.derive(password, salt, keylen, parameters);
  }
}

class OneUserRealm extends Realm {
  constructor(private readonly account: Account) {
    super();
  }
  findAccount(username: string) {
    return username === this.account.identifiers[0] ? this.account : null;
  }
}

async function boot(realm: Realm | undefined) {
  const hasher = new CountingHasher(CHEAP);
  const moduleRef = await Test.createTestingModule({
    imports: [YosaiModule.forRoot({ realm, passwordHashing: CHEAP })],
  })
    .overrideProvider(PasswordHasher)
    .useValue(hasher)
    .compile();
  await moduleRef.init();
  return { moduleRef, hasher, authenticator: moduleRef.get(Authenticator) };
}

describe('Authenticator', () => {
  it('prepares the dummy hash at bootstrap when a realm is configured', async () => {
    const realm = new OneUserRealm({
      identifiers: ['thedude'],
      credentials: await new PasswordHasher(CHEAP).hash('pw'),
    });
    const { moduleRef, hasher } = await boot(realm);
    expect(hasher.derivations).toBe(1);
    await moduleRef.close();
  });

  it('spends the same work on an unknown user, a wrong password and malformed input', async () => {
    const realm = new OneUserRealm({
      identifiers: ['thedude'],
      credentials: await new PasswordHasher(CHEAP).hash('pw'),
    });
    const { moduleRef, hasher, authenticator } = await boot(realm);
    const attempts: [UsernamePasswordToken, new () => Error][] = [
      [new UsernamePasswordToken('walter', 'pw'), UnknownAccountError],
      [new UsernamePasswordToken('thedude', 'wrong'), IncorrectCredentialsError],
      [new UsernamePasswordToken('', 'pw'), UnknownAccountError],
      [new UsernamePasswordToken('x'.repeat(2000), 'pw'), UnknownAccountError],
      [new UsernamePasswordToken(42 as unknown as string, 'pw'), UnknownAccountError],
    ];
    for (const [token, error] of attempts) {
      hasher.derivations = 0;
      await expect(authenticator.authenticate(token)).rejects.toBeInstanceOf(error);
      expect(hasher.derivations).toBe(1);
      expect(token.password).toBeNull(); // cleared after every attempt
    }
    hasher.derivations = 0;
    const ok = new UsernamePasswordToken('thedude', 'pw');
    await expect(authenticator.authenticate(ok)).resolves.toMatchObject({ identifiers: ['thedude'] });
    expect(hasher.derivations).toBe(1);
    expect(ok.password).toBeNull();
    await moduleRef.close();
  });

  it('without a realm, login is a configuration error naming the option', async () => {
    const { moduleRef, hasher, authenticator } = await boot(undefined);
    expect(hasher.derivations).toBe(0);
    await expect(authenticator.authenticate(new UsernamePasswordToken('a', 'b'))).rejects.toThrow(
      YosaiConfigurationError,
    );
    await expect(authenticator.authenticate(new UsernamePasswordToken('a', 'b'))).rejects.toThrow(/realm/);
    await moduleRef.close();
  });

  it('never puts the password into JSON', () => {
    const token = new UsernamePasswordToken('thedude', 'letsgobowling');
    expect(JSON.stringify(token)).toBe('{"username":"thedude"}');
    expect(JSON.stringify({ token })).not.toContain('letsgobowling');
  });
});
