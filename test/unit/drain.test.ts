import { describe, expect, it } from 'vitest';
import { drain } from '../../src/capture/drain.js';

/**
 * The one drain's end rule (issue 11, defect 2): under a steady write load a changelog is never
 * empty, so "replay until a batch finds nothing" never ends; the drain ends once a batch finds
 * fewer entries than the bound, or at its deadline.
 */
describe('drain', () => {
  it('ends under a load that never lets the changelog empty, once a batch finds fewer entries than the bound', async () => {
    // Each batch finds what arrived meanwhile: never zero.
    const waiting = [50_000, 20_000, 6_000, 900, 850, 870];
    let i = 0;
    const r = await drain(async (limit) => Math.min(limit, waiting[Math.min(i++, waiting.length - 1)]!), { below: 1000 });
    expect(r).toEqual({ entries: 20_000 + 20_000 + 6_000 + 900, batches: 4, reached: true });
  });

  it('takes batches of at least the bound, so a batch below it proves the backlog was below it', async () => {
    const limits: number[] = [];
    await drain(async (limit) => {
      limits.push(limit);
      return 0;
    }, { below: 50_000, batch: 1_000 });
    expect(limits).toEqual([50_000]);
  });

  it('with below 1 (where writes are held) runs until a batch finds nothing', async () => {
    const found = [3, 2, 0];
    let i = 0;
    const r = await drain(async () => found[i++]!, { below: 1 });
    expect(r).toEqual({ entries: 5, batches: 3, reached: true });
  });

  it('stops at its deadline whatever is left, saying so', async () => {
    let calls = 0;
    const r = await drain(async () => {
      calls++;
      return 5_000;
    }, { below: 1000, until: performance.now() - 1 });
    expect(r).toEqual({ entries: 0, batches: 0, reached: false });
    expect(calls).toBe(0);
  });

  it('asks beforeBatch (throttler, truncate check) before every batch', async () => {
    const order: string[] = [];
    const found = [2000, 10];
    let i = 0;
    await drain(async () => {
      order.push('batch');
      return found[i++]!;
    }, { below: 1000, beforeBatch: async () => void order.push('check') });
    expect(order).toEqual(['check', 'batch', 'check', 'batch']);
  });
});
