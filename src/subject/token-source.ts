/** What a request presented as its session token. */
export interface PresentedToken {
  /** The token to resolve, or null when none (or none usable) was presented. */
  readonly token: string | null;
  /** True when the client presented something in a session cookie or header, usable or not. */
  readonly presented: boolean;
  /** True when a session cookie was presented (so clearing it is meaningful). */
  readonly viaCookie: boolean;
  /**
   * True when several different session cookies were presented (one may have been planted by a sibling
   * subdomain with `Domain=`): no clearing cookie is sent then, as it would delete the user's own cookie and
   * leave the planted one.
   */
  readonly ambiguousCookie?: boolean;
}

/** Where a Subject sends its token when a session starts, is replaced or ends. */
export interface TokenSink {
  issue(token: string): void;
  /** The token is dead; `logout` when the user asked for it (the transport may then clear more). */
  clear(reason?: 'logout'): void;
}

/** Minimal request shape shared by Express and Fastify. */
export interface HttpRequestLike {
  headers: Record<string, string | string[] | undefined>;
  /** Node's `IncomingMessage.headersDistinct` (Express), every value of every header. */
  headersDistinct?: Record<string, string[] | undefined>;
  /** Fastify's underlying `IncomingMessage`. */
  raw?: { headersDistinct?: Record<string, string[] | undefined> };
  protocol?: string;
  ip?: string;
  /** The HTTP method (for the cross-site request check). */
  method?: string;
}

/**
 * How Subjects find a request's token and send token changes back: the HTTP transport implements it
 * (cookie and header), so that `subject/` knows no transport.
 */
export abstract class TokenSource {
  /** The token a request presents (no store access). */
  abstract extract(request: HttpRequestLike): PresentedToken;
  /** A sink that writes token changes into the response of this exchange. */
  abstract sinkFor(request: HttpRequestLike, response: unknown, presented: PresentedToken): TokenSink;
}
