import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Module } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { YosaiModule } from '../../src/index.js';
import { YosaiEventPublisher, type EventEmitterLoader } from '../../src/session/yosai-event.publisher.js';
import { YOSAI_EVENT_EMITTER_LOADER } from '../../src/yosai.internal-constants.js';
import { CapturingLogger } from '../support/capturing-logger.js';

// `@nestjs/event-emitter` is an optional peer. Not installed: events are off, quietly. Installed but not loadable
// (an ESM-only major under a CommonJS runner, a dependency missing): one warning that says why.
//
// The failing installs are real: a directory outside the project, with no node_modules (the package is not
// installed), or with a copy of the package whose own dependency is missing; the loader imports from there.
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'yosai-emitter-'));
  mkdirSync(join(dir, 'absent'));
  writeFileSync(join(dir, 'absent', 'load.mjs'), "export default () => import('@nestjs/event-emitter');\n");
  const broken = join(dir, 'broken');
  mkdirSync(join(broken, 'node_modules', '@nestjs', 'event-emitter'), { recursive: true });
  writeFileSync(
    join(broken, 'node_modules', '@nestjs', 'event-emitter', 'package.json'),
    JSON.stringify({ name: '@nestjs/event-emitter', version: '99.0.0', main: 'index.js' }),
  );
  writeFileSync(
    join(broken, 'node_modules', '@nestjs', 'event-emitter', 'index.js'),
    "module.exports = require('eventemitter2-that-is-not-there');\n",
  );
  writeFileSync(join(broken, 'load.mjs'), "export default () => import('@nestjs/event-emitter');\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function loaderFrom(name: 'absent' | 'broken'): Promise<EventEmitterLoader> {
  const url = pathToFileURL(join(dir, name, 'load.mjs')).href;
  return ((await import(url)) as { default: EventEmitterLoader }).default;
}

async function boot(loader?: EventEmitterLoader) {
  @Module({ imports: [EventEmitterModule.forRoot(), YosaiModule.forRoot({ cookie: { secure: false } })] })
  class AppModule {}
  const builder = Test.createTestingModule({ imports: [AppModule] });
  if (loader) builder.overrideProvider(YOSAI_EVENT_EMITTER_LOADER).useValue(loader);
  const moduleRef = await builder.compile();
  const logger = new CapturingLogger();
  const app = moduleRef.createNestApplication({ logger });
  await app.init();
  const publisher = app.get(YosaiEventPublisher);
  const warnings = logger.at('warn').map((l) => l.text);
  await app.close();
  return { enabled: publisher.enabled, warnings };
}

describe('loading @nestjs/event-emitter', () => {
  it('installed and loadable: events on, nothing logged', async () => {
    const { enabled, warnings } = await boot();
    expect(enabled).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('not installed: events off, nothing logged', async () => {
    const loader = await loaderFrom('absent');
    await expect(loader()).rejects.toThrow(/@nestjs\/event-emitter/); // the install really is missing
    const { enabled, warnings } = await boot(loader);
    expect(enabled).toBe(false);
    expect(warnings).toEqual([]);
  });

  it('installed but one of its dependencies is missing: events off, one warning naming the cause', async () => {
    const { enabled, warnings } = await boot(await loaderFrom('broken'));
    expect(enabled).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('@nestjs/event-emitter is installed but could not be loaded');
    expect(warnings[0]).toContain('eventemitter2-that-is-not-there');
  });

  it('installed but not loadable by this runner (an ESM-only major under CommonJS): one warning with the reason', async () => {
    // What Node (and ts-jest in CommonJS) throws when require() meets an ES module.
    const esmOnly = Object.assign(
      new Error('require() of ES Module .../@nestjs/event-emitter/dist/index.js not supported.'),
      {
        code: 'ERR_REQUIRE_ESM',
      },
    );
    const { enabled, warnings } = await boot(() => Promise.reject(esmOnly));
    expect(enabled).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('not supported. (ERR_REQUIRE_ESM)');
  });
});
