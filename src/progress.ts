/**
 * The engine's progress events: what a live status line needs and the structured logs do not
 * carry (every phase change with its table, the rows of every chunk, the changelog's backlog, the
 * replication lag, the throttle's reason as it changes). The engine emits them from the few places
 * that know each fact (state/store.ts for phases, the copy and the backfill walk for rows, the
 * throttler for lag and throttling, the phases' backlog samples, the validation and the cutover);
 * src/terminal draws them and src/report keeps them for the run's report. The logs
 * stay as they are: a JSON consumer sees no difference.
 *
 * A process-wide channel, like the root logger: a migration run from `migrate up` emits without
 * any caller plumbing a callback through. Emitting with nobody listening costs a loop over an empty
 * set, and a listener that throws never fails a migration.
 */
export type ProgressEvent =
  /** a migration (kind 'alter') or backfill job entered a phase; 'done' ends its step */
  | { type: 'phase'; id: number; kind: string; table: string; phase: string; message: string }
  /** rows copied (alter) or walked (backfill) so far, of about `total` (null: unknown) */
  | { type: 'rows'; id: number; done: number; total: number | null }
  /** changelog entries waiting for the replay; `atLeast`: counted up to a cap and the cap was reached */
  | { type: 'backlog'; id: number; entries: number; atLeast: boolean }
  /** the worst replication lag the throttler's probes saw (null: no standby or replica to measure) */
  | { type: 'lag'; id: number; ms: number | null }
  /** why the copy and the replay wait (null: they no longer do) */
  | { type: 'throttle'; id: number; reason: string | null }
  /** a migration ended without reaching 'done' */
  | { type: 'end'; id: number; outcome: string }
  /**
   * the cutover's locked transaction committed (or a change without a copy released the table's
   * lock): its attempts, how long the last attempt waited for its locks (null: not measured) and
   * how long the locks were held
   */
  | { type: 'cutover'; id: number; attempts: number; lockWaitMs: number | null; holdMs: number }
  /** the validation before the cutover finished (verify/validate.ts's figures) */
  | { type: 'validation'; id: number; level: string; passed: boolean; rowsOrigin: number; rowsShadow: number; chunks: number; mismatchedChunks: number; writesHeldMs: number; ms: number };

export type ProgressListener = (e: ProgressEvent) => void;

export interface ProgressChannel {
  emit(e: ProgressEvent): void;
  /** returns the unsubscribe function */
  subscribe(listener: ProgressListener): () => void;
  /** whether anyone listens: a fact that costs a query to learn is only looked up then */
  listening(): boolean;
}

export function createProgressChannel(): ProgressChannel {
  const listeners = new Set<ProgressListener>();
  return {
    emit(e) {
      for (const l of listeners) {
        try {
          l(e);
        } catch {
          // drawing progress must never break the migration it draws
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    listening: () => listeners.size > 0,
  };
}

export const progress: ProgressChannel = createProgressChannel();
