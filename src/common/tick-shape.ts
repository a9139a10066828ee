import { AsyncResource } from 'node:async_hooks';

/**
 * Speed (issue 17, BENCHMARKS.md): an object shaped like the ones `process.nextTick` creates, kept alive for the life of
 * the process.
 *
 * Node builds each tick object as a literal with computed keys (`{ [async_id_symbol]: …, [trigger_async_id_symbol]: …,
 * callback, args }`). V8 holds the hidden classes (maps) of such objects only weakly, so a major garbage collection at
 * a moment when no tick object is alive (an idle process, or one starting up) drops them; the next tick object gets
 * new maps, V8's inline caches for three of the literal's four properties see a different map and go megamorphic, for
 * good, and from then on every `nextTick` of the process (Node's streams, Fastify, node-redis, ours) defines those
 * properties through the runtime. An object with the same keys, defined in the same order from values of the same
 * producer, has the same maps and keeps them alive, so the caches stay monomorphic.
 *
 * The two symbols are Node's own, read from an `AsyncResource`, which carries the same ones. Where a Node release
 * names them differently, this is one small object that nothing uses; `test/tick-shape.e2e-spec.ts` checks that it
 * has the map of a real tick object on the running Node.
 */
function tickShape(): object | undefined {
  const resource = new AsyncResource('YosaiTickShape', { requireManualDestroy: true });
  const symbols = Object.getOwnPropertySymbols(resource);
  const asyncId = symbols.find((symbol) => symbol.description === 'async_id_symbol');
  const triggerId = symbols.find((symbol) => symbol.description === 'trigger_async_id_symbol');
  if (asyncId === undefined || triggerId === undefined) return undefined;
  // The ids come from the producer of the tick objects' ids, so their fields get the same representation.
  return {
    [asyncId]: resource.asyncId(),
    [triggerId]: resource.triggerAsyncId(),
    callback: tickShape,
    args: undefined,
  };
}

/** @internal The object that keeps the tick objects' maps alive (see `tickShape`); undefined where Node differs. */
export const TICK_SHAPE = tickShape();
