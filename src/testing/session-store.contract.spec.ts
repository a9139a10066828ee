import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MyStore } from '../../test/support/readme-my-store.js';
import { RacyStore } from '../../test/support/racy-store.js';
import { SessionStore } from '../store/session.store.js';
import {
  contractId,
  sessionStoreContract,
  type ContractTestApi,
  type SessionStoreContractOptions,
} from './index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One instance per namespace: both example stores keep their records in the instance. */
function perNamespace(make: () => SessionStore): SessionStoreContractOptions {
  const stores: Record<string, SessionStore> = {};
  return { create: async (namespace) => ({ store: (stores[namespace] ??= make()) }) };
}

// The README's example, through the framework's globals as a store author would run it.
sessionStoreContract(
  'README MyStore',
  perNamespace(() => new MyStore()),
);

describe('README "Writing your own"', () => {
  it('shows test/support/readme-my-store.ts as it is (importing the package instead of the sources)', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts my-store\.ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    const file = readFileSync(join(root, 'test', 'support', 'readme-my-store.ts'), 'utf8');
    expect(blocks).toEqual([file.replace("from '../../src/index.js'", "from 'nestjs-yosai'")]);
  });
});

/** A Map store that sweeps and reports what it swept to onExpired, under the id `reportAs` makes of it. */
class SweepingStore extends SessionStore {
  private readonly records = new Map<string, { value: string; expires: number }>();
  private listener?: (id: string, value: string) => void;
  constructor(private readonly reportAs: (id: string) => string = (id) => id) {
    super();
  }
  async get(id: string) {
    return this.live(id);
  }
  async set(id: string, value: string, ttlMs: number) {
    this.records.set(id, { value, expires: Date.now() + ttlMs });
  }
  async compareAndSet(id: string, expected: string, value: string, ttlMs: number) {
    if (this.live(id) !== expected) return false;
    this.records.set(id, { value, expires: Date.now() + ttlMs });
    return true;
  }
  async delete(id: string) {
    const existed = this.live(id) !== undefined;
    this.records.delete(id);
    return existed;
  }
  onExpired(listener: (id: string, value: string) => void) {
    this.listener = listener;
  }
  sweep(): number {
    let swept = 0;
    for (const [id, record] of this.records) {
      if (record.expires > Date.now()) continue;
      this.records.delete(id);
      this.listener?.(this.reportAs(id), record.value);
      swept++;
    }
    return swept;
  }
  private live(id: string) {
    const record = this.records.get(id);
    return record && record.expires > Date.now() ? record.value : undefined;
  }
}

interface Registered {
  name: string;
  body: () => Promise<void>;
  scopes: Scope[];
}
interface Scope {
  name: string;
  before: Array<() => Promise<void>>;
  after: Array<() => Promise<void>>;
}

/**
 * Registers the suite through an explicit test API (as with Vitest without globals) backed by node:assert,
 * then runs it here, so a test can see which of its tests fail for a given store.
 */
async function runExplicitly(options: SessionStoreContractOptions) {
  const tests: Registered[] = [];
  const open: Scope[] = [];
  const current = () => {
    const scope = open.at(-1);
    if (!scope) throw new Error('hook outside describe');
    return scope;
  };
  const api: ContractTestApi = {
    describe(name, body) {
      open.push({ name, before: [], after: [] });
      body();
      open.pop();
    },
    it(name, body) {
      tests.push({ name: [...open.map((s) => s.name), name].join(' › '), body, scopes: [...open] });
    },
    expect: (actual) => ({
      toBe: (expected) =>
        assert.ok(Object.is(actual, expected), `${String(actual)} is not ${String(expected)}`),
      toEqual: (expected) => assert.deepStrictEqual(actual, expected),
    }),
    beforeEach: (hook) => current().before.push(hook),
    afterEach: (hook) => current().after.push(hook),
  };
  sessionStoreContract('explicit', options, api);

  const passed: string[] = [];
  const failed: string[] = [];
  for (const test of tests) {
    try {
      for (const scope of test.scopes) for (const hook of scope.before) await hook();
      await test.body();
      passed.push(test.name);
    } catch {
      failed.push(test.name);
    } finally {
      for (const scope of [...test.scopes].reverse()) for (const hook of scope.after) await hook();
    }
  }
  return { passed, failed };
}

describe('sessionStoreContract', () => {
  it('catches the README example up to 0.1: its concurrent deletes and compareAndSets all succeed', async () => {
    const { passed, failed } = await runExplicitly(perNamespace(() => new RacyStore()));
    expect(failed).toEqual([
      'SessionStore contract: explicit › get / set / delete › of concurrent deletes of one record exactly one resolves true',
      'SessionStore contract: explicit › compareAndSet › of concurrent compareAndSets from one expected value exactly one wins',
    ]);
    expect(passed.length).toBeGreaterThan(15);
  });

  it('passes the README example as it is now, registered through an explicit test API', async () => {
    const { passed, failed } = await runExplicitly(perNamespace(() => new MyStore()));
    expect(failed).toEqual([]);
    expect(passed.length).toBeGreaterThan(15);
  });

  it('holds readNow, where a store has it, to what get answers', async () => {
    class SkewedReadNow extends MyStore {
      readNow(id: string) {
        return id === this.watched ? 'stale' : undefined;
      }
      watched = '';
      override async set(id: string, value: string, ttlMs: number) {
        this.watched = id;
        return super.set(id, value, ttlMs);
      }
    }
    const { failed } = await runExplicitly(perNamespace(() => new SkewedReadNow()));
    expect(failed).toContain(
      'SessionStore contract: explicit › get / set / delete › set then get returns the exact string; set overwrites',
    );
  });

  it('holds onExpired, where a store has it and sweeps, to exactly the records a sweep removed', async () => {
    const sweeping = (reportAs?: (id: string) => string): SessionStoreContractOptions => ({
      ...perNamespace(() => new SweepingStore(reportAs)),
      sweep: (store) => (store as SweepingStore).sweep(),
    });
    const sweepTest =
      'SessionStore contract: explicit › sweep › removes expired entries without anyone reading them, keeps live ones, and reports them to onExpired';

    const right = await runExplicitly(sweeping());
    expect(right.failed).toEqual([]);
    expect(right.passed).toContain(sweepTest);
    const prefixed = await runExplicitly(sweeping((id) => `prefix:${id}`));
    expect(prefixed.failed).toEqual([sweepTest]);
  });

  it('holds ready(), where a store has it, to resolving', async () => {
    class NeverReady extends MyStore {
      async ready() {
        throw new Error('backend unreachable (test)');
      }
    }
    const { failed } = await runExplicitly(perNamespace(() => new NeverReady()));
    expect(failed).toEqual([
      'SessionStore contract: explicit › optional capabilities › ready(), where the store has it, resolves and the store then serves',
    ]);
  });

  it('refuses options without create, and a test API with a part missing, by name', () => {
    expect(() => sessionStoreContract('x', {} as SessionStoreContractOptions)).toThrow(
      'options.create(namespace) must be a function',
    );
    const api = { describe, it, expect, beforeEach } as unknown as ContractTestApi;
    expect(() =>
      sessionStoreContract(
        'x',
        perNamespace(() => new MyStore()),
        api,
      ),
    ).toThrow("the test API's `afterEach` must be a function");
  });

  it('without globals and without an explicit API, says how to pass one', () => {
    const scope = globalThis as { afterEach?: unknown };
    const saved = scope.afterEach;
    delete scope.afterEach;
    try {
      expect(() =>
        sessionStoreContract(
          'x',
          perNamespace(() => new MyStore()),
        ),
      ).toThrow(/afterEach is not global.*\{ describe, it, expect, beforeEach, afterEach \}/);
    } finally {
      scope.afterEach = saved;
    }
  });

  it('contractId is shaped like a session id and fresh each time', () => {
    const id = contractId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(contractId()).not.toBe(id);
  });
});
