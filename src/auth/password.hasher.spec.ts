import { DEFAULT_SCRYPT_PARAMETERS, PasswordHasher, type ScryptParameters } from './password.hasher.js';

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

  it("defaults to OWASP's N = 2^15, r = 8, p = 3 and refuses weaker parameters unless allowed", () => {
    expect(new PasswordHasher().parameters).toEqual(DEFAULT_SCRYPT_PARAMETERS);
    expect(DEFAULT_SCRYPT_PARAMETERS).toEqual({ logN: 15, r: 8, p: 3 });
    expect(() => new PasswordHasher({ logN: 15, r: 8, p: 1 })).toThrow(/OWASP's floor.*allowWeakParameters/s);
    expect(() => new PasswordHasher({ logN: 12, r: 8, p: 16 })).toThrow(/MiB per hash/);
    expect(new PasswordHasher({ logN: 17, r: 8, p: 1 }).parameters).toEqual({ logN: 17, r: 8, p: 1 });
    expect(new PasswordHasher(CHEAP).parameters).toEqual(COST); // the switch is not a parameter
  });

  it('calls a hash weaker than its configuration only when it has less work or less memory', async () => {
    const hasher = new PasswordHasher({ logN: 12, r: 8, p: 2, allowWeakParameters: true });
    const phc = (logN: number, r: number, p: number) =>
      `$scrypt$ln=${logN},r=${r},p=${p}$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;
    expect(hasher.isWeakerThanConfigured(phc(12, 8, 1))).toBe(true); // less work
    expect(hasher.isWeakerThanConfigured(phc(11, 8, 4))).toBe(true); // same work, less memory
    expect(hasher.isWeakerThanConfigured(phc(12, 8, 2))).toBe(false);
    expect(hasher.isWeakerThanConfigured(phc(13, 8, 1))).toBe(false); // same work, more memory
    expect(hasher.isWeakerThanConfigured(phc(14, 8, 3))).toBe(false); // stronger: left alone
    expect(hasher.isWeakerThanConfigured('not a hash')).toBe(false);
    expect(hasher.isWeakerThanConfigured(await hasher.hash('pw'))).toBe(false);
  });
});
