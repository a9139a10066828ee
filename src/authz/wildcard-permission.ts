import { InvalidPermissionError } from '../errors/yosai.errors.js';

/** Options of {@link WildcardPermission}. */
export interface WildcardPermissionOptions {
  /**
   * Compare parts as written. Off, the text is lower-cased when parsed (Shiro's default), so `Lane:Read`
   * and `lane:read` are the same permission.
   * @default false
   */
  caseSensitive?: boolean;
}

/** Divides parts: `domain:action:instance`. */
const PART = ':';
/** Divides the values of one part: `lane:read,delete`. */
const SUBPART = ',';
/** Any value of a part. */
const WILDCARD = '*';
/** Longest permission text accepted: a realm or a decorator never needs more, and parsing stays cheap. */
const MAX_LENGTH = 4096;

/**
 * A permission in Apache Shiro's wildcard syntax: parts divided by `:` (`domain:action:instance`), the values of
 * one part by `,`, and `*` for any value. A permission *implies* another when it allows everything the other
 * allows: `lane:*` implies `lane:read:7`; `lane:read,write` implies `lane:read`; missing trailing parts mean
 * "any", so `lane` implies `lane:delete:7`; but `lane:read` does not imply `lane:*`.
 *
 * Unlike Shiro, parts and values are trimmed and an empty one (`lane::7`, `lane:read,`) is refused rather than
 * kept as an empty value: such text is almost always a typo that would never match.
 *
 * @example
 * new WildcardPermission('lane:*').implies(new WildcardPermission('lane:read:7')); // true
 * new WildcardPermission('lane:read').implies('lane:delete'); // false
 * @throws InvalidPermissionError for empty, blank or delimiter-only text, or an empty part or value.
 */
export class WildcardPermission {
  /** The parts, each a set of values, lower-cased unless case-sensitive. */
  readonly #parts: readonly ReadonlySet<string>[];
  /**
   * The parts as written (the same array as `#parts` when lower-casing changed nothing): what a case-sensitive
   * permission compares against when it is asked about a case-insensitive one.
   */
  readonly #written: readonly ReadonlySet<string>[];
  readonly #caseSensitive: boolean;

  /** Parts handed from `fromParts` to the constructor, so that literal values are not parsed. */
  static #given: ReadonlySet<string>[] | null = null;

  constructor(text: string, options: WildcardPermissionOptions = {}) {
    this.#caseSensitive = options.caseSensitive === true;
    const given = WildcardPermission.#given;
    WildcardPermission.#given = null;
    this.#written = given ?? parse(text);
    this.#parts = this.#caseSensitive ? this.#written : lowerCased(this.#written);
  }

  /**
   * A permission from parts whose values are taken literally: a value holding `:`, `,` or `*` stays one value
   * and is never read as a divider or a wildcard. This is how instance-level checks are filled from request
   * input (`@RequiresPermissions('lane:read:{lane}')`) without letting the input widen the check.
   * @throws InvalidPermissionError when there are no parts, or a part has no values or an empty value.
   */
  static fromParts(
    parts: readonly (readonly string[])[],
    options: WildcardPermissionOptions = {},
  ): WildcardPermission {
    const caseSensitive = options.caseSensitive === true;
    if (!Array.isArray(parts) || parts.length === 0) {
      throw new InvalidPermissionError('', 'a permission needs at least one part');
    }
    const built = parts.map((values) => {
      if (!Array.isArray(values) || values.length === 0) {
        throw new InvalidPermissionError(String(parts), 'every part needs at least one value');
      }
      return new Set(
        values.map((value) => {
          if (typeof value !== 'string' || value.length === 0) {
            throw new InvalidPermissionError(String(parts), 'a value must be a non-empty string');
          }
          return value;
        }),
      );
    });
    WildcardPermission.#given = built;
    return new WildcardPermission('', { caseSensitive });
  }

  /** Whether the text was parsed case-sensitively. */
  get caseSensitive(): boolean {
    return this.#caseSensitive;
  }

  /** The parts and their values (a copy), e.g. `[['lane'], ['read', 'write']]`. */
  get parts(): string[][] {
    return this.#parts.map((part) => [...part]);
  }

  /**
   * Whether this permission allows everything `other` allows, compared with this permission's case sensitivity:
   * a case-sensitive one compares `other` as written (also when `other` was made case-insensitive, as the checks
   * of `@RequiresPermissions` and of permission strings are), a case-insensitive one lower-cases it. A `*` in
   * `other` is a value like any other, not a wildcard: `lane:read` does not imply `lane:*`.
   * @throws InvalidPermissionError when `other` is text that is not a permission.
   */
  implies(other: WildcardPermission | string): boolean {
    let theirs: readonly ReadonlySet<string>[] | null;
    if (typeof other === 'string') {
      theirs = this.#caseSensitive ? parse(other) : lowerCased(parse(other));
    } else if (other instanceof WildcardPermission) {
      theirs = this.#caseSensitive
        ? other.#written
        : other.#caseSensitive
          ? lowerCased(other.#parts)
          : other.#parts;
    } else theirs = null;
    if (!theirs) return false;
    const mine = this.#parts;
    for (let i = 0; i < theirs.length; i++) {
      // This permission says nothing more: its missing trailing parts allow anything.
      if (i >= mine.length) return true;
      const part = mine[i];
      if (part.has(WILDCARD)) continue;
      for (const value of theirs[i]) if (!part.has(value)) return false;
    }
    // This permission is longer than the other: it allows as much only if its extra parts are all wildcards.
    for (let i = theirs.length; i < mine.length; i++) if (!mine[i].has(WILDCARD)) return false;
    return true;
  }

  /** Same parts with the same values (in any order), and the same case sensitivity. */
  equals(other: unknown): boolean {
    if (!(other instanceof WildcardPermission)) return false;
    if (other.#caseSensitive !== this.#caseSensitive) return false;
    const a = this.#parts;
    const b = other.#parts;
    if (a.length !== b.length) return false;
    return a.every((part, i) => part.size === b[i].size && [...part].every((value) => b[i].has(value)));
  }

  /**
   * The permission as text, e.g. `lane:read,write:7`, which parses back to an equal permission. Not so for one made
   * by {@link fromParts} whose values hold `:` or `,` literally: its text is for reading (logs, messages) only.
   */
  toString(): string {
    return this.#parts.map((part) => [...part].join(SUBPART)).join(PART);
  }

  toJSON(): string {
    return this.toString();
  }
}

/** The parts with every value lower-cased: the same array when none changes. */
function lowerCased(parts: readonly ReadonlySet<string>[]): readonly ReadonlySet<string>[] {
  for (const part of parts) {
    for (const value of part) {
      if (value.toLowerCase() !== value) {
        return parts.map((each) => new Set([...each].map((v) => v.toLowerCase())));
      }
    }
  }
  return parts;
}

/** The parts of a permission's text, as written (trimmed). */
function parse(text: unknown): ReadonlySet<string>[] {
  if (typeof text !== 'string') throw new InvalidPermissionError(String(text), 'a permission must be text');
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new InvalidPermissionError(text, 'a permission must not be empty or blank');
  if (trimmed.length > MAX_LENGTH) {
    throw new InvalidPermissionError(
      trimmed.slice(0, 64),
      `a permission is at most ${MAX_LENGTH} characters`,
    );
  }
  if (/^[\s:,]*$/.test(trimmed)) {
    throw new InvalidPermissionError(text, 'a permission must not consist of dividers only');
  }
  return trimmed.split(PART).map((part) => {
    const values = part.split(SUBPART).map((value) => value.trim());
    if (values.some((value) => value.length === 0)) {
      throw new InvalidPermissionError(text, 'a part or a value between dividers is empty');
    }
    return new Set(values);
  });
}
