import { SetMetadata } from '@nestjs/common';
import { YOSAI_REQUIREMENT } from '../yosai.internal-constants.js';

/** What a route demands of its Subject. */
export type SubjectRequirement = 'authenticated' | 'user' | 'guest';

/**
 * `YosaiGuard` answers 401 unless the Subject logged in during its current session.
 * @example
 * @Get('profile') @RequiresAuthentication()
 * profile(@CurrentSubject() subject: Subject) { return { username: subject.primaryIdentifier }; }
 */
export const RequiresAuthentication = () =>
  SetMetadata(YOSAI_REQUIREMENT, 'authenticated' satisfies SubjectRequirement);

/**
 * `YosaiGuard` answers 401 unless the Subject is identified (has identifiers). Shiro's "user" also
 * admits remembered identities; this library has no remember-me, so today it admits the same Subjects as
 * {@link RequiresAuthentication}.
 * @example
 * @Get('cart') @RequiresUser()
 * cart(@CurrentSubject() subject: Subject) { … }
 */
export const RequiresUser = () => SetMetadata(YOSAI_REQUIREMENT, 'user' satisfies SubjectRequirement);

/**
 * `YosaiGuard` answers 403 when the Subject is authenticated (e.g. a sign-up page).
 * @example
 * @Post('register') @RequiresGuest()
 * register() { … }
 */
export const RequiresGuest = () => SetMetadata(YOSAI_REQUIREMENT, 'guest' satisfies SubjectRequirement);
