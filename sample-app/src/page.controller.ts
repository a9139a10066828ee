import { randomBytes } from 'node:crypto';
import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { CurrentSubject, SessionRegistry, Subject } from 'nestjs-yosai';
import { renderPage, type PageModel } from './page.view.js';

/** Injection token of the store's name (`memory` or `redis`), shown on the page. */
export const SAMPLE_STORE_KIND = 'SAMPLE_STORE_KIND';

interface HeaderSink {
  setHeader(name: string, value: string): unknown;
}

/** `GET /`: the sample's only page. Reads the session, never starts one. */
@Controller()
export class PageController {
  constructor(
    @Inject(SAMPLE_STORE_KIND) private readonly store: string,
    private readonly registry: SessionRegistry,
  ) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Referrer-Policy', 'no-referrer')
  async page(
    @CurrentSubject() subject: Subject,
    @Res({ passthrough: true }) response: HeaderSink,
  ): Promise<string> {
    // A fresh nonce per response: only this page's own inline style and script may run.
    const nonce = randomBytes(16).toString('base64');
    response.setHeader(
      'Content-Security-Policy',
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; ` +
        `img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
    );
    const session = subject.session;
    const username = subject.isAuthenticated ? subject.primaryIdentifier : null;
    const sessions =
      username === null
        ? null
        : (await this.registry.list(username)).map((s) => ({
            id: s.id,
            startedAt: s.startedAt,
            lastAccessedAt: s.lastAccessedAt,
            host: s.host,
            current: s.id === session?.id,
          }));
    const model: PageModel = {
      username,
      sessions,
      session: session && {
        id: session.id,
        startedAt: session.startedAt,
        lastAccessedAt: session.lastAccessedAt,
        expiresAt: session.expiresAt,
        idleTimeoutMs: session.idleTimeoutMs,
        absoluteTimeoutMs: session.absoluteTimeoutMs,
        attributes: session.getAttributes(),
      },
      store: this.store,
      nonce,
    };
    return renderPage(model);
  }
}
