import { SessionSerializationError } from '../errors/yosai.errors.js';
import { RecordCache } from './record-cache.js';
import { encodeRecord, type SessionRecord } from './session.serializer.js';

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

describe('RecordCache', () => {
  it('decodes a stored string once and hands out the same frozen record for it', () => {
    const cache = new RecordCache();
    const raw = encodeRecord(record());
    const first = cache.decode(raw);
    // Another string with the same content (as a store that returns a fresh string per read gives).
    const second = cache.decode(JSON.stringify(JSON.parse(raw)));
    expect(second).toBe(first);
    expect(first).toEqual(record());
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.identifiers)).toBe(true);
    expect(Object.isFrozen(first.attributes)).toBe(true);
    expect(() => (first.identifiers as string[]).push('walter')).toThrow(TypeError);
  });

  it('a string that differs in one character is another record', () => {
    const cache = new RecordCache();
    const a = cache.decode(encodeRecord(record()));
    const b = cache.decode(encodeRecord(record({ lastAccessedAt: 2_001 })));
    expect(b).not.toBe(a);
    expect(b.lastAccessedAt).toBe(2_001);
    expect(a.lastAccessedAt).toBe(2_000);
  });

  it('an unreadable string throws every time and is not kept', () => {
    const cache = new RecordCache();
    for (let i = 0; i < 2; i++) expect(() => cache.decode('{"v":1')).toThrow(SessionSerializationError);
    expect(cache.size).toBe(0);
  });

  it('keeps at most `capacity` records, dropping the oldest first', () => {
    const cache = new RecordCache(2);
    const raws = [1, 2, 3].map((n) => encodeRecord(record({ lastAccessedAt: n * 1_000 })));
    const first = cache.decode(raws[0]);
    cache.decode(raws[1]);
    cache.decode(raws[1]); // a hit does not count twice
    expect(cache.size).toBe(2);
    cache.decode(raws[2]);
    expect(cache.size).toBe(2);
    expect(cache.decode(raws[0])).not.toBe(first); // it had been dropped: decoded anew
  });

  it('does not keep strings longer than its limit, but still decodes and freezes them', () => {
    const cache = new RecordCache(10, 100);
    const raw = encodeRecord(record({ attributes: { note: 'x'.repeat(200) } }));
    const decoded = cache.decode(raw);
    expect(decoded.attributes.note).toBe('x'.repeat(200));
    expect(Object.isFrozen(decoded)).toBe(true);
    expect(cache.size).toBe(0);
  });

  it('remember() makes a written record the answer for its string; forget() drops it', () => {
    const cache = new RecordCache();
    const written = record({ identifiers: null, authenticated: false });
    const raw = encodeRecord(written);
    expect(cache.remember(raw, written)).toBe(written);
    expect(Object.isFrozen(written)).toBe(true);
    expect(cache.decode(raw)).toBe(written);
    cache.forget(raw);
    expect(cache.size).toBe(0);
    expect(cache.decode(raw)).not.toBe(written);
  });

  it('with capacity 0 keeps nothing', () => {
    const cache = new RecordCache(0);
    const raw = encodeRecord(record());
    expect(cache.decode(raw)).not.toBe(cache.decode(raw));
    expect(cache.size).toBe(0);
  });
});
