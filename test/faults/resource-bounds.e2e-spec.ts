// Resource bounds: 100,000 guest sessions started and left to expire in the in-memory store. The store's
// own sweep empties it, the heap returns to near where it started (measured after real garbage
// collections), and no timer or per-session bookkeeping is left behind.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { CacheManagerSessionStore, SessionManager } from '../../src/index.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { activeResources, sleep } from './fault-kit.js';

// Jest gives no global.gc; this exposes V8's collector to a fresh context, the same function
// `node --expose-gc` would give.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SESSIONS = 100_000;
const MB = 1024 * 1024;

function settledHeap(): number {
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

describe('resource bounds (in-memory store)', () => {
  let t: TestApp;
  let map: Map<string, unknown>;
  let store: CacheManagerSessionStore;

  beforeAll(async () => {
    map = new Map();
    store = new CacheManagerSessionStore(createCache({ stores: [new Keyv({ store: map })] }), {
      sweepIntervalMs: 250,
    });
    t = await createTestApp({
      platform: 'express',
      withoutEvents: true, // an event log would itself keep 100,000 payloads
      yosai: {
        store,
        idleTimeoutMs: 200,
        absoluteTimeoutMs: 1_000,
        expiredRecordGraceMs: 0,
        // The store's own sweep is what is measured here: records keep their plain TTL without the expiry sweeper.
        expirySweepIntervalMs: 0,
        cookie: { secure: false },
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await store.close();
  });

  it(`${SESSIONS.toLocaleString('en')} guest sessions left to expire: entries back to 0, heap back near its start, no timers left`, async () => {
    const manager = t.app.get(SessionManager);
    const timersBefore = activeResources().Timeout ?? 0;
    const heapBefore = settledHeap();

    for (let done = 0; done < SESSIONS; done += 1_000) {
      await Promise.all(Array.from({ length: 1_000 }, () => manager.start({ host: '198.51.100.7' })));
    }
    // Some early ones may already have been swept; the store held tens of thousands at once.
    const peakEntries = map.size;
    const heapPeak = settledHeap();
    expect(peakEntries).toBeGreaterThan(SESSIONS / 4);
    // The measurement can see the sessions (so it could see a leak of them).
    expect(heapPeak - heapBefore).toBeGreaterThan(peakEntries * 200); // >= ~200 bytes per live entry
    // No timer per session, and no per-session bookkeeping in the manager.
    expect(activeResources().Timeout ?? 0).toBeLessThan(timersBefore + 10);
    expect((manager as unknown as { queues: Map<string, unknown> }).queues.size).toBe(0);

    // Left alone: the sweep (every 250 ms) removes every expired record.
    for (let i = 0; i < 100 && map.size > 0; i++) await sleep(100);
    expect(map.size).toBe(0);

    const heapAfter = settledHeap();
    process.stdout.write(
      `resource bounds: ${SESSIONS} sessions, peak ${peakEntries} entries; heap before ${(heapBefore / MB).toFixed(1)} MB, ` +
        `peak ${(heapPeak / MB).toFixed(1)} MB, after ${(heapAfter / MB).toFixed(1)} MB\n`,
    );
    // Back near the start: within 5 MB, and under a tenth of what the sessions had taken.
    expect(heapAfter - heapBefore).toBeLessThan(5 * MB);
    expect(heapAfter - heapBefore).toBeLessThan((heapPeak - heapBefore) / 10);
    expect(activeResources().Timeout ?? 0).toBeLessThan(timersBefore + 10);
  }, 60_000);
});
