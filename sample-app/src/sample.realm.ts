import { Logger } from '@nestjs/common';
import { PasswordHasher, Realm, type Account, type AuthorizationInfo } from 'nestjs-yosai';

/** The sample's accounts. Passwords are here only to be hashed at startup; nothing keeps them in clear. */
export const SAMPLE_ACCOUNTS: Readonly<Record<string, string>> = Object.freeze({
  thedude: 'letsgobowling',
  walter: 'shomer-shabbos',
});

/** Roles and permissions of the sample's users (Shiro wildcard syntax). */
export const SAMPLE_GRANTS: Readonly<Record<string, AuthorizationInfo>> = Object.freeze({
  thedude: { roles: ['bowler'], permissions: ['lane:read:*', 'drink:order:white-russian'] },
  walter: { roles: ['bowler', 'captain'], permissions: ['lane:*', 'league:manage'] },
});

/** Every role the sample knows, for `GET /api/me`. */
export const SAMPLE_ROLES: readonly string[] = ['bowler', 'captain'];

/**
 * An in-memory Realm. A real app looks accounts up in its user store; the module then verifies the
 * password against the PHC string (timing-safe, with a dummy verification for unknown usernames).
 */
export class SampleRealm extends Realm {
  private readonly logger = new Logger('SampleRealm');

  private constructor(private readonly accounts: Map<string, Account>) {
    super();
  }

  /** Hashes every password with the module's scrypt hasher (the same cost the module verifies with). */
  static async create(
    users: Readonly<Record<string, string>> = SAMPLE_ACCOUNTS,
    hasher = new PasswordHasher(),
  ): Promise<SampleRealm> {
    const accounts = new Map<string, Account>();
    for (const [username, password] of Object.entries(users)) {
      accounts.set(username, { identifiers: [username], credentials: await hasher.hash(password) });
    }
    return new SampleRealm(accounts);
  }

  findAccount(username: string): Account | null {
    return this.accounts.get(username) ?? null;
  }

  /**
   * Called by the module after a successful login whose stored hash is weaker than the configured cost (say, made
   * before the cost was raised): the new hash replaces the old one. A real app updates its user table here.
   */
  upgradeCredentials(username: string, credentials: string): void {
    const account = this.accounts.get(username);
    if (!account) return;
    this.accounts.set(username, { ...account, credentials });
    this.logger.log(`Upgraded the password hash of ${username} to the configured cost`);
  }

  /** Asked once per session by the module (then cached), not once per check. */
  getAuthorizationInfo(identifiers: readonly string[]): AuthorizationInfo | null {
    return SAMPLE_GRANTS[identifiers[0] ?? ''] ?? null;
  }
}
