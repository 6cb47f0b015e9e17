/**
 * Chooses the size of the next chunk so each takes about `targetMs`: grows when chunks are
 * fast, shrinks when slow, never by more than `maxStep` per chunk, always within bounds.
 */
export interface Chunker {
  size(): number;
  /** `requested`: the size the chunk was asked for (the chunker may have moved on since). */
  feedback(rows: number, ms: number, requested?: number): void;
}

export interface ChunkerOptions {
  targetMs: number;
  initial: number;
  min: number;
  max: number;
  maxStep: number;
}

export const DEFAULT_CHUNKER: ChunkerOptions = { targetMs: 500, initial: 2000, min: 100, max: 100_000, maxStep: 2 };

export function createChunker(opts: ChunkerOptions = DEFAULT_CHUNKER): Chunker {
  let size = clamp(opts.initial, opts.min, opts.max);
  return {
    size: () => size,
    feedback(rows, ms, requested = size) {
      if (rows < requested) return; // a short chunk (end of table) says nothing about speed
      const ideal = (rows * opts.targetMs) / Math.max(ms, 1);
      const stepped = clamp(ideal, size / opts.maxStep, size * opts.maxStep);
      size = Math.round(clamp(stepped, opts.min, opts.max));
    },
  };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** For unit tests of callers: a fixed size. */
export function fixedChunker(size: number): Chunker {
  return { size: () => size, feedback: () => undefined };
}
