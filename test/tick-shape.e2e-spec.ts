// The object the library keeps so that a major GC cannot send process.nextTick's property definitions megamorphic
// (src/common/tick-shape.ts) only works if it has the very maps of Node's tick objects. V8 says whether two objects
// share a map (%HaveSameMap, behind --allow-natives-syntax), so a child Node loads the built library (dist/, as the
// sample-app specs do) and compares the kept object with a real tick object, caught by an async hook.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const DIST = join(import.meta.dirname, '..', 'dist', 'esm');

function inChild(script: string): string {
  return execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  }).trim();
}

describe('the shape kept for process.nextTick', () => {
  it("is there once the library is loaded, with the same map as Node's own tick objects", () => {
    const out = inChild(`
      import { createHook } from 'node:async_hooks';
      await import(${JSON.stringify(pathToFileURL(join(DIST, 'index.js')).href)});
      const { TICK_SHAPE } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'common', 'tick-shape.js')).href)});
      const ticks = [];
      const hook = createHook({ init(id, type, trigger, resource) { if (type === 'TickObject') ticks.push(resource); } });
      hook.enable();
      await new Promise((resolve) => process.nextTick(resolve));
      await new Promise((resolve) => process.nextTick(resolve, 'with an argument'));
      hook.disable();
      console.log(JSON.stringify({
        kept: TICK_SHAPE !== undefined,
        ticks: ticks.length,
        sameMap: ticks.map((tick) => %HaveSameMap(TICK_SHAPE, tick)),
      }));
    `);
    expect(JSON.parse(out)).toEqual({ kept: true, ticks: 2, sameMap: [true, true] });
  });

  it('a literal of the same keys in another order has another map: the check can tell them apart', () => {
    const out = inChild(`
      import { AsyncResource } from 'node:async_hooks';
      const { TICK_SHAPE } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'common', 'tick-shape.js')).href)});
      const resource = new AsyncResource('Other');
      const [a, b] = Object.getOwnPropertySymbols(resource);
      const other = { callback: () => {}, args: undefined, [a]: resource.asyncId(), [b]: resource.triggerAsyncId() };
      console.log(String(%HaveSameMap(TICK_SHAPE, other)));
    `);
    expect(out).toBe('false');
  });
});
