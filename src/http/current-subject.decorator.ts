import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { YosaiConfigurationError } from '../errors/yosai.errors.js';
import type { Subject } from '../subject/subject.js';
import { subjectOf } from './subject-of.js';

/**
 * The request's `Subject`, as resolved by `YosaiGuard`.
 * @throws YosaiConfigurationError when the guard did not run for the route.
 * @example
 * @Get('me') me(@CurrentSubject() subject: Subject) { return { username: subject.primaryIdentifier }; }
 */
export const CurrentSubject = createParamDecorator((_data: unknown, context: ExecutionContext): Subject => {
  // The HTTP request and response (what `switchToHttp()` gives, without the closures it makes per call).
  const request = context.getArgByIndex<object | undefined>(0);
  const subject = request ? subjectOf(request, context.getArgByIndex<unknown>(1)) : undefined;
  if (!subject) {
    throw new YosaiConfigurationError(
      '@CurrentSubject() found no Subject: mount YosaiGuard for this route (APP_GUARD or @UseGuards(YosaiGuard)).',
    );
  }
  return subject;
});
