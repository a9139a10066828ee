import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { YosaiConfigurationError } from '../errors/yosai.errors.js';
import type { Subject } from '../subject/subject.js';
import { subjectOfContext } from './execution-contexts.js';

/**
 * The request's `Subject`, as resolved by `YosaiGuard`: in controllers, gateway message handlers and resolvers.
 * @throws YosaiConfigurationError when the guard did not run for the route.
 * @example
 * @Get('me') me(@CurrentSubject() subject: Subject) { return { username: subject.primaryIdentifier }; }
 */
export const CurrentSubject = createParamDecorator((_data: unknown, context: ExecutionContext): Subject => {
  // HTTP, a gateway message or a GraphQL operation: wherever the guard kept the Subject.
  const subject = subjectOfContext(context);
  if (!subject) {
    throw new YosaiConfigurationError(
      '@CurrentSubject() found no Subject: mount YosaiGuard for this route (APP_GUARD or @UseGuards(YosaiGuard)).',
    );
  }
  return subject;
});
