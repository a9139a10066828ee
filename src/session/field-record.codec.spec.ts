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
    try {
      codec.decode('d', { ...fields, m: JSON.stringify({ v: 9 }) });
      throw new Error('no error');
    } catch (error) {
      expect(error).toBeInstanceOf(UnreadableRecordError);
      expect((error as UnreadableRecordError).newer).toBe(true);
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
