import type { HttpRequestLike } from '../subject/token-source.js';

/** Methods that do not change state (RFC 9110 "safe"): never refused. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

function header(request: HttpRequestLike, name: string): string | undefined {
  const value = request.headers?.[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Why a request must be refused as cross-site, or null when it may pass. Only unsafe methods are judged.
 * `Sec-Fetch-Site` (sent by every current browser) decides when present: `same-origin` and `none` (typed
 * in, a bookmark) pass. Without it, `Origin` is compared with the request's `Host`. With neither, the request
 * did not come from a browser page, and passes. An origin in `trustedOrigins` always passes.
 * @returns What the request said of its origin (for the error), or null.
 */
export function crossSiteOrigin(
  request: HttpRequestLike,
  trustedOrigins: ReadonlySet<string>,
): string | null {
  const method = (request.method ?? 'GET').toUpperCase();
  if (SAFE_METHODS.has(method)) return null;
  const origin = header(request, 'origin');
  if (origin !== undefined && trustedOrigins.has(origin.toLowerCase())) return null;
  const site = header(request, 'sec-fetch-site');
  if (site !== undefined) {
    const value = site.toLowerCase();
    return value === 'same-origin' || value === 'none' ? null : `Sec-Fetch-Site: ${value.slice(0, 32)}`;
  }
  if (origin === undefined) return null;
  let host: string | null;
  try {
    host = origin === 'null' ? null : new URL(origin).host;
  } catch {
    host = null;
  }
  const own = header(request, 'host')?.toLowerCase();
  return host !== null && own !== undefined && host === own ? null : `Origin: ${origin.slice(0, 100)}`;
}

/** The request method, for messages. */
export function methodOf(request: HttpRequestLike): string {
  return (request.method ?? 'GET').toUpperCase();
}
