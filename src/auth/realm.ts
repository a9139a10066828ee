/** What a {@link Realm} returns for a username. */
export interface Account {
  /** Identifiers of the account, primary first (e.g. `['thedude']` or `[userId, email]`). At least one. */
  readonly identifiers: readonly string[];
  /**
   * The stored credentials: a PHC string made by `PasswordHasher.hash()` (scrypt).
   * The module verifies them; the realm never sees a comparison.
   */
  readonly credentials: string;
}

/**
 * The app's source of accounts (Yosai's and Shiro's Realm). Register an instance with the module's
 * `realm` option (or build it in `forRootAsync`'s factory to inject your repositories).
 *
 * @example
 * class UsersRealm extends Realm {
 *   constructor(private readonly users: UsersRepository) { super(); }
 *   async findAccount(username: string) {
 *     const user = await this.users.findByName(username);
 *     return user ? { identifiers: [user.name], credentials: user.passwordHash } : null;
 *   }
 * }
 */
export abstract class Realm {
  /** The account for a username, or `null`/`undefined` when there is none. May be sync or async. */
  abstract findAccount(username: string): Promise<Account | null | undefined> | Account | null | undefined;
}
