import type { StoredFields } from '../store/session.store.js';
import { defineEntry } from './session.serializer.js';
import { RECORD_FORMAT_V1, UnreadableRecordError, type SessionRecord } from './record.codec.js';

/*
 * Version 2 of the stored record: the field model (a Redis hash per session). Field names:
 *   m    the metadata that does not change during a session, a JSON object:
 *        { v: 2, s: startedAt, i: idleTimeoutMs, x: absoluteTimeoutMs, h: host, u: identifiers, au: authenticated }
 *   l    lastAccessedAt (epoch ms, decimal): a touch writes this field only
 *   a:K  attribute K, its encoded value as JSON
 *   v, n, b  kept by the store: version, attribute count, byte total
 */
export const FIELD_RECORD_VERSION = 2;
const META = 'm';
const ACCESSED = 'l';
/** Prefix of an attribute's field name. */
export const ATTRIBUTE_FIELD = 'a:';
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
    const fields: Record<string, string> = {
      [META]: JSON.stringify({
        v: FIELD_RECORD_VERSION,
        s: record.startedAt,
        i: record.idleTimeoutMs,
        x: record.absoluteTimeoutMs,
        h: record.host,
        u: record.identifiers,
        au: record.authenticated,
      }),
      [ACCESSED]: String(record.lastAccessedAt),
    };
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

function parse(fields: StoredFields): SessionRecord {
  const meta = fields[META];
  const accessed = fields[ACCESSED];
  if (meta === undefined || accessed === undefined) {
    throw new UnreadableRecordError('stored session record has missing fields');
  }
  let m: unknown;
  try {
    m = JSON.parse(meta);
  } catch {
    throw new UnreadableRecordError('stored session record has metadata that is not valid JSON');
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) {
    throw new UnreadableRecordError('stored session record has metadata that is not an object');
  }
  const envelope = m as Record<string, unknown>;
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
  const attributes: Record<string, unknown> = {};
  for (const name in fields) {
    if (!name.startsWith(ATTRIBUTE_FIELD)) continue;
    let value: unknown;
    try {
      value = JSON.parse(fields[name]);
    } catch {
      throw new UnreadableRecordError('stored session record has an attribute that is not valid JSON');
    }
    // Defined, not assigned: an attribute named __proto__ is data like any other.
    defineEntry(attributes, name.slice(ATTRIBUTE_FIELD.length), value);
  }
  // The same checks as the string envelope's, on the same field names.
  return RECORD_FORMAT_V1.read({ ...envelope, l: accessed === '' ? NaN : Number(accessed), at: attributes });
}

function freeze(record: SessionRecord): void {
  if (Object.isFrozen(record)) return;
  if (record.identifiers) Object.freeze(record.identifiers);
  Object.freeze(record.attributes);
  Object.freeze(record);
}
