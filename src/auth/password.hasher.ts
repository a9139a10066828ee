import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** scrypt cost: N = 2^logN, block size r, parallelism p. */
export interface ScryptParameters {
  logN: number;
  r: number;
  p: number;
}

/** Options of {@link PasswordHasher}: the cost of new hashes, and the switch that lets tests go below the floor. */
export interface PasswordHasherOptions extends Partial<ScryptParameters> {
  /**
   * Accept parameters below OWASP's scrypt floor (see {@link SCRYPT_FLOOR}). Meant for tests, where a real cost
   * would make every login take a tenth of a second; never for production.
   * @default false
   */
  allowWeakParameters?: boolean;
}

/**
 * The default cost of new hashes: N = 2^15, r = 8, p = 3, one of OWASP's listed scrypt minimums. It is as much
 * work as N = 2^17, r = 8, p = 1 within a quarter, with a quarter of the memory (32 MiB per verification instead of
 * 128 MiB), which matters when several verifications run at once.
 */
export const DEFAULT_SCRYPT_PARAMETERS: Readonly<ScryptParameters> = Object.freeze({ logN: 15, r: 8, p: 3 });

/**
 * OWASP's scrypt floor as this library checks it: at least the memory (`128 · N · r` bytes, 8 MiB) and the work
 * (`N · r · p`) of the cheapest set OWASP lists, N = 2^13, r = 8, p = 10. Every set OWASP lists passes it.
 */
export const SCRYPT_FLOOR = Object.freeze({ minMemoryBytes: 128 * 2 ** 13 * 8, minWork: 2 ** 13 * 8 * 10 });

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** `$scrypt$ln=15,r=8,p=1$<salt>$<hash>`, salt and hash in unpadded standard base64 (PHC string format). */
const PHC =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,88})\$([A-Za-z0-9+/]{16,88})$/;
/** Longest password accepted, in UTF-8 bytes; longer ones fail verification (after the same work). */
const MAX_PASSWORD_BYTES = 4096;

function scrypt(
  password: string | Buffer,
  salt: Buffer,
  keylen: number,
  p: ScryptParameters,
): Promise<Buffer> {
  const N = 2 ** p.logN;
  const options: ScryptOptions = { N, r: p.r, p: p.p, maxmem: 128 * p.r * (N + p.p + 2) + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scryptCallback(password, salt, keylen, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** The work of one derivation, up to a constant: scrypt's time grows with N · r · p. */
const costOf = (p: ScryptParameters) => 2 ** p.logN * p.r * p.p;
/** Bytes of memory one derivation needs: 128 · N · r. */
const memoryOf = (p: ScryptParameters) => 128 * 2 ** p.logN * p.r;

/**
 * Why these parameters are below OWASP's scrypt floor ({@link SCRYPT_FLOOR}), or null when they are not.
 * @internal Used by the options validator and the hasher's constructor.
 */
export function belowScryptFloor(parameters: ScryptParameters): string | null {
  const { logN, r, p } = parameters;
  const memory = memoryOf(parameters);
  if (memory < SCRYPT_FLOOR.minMemoryBytes) {
    return `N = 2^${logN}, r = ${r} needs ${memory / 1024 / 1024} MiB per hash; OWASP's floor needs at least 8 MiB (N · r ≥ 2^16)`;
  }
  if (costOf(parameters) < SCRYPT_FLOOR.minWork) {
    return `N = 2^${logN}, r = ${r}, p = ${p} is less work than OWASP's floor (N · r · p ≥ 655,360, e.g. N = 2^15, r = 8, p = 3)`;
  }
  return null;
}

const b64 = (buffer: Buffer) => buffer.toString('base64').replace(/=+$/, '');

/**
 * Password hashing on `node:crypto` scrypt, in PHC string format: apps need no native dependency.
 * Verification is timing-safe, and {@link verifyDummy} spends the same work for an unknown account so
 * that response time does not reveal which usernames exist.
 *
 * @example
 * const hasher = new PasswordHasher();
 * const stored = await hasher.hash('letsgobowling'); // '$scrypt$ln=15,r=8,p=3$…$…'
 * await hasher.verify(stored, 'letsgobowling');      // true
 */
export class PasswordHasher {
  readonly parameters: Readonly<ScryptParameters>;
  /** Dummy hashes by parameter set, so a dummy verification costs what a real one would. */
  private readonly dummies = new Map<string, Promise<string>>();
  /**
   * The most expensive parameters configured or seen in a stored hash. Accounts may carry other costs than
   * `parameters`; an unknown username pays the highest, so it never answers faster than some real account.
   */
  private highest: Readonly<ScryptParameters>;

  /**
   * @param options cost of new hashes. @default { logN: 15, r: 8, p: 3 } (N = 32768, 32 MiB)
   * @throws RangeError when the parameters are below OWASP's floor and `allowWeakParameters` is not set
   */
  constructor(options: PasswordHasherOptions = {}) {
    const { allowWeakParameters, ...given } = options;
    const parameters = Object.freeze({ ...DEFAULT_SCRYPT_PARAMETERS, ...given });
    const weak = belowScryptFloor(parameters);
    if (weak && allowWeakParameters !== true) {
      throw new RangeError(
        `PasswordHasher: ${weak}. Raise the cost, or pass allowWeakParameters: true (for tests only).`,
      );
    }
    this.parameters = parameters;
    this.highest = this.parameters;
  }

  /** Hashes a password with a fresh 128-bit salt. */
  async hash(password: string): Promise<string> {
    if (typeof password !== 'string' || password.length === 0)
      throw new TypeError('password must be a non-empty string');
    return this.hashWith(password, this.parameters);
  }

  /**
   * True when `password` matches the PHC string. False for a wrong password, a malformed hash or a
   * non-string password; never throws for bad input, and spends the work of one verification in every
   * case, so that failures cannot be told apart by time.
   */
  async verify(phc: string, password: unknown): Promise<boolean> {
    const match = typeof phc === 'string' ? PHC.exec(phc) : null;
    const parameters = match ? parametersOf(phc) : null;
    if (!match || !parameters) {
      await this.verifyDummy(password);
      return false;
    }
    if (costOf(parameters) > costOf(this.highest)) this.highest = Object.freeze(parameters);
    const salt = Buffer.from(match[4], 'base64');
    const expected = Buffer.from(match[5], 'base64');
    const usable = typeof password === 'string' && Buffer.byteLength(password) <= MAX_PASSWORD_BYTES;
    const key = await this.derive(usable ? password.normalize('NFC') : '', salt, expected.length, parameters);
    return timingSafeEqual(key, expected) && usable;
  }

  /**
   * Spends the work of one verification and resolves to false (for unknown accounts). The cost is the
   * highest configured or seen in a stored hash, so an unknown username is never the quick answer: with
   * the cost of the last hash checked, one cheaper account made the next unknown username fast.
   */
  async verifyDummy(password: unknown): Promise<false> {
    const dummy = await this.dummyFor(this.highest);
    await this.verify(dummy, password);
    return false;
  }

  /**
   * Makes the dummy hash ahead of time (the module does this at bootstrap), so the first unknown
   * username after a start does not pay for making it.
   */
  async prepare(): Promise<void> {
    await this.dummyFor(this.highest);
  }

  /** True when a stored hash was made with other parameters than this hasher's (rehash at next login). */
  needsRehash(phc: string): boolean {
    const { logN, r, p } = this.parameters;
    return !phc.startsWith(`$scrypt$ln=${logN},r=${r},p=${p}$`);
  }

  /**
   * True when a stored hash is weaker than this hasher's parameters: less work or less memory per verification.
   * The module then rehashes the password at login (see `Realm.upgradeCredentials`). A hash that is stronger in
   * both, made before the configuration was lowered, is left alone; so is a string that is not a scrypt PHC string.
   */
  isWeakerThanConfigured(phc: string): boolean {
    const parameters = parametersOf(phc);
    if (!parameters) return false;
    return costOf(parameters) < costOf(this.parameters) || memoryOf(parameters) < memoryOf(this.parameters);
  }

  /** The key derivation itself (scrypt). Protected so that tests can count the work done. */
  protected derive(
    password: string,
    salt: Buffer,
    keylen: number,
    parameters: ScryptParameters,
  ): Promise<Buffer> {
    return scrypt(password, salt, keylen, parameters);
  }

  private async hashWith(password: string, parameters: ScryptParameters): Promise<string> {
    const salt = randomBytes(SALT_LENGTH);
    const key = await this.derive(password.normalize('NFC'), salt, KEY_LENGTH, parameters);
    const { logN, r, p } = parameters;
    return `$scrypt$ln=${logN},r=${r},p=${p}$${b64(salt)}$${b64(key)}`;
  }

  private dummyFor(parameters: ScryptParameters): Promise<string> {
    const key = `${parameters.logN},${parameters.r},${parameters.p}`;
    let dummy = this.dummies.get(key);
    if (!dummy) {
      dummy = this.hashWith(randomBytes(16).toString('hex'), parameters);
      this.dummies.set(key, dummy);
    }
    return dummy;
  }
}

/** The parameters of a scrypt PHC string this hasher can verify, or null. */
function parametersOf(phc: string): ScryptParameters | null {
  const match = typeof phc === 'string' ? PHC.exec(phc) : null;
  if (!match) return null;
  const parameters = { logN: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  if (parameters.logN < 10 || parameters.logN > 20 || parameters.r < 1 || parameters.p < 1) return null;
  return parameters;
}
