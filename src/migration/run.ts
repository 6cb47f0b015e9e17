import type { Pool } from '../db/session.js';
import type { AlterOptions } from '../config.js';
import type { ArtifactNames } from '../plan/names.js';
import type { BeforeCutoverReport } from '../verify/validate.js';
import type { Plan } from './plan.js';
import type { Throttler } from '../throttle/throttler.js';
import type { Hooks } from './hooks.js';

/** One migration being executed: what every phase reads, and what cleanup must know. */
export interface Run {
  pool: Pool;
  plan: Plan;
  opts: AlterOptions;
  id: number;
  names: ArtifactNames;
  /** set once the capture triggers exist on the origin: cleanup must remove them */
  triggersInstalled: boolean;
  swapped: boolean;
  validation?: BeforeCutoverReport;
  /** consulted before every copy chunk and replay batch */
  throttler: Throttler;
  hooks: Hooks;
  rowsCopied: number;
  /** performance.now() when this process took the migration on (for --max-runtime) */
  startedAt: number;
}
