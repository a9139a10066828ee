import { Subject } from '../subject/subject.js';
import { YOSAI_SUBJECT } from '../yosai.constants.js';
import { keepSubject, subjectOf } from './subject-of.js';

const subject = {} as Subject;

describe('subjectOf', () => {
  it('on Express keeps the Subject in res.locals (request.res), not on the request', () => {
    const response = { locals: Object.create(null) as object };
    const request = { res: response };
    keepSubject(request, response, subject);
    expect(subjectOf(request)).toBe(subject);
    expect(subjectOf(request, response)).toBe(subject);
    expect(Object.getOwnPropertySymbols(request)).toEqual([]);
    expect((response.locals as Record<symbol, unknown>)[YOSAI_SUBJECT]).toBe(subject);
  });

  it('on Fastify keeps it on the request, even when a plugin gave the reply a `locals`', () => {
    const reply = { locals: {} };
    const request = { raw: {} };
    keepSubject(request, reply, subject);
    expect(subjectOf(request)).toBe(subject);
    expect(subjectOf(request, reply)).toBe(subject);
    expect(Object.getOwnPropertySymbols(reply.locals)).toEqual([]);
  });

  it('is undefined before the guard ran', () => {
    expect(subjectOf({ res: { locals: {} } })).toBeUndefined();
    expect(subjectOf({})).toBeUndefined();
  });
});
