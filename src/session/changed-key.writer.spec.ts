import { SessionStoreError } from '../errors/yosai.errors.js';
import { CacheManagerSessionStore } from '../store/cache-manager-session.store.js';
import { ChangedKeyWriter, MAX_WRITE_ATTEMPTS, type RecordSnapshot } from './changed-key.writer.js';
import { GuardedStore } from './guarded-store.js';
import { RecordCodec, type SessionRecord } from './record.codec.js';

const base: SessionRecord = {
  startedAt: 1_000,
  lastAccessedAt: 1_000,
  idleTimeoutMs: 60_000,
  absoluteTimeoutMs: 600_000,
  host: null,
  identifiers: null,
  authenticated: false,
  attributes: {},
};

async function setup() {
  const memory = CacheManagerSessionStore.inMemory({ sweepIntervalMs: 0 });
  const store = new GuardedStore(memory, 1_000);
  const codec = new RecordCodec();
  const writer = new ChangedKeyWriter(
    store,
    codec,
    () => 60_000,
    () => 2_000,
  );
  const first = codec.encode(base);
  await memory.set('id', first.raw, 60_000);
  const reread = async (): Promise<RecordSnapshot> => {
    const raw = (await memory.get('id'))!;
    return { raw, record: codec.decode(raw) };
  };
  const setKey = (key: string, value: unknown) => (record: SessionRecord) => ({
    ...record,
    attributes: { ...record.attributes, [key]: value },
  });
  return { memory, codec, writer, first, reread, setKey };
}

describe('ChangedKeyWriter', () => {
  it('writes the change when the store still holds what was read', async () => {
    const { memory, codec, writer, first, reread, setKey } = await setup();
    const written = await writer.write('id', first, setKey('a', 1), reread);
    expect(written.record.attributes).toEqual({ a: 1 });
    expect(codec.decode((await memory.get('id'))!).attributes).toEqual({ a: 1 });
  });

  it('two writers of different keys from the same snapshot keep both changes (the loser re-reads)', async () => {
    const { memory, codec, writer, first, reread, setKey } = await setup();
    await Promise.all([
      writer.write('id', first, setKey('a', 1), reread),
      writer.write('id', first, setKey('b', 2), reread),
    ]);
    expect(codec.decode((await memory.get('id'))!).attributes).toEqual({ a: 1, b: 2 });
  });

  it('never brings back a deleted record: the re-read reports it gone', async () => {
    const { memory, writer, first, reread, setKey } = await setup();
    await memory.delete('id');
    const gone = new Error('stopped');
    await expect(
      writer.write('id', first, setKey('a', 1), async () => {
        if ((await memory.get('id')) === undefined) throw gone;
        return reread();
      }),
    ).rejects.toBe(gone);
    expect(await memory.get('id')).toBeUndefined();
  });

  it(`gives up with SessionStoreError after ${MAX_WRITE_ATTEMPTS} lost races`, async () => {
    const { memory, codec, writer, first, reread, setKey } = await setup();
    let n = 0;
    await memory.set('id', codec.encode({ ...base, lastAccessedAt: 1_000 + ++n }).raw, 60_000); // `first` is stale
    const error = await writer
      .write('id', first, setKey('a', 1), async () => {
        // Someone else writes between every read and our compare-and-set.
        const stale = await reread();
        await memory.set('id', codec.encode({ ...base, lastAccessedAt: 1_000 + ++n }).raw, 60_000);
        return stale;
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as Error).message).toContain(`changed ${MAX_WRITE_ATTEMPTS} times`);
  });

  it('a change that throws abandons the write and writes nothing', async () => {
    const { memory, writer, first, reread } = await setup();
    const before = await memory.get('id');
    await expect(
      writer.write(
        'id',
        first,
        () => {
          throw new RangeError('refused');
        },
        reread,
      ),
    ).rejects.toBeInstanceOf(RangeError);
    expect(await memory.get('id')).toBe(before);
  });
});
