import type { AuthenticationToken } from './realm.js';

/**
 * A login attempt with a username and a password, as in Yosai's example:
 * `subject.login(new UsernamePasswordToken('thedude', 'letsgobowling'))`.
 *
 * The password is kept in a private field: it does not appear in `JSON.stringify`, `console.log` or
 * events, and {@link clear} drops it once the attempt is over.
 */
export class UsernamePasswordToken implements AuthenticationToken {
  #password: string | null;

  constructor(
    readonly username: string,
    password: string,
  ) {
    this.#password = password;
  }

  /** The username: who the attempt claims to be. */
  get principal(): string {
    return this.username;
  }

  /** The presented password; `null` after {@link clear}. */
  get password(): string | null {
    return this.#password;
  }

  /** Forgets the password. Called by the module after every attempt. */
  clear(): void {
    this.#password = null;
  }

  toJSON() {
    return { username: this.username };
  }
}
