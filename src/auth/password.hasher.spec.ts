import { PasswordHasher, type ScryptParameters } from './password.hasher.js';

/** Counts key derivations: the unit of work whose equality hides which usernames exist. */
class CountingHasher extends PasswordHasher {
  derivations: ScryptParameters[] = [];
  protected derive(password: string, salt: Buffer, keylen: number, parameters: ScryptParameters) {
    this.derivations.push({ ...parameters });
    return super.derive(password, salt, keylen, parameters);
  }
}

const COST = { logN: 10, r: 8, p: 1 };
const CHEAP = { ...COST, allowWeakParameters: true };

describe('PasswordHasher', () => {
  it('hashes into a PHC string that verifies the right password only', async () => {
    const hasher = new PasswordHasher(CHEAP);
    const stored = await hasher.hash('letsgobowling');
    expect(stored).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    await expect(hasher.verify(stored, 'letsgobowling')).resolves.toBe(true);
    await expect(hasher.verify(stored, 'letsgobowlinG')).resolves.toBe(false);
    await expect(hasher.verify(stored, '')).resolves.toBe(false);
    expect(await hasher.hash('letsgobowling')).not.toEqual(stored); // fresh salt
  });

  it('normalises passwords (NFC) so the same text in another Unicode form verifies', async () => {
    const hasher = new PasswordHasher(CHEAP);
    const stored = await hasher.hash('caf\u00e9');
    await expect(hasher.verify(stored, 'cafe\u0301')).resolves.toBe(true);
  });

  it('verifies hashes made with other parameters than its own, and says they need a rehash', async () => {
    const old = await new PasswordHasher({ logN: 11, r: 8, p: 1, allowWeakParameters: true }).hash('pw');
    const hasher = new PasswordHasher(CHEAP);
    await expect(hasher.verify(old, 'pw')).resolves.toBe(true);
    expect(hasher.needsRehash(old)).toBe(true);
    expect(hasher.needsRehash(await hasher.hash('pw'))).toBe(false);
  });

  it('refuses bad input without throwing, and spends one derivation on it like on a real check', async () => {
    const hasher = new CountingHasher(CHEAP);
    const stored = await hasher.hash('pw');
    await hasher.prepare();
    const cases: [string, unknown][] = [
      ['not a PHC string', 'pw'],
      ['$scrypt$ln=25,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'pw'],
      ['$scrypt$ln=3,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'pw'],
      [stored, 42],
      [stored, null],
      [stored, 'x'.repeat(5000)],
    ];
    for (const [phc, password] of cases) {
      hasher.derivations = [];
      await expect(hasher.verify(phc, password)).resolves.toBe(false);
      expect(hasher.derivations).toHaveLength(1);
    }
  });

  it('makes its dummy hash once, ahead of time, and the dummy costs what the dearest real hash cost', async () => {
    const hasher = new CountingHasher(CHEAP);
    await hasher.prepare();
    expect(hasher.derivations).toEqual([COST]);
    hasher.derivations = [];
    await hasher.verifyDummy('anything');
    expect(hasher.derivations).toEqual([COST]); // no second hash made at the first unknown username

    // Accounts hashed at another cost: unknown usernames must then cost the same as those accounts.
    const older = await new PasswordHasher({ logN: 11, r: 8, p: 1, allowWeakParameters: true }).hash('pw');
    await hasher.verify(older, 'wrong');
    hasher.derivations = [];
    await hasher.verifyDummy('anything');
    const costs = hasher.derivations.filter((d) => d.logN === 11);
    expect(costs.length).toBeGreaterThanOrEqual(1);
    expect(hasher.derivations[hasher.derivations.length - 1]).toEqual({ logN: 11, r: 8, p: 1 });
  });

  it('keeps the highest cost seen: a cheaper account checked last does not make unknown usernames fast', async () => {
    const hasher = new CountingHasher(CHEAP);
    const dear = await new PasswordHasher({ logN: 12, r: 8, p: 1, allowWeakParameters: true }).hash('pw');
    const cheap = await new PasswordHasher(CHEAP).hash('pw');
    await hasher.verify(dear, 'wrong');
    await hasher.verify(cheap, 'wrong'); // the last real hash checked is the cheap one
    hasher.derivations = [];
    await hasher.verifyDummy('anything');
    expect(hasher.derivations[hasher.derivations.length - 1]).toEqual({ logN: 12, r: 8, p: 1 });
  });

  it('never goes below its configured cost, whatever cheaper hashes it checks', async () => {
    const hasher = new CountingHasher({ logN: 11, r: 8, p: 1, allowWeakParameters: true });
    await hasher.verify(await new PasswordHasher(CHEAP).hash('pw'), 'wrong');
    hasher.derivations = [];
    await hasher.verifyDummy('anything');
    expect(hasher.derivations[hasher.derivations.length - 1]).toEqual({ logN: 11, r: 8, p: 1 });
  });
});
