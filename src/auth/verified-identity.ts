import { Realm, type AuthenticatedAccount, type AuthenticationToken } from './realm.js';

/**
 * An identity the app has verified itself: the callback of an SSO or OAuth provider whose answer the app checked,
 * a passkey assertion verified by a WebAuthn library, or a test. `subject.login(new VerifiedIdentityToken(['ada']))`
 * signs the Subject in as `ada` with no further check, so it is accepted only by a realm the app lists on purpose:
 * {@link VerifiedIdentityRealm}. Never build one from request input that the app has not verified.
 *
 * @example
 * // after checking the provider's ID token (signature, issuer, audience, expiry, nonce):
 * await subject.login(new VerifiedIdentityToken([user.id, user.email], { source: 'oidc:example-idp' }));
 */
export class VerifiedIdentityToken implements AuthenticationToken {
  /** Identifiers to sign in with, primary first. */
  readonly identifiers: readonly string[];
  /**
   * Who verified the identity, for logs and audits (e.g. `oidc:example-idp`, `test`).
   * @default 'app'
   */
  readonly source: string;

  constructor(identifiers: readonly string[], options: { source?: string } = {}) {
    this.identifiers = Object.freeze([...(identifiers ?? [])]);
    this.source = options.source ?? 'app';
  }

  /** The primary identifier. */
  get principal(): string {
    return this.identifiers[0] ?? '';
  }
}

/**
 * The realm that accepts {@link VerifiedIdentityToken}s: add it to the module's `realms` to allow
 * `subject.login(new VerifiedIdentityToken(...))`. It grants no roles or permissions; another realm's
 * `getAuthorizationInfo` does. Without it, such a login fails like a wrong password.
 */
export class VerifiedIdentityRealm extends Realm {
  supports(token: AuthenticationToken): boolean {
    return token instanceof VerifiedIdentityToken;
  }

  authenticate(token: AuthenticationToken): AuthenticatedAccount | null {
    return token instanceof VerifiedIdentityToken ? { identifiers: token.identifiers } : null;
  }
}
