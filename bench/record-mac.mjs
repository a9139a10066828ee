// Cost of signed records (recordKeys): encode + decode of one typical authenticated record, with and without
// keys, in-process on the built library. `npm run build && node bench/record-mac.mjs [iterations]`.
// The decode cache is off (capacity 0), so every decode parses and, when signed, verifies: the worst case of a
// read (a record this process has not seen in this exact form).
import { randomBytes } from 'node:crypto';
import { RecordCache, RecordCodec, RECORD_FORMAT_V1 } from '../dist/esm/session/record.codec.js';

const N = Number(process.argv[2] ?? 200_000);
const id = randomBytes(32).toString('base64url');
const record = {
  startedAt: Date.now(),
  lastAccessedAt: Date.now(),
  idleTimeoutMs: 1_800_000,
  absoluteTimeoutMs: 28_800_000,
  host: '203.0.113.7',
  identifiers: ['thedude'],
  authenticated: true,
  attributes: { cart: ['rug', 'bowling ball'], theme: 'dark', visits: 12 },
};

function run(keys) {
  const codec = new RecordCodec(RECORD_FORMAT_V1, [], new RecordCache(0), keys);
  let sink = 0;
  const once = (i) => {
    const { raw } = codec.encode({ ...record, lastAccessedAt: record.lastAccessedAt + i }, id);
    sink += codec.decode(raw, id).lastAccessedAt;
    return raw.length;
  };
  for (let i = 0; i < N / 4; i++) once(i); // warm-up
  const start = process.hrtime.bigint();
  let length = 0;
  for (let i = 0; i < N; i++) length = once(i);
  const ns = Number(process.hrtime.bigint() - start) / N;
  return { ns, length, sink };
}

const plain = run([]);
const signed = run([randomBytes(32).toString('base64url')]);
console.log(
  `encode+decode per op: unsigned ${(plain.ns / 1000).toFixed(2)} µs (${plain.length} B), ` +
    `signed ${(signed.ns / 1000).toFixed(2)} µs (${signed.length} B), ` +
    `+${((signed.ns - plain.ns) / 1000).toFixed(2)} µs per op`,
);
