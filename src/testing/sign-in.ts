import { SessionManager, type StartSessionOptions } from '../session/session.manager.js';

/** Where the app's providers are: a `TestingModule`, an `INestApplication` or an application context. */
export interface AppProviders {
  get<T>(type: abstract new (...args: never[]) => T, options?: { strict?: boolean }): T;
}

/** Options of {@link signInForTest}. */
export interface TestSignInOptions {
  /** Whether the session counts as logged in (`subject.isAuthenticated`). @default true */
  authenticated?: boolean;
  /** Initial session attributes, same rules as `setAttribute`. */
  attributes?: Record<string, unknown>;
  /** The session's `host`. @default null */
  host?: string | null;
}

/**
 * Signs a test user in without a password: starts a session for `identifiers` (primary first) in the app's own
 * store, as a login would, and returns its token. Send it as the session cookie (`Cookie: sid=<token>`) or in the
 * token header your app configures. Emits `yosai.session.started` like any session start; no realm is asked.
 *
 * For tests only: it skips authentication entirely. An app that signs in identities it verified itself (SSO)
 * uses `SessionManager.startSession` deliberately, in its own code.
 * @example
 * const token = await signInForTest(app, ['walter']);
 * await request(app.getHttpServer()).get('/profile').set('Cookie', `sid=${token}`).expect(200);
 */
export async function signInForTest(
  app: AppProviders,
  identifiers: readonly string[],
  options: TestSignInOptions = {},
): Promise<string> {
  if (
    !Array.isArray(identifiers) ||
    identifiers.length === 0 ||
    !identifiers.every((i) => typeof i === 'string')
  ) {
    throw new TypeError('signInForTest needs the identifiers of the user, primary first, e.g. ["walter"].');
  }
  const manager = app.get(SessionManager, { strict: false });
  const start: StartSessionOptions = {
    identifiers,
    authenticated: options.authenticated ?? true,
    attributes: options.attributes,
    host: options.host ?? null,
  };
  return (await manager.startSession(start)).token;
}
