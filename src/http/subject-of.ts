import type { Subject } from '../subject/subject.js';
import { YOSAI_SUBJECT } from '../yosai.constants.js';

type Holder = Record<symbol, Subject | undefined>;

/**
 * Where the Subject of an HTTP exchange is kept, under {@link YOSAI_SUBJECT}: Express's `res.locals` (an
 * object Express makes for every request, meant for per-request data) when there is one, else the request
 * itself (Fastify, or any other request object).
 *
 * Not the Express request: a request object already carries some 35 properties, and one more made V8 copy
 * them into a larger backing store on every request (the cost is measured in BENCHMARKS.md).
 */
function holderOf(request: object, response?: unknown): Holder {
  // Express links the two (`req.res`); Fastify's request has no `res`, and a `reply.locals` that a plugin may
  // add is not used, so that `subjectOf(request)` finds the Subject without the reply.
  const res = (request as { res?: { locals?: unknown } | null }).res;
  const locals = res && (response === undefined || response === res) ? res.locals : undefined;
  return (locals !== null && typeof locals === 'object' ? locals : request) as Holder;
}

/**
 * The Subject that `YosaiGuard` resolved for this request, or `undefined` when the guard has not run for it.
 * For interceptors and exception filters (what runs after the guard); handlers take `@CurrentSubject()`.
 * @param request The HTTP request (Express or Fastify).
 * @param response Its response, when at hand (optional: Express links it as `request.res`).
 * @example
 * const subject = subjectOf(context.switchToHttp().getRequest());
 */
export function subjectOf(request: object, response?: unknown): Subject | undefined {
  return holderOf(request, response)[YOSAI_SUBJECT];
}

/** @internal Keeps the request's Subject where {@link subjectOf} finds it. */
export function keepSubject(request: object, response: unknown, subject: Subject): void {
  holderOf(request, response)[YOSAI_SUBJECT] = subject;
}
