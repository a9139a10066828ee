import { createHash, randomBytes } from 'node:crypto';
import { MOUNTS, PLATFORMS, type Mount, type Platform } from './test-app.js';

/** Every platform × mount pair, for `describe.each`. */
export const CASES: [Platform, Mount][] = PLATFORMS.flatMap((p) =>
  MOUNTS.map((m): [Platform, Mount] => [p, m]),
);

/** All Set-Cookie lines of a response. */
export function setCookies(headers: Record<string, unknown>): string[] {
  const raw = headers['set-cookie'];
  return Array.isArray(raw) ? (raw as string[]) : typeof raw === 'string' ? [raw] : [];
}

/** The Set-Cookie lines for cookie `name` (normally zero or one). */
export function setCookieLines(headers: Record<string, unknown>, name = 'sid'): string[] {
  return setCookies(headers).filter((c) => c.startsWith(`${name}=`));
}

/** The attributes of one Set-Cookie line, names lower-cased; flag attributes map to ''. */
export function cookieAttributes(line: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const part of line.split(';').slice(1)) {
    const trimmed = part.trim();
    if (!trimmed) continue;
    const eq = trimmed.indexOf('=');
    if (eq === -1) attributes.set(trimmed.toLowerCase(), '');
    else attributes.set(trimmed.slice(0, eq).toLowerCase(), trimmed.slice(eq + 1));
  }
  return attributes;
}

/** True when the response tells the browser to drop cookie `name` (empty value and Max-Age=0). */
export function clearsCookie(headers: Record<string, unknown>, name = 'sid'): boolean {
  const lines = setCookieLines(headers, name);
  return (
    lines.length === 1 &&
    lines[0].startsWith(`${name}=;`) &&
    cookieAttributes(lines[0]).get('max-age') === '0'
  );
}

/** A well-formed token (43 chars base64url) that the server never issued. */
export function forgedToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The public session id the library derives from a token. */
export function sessionIdOf(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
