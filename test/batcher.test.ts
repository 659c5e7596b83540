import { describe, expect, it } from 'vitest';
import { Batcher } from '@inferq/core/batcher';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Batcher (worker batches and API group commit)', () => {
  it('seals a batch at maxBatchSize and returns each item its own result', async () => {
    const sizes: number[] = [];
    const batcher = new Batcher<number, number>({ maxBatchSize: 4, maxWaitMs: 1_000, concurrency: 4 }, async (items) => {
      sizes.push(items.length);
      return items.map((n) => n * 10);
    });
    const results = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((n) => batcher.add(n)));
    expect(results).toEqual([10, 20, 30, 40, 50, 60, 70, 80]);
    expect(sizes).toEqual([4, 4]);
  });

  it('merges the partial batches that queued behind a busy slot (group commit)', async () => {
    const sizes: number[] = [];
    let release!: () => void;
    const firstRunning = new Promise<void>((resolve) => (release = resolve));
    const batcher = new Batcher<number, number>({ maxBatchSize: 64, maxWaitMs: 0, concurrency: 1 }, async (items) => {
      sizes.push(items.length);
      if (sizes.length === 1) await firstRunning;
      return items;
    });
    const first = batcher.add(0);
    await tick();
    // While the first batch runs, items arrive in separate I/O rounds: each seals its own partial batch.
    const later: Promise<number>[] = [];
    for (let n = 1; n <= 5; n += 1) {
      later.push(batcher.add(n));
      await tick();
    }
    release();
    expect(await Promise.all([first, ...later])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sizes).toEqual([1, 5]);
  });

  it('rejects every item of a batch whose run failed, and goes on with the next', async () => {
    let calls = 0;
    const batcher = new Batcher<string, string>({ maxBatchSize: 2, maxWaitMs: 0, concurrency: 1 }, async (items) => {
      calls += 1;
      if (calls === 1) throw new Error('upstream down');
      return items.map((item) => item.toUpperCase());
    });
    const failed = await Promise.allSettled([batcher.add('a'), batcher.add('b')]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await batcher.add('c')).toBe('C');
    await batcher.idle();
  });
});
