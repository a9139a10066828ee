/**
 * Runs tasks one at a time per key, in the order they were queued; tasks of different keys run freely.
 * A task's failure does not stop the tasks queued behind it. Keys with nothing queued take no memory.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** How many keys have tasks queued or running. */
  get size(): number {
    return this.tails.size;
  }

  /** Runs `task` after the tasks already queued under `key` (at once when there are none). */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    const result = previous ? previous.then(task) : start(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

/** Starts a task now; a synchronous throw becomes a rejection like any other failure. */
async function start<T>(task: () => Promise<T>): Promise<T> {
  return task();
}
