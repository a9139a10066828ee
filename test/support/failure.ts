/** Runs `op`, which must fail, and returns its rejection and how long it took to settle. */
export async function failure(op: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const error = await op().then(
    () => new Error('expected the operation to fail'),
    (e: unknown) => e,
  );
  return { error, ms: performance.now() - started };
}
