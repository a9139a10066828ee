import { Injectable } from '@nestjs/common';
import { YosaiConfigurationError } from '../errors/yosai.errors.js';
import type { Subject } from '../subject/subject.js';
import { YOSAI_SUBJECT } from '../yosai.constants.js';
import { optionalPeers } from './optional-peers.js';

/**
 * The current request's Subject from anywhere in the request (Shiro's `SecurityUtils.getSubject()`), through
 * nestjs-cls: a service deep in the call chain injects `SubjectAccessor` instead of having the Subject passed down.
 * `YosaiGuard` puts the Subject in the CLS context when one is active, so nestjs-cls must be installed and its
 * context set up before the guard runs (`ClsModule.forRoot({ global: true, middleware: { mount: true } })`).
 */
@Injectable()
export class SubjectAccessor {
  /**
   * The current Subject.
   * @throws YosaiConfigurationError outside a request's CLS context, when nestjs-cls is not installed, or when
   *   `YosaiGuard` has not run for the request: a programming error, never answered as a guest.
   */
  get(): Subject {
    const subject = this.lookUp(true);
    if (!subject) {
      throw new YosaiConfigurationError(
        'SubjectAccessor found no Subject in this request: YosaiGuard has not run for it (mount it as APP_GUARD or ' +
          'with @UseGuards(YosaiGuard)), or the CLS context started after the guard (mount nestjs-cls as middleware).',
      );
    }
    return subject;
  }

  /** The current Subject, or `undefined` outside a request, before the guard ran, or without nestjs-cls. */
  find(): Subject | undefined {
    return this.lookUp(false);
  }

  private lookUp(strict: boolean): Subject | undefined {
    const cls = optionalPeers().cls?.();
    if (!cls) {
      if (!strict) return undefined;
      throw new YosaiConfigurationError(
        'SubjectAccessor needs nestjs-cls: `npm i nestjs-cls` and import ' +
          'ClsModule.forRoot({ global: true, middleware: { mount: true } }).',
      );
    }
    if (!cls.isActive()) {
      if (!strict) return undefined;
      throw new YosaiConfigurationError(
        'SubjectAccessor.get() was called outside a request (no active CLS context): there is no current Subject ' +
          'in a bootstrap hook, a timer or a queue consumer. Use find() where that is expected.',
      );
    }
    return cls.get(YOSAI_SUBJECT) as Subject | undefined;
  }
}

/** @internal Makes `subject` the current Subject of the active CLS context, if nestjs-cls is installed and active. */
export function keepInCls(subject: Subject): void {
  const cls = optionalPeers().cls?.();
  if (cls?.isActive()) cls.set(YOSAI_SUBJECT, subject);
}
