import type { StoredFields } from '../store/session.store.js';
import { defineEntry } from './session.serializer.js';
import { RECORD_FORMAT_V1, UnreadableRecordError, type SessionRecord } from './record.codec.js';

/*
 * Version 2 of the stored record: the field model (a Redis hash per session). Field names:
 *   m    the metadata that does not change during a session, in its compact form
 *        `2,<startedAt>,<idleTimeoutMs>,<absoluteTimeoutMs>,<authenticated 1|0>` (integers in base 36), followed by
 *        `,<host JSON>,<identifiers JSON>` when the whole stays within {@link SHORT_FIELD} characters; or, for
 *        times that are not integers, the JSON object { v: 2, s, i, x, h, u, au } (also what earlier builds wrote)
 *   h, u host and identifiers as JSON, when they are not in `m`
 *   l    lastAccessedAt (epoch ms, decimal): a touch writes this field only
 *   a:K  attribute K, its encoded value as JSON
 *   v, n, b  kept by the store: version, attribute count, byte total
 * Why short fields: Redis keeps a hash compact (a listpack) only while every field is at most
 * `hash-max-listpack-value` bytes (64 by default); one longer field makes it a hash table of twice the memory.
 */
export const FIELD_RECORD_VERSION = 2;
const META = 'm';
const HOST = 'h';
const IDENTIFIERS = 'u';
const ACCESSED = 'l';
/** Redis's default `hash-max-listpack-value`: the longest field that keeps a hash compact. */
const SHORT_FIELD = 64;
/** Prefix of an attribute's field name. */
export const ATTRIBUTE_FIELD = 'a:';
/**
 * The access time as the store's scripts write it (`String` of the clock's milliseconds: an integer, or a decimal
 * fraction with a clock that has one) and read it (Lua's `tonumber`). Other forms JavaScript's `Number` reads (`0b…`,
 * `0x…`, exponents, spaces) are refused: the scripts must never be handed a record the reader took for valid and
 * they cannot read.
 */
const ACCESS_TIME = /^\d{1,16}(?:\.\d{1,20})?$/;
/** The store-kept counts (`v`, `n`, `b`) as the scripts write them and read them (HINCRBY, `tonumber`). */
const COUNT = /^(?:0|-?[1-9]\d{0,14})$/;
const STORE_KEPT = ['v', 'n', 'b'] as const;
/** How many decoded field records a codec keeps (by session id). */
const CACHE_ENTRIES = 1024;

/** The field name of attribute `key`. */
export function attributeField(key: string): string {
  return ATTRIBUTE_FIELD + key;
}

/** The stored form of one attribute value. */
export function attributeValue(encoded: unknown): string {
  return JSON.stringify(encoded);
}

/**
 * Encodes records as fields, and decodes them with a cache by (session id, version): the version changes on every
 * write, so an entry is never stale, and an authenticated request that reads an unchanged session decodes nothing.
 */
export class FieldRecordCodec {
  private readonly cache = new Map<string, { version: string; record: SessionRecord }>();

  /** The fields of a record (without the store-kept `v`, `n`, `b`). */
  encode(record: SessionRecord): Record<string, string> {
    const fields = encodeMeta(record);
    fields[ACCESSED] = String(record.lastAccessedAt);
    for (const key of Object.keys(record.attributes)) {
      fields[attributeField(key)] = attributeValue(record.attributes[key]);
    }
    return fields;
  }

  /**
   * The record the fields hold (frozen; shared), from the cache when this version of this session was decoded.
   * @throws UnreadableRecordError when they are not a record this release can read (`newer` for a newer one's).
   */
  decode(id: string, fields: StoredFields): SessionRecord {
    const version = fields.v;
    const cached = this.cache.get(id);
    if (cached !== undefined && cached.version === version && version !== undefined) return cached.record;
    const record = parse(fields);
    freeze(record);
    if (version !== undefined) this.remember(id, version, record);
    return record;
  }

  /** Keeps `record` as version `version` of session `id` (a write whose result this process knows whole). */
  remember(id: string, version: string, record: SessionRecord): void {
    freeze(record);
    if (this.cache.size >= CACHE_ENTRIES && !this.cache.has(id)) {
      this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(id, { version, record });
  }

  /** Drops the entry of a session that ended. */
  forget(id: string): void {
    this.cache.delete(id);
  }
}

/** The metadata fields of a record: `m`, and `h` and `u` when they do not fit in it. */
function encodeMeta(record: SessionRecord): Record<string, string> {
  const { startedAt: s, idleTimeoutMs: i, absoluteTimeoutMs: x } = record;
  if (!Number.isSafeInteger(s) || !Number.isSafeInteger(i) || !Number.isSafeInteger(x)) {
    return {
      [META]: JSON.stringify({
        v: FIELD_RECORD_VERSION,
        s,
        i,
        x,
        h: record.host,
        u: record.identifiers,
        au: record.authenticated,
      }),
    };
  }
  const meta = `${FIELD_RECORD_VERSION},${s.toString(36)},${i.toString(36)},${x.toString(36)},${record.authenticated ? 1 : 0}`;
  const host = JSON.stringify(record.host);
  const identifiers = JSON.stringify(record.identifiers);
  const whole = `${meta},${host},${identifiers}`;
  if (whole.length <= SHORT_FIELD) return { [META]: whole };
  return { [META]: meta, [HOST]: host, [IDENTIFIERS]: identifiers };
}

/** The JSON in a field, or an unreadable-record error naming what it is. */
function json(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UnreadableRecordError(`stored session record has ${what} that is not valid JSON`);
  }
}

/** A non-negative base-36 integer, or NaN (which the record's checks refuse). */
function base36(text: string): number {
  return /^[0-9a-z]{1,11}$/.test(text) ? parseInt(text, 36) : NaN;
}

/** The metadata envelope (the string envelope's field names) of a compact `m`, with `h` and `u` from wherever they are. */
function compactEnvelope(meta: string, fields: StoredFields): Record<string, unknown> {
  // Version, three times and the flag come first: five parts, none of which contains a comma.
  let at = -1;
  for (let part = 0; part < 5 && at < meta.length; part++) {
    const next = meta.indexOf(',', at + 1);
    at = next < 0 ? meta.length : next;
  }
  const parts = meta.slice(0, at).split(',');
  const version = /^\d{1,6}$/.test(parts[0]) ? Number(parts[0]) : parts[0];
  // Another version's layout is not read further: a newer one must be reported as newer, not as damaged.
  if (version !== FIELD_RECORD_VERSION || parts.length < 5) return { v: version };
  let h: unknown;
  let u: unknown;
  if (at < meta.length) {
    const tail = json(`[${meta.slice(at + 1)}]`, 'metadata');
    if (!Array.isArray(tail) || tail.length !== 2) {
      throw new UnreadableRecordError('stored session record has metadata of the wrong shape');
    }
    [h, u] = tail as unknown[];
  } else {
    const host = fields[HOST];
    const identifiers = fields[IDENTIFIERS];
    if (host === undefined || identifiers === undefined) {
      throw new UnreadableRecordError('stored session record has missing fields');
    }
    h = json(host, 'a host');
    u = json(identifiers, 'identifiers');
  }
  const flag = parts[4];
  return {
    v: version,
    s: base36(parts[1]),
    i: base36(parts[2]),
    x: base36(parts[3]),
    h,
    u,
    au: flag === '1' ? true : flag === '0' ? false : flag,
  };
}

function parse(fields: StoredFields): SessionRecord {
  const meta = fields[META];
  const accessed = fields[ACCESSED];
  if (meta === undefined || accessed === undefined) {
    throw new UnreadableRecordError('stored session record has missing fields');
  }
  let envelope: Record<string, unknown>;
  if (meta.startsWith('{')) {
    const m = json(meta, 'metadata');
    if (!m || typeof m !== 'object' || Array.isArray(m)) {
      throw new UnreadableRecordError('stored session record has metadata that is not an object');
    }
    envelope = m as Record<string, unknown>;
  } else {
    envelope = compactEnvelope(meta, fields);
  }
  if (envelope.v !== FIELD_RECORD_VERSION) {
    const v = envelope.v;
    if (typeof v === 'number' && Number.isInteger(v) && v > FIELD_RECORD_VERSION) {
      throw new UnreadableRecordError(
        `stored session record has version ${v}, newer than this release reads (${FIELD_RECORD_VERSION})`,
        true,
      );
    }
    throw new UnreadableRecordError('stored session record has fields of an unknown version');
  }
  // After the version: a newer release's record is left alone, whatever its fields hold.
  if (!ACCESS_TIME.test(accessed)) {
    throw new UnreadableRecordError('stored session record has an access time that is not a decimal number');
  }
  for (const name of STORE_KEPT) {
    const count = fields[name];
    // Absent is what the scripts read as 0 (and HINCRBY starts from).
    if (count !== undefined && !COUNT.test(count)) {
      throw new UnreadableRecordError(`stored session record has a field \`${name}\` that is not an integer`);
    }
  }
  const attributes: Record<string, unknown> = {};
  for (const name in fields) {
    if (!name.startsWith(ATTRIBUTE_FIELD)) continue;
    // Defined, not assigned: an attribute named __proto__ is data like any other.
    defineEntry(attributes, name.slice(ATTRIBUTE_FIELD.length), json(fields[name], 'an attribute'));
  }
  // The same checks as the string envelope's, on the same field names.
  return RECORD_FORMAT_V1.read({ ...envelope, l: Number(accessed), at: attributes });
}

function freeze(record: SessionRecord): void {
  if (Object.isFrozen(record)) return;
  if (record.identifiers) Object.freeze(record.identifiers);
  Object.freeze(record.attributes);
  Object.freeze(record);
}
