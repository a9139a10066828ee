import { SessionSerializationError } from '../errors/yosai.errors.js';

/*
 * Attribute values are JSON with two additions, so that what goes in comes out:
 *   - a Date becomes {"$d": "<ISO string>"};
 *   - an object key that starts with "$" gets one more "$" (so a user object {"$d": 1} cannot pass for a Date).
 * Everything that JSON would silently change or drop is refused instead: undefined, NaN and ±Infinity,
 * functions, symbols, BigInt, circular references, and class instances other than Date.
 * Values nested deeper than MAX_VALUE_DEPTH levels are refused too: they are not data a session needs, and
 * unbounded they would exhaust the stack (a RangeError, not a clear refusal).
 */

/** Deepest nesting of objects and arrays an attribute value may have (the value itself is level 1). */
export const MAX_VALUE_DEPTH = 64;

/** Sets an own property even for keys such as `__proto__`, which plain assignment would treat specially. */
export function defineEntry(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function refuse(path: string, what: string): never {
  throw new SessionSerializationError(
    `Session attribute value at \`${path}\` cannot be stored: ${what}. Session values must be JSON-serialisable ` +
      '(strings, finite numbers, booleans, null, plain objects, arrays, Dates).',
    path,
  );
}

/**
 * Encodes one attribute value the app asked to store, or throws `SessionSerializationError` naming the path at
 * fault (a programming error in the app: nothing is written).
 */
export function encodeValue(value: unknown, path: string): unknown {
  return encodeAt(value, path, new Set<object>());
}

/** `ancestors` holds the objects from the root to here: its size is the depth, and lookups cost O(1). */
function encodeAt(value: unknown, path: string, ancestors: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) refuse(path, `${value} is not a finite number`);
      return value;
    case 'undefined':
      return refuse(path, 'undefined (use null, or removeAttribute() to remove a key)');
    case 'bigint':
      return refuse(path, 'BigInt (store it as a string)');
    case 'function':
      return refuse(path, 'a function');
    case 'symbol':
      return refuse(path, 'a symbol');
  }
  if (value === null) return null;
  const object = value as object;
  if (ancestors.has(object)) refuse(path, 'a circular reference');
  if (object instanceof Date) {
    if (Number.isNaN(object.getTime())) refuse(path, 'an invalid Date');
    return { $d: object.toISOString() };
  }
  if (ancestors.size >= MAX_VALUE_DEPTH) {
    refuse(path, `it is nested more than ${MAX_VALUE_DEPTH} levels deep`);
  }
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      const out: unknown[] = new Array<unknown>(object.length);
      for (let i = 0; i < object.length; i++) {
        if (!(i in object)) refuse(`${path}[${i}]`, 'a hole in a sparse array');
        out[i] = encodeAt(object[i], `${path}[${i}]`, ancestors);
      }
      return out;
    }
    const proto = Object.getPrototypeOf(object) as object | null;
    if (proto !== Object.prototype && proto !== null) {
      refuse(
        path,
        `an instance of ${(object.constructor as { name?: string } | undefined)?.name || 'a class'} (only plain objects, arrays and Dates)`,
      );
    }
    if (Object.getOwnPropertySymbols(object).length > 0) refuse(path, 'an object with symbol keys');
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(object)) {
      defineEntry(out, key.startsWith('$') ? `$${key}` : key, encodeAt(item, `${path}.${key}`, ancestors));
    }
    return out;
  } finally {
    // The same object may appear again elsewhere in the value (a shared, not a circular, reference).
    ancestors.delete(object);
  }
}

/** Inverse of {@link encodeValue}. */
export function decodeValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(decodeValue);
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  if (keys.length === 1 && keys[0] === '$d' && typeof object.$d === 'string') return new Date(object.$d);
  const out: Record<string, unknown> = {};
  for (const key of keys)
    defineEntry(out, key.startsWith('$') ? key.slice(1) : key, decodeValue(object[key]));
  return out;
}
