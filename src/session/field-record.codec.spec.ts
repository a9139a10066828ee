import { FieldRecordCodec } from './field-record.codec.js';
import { UnreadableRecordError, type SessionRecord } from './record.codec.js';
import { generateToken, principalBucket, sessionIdOf } from './session-token.js';
import { SESSION_BUCKETS, bucketTag, sessionBucketOf } from '../store/session-tag.js';

const record = (over: Partial<SessionRecord> = {}): SessionRecord => ({
  startedAt: 1_000,
  lastAccessedAt: 2_000,
  idleTimeoutMs: 60_000,
  absoluteTimeoutMs: 3_600_000,
  host: '10.0.0.1',
  identifiers: ['thedude'],
  authenticated: true,
  attributes: { cart: ['ball'], n: 7 },
  ...over,
});

describe('FieldRecordCodec', () => {
  it('round-trips a record through its fields: metadata, access time, one field per attribute', () => {
    const codec = new FieldRecordCodec();
    const r = record();
    Object.defineProperty(r.attributes, '__proto__', { value: 'data', enumerable: true });
    const fields = codec.encode(r);
    expect(Object.keys(fields).sort()).toEqual(['a:__proto__', 'a:cart', 'a:n', 'l', 'm']);
    expect(fields.l).toBe('2000');
    const back = new FieldRecordCodec().decode('id', { ...fields, v: '1' });
    expect(back).toEqual(r);
    expect(Object.getPrototypeOf(back.attributes)).toBe(Object.prototype);
    expect(Object.isFrozen(back)).toBe(true);
  });

  it('keeps every metadata field within 64 characters, so Redis keeps the hash compact', () => {
    const codec = new FieldRecordCodec();
    const short = codec.encode(record({ startedAt: 1_796_320_352_867, lastAccessedAt: 1_796_320_352_867 }));
    expect(Object.keys(short).sort()).toEqual(['a:cart', 'a:n', 'l', 'm']);
    expect(short.m.length).toBeLessThanOrEqual(64);
    // A host and identifiers that do not fit move to fields of their own; the record reads back the same.
    const long = record({
      host: '2001:db8:85a3::8a2e:370:7334',
      identifiers: ['jeffrey.lebowski@example.com', 'x'],
    });
    const fields = codec.encode(long);
    expect(Object.keys(fields).sort()).toEqual(['a:cart', 'a:n', 'h', 'l', 'm', 'u']);
    for (const name of ['m', 'h', 'u']) expect(fields[name].length).toBeLessThanOrEqual(64);
    expect(new FieldRecordCodec().decode('id', { ...fields, v: '1' })).toEqual(long);
    const guest = record({ host: null, identifiers: null, authenticated: false, attributes: {} });
    expect(new FieldRecordCodec().decode('g', { ...codec.encode(guest), v: '1' })).toEqual(guest);
  });

  it('reads the JSON metadata of earlier builds, and writes it for times that are not integers', () => {
    const r = record({ attributes: {} });
    const earlier = {
      m: JSON.stringify({ v: 2, s: 1_000, i: 60_000, x: 3_600_000, h: '10.0.0.1', u: ['thedude'], au: true }),
      l: '2000',
      v: '3',
    };
    expect(new FieldRecordCodec().decode('id', earlier)).toEqual(r);
    const fractional = record({ startedAt: 1_000.5, attributes: {} });
    const fields = new FieldRecordCodec().encode(fractional);
    expect(fields.m.startsWith('{')).toBe(true);
    expect(new FieldRecordCodec().decode('id', { ...fields, v: '1' })).toEqual(fractional);
  });

  it('caches by (id, version): the same version is not decoded again, another version is', () => {
    const codec = new FieldRecordCodec();
    const fields = { ...codec.encode(record()), v: '4' };
    const first = codec.decode('id', fields);
    expect(codec.decode('id', { ...fields })).toBe(first);
    const next = codec.decode('id', { ...fields, v: '5', 'a:n': '8' });
    expect(next).not.toBe(first);
    expect(next.attributes.n).toBe(8);
    expect(codec.decode('other', { ...fields })).not.toBe(first);
    codec.forget('id');
    expect(codec.decode('id', { ...fields, v: '5', 'a:n': '8' })).not.toBe(next);
  });

  it('refuses missing or mistyped fields, and reports a newer version as newer', () => {
    const codec = new FieldRecordCodec();
    const fields = codec.encode(record());
    expect(() => codec.decode('a', { l: '1' })).toThrow(UnreadableRecordError);
    expect(() => codec.decode('b', { ...fields, l: 'soon' })).toThrow(UnreadableRecordError);
    expect(() => codec.decode('c', { ...fields, 'a:x': 'not json' })).toThrow(/not valid JSON/);
    expect(() => codec.decode('e', { ...fields, m: '2,1,2,3' })).toThrow(UnreadableRecordError);
    expect(() => codec.decode('f', { ...fields, m: '2,1,2,3,yes,null,null' })).toThrow(UnreadableRecordError);
    expect(() => codec.decode('g', { ...fields, m: '2,1,2,3,1,[' })).toThrow(/not valid JSON/);
    expect(() => codec.decode('h', { ...fields, m: '2,1,2,3,1,"h"' })).toThrow(/wrong shape/);
    expect(() => codec.decode('i', { ...fields, m: '2,1,-2,3,1,null,null' })).toThrow(UnreadableRecordError);
    expect(() => codec.decode('j', { m: '2,1,2,3,1', l: '1' })).toThrow(/missing fields/);
    // A newer version is reported as newer, whichever form its metadata takes (and whatever follows).
    for (const m of [JSON.stringify({ v: 9 }), '3,1,2,3,1,{not ours}', '3']) {
      try {
        codec.decode('d', { ...fields, m });
        throw new Error('no error');
      } catch (error) {
        expect(error).toBeInstanceOf(UnreadableRecordError);
        expect((error as UnreadableRecordError).newer).toBe(true);
      }
    }
  });
});

describe('session buckets', () => {
  it('a bucket is the first 8 bits of the id, tagged as two hex digits', () => {
    const id = Buffer.from([0xa7, 0xff, 0, 1]).toString('base64url');
    expect(sessionBucketOf(id)).toBe(0xa7);
    expect(bucketTag(0xa7)).toBe('a7');
    expect(bucketTag(0)).toBe('00');
    expect(sessionBucketOf('!!')).toBe(0);
    expect(SESSION_BUCKETS).toBe(256);
  });

  it('a token drawn for a bucket has its id there, and keeps the 43-character shape', () => {
    for (const bucket of [0, 17, 255, principalBucket('walter')]) {
      const token = generateToken(bucket);
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(sessionBucketOf(sessionIdOf(token))).toBe(bucket);
    }
    expect(principalBucket('walter')).toBe(principalBucket('walter'));
    expect(new Set(['a', 'b', 'c', 'd', 'e', 'f'].map(principalBucket)).size).toBeGreaterThan(1);
  });
});
