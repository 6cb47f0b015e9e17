/**
 * The one drain: replays changelog batches until the backlog is below `below` entries, or a
 * deadline passes. Under a steady write load a changelog is never empty, so no phase may wait
 * for that; only where writes are held (the validation's SHARE lock, a cutover's exclusive
 * lock) does `below: 1` (empty) end.
 *
 * The backlog is read from the batches themselves: a batch that took fewer entries than
 * `below` (its limit is at least `below`) found fewer than that waiting, at or below the
 * watermark, when it took them. No count(*) of the changelog per round.
 */
export interface DrainRule {
  /** stop once a batch takes fewer entries than this */
  below: number;
  /** entries per batch (at least `below`) */
  batch?: number;
  /** performance.now() value after which the drain stops, whatever is left */
  until?: number;
  /** called before every batch: the throttler's wait, a truncate check, a runtime limit */
  beforeBatch?: () => Promise<void>;
}

export interface Drained {
  entries: number;
  batches: number;
  /** whether the backlog reached the rule's bound (false: the deadline came first) */
  reached: boolean;
}

export async function drain(replay: (limit: number) => Promise<number>, rule: DrainRule): Promise<Drained> {
  const limit = Math.max(rule.below, rule.batch ?? 20_000);
  let entries = 0;
  let batches = 0;
  for (;;) {
    if (rule.until !== undefined && performance.now() >= rule.until) return { entries, batches, reached: false };
    await rule.beforeBatch?.();
    const n = await replay(limit);
    entries += n;
    batches++;
    if (n < rule.below) return { entries, batches, reached: true };
  }
}
