import type { NestExpressApplication } from '@nestjs/platform-express';
import { LIMITS } from './sample.config.js';

/** What body-parser puts on its errors (`http-errors`). */
interface BodyParserError {
  status?: number;
  statusCode?: number;
  type?: string;
}

interface ResponseLike {
  headersSent: boolean;
  status(code: number): ResponseLike;
  json(body: unknown): unknown;
}

const MESSAGES: Record<string, string> = {
  'entity.parse.failed': 'The body is not valid JSON',
  'entity.too.large': `The body is too large (at most ${LIMITS.bodyBytes / 1024} KB)`,
  'entity.verify.failed': 'The body was refused',
  'encoding.unsupported': 'Unsupported Content-Encoding',
  'charset.unsupported': 'Unsupported charset; send UTF-8 JSON',
  'request.size.invalid': 'The body does not match its Content-Length',
};

/**
 * JSON bodies only, up to {@link LIMITS.bodyBytes}. body-parser reports bad bodies through Express's
 * error chain, which Nest's exception filters never see; Express would answer with an HTML page (and 413
 * for a large body). This error handler, registered right after the parser, answers every client-side
 * body error with a JSON 400 in Nest's usual shape instead.
 */
export function useJsonBodies(app: NestExpressApplication): void {
  app.useBodyParser('json', { limit: LIMITS.bodyBytes });
  app.use((error: unknown, _request: unknown, response: ResponseLike, next: (error?: unknown) => void) => {
    const e = error as BodyParserError | null;
    const status = e?.status ?? e?.statusCode;
    if (response.headersSent || typeof status !== 'number' || status < 400 || status >= 500) {
      next(error);
      return;
    }
    const message = (e?.type && MESSAGES[e.type]) ?? 'The request body could not be read';
    response.status(400).json({ statusCode: 400, message, error: 'Bad Request' });
  });
}
