import { BadRequestException } from '@nestjs/common';
import { LIMITS } from './sample.config.js';

/**
 * Checks of client input. Every failure is a 400 whose message says what was wrong; nothing a client
 * sends can turn into a 500.
 */

/** The parsed JSON body as an object; 400 when there is none or it is not an object. */
export function jsonObject(body: unknown): Record<string, unknown> {
  if (body === undefined) {
    throw new BadRequestException('Expected a JSON body (Content-Type: application/json)');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestException('The JSON body must be an object');
  }
  return body as Record<string, unknown>;
}

/** A required, non-empty string field of at most `maxLength` characters. */
export function stringField(body: Record<string, unknown>, name: string, maxLength: number): string {
  const value = Object.prototype.hasOwnProperty.call(body, name) ? body[name] : undefined;
  if (value === undefined || value === null) throw new BadRequestException(`${name} is required`);
  if (typeof value !== 'string') throw new BadRequestException(`${name} must be a string`);
  if (value.length === 0) throw new BadRequestException(`${name} must not be empty`);
  if (value.length > maxLength) {
    throw new BadRequestException(`${name} is too long (at most ${maxLength} characters)`);
  }
  return value;
}

/** An attribute key from the URL. */
export function attributeKey(key: string): string {
  if (!LIMITS.attributeKey.test(key)) {
    throw new BadRequestException('The key must be 1-64 characters of letters, digits, "_", "." or "-"');
  }
  return key;
}

/** The `value` of a PUT body: any JSON value (null included), at most the size limit as JSON. */
export function attributeValue(body: Record<string, unknown>): unknown {
  if (!Object.prototype.hasOwnProperty.call(body, 'value'))
    throw new BadRequestException('value is required');
  const value = body.value;
  // Before anything walks it recursively: JSON.stringify of a value thousands of levels deep runs out of stack.
  if (deeperThan(value, LIMITS.attributeValueDepth)) {
    throw new BadRequestException(
      `value is nested too deeply (at most ${LIMITS.attributeValueDepth} levels)`,
    );
  }
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > LIMITS.attributeValueBytes) {
    throw new BadRequestException(
      `value is too large (${bytes} bytes as JSON; at most ${LIMITS.attributeValueBytes})`,
    );
  }
  return value;
}

/** True when `value` has arrays or objects nested more than `limit` levels deep; walked without recursion. */
function deeperThan(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Object.values(current)) pending.push([child, depth + 1]);
  }
  return false;
}
