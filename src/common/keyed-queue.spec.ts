import { KeyedQueue } from './keyed-queue.js';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('KeyedQueue', () => {
  it('runs the tasks of one key one at a time, in order, and those of other keys alongside', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`${name}:start`);
      await tick();
      log.push(`${name}:end`);
      return name;
    };
    const results = await Promise.all([
      queue.run('a', task('a1')),
      queue.run('a', task('a2')),
      queue.run('b', task('b1')),
    ]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    expect(log.indexOf('a1:end')).toBeLessThan(log.indexOf('a2:start'));
    expect(log.indexOf('b1:start')).toBeLessThan(log.indexOf('a1:end'));
  });

  it('a failing task rejects its caller and does not stop the tasks behind it', async () => {
    const queue = new KeyedQueue();
    const failing = queue.run('a', () => Promise.reject(new Error('boom')));
    const next = queue.run('a', async () => 'ran');
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ran');
  });

  it('a task that throws synchronously rejects instead of throwing', async () => {
    const queue = new KeyedQueue();
    const thrower = (() => {
      throw new Error('sync');
    }) as () => Promise<never>;
    await expect(queue.run('a', thrower)).rejects.toThrow('sync');
  });

  it('forgets a key once its tasks are done', async () => {
    const queue = new KeyedQueue();
    const running = queue.run('a', async () => tick());
    expect(queue.size).toBe(1);
    await running;
    await tick();
    expect(queue.size).toBe(0);
  });
});
