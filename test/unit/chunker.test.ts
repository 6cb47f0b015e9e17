import { describe, expect, it } from 'vitest';
import { createChunker, DEFAULT_CHUNKER, fixedChunker, type ChunkerOptions } from '../../src/copy/chunker.js';

const OPTS: ChunkerOptions = { targetMs: 500, initial: 2000, min: 100, max: 100_000, maxStep: 2 };

describe('createChunker', () => {
  it('starts at the initial size, clamped to the bounds', () => {
    expect(createChunker(OPTS).size()).toBe(2000);
    expect(createChunker({ ...OPTS, initial: 10 }).size()).toBe(100);
    expect(createChunker({ ...OPTS, initial: 1_000_000 }).size()).toBe(100_000);
    expect(createChunker().size()).toBe(DEFAULT_CHUNKER.initial);
  });

  it('moves straight to the ideal size when it is within one step', () => {
    const c = createChunker(OPTS);
    c.feedback(2000, 400); // 2000 rows in 400ms: 2500 rows take 500ms
    expect(c.size()).toBe(2500);
    c.feedback(2500, 625); // 2500 rows in 625ms: 2000 rows take 500ms
    expect(c.size()).toBe(2000);
    c.feedback(2000, 500); // on target: unchanged
    expect(c.size()).toBe(2000);
  });

  it('grows when chunks are fast, by at most maxStep per feedback', () => {
    const c = createChunker(OPTS);
    c.feedback(2000, 10); // ideal 100,000
    expect(c.size()).toBe(4000);
    c.feedback(4000, 10);
    expect(c.size()).toBe(8000);
  });

  it('shrinks when chunks are slow, by at most maxStep per feedback', () => {
    const c = createChunker(OPTS);
    c.feedback(2000, 50_000); // ideal 20
    expect(c.size()).toBe(1000);
    c.feedback(1000, 50_000);
    expect(c.size()).toBe(500);
  });

  it('honours a fractional maxStep', () => {
    const c = createChunker({ ...OPTS, maxStep: 1.5 });
    c.feedback(2000, 1);
    expect(c.size()).toBe(3000);
    c.feedback(3000, 100_000);
    expect(c.size()).toBe(2000);
  });

  it('treats a zero-millisecond chunk as fast, not as a division by zero', () => {
    const c = createChunker(OPTS);
    c.feedback(2000, 0);
    expect(c.size()).toBe(4000);
  });

  it('stays within [min, max] however fast or slow', () => {
    const fast = createChunker(OPTS);
    for (let i = 0; i < 20; i++) fast.feedback(fast.size(), 1);
    expect(fast.size()).toBe(100_000);
    const slow = createChunker(OPTS);
    for (let i = 0; i < 20; i++) slow.feedback(slow.size(), 60_000);
    expect(slow.size()).toBe(100);
  });

  it('never changes by more than maxStep, nor leaves the bounds, over a random sequence', () => {
    const c = createChunker(OPTS);
    let seed = 42;
    const rnd = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 500; i++) {
      const before = c.size();
      c.feedback(before, rnd() * 5000);
      const after = c.size();
      expect(after).toBeGreaterThanOrEqual(OPTS.min);
      expect(after).toBeLessThanOrEqual(OPTS.max);
      // one unit of slack for rounding
      expect(after).toBeLessThanOrEqual(Math.max(OPTS.min, before * OPTS.maxStep) + 1);
      expect(after).toBeGreaterThanOrEqual(Math.min(OPTS.max, before / OPTS.maxStep) - 1);
    }
  });

  it('ignores a short chunk (the end of the table), however fast or slow', () => {
    const c = createChunker(OPTS);
    c.feedback(10, 1);
    expect(c.size()).toBe(2000);
    c.feedback(1999, 100_000);
    expect(c.size()).toBe(2000);
    c.feedback(0, 0);
    expect(c.size()).toBe(2000);
  });

  it('returns whole numbers of rows', () => {
    const c = createChunker(OPTS);
    c.feedback(2000, 333);
    expect(Number.isInteger(c.size())).toBe(true);
    expect(c.size()).toBe(3003);
  });
});

describe('fixedChunker', () => {
  it('keeps its size whatever the feedback', () => {
    const c = fixedChunker(7);
    c.feedback(7, 1);
    c.feedback(7, 100_000);
    expect(c.size()).toBe(7);
  });
});
