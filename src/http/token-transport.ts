import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ResolvedYosaiConfig } from '../options/yosai-options.interface.js';
import {
  TokenSource,
  type HttpRequestLike,
  type PresentedToken,
  type TokenSink,
} from '../subject/token-source.js';
import { YOSAI_CONFIG } from '../yosai.internal-constants.js';

export type { HttpRequestLike, PresentedToken, TokenSink };

/** The answer for a request that presents nothing: shared, as most requests of a public site are this. */
const NOT_PRESENTED: PresentedToken = Object.freeze({ token: null, presented: false, viaCookie: false });

/** Minimal response shape shared by Express's `Response` and Fastify's `FastifyReply`. */
interface HttpResponseLike {
  getHeader(name: string): unknown;
  removeHeader(name: string): unknown;
  setHeader?(name: string, value: string | string[]): unknown;
  header?(name: string, value: unknown): unknown;
  headersSent?: boolean;
  sent?: boolean;
  raw?: RawResponseLike;
}

/** Node's `ServerResponse` as far as {@link keepPrivateAtWrite} uses it (Express's response, Fastify's `reply.raw`). */
interface RawResponseLike {
  headersSent?: boolean;
  getHeader?(name: string): unknown;
  setHeader?(name: string, value: string | string[]): unknown;
  writeHead?(...args: unknown[]): unknown;
}

function readHeader(request: HttpRequestLike, name: string): string | undefined | null {
  const value = request.headers?.[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.length === 1 ? value[0] : null; // repeated header: ambiguous
  // Node keeps only the first of some repeated headers (Authorization among them) in `headers`; the
  // distinct view shows them all, so a second, different token cannot hide behind the first.
  const distinct = (request.headersDistinct ?? request.raw?.headersDistinct)?.[name];
  if (distinct && distinct.length > 1) return null;
  return value;
}

/**
 * The token of an `Authorization` value: `undefined` for another scheme (Basic, Digest…: not ours), the
 * text after `Bearer` otherwise (whatever its shape; the shape check comes later).
 */
function bearerToken(value: string): string | undefined {
  const trimmed = trimOws(value);
  let end = 0;
  while (end < trimmed.length && trimmed.charCodeAt(end) !== 0x20 && trimmed.charCodeAt(end) !== 0x09) end++;
  if (trimmed.slice(0, end).toLowerCase() !== 'bearer') return undefined;
  return trimOws(trimmed.slice(end));
}

/**
 * Strips only HTTP whitespace (SP, HTAB; RFC 6265/9110), not what `String.prototype.trim` also removes
 * (U+FEFF, U+00A0, U+2028…): a token with such characters around it is of the wrong shape, not a token.
 */
function trimOws(value: string): string {
  // A loop, not a regular expression: /[ \t]+$/ is retried from every position of a long run of
  // blanks, which is quadratic in the header's length (a security fix; see CHANGELOG 0.1).
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * The value of the cookie `name` in a Cookie header: `undefined` when it is not there, `null` when it is
 * there several times with different values (ambiguous), else the value. Names are compared in place, so
 * a request allocates nothing here but the value itself.
 */
function cookieValue(header: string, name: string): string | null | undefined {
  let found: string | undefined;
  let start = 0;
  // The next `=` at or after `start`, searched again only once `start` has passed it: searched per part, a
  // header of many parts without `=` (`;;;;…`) was scanned to its end once per part, quadratic in its length.
  let eq = -1;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    if (eq < start) {
      eq = header.indexOf('=', start);
      if (eq === -1) break; // no `name=value` part left
    }
    if (eq < end) {
      let nameStart = start;
      let nameEnd = eq;
      while (nameStart < nameEnd && isOws(header.charCodeAt(nameStart))) nameStart++;
      while (nameEnd > nameStart && isOws(header.charCodeAt(nameEnd - 1))) nameEnd--;
      if (nameEnd - nameStart === name.length && header.startsWith(name, nameStart)) {
        let value = trimOws(header.slice(eq + 1, end));
        if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
        if (found === undefined) found = value;
        else if (found !== value) return null;
      }
    }
    start = end + 1;
  }
  return found;
}

/** True when the first `X-Forwarded-Proto` value is `https` (the hop nearest the client, as Express reads it). */
function forwardedHttps(request: HttpRequestLike): boolean {
  const value = request.headers?.['x-forwarded-proto'];
  const first = (Array.isArray(value) ? value[0] : value)?.split(',')[0];
  return first !== undefined && trimOws(first).toLowerCase() === 'https';
}

function isFastifyReply(response: HttpResponseLike): boolean {
  return typeof response.header === 'function' && 'raw' in response && !!response.raw;
}

function headersSent(response: HttpResponseLike): boolean {
  return !!(response.headersSent ?? response.raw?.headersSent ?? response.sent);
}

function setResponseHeader(response: HttpResponseLike, name: string, value: string | string[]) {
  if (isFastifyReply(response)) {
    response.removeHeader(name);
    response.header!(name, value);
  } else {
    response.setHeader!(name, value);
  }
}

/**
 * @internal Marks a response as private to this client: `Cache-Control: no-store` (authenticated content, a
 * token), and `Vary: Cookie` when the answer depended on the session cookie. Express or Fastify; no-op once
 * the headers are sent.
 */
export function markPrivate(
  response: unknown,
  options: PrivateMarks,
  /** The route sets `Vary` or `Cache-Control` itself (`@Header()`), which Nest applies after the guards. */
  routeSetsCacheHeaders = false,
): void {
  const reply = response as HttpResponseLike | undefined;
  if (!reply || typeof reply.getHeader !== 'function' || headersSent(reply)) return;
  if (options.noStore) setResponseHeader(reply, 'cache-control', 'no-store');
  if (options.varyCookie) {
    const existing = reply.getHeader('vary');
    // Most answers have no Vary yet: set it without parsing.
    if (existing === undefined) setResponseHeader(reply, 'vary', 'Cookie');
    else {
      const merged = varyWithCookie(existing);
      if (merged !== null) setResponseHeader(reply, 'vary', merged);
    }
  }
  if (routeSetsCacheHeaders) keepPrivateAtWrite(isFastifyReply(reply) ? reply.raw! : reply, options);
}

/** What {@link markPrivate} puts on an answer. */
interface PrivateMarks {
  readonly noStore: boolean;
  readonly varyCookie: boolean;
}

/** A `Vary` value with `Cookie` added, or `null` when it already varies on it (or on everything: `*`). */
function varyWithCookie(existing: unknown): string | null {
  const list = Array.isArray(existing) ? existing.join(', ') : typeof existing === 'string' ? existing : '';
  const names = list.split(',').map((n) => n.trim().toLowerCase());
  if (names.includes('cookie') || names.includes('*')) return null;
  return list.trim() === '' ? 'Cookie' : `${list}, Cookie`;
}

/**
 * Applies the marks again when the headers are written: Nest sets a route's `@Header()` values after the guards
 * ran, replacing `Vary` and `Cache-Control`. Once, on this response only (routes that declare those headers), by
 * wrapping its `writeHead`, through which Node writes every response head (Express's, and Fastify's with its
 * headers as an object argument).
 */
function keepPrivateAtWrite(raw: RawResponseLike, options: PrivateMarks): void {
  const writeHead = raw.writeHead;
  if (typeof writeHead !== 'function') return;
  raw.writeHead = function writeHeadKeepingPrivate(this: RawResponseLike, ...args: unknown[]) {
    raw.writeHead = writeHead;
    const given = args.find(
      (arg, i) => i > 0 && arg !== null && typeof arg === 'object' && !Array.isArray(arg),
    ) as Record<string, unknown> | undefined;
    if (given) {
      // Names in any case: the key already there, else the lower-case name.
      const key = (name: string) => Object.keys(given).find((k) => k.toLowerCase() === name) ?? name;
      applyMarks(
        options,
        (name) => given[key(name)],
        (name, value) => (given[key(name)] = value),
      );
    }
    applyMarks(
      options,
      (name) => raw.getHeader?.(name),
      (name, value) => raw.setHeader?.(name, value),
    );
    return writeHead.apply(this, args);
  };
}

/** The marks on headers read and written through `get` and `set` (a response, or a headers object). */
function applyMarks(
  options: PrivateMarks,
  get: (name: string) => unknown,
  set: (name: string, value: string) => unknown,
): void {
  if (options.noStore) set('cache-control', 'no-store');
  if (options.varyCookie) {
    const merged = varyWithCookie(get('vary'));
    if (merged !== null) set('vary', merged);
  }
}

/**
 * Reads the session token from a request and writes token changes to the response, by cookie and/or
 * header as configured. Works with Express and Fastify.
 */
@Injectable()
export class TokenTransport extends TokenSource {
  readonly cookieName: string | null;
  private readonly clearCookie: string | null;
  private readonly logger = new Logger('YosaiTokenTransport');
  private proxyWarned = false;

  constructor(@Inject(YOSAI_CONFIG) private readonly config: ResolvedYosaiConfig) {
    super();
    const cookie = config.cookie;
    this.cookieName = cookie ? (cookie.hostPrefix ? `__Host-${cookie.name}` : cookie.name) : null;
    this.clearCookie = cookie
      ? `${this.cookieName}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0`
      : null;
  }

  /**
   * Finds the token. Ambiguity is refused rather than guessed at: several different session cookies, a
   * repeated header, or a cookie and a header that disagree all give "no usable token".
   */
  extract(request: HttpRequestLike): PresentedToken {
    let fromCookie: string | null | undefined;
    let viaCookie = false;
    if (this.cookieName) {
      const header = request.headers?.cookie;
      const cookieHeader = Array.isArray(header) ? header.join('; ') : header;
      if (cookieHeader) {
        fromCookie = cookieValue(cookieHeader, this.cookieName);
        viaCookie = fromCookie !== undefined;
      }
    }
    let fromHeader: string | null | undefined;
    if (this.config.header) {
      const raw = readHeader(request, this.config.header.name);
      if (raw === null) fromHeader = null;
      else if (raw !== undefined) {
        if (this.config.header.name === 'authorization') {
          // Another scheme is not ours; a Bearer with nothing (usable) after it is a presented, bad token.
          const token = bearerToken(raw);
          fromHeader = token === undefined ? undefined : token === '' ? null : token;
        } else {
          const token = trimOws(raw);
          fromHeader = token === '' ? undefined : token;
        }
      }
    }
    const presented = fromCookie !== undefined || fromHeader !== undefined;
    if (!presented) return NOT_PRESENTED; // (viaCookie is false too: a cookie found counts as presented)
    if (fromCookie === null) return { token: null, presented, viaCookie, ambiguousCookie: true };
    if (fromHeader === null) return { token: null, presented, viaCookie };
    if (fromCookie !== undefined && fromHeader !== undefined && fromCookie !== fromHeader) {
      return { token: null, presented, viaCookie };
    }
    return { token: (fromCookie ?? fromHeader) as string, presented, viaCookie };
  }

  /**
   * Whether the cookie gets `Secure`. With `'auto'`, a request that says it came through a TLS proxy
   * (`X-Forwarded-Proto: https`) while `request.protocol` is `http` means the proxy is not trusted, and the
   * cookie silently loses Secure: that is logged once (the header alone is not believed: anyone can send it).
   */
  private secureFor(request: HttpRequestLike): boolean {
    const secure = this.config.cookie!.secure;
    if (secure !== 'auto') return secure;
    if (request.protocol === 'https') return true;
    if (!this.proxyWarned && forwardedHttps(request)) {
      this.proxyWarned = true;
      this.logger.warn(
        "cookie.secure is 'auto' and a request came with X-Forwarded-Proto: https over plain HTTP: the session " +
          "cookie is sent without Secure. Behind a TLS proxy, trust it (Express: app.set('trust proxy', 1); " +
          'Fastify: trustProxy) or set cookie.secure: true.',
      );
    }
    return false;
  }

  /** The Set-Cookie value that hands `token` to a browser. */
  cookieFor(token: string, request: HttpRequestLike): string {
    const cookie = this.config.cookie!;
    const secure = this.secureFor(request);
    let value = `${this.cookieName}=${token}; Path=/; HttpOnly; SameSite=${cookie.sameSite[0].toUpperCase()}${cookie.sameSite.slice(1)}`;
    if (secure) value += '; Secure';
    if (cookie.maxAgeMs !== undefined) value += `; Max-Age=${Math.floor(cookie.maxAgeMs / 1000)}`;
    return value;
  }

  /** The Set-Cookie value that removes the session cookie. */
  clearingCookie(request: HttpRequestLike): string {
    const cookie = this.config.cookie!;
    const secure = this.secureFor(request);
    return `${this.clearCookie}; HttpOnly; SameSite=${cookie.sameSite[0].toUpperCase()}${cookie.sameSite.slice(1)}${secure ? '; Secure' : ''}`;
  }

  /** A sink that writes token changes into this response (replacing, not adding to, earlier ones). */
  sinkFor(request: HttpRequestLike, response: unknown, presented: PresentedToken): TokenSink {
    const reply = response as HttpResponseLike | undefined;
    const write = (cookie: string | null, headerToken: string | null) => {
      if (!reply || headersSent(reply)) return;
      if (cookie !== null && this.cookieName) {
        const existing = reply.getHeader('set-cookie');
        const list = (
          Array.isArray(existing) ? (existing as string[]) : typeof existing === 'string' ? [existing] : []
        ).filter((c) => !c.startsWith(`${this.cookieName}=`));
        list.push(cookie);
        setResponseHeader(reply, 'set-cookie', list);
      }
      if (this.config.header) {
        if (headerToken !== null) setResponseHeader(reply, this.config.header.responseHeader, headerToken);
        else reply.removeHeader(this.config.header.responseHeader);
      }
      setResponseHeader(reply, 'cache-control', 'no-store');
    };
    let cookieSent = false;
    return {
      issue: (token) => {
        cookieSent = this.cookieName !== null;
        write(this.cookieName ? this.cookieFor(token, request) : null, token);
      },
      clear: (reason) => {
        // Only tell the client to drop a cookie it may hold; header clients simply stop using the token.
        // Never when the cookies were ambiguous: a host-only clearing cookie would delete the user's own cookie
        // and keep one planted with `Domain=` by a sibling subdomain, whose session the next request would run in.
        const cookie =
          this.cookieName && !presented.ambiguousCookie && (presented.viaCookie || cookieSent)
            ? this.clearingCookie(request)
            : null;
        const clearSite = reason === 'logout' && this.config.clearSiteDataOnLogout;
        if (cookie === null && !this.config.header && !clearSite) return;
        write(cookie, null);
        // Opt-in: the browser then drops every cookie of the site, not only ours.
        if (clearSite && reply && !headersSent(reply))
          setResponseHeader(reply, 'clear-site-data', '"cookies"');
      },
    };
  }
}
