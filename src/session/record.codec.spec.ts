import {
  RECORD_FORMAT_V1,
  RecordCache,
  RecordCodec,
  UnreadableRecordError,
  type RecordFormat,
  type SessionRecord,
} from './record.codec.js';

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    startedAt: 1_000,
    lastAccessedAt: 2_000,
    idleTimeoutMs: 60_000,
    absoluteTimeoutMs: 600_000,
    host: '127.0.0.1',
    identifiers: ['thedude'],
    authenticated: true,
    attributes: { cart: ['rug'] },
    ...overrides,
  };
}

const encodeV1 = (r: SessionRecord) => RECORD_FORMAT_V1.encode(r);

/**
 * A made-up next envelope version (long field names, a `ua` field v1 lacks), to prove that two releases with
 * different versions can share one store during a rolling deploy.
 */
const FORMAT_V2: RecordFormat = {
  version: 2,
  encode: (r) => JSON.stringify({ v: 2, ...r, ua: null }),
  read: (e) => {
    const { v: _v, ua: _ua, ...rest } = e;
    return rest as unknown as SessionRecord;
  },
};

describe('RecordCodec', () => {
  it('round-trips a record through the current envelope', () => {
    const codec = new RecordCodec();
    const { raw } = codec.encode(record());
    expect(JSON.parse(raw)).toMatchObject({ v: 1, s: 1_000, l: 2_000, u: ['thedude'], au: true });
    expect(new RecordCodec().decode(raw)).toEqual(record());
  });

  it('decodes a stored string once and hands out the same frozen record for it', () => {
    const codec = new RecordCodec();
    const raw = encodeV1(record());
    const first = codec.decode(raw);
    // Another string with the same content (as a store that returns a fresh string per read gives).
    const second = codec.decode(JSON.stringify(JSON.parse(raw)));
    expect(second).toBe(first);
    expect(first).toEqual(record());
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.identifiers)).toBe(true);
    expect(Object.isFrozen(first.attributes)).toBe(true);
    expect(() => (first.identifiers as string[]).push('walter')).toThrow(TypeError);
  });

  it('a string that differs in one character is another record', () => {
    const codec = new RecordCodec();
    const a = codec.decode(encodeV1(record()));
    const b = codec.decode(encodeV1(record({ lastAccessedAt: 2_001 })));
    expect(b).not.toBe(a);
    expect(b.lastAccessedAt).toBe(2_001);
    expect(a.lastAccessedAt).toBe(2_000);
  });

  it.each([
    ['not JSON', '{"v":1'],
    ['not an object', '[1]'],
    ['missing fields', '{"v":1,"s":1}'],
    ['a string version', '{"v":"1"}'],
    ['an older, unknown version', '{"v":0}'],
  ])('%s is unreadable (not newer) every time, and is not kept', (_label, raw) => {
    const cache = new RecordCache();
    const codec = new RecordCodec(RECORD_FORMAT_V1, [], cache);
    for (let i = 0; i < 2; i++) {
      const error = catchError(() => codec.decode(raw));
      expect(error).toBeInstanceOf(UnreadableRecordError);
      expect((error as UnreadableRecordError).newer).toBe(false);
    }
    expect(cache.size).toBe(0);
  });

  describe('two record versions side by side (rolling deploy)', () => {
    const older = () => new RecordCodec(RECORD_FORMAT_V1);
    const newer = () => new RecordCodec(FORMAT_V2, [RECORD_FORMAT_V1]);

    it('the newer release reads what the older one writes', () => {
      const { raw } = older().encode(record());
      expect(newer().decode(raw)).toEqual(record());
    });

    it('the older release reports a newer record as newer (to be left alone), never as corrupt', () => {
      const { raw } = newer().encode(record());
      expect(JSON.parse(raw).v).toBe(2);
      const error = catchError(() => older().decode(raw));
      expect(error).toBeInstanceOf(UnreadableRecordError);
      expect((error as UnreadableRecordError).newer).toBe(true);
      expect((error as Error).message).toContain('version 2');
    });

    it('the newer release writes its own version, also when it rewrites an older record', () => {
      const codec = newer();
      const read = codec.decode(older().encode(record()).raw);
      expect(JSON.parse(codec.encode({ ...read, lastAccessedAt: 3_000 }).raw).v).toBe(2);
    });
  });
});

describe('RecordCache', () => {
  it('keeps at most `capacity` records, dropping the oldest first', () => {
    const cache = new RecordCache(2);
    const codec = new RecordCodec(RECORD_FORMAT_V1, [], cache);
    const raws = [1, 2, 3].map((n) => encodeV1(record({ lastAccessedAt: n * 1_000 })));
    const first = codec.decode(raws[0]);
    codec.decode(raws[1]);
    codec.decode(raws[1]); // a hit does not count twice
    expect(cache.size).toBe(2);
    codec.decode(raws[2]);
    expect(cache.size).toBe(2);
    expect(codec.decode(raws[0])).not.toBe(first); // it had been dropped: decoded anew
  });

  it('does not keep strings longer than its limit, but still decodes and freezes them', () => {
    const cache = new RecordCache(10, 100);
    const codec = new RecordCodec(RECORD_FORMAT_V1, [], cache);
    const decoded = codec.decode(encodeV1(record({ attributes: { note: 'x'.repeat(200) } })));
    expect(decoded.attributes.note).toBe('x'.repeat(200));
    expect(Object.isFrozen(decoded)).toBe(true);
    expect(cache.size).toBe(0);
  });

  it('a written record is the answer for its string; forget() drops it', () => {
    const cache = new RecordCache();
    const codec = new RecordCodec(RECORD_FORMAT_V1, [], cache);
    const written = codec.encode(record({ identifiers: null, authenticated: false }));
    expect(Object.isFrozen(written.record)).toBe(true);
    expect(codec.decode(written.raw)).toBe(written.record);
    codec.forget(written.raw);
    expect(cache.size).toBe(0);
    expect(codec.decode(written.raw)).not.toBe(written.record);
  });

  it('with capacity 0 keeps nothing', () => {
    const codec = new RecordCodec(RECORD_FORMAT_V1, [], new RecordCache(0));
    const raw = encodeV1(record());
    expect(codec.decode(raw)).not.toBe(codec.decode(raw));
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('RecordCodec with recordKeys (signed records)', () => {
  const KEY_A = 'a'.repeat(32);
  const KEY_B = 'b'.repeat(32);
  const ID = 'x'.repeat(43);
  const OTHER_ID = 'y'.repeat(43);
  const signed = (keys: string[]) => new RecordCodec(RECORD_FORMAT_V1, [], new RecordCache(0), keys);

  it('writes `h1.<mac>.<envelope>` and reads it back for the same id', () => {
    const { raw } = signed([KEY_A]).encode(record(), ID);
    expect(raw).toMatch(/^h1\.[A-Za-z0-9_-]{43}\.\{"v":1,/);
    expect(signed([KEY_A]).decode(raw, ID)).toEqual(record());
  });

  it('refuses an unsigned record, a changed one, and one copied under another id', () => {
    const codec = signed([KEY_A]);
    expect(() => codec.decode(encodeV1(record()), ID)).toThrow(/not signed/);
    const { raw } = signed([KEY_A]).encode(record(), ID);
    const altered = raw.replace('"au":true', '"au":false').replace('thedude', 'walter');
    expect(() => codec.decode(altered, ID)).toThrow(UnreadableRecordError);
    expect(() => codec.decode(raw, OTHER_ID)).toThrow(/matches none/);
    expect(() => codec.decode(`h1.${'A'.repeat(43)}.${encodeV1(record())}`, ID)).toThrow(/matches none/);
  });

  it('a record signed for one id and cached is still refused under another id', () => {
    const codec = new RecordCodec(RECORD_FORMAT_V1, [], new RecordCache(), [KEY_A]);
    const { raw } = codec.encode(record(), ID);
    expect(codec.decode(raw, ID)).toEqual(record());
    expect(() => codec.decode(raw, OTHER_ID)).toThrow(UnreadableRecordError);
  });

  it('rotation: the first key signs, every key verifies; a dropped key no longer verifies', () => {
    const old = signed([KEY_A]).encode(record(), ID).raw;
    const rotated = signed([KEY_B, KEY_A]);
    expect(rotated.decode(old, ID)).toEqual(record());
    const fresh = rotated.encode(record(), ID).raw;
    expect(signed([KEY_B]).decode(fresh, ID)).toEqual(record());
    expect(() => signed([KEY_B]).decode(old, ID)).toThrow(UnreadableRecordError);
  });

  it('without keys, a signed record is read without checking (turning signing off signs nobody out)', () => {
    const { raw } = signed([KEY_A]).encode(record(), ID);
    expect(new RecordCodec().decode(raw, OTHER_ID)).toEqual(record());
  });
});
