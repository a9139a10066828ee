import { createHmac, timingSafeEqual } from 'node:crypto';
import { YosaiError } from '../errors/yosai.errors.js';
import { MAX_VALUE_DEPTH } from './session.serializer.js';

/** What the store holds for one session (internal; the stored form is a versioned JSON envelope). */
export interface SessionRecord {
  startedAt: number;
  lastAccessedAt: number;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  host: string | null;
  /** Primary identifier first; null for a guest session. */
  identifiers: string[] | null;
  authenticated: boolean;
  /** Attribute values in their encoded (JSON-safe, tagged) form. */
  attributes: Record<string, unknown>;
}

/**
 * A stored record that this release cannot read. Internal: the life cycle never lets it reach the app (a corrupt
 * record is discarded and logged; a record of a newer release is left alone).
 */
export class UnreadableRecordError extends YosaiError {
  constructor(
    message: string,
    /** True when a newer release wrote it: it must be left in the store, not deleted. */
    readonly newer = false,
  ) {
    super(message);
  }
}

/** Reads the fields of one envelope version into a record, or throws {@link UnreadableRecordError}. */
export type RecordReader = (envelope: Record<string, unknown>) => SessionRecord;

/** One version of the stored envelope. */
export interface RecordFormat {
  readonly version: number;
  encode(record: SessionRecord): string;
  read: RecordReader;
}

/*
 * Version 1 of the envelope uses one- and two-letter field names: a record is kept once per live session (in
 * memory, or in Redis), and long names were close to half of a small record.
 *   v  format version          s  startedAt (epoch ms)      l  lastAccessedAt (epoch ms)
 *   i  idleTimeoutMs           x  absoluteTimeoutMs         h  host (string | null)
 *   u  identifiers (string[] | null)   au  authenticated (boolean)   at  attributes (encoded values)
 */
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * Deepest nesting of objects and arrays in a stored attribute value: the deepest value a write accepts
 * (`MAX_VALUE_DEPTH`), and one more level for a Date's stored form (`{"$d": …}`). A deeper one was not written by
 * this library, and reading it (or writing it back) would exhaust the stack: its record is unreadable.
 */
const MAX_STORED_DEPTH = MAX_VALUE_DEPTH + 1;

/** Whether a parsed JSON value nests objects or arrays more than `levels` deep (it looks no deeper than that). */
function nestedDeeper(value: unknown, levels: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (levels === 0) return true;
  const object = value as Record<string, unknown>;
  for (const key in object) if (nestedDeeper(object[key], levels - 1)) return true;
  return false;
}

/** Whether an attribute value nests deeper than any value this library writes (see {@link MAX_STORED_DEPTH}). */
function tooDeep(attributes: Record<string, unknown>): boolean {
  for (const key in attributes) if (nestedDeeper(attributes[key], MAX_STORED_DEPTH)) return true;
  return false;
}

export const RECORD_FORMAT_V1: RecordFormat = {
  version: 1,
  encode: (record) =>
    JSON.stringify({
      v: 1,
      s: record.startedAt,
      l: record.lastAccessedAt,
      i: record.idleTimeoutMs,
      x: record.absoluteTimeoutMs,
      h: record.host,
      u: record.identifiers,
      au: record.authenticated,
      at: record.attributes,
    }),
  read: (r) => {
    const ok =
      isTime(r.s) &&
      isTime(r.l) &&
      isTime(r.i) &&
      isTime(r.x) &&
      (r.h === null || typeof r.h === 'string') &&
      (r.u === null || (Array.isArray(r.u) && r.u.every((i) => typeof i === 'string'))) &&
      typeof r.au === 'boolean' &&
      !!r.at &&
      typeof r.at === 'object' &&
      !Array.isArray(r.at);
    if (!ok) throw new UnreadableRecordError('stored session record has missing or mistyped fields');
    if (tooDeep(r.at as Record<string, unknown>)) {
      throw new UnreadableRecordError(
        `stored session record has an attribute nested more than ${MAX_STORED_DEPTH} levels deep`,
      );
    }
    return {
      startedAt: r.s as number,
      lastAccessedAt: r.l as number,
      idleTimeoutMs: r.i as number,
      absoluteTimeoutMs: r.x as number,
      host: r.h as string | null,
      identifiers: r.u as string[] | null,
      authenticated: r.au as boolean,
      attributes: r.at as Record<string, unknown>,
    };
  },
};

/**
 * Encodes records in the current envelope version and reads that version and the previous ones it lists, so
 * that during a rolling deploy each release reads what the other writes. A record of a version newer than any it
 * knows is reported as `newer`: the caller treats it as no session and leaves it in the store, so an older
 * release never deletes the sessions of a newer one.
 *
 * Decoded records are kept by their exact stored string (see {@link RecordCache}); they are frozen, as they are
 * shared between requests.
 */
export class RecordCodec {
  private readonly readers = new Map<number, RecordReader>();
  private readonly newest: number;
  private readonly cache: RecordCache;
  private readonly signer: RecordSigner | undefined;

  /**
   * @param keys Record keys (`recordKeys`): when given, every record is written signed with the first and must
   * carry a valid signature by one of them to be read (see {@link RecordSigner}).
   */
  constructor(
    private readonly current: RecordFormat = RECORD_FORMAT_V1,
    previous: readonly RecordFormat[] = [],
    cache = new RecordCache(),
    keys: readonly string[] = [],
  ) {
    for (const format of [current, ...previous]) this.readers.set(format.version, format.read);
    this.newest = Math.max(...this.readers.keys());
    this.cache = cache;
    this.signer = keys.length > 0 ? new RecordSigner(keys) : undefined;
  }

  /** The envelope version this codec writes. */
  get version(): number {
    return this.current.version;
  }

  /**
   * Serialises a record into the current envelope version (signed for session `id` when keys are set), and keeps
   * it decoded for the next read.
   */
  encode(record: SessionRecord, id = ''): { raw: string; record: SessionRecord } {
    const envelope = this.current.encode(record);
    const raw = this.signer ? this.signer.sign(id, envelope) : envelope;
    return { raw, record: this.cache.remember(raw, record, this.signer && id) };
  }

  /**
   * The record stored as `raw` under session `id` (frozen; shared).
   * @throws UnreadableRecordError when it is not a record this release can read (`newer` when a newer one wrote
   * it), or, with keys set, when its signature is missing or not valid for this id.
   */
  decode(raw: string, id = ''): SessionRecord {
    // A signed record is cached for the id it was verified under: the same string copied under another id is
    // verified (and refused) anew.
    const owner = this.signer && id;
    return this.cache.get(raw, owner) ?? this.cache.remember(raw, this.parse(this.unwrap(raw, id)), owner);
  }

  /** The envelope inside a stored string: verified when keys are set; a signed one is read as is without. */
  private unwrap(raw: string, id: string): string {
    if (this.signer) return this.signer.verify(id, raw);
    return RecordSigner.isSigned(raw) ? RecordSigner.envelopeOf(raw) : raw;
  }

  /** Drops the decoded copy of a record that no longer exists. */
  forget(raw: string): void {
    this.cache.forget(raw);
  }

  private parse(raw: string): SessionRecord {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new UnreadableRecordError('stored session record is not valid JSON');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new UnreadableRecordError('stored session record is not an object');
    }
    const envelope = parsed as Record<string, unknown>;
    const version = envelope.v;
    const read = typeof version === 'number' ? this.readers.get(version) : undefined;
    if (read) return read(envelope);
    // Only a numeric version is quoted: stored content never reaches the log (it may be huge, or secret).
    if (typeof version === 'number' && Number.isInteger(version) && version > this.newest) {
      throw new UnreadableRecordError(
        `stored session record has version ${version}, newer than this release reads (${this.newest})`,
        true,
      );
    }
    throw new UnreadableRecordError(
      `stored session record has version ${typeof version === 'number' ? version : `of type ${typeof version}`}; this release reads ${[...this.readers.keys()].join(', ')}`,
    );
  }
}

/** How a signed record starts: the wrapper's own version, then the MAC, then the envelope. */
const SIGNED_PREFIX = 'h1.';
const MAC_LENGTH = 43; // base64url of 32 bytes

/**
 * The optional integrity wrapper: `h1.<HMAC-SHA256, base64url>.<envelope>`, the MAC taken over the session id
 * and the envelope, so that a record can neither be altered nor copied under another session's id. The first
 * key signs, every key verifies (rotation: put the new key first, drop the old one after the longest session).
 * Write access to the store alone can then no longer mint a session.
 */
export class RecordSigner {
  private readonly keys: Buffer[];

  constructor(keys: readonly string[]) {
    this.keys = keys.map((key) => Buffer.from(key, 'utf8'));
  }

  static isSigned(raw: string): boolean {
    return raw.startsWith(SIGNED_PREFIX) && raw.charAt(SIGNED_PREFIX.length + MAC_LENGTH) === '.';
  }

  static envelopeOf(raw: string): string {
    return raw.slice(SIGNED_PREFIX.length + MAC_LENGTH + 1);
  }

  sign(id: string, envelope: string): string {
    return `${SIGNED_PREFIX}${mac(this.keys[0], id, envelope).toString('base64url')}.${envelope}`;
  }

  /**
   * The envelope of a record signed by one of the keys for this id.
   * @throws UnreadableRecordError when the MAC is missing or matches no key.
   */
  verify(id: string, raw: string): string {
    if (!RecordSigner.isSigned(raw)) {
      throw new UnreadableRecordError('stored session record is not signed, and recordKeys are set');
    }
    const given = Buffer.from(
      raw.slice(SIGNED_PREFIX.length, SIGNED_PREFIX.length + MAC_LENGTH),
      'base64url',
    );
    const envelope = RecordSigner.envelopeOf(raw);
    for (const key of this.keys) {
      const expected = mac(key, id, envelope);
      if (given.length === expected.length && timingSafeEqual(given, expected)) return envelope;
    }
    throw new UnreadableRecordError(
      'stored session record has a signature that matches none of the recordKeys',
    );
  }
}

function mac(key: Buffer, id: string, envelope: string): Buffer {
  // The id has a fixed alphabet without '\n': the separator makes (id, envelope) pairs unambiguous.
  return createHmac('sha256', key).update(id).update('\n').update(envelope).digest();
}

/** How many decoded records a codec keeps. */
export const RECORD_CACHE_ENTRIES = 1024;
/** Longer stored strings are decoded every time, so the cache holds at most ~1024 × 2048 characters. */
export const RECORD_CACHE_MAX_LENGTH = 2048;

/**
 * Decoded session records by the exact string the store holds: an authenticated request reads the same string
 * again and again until the session is written, and decoding it each time is a `JSON.parse`, a field check and
 * two objects per request. The key is the stored string itself, so an entry can never be stale: another string
 * is another key. What depends on the time (expiry, plausibility) is still judged on every request, by the caller.
 *
 * Records handed out are shared between requests, so they are frozen (with their identifiers and attributes): no
 * caller can change what the next request sees.
 */
export class RecordCache {
  private readonly entries = new Map<string, { record: SessionRecord; owner: string | undefined }>();

  constructor(
    private readonly capacity = RECORD_CACHE_ENTRIES,
    private readonly maxLength = RECORD_CACHE_MAX_LENGTH,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The record kept for `raw`, if any, and if it was kept for the same `owner` (the id a signed record is for). */
  get(raw: string, owner?: string): SessionRecord | undefined {
    const entry = this.entries.get(raw);
    return entry && entry.owner === owner ? entry.record : undefined;
  }

  /** Keeps `record` (freezing it) as what `raw` decodes to (for `owner`, when signed), and returns it. */
  remember(raw: string, record: SessionRecord, owner?: string): SessionRecord {
    freezeRecord(record);
    if (raw.length > this.maxLength || this.capacity === 0) return record;
    if (this.entries.size >= this.capacity && !this.entries.has(raw)) {
      // Oldest first (insertion order): a session that is still in use comes back at its next write.
      this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(raw, { record, owner });
    return record;
  }

  /** Drops the entry of a record that no longer exists (its session ended). */
  forget(raw: string): void {
    this.entries.delete(raw);
  }
}

function freezeRecord(record: SessionRecord): void {
  if (Object.isFrozen(record)) return;
  if (record.identifiers) Object.freeze(record.identifiers);
  Object.freeze(record.attributes);
  Object.freeze(record);
}
