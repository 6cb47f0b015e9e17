export { onlineAlter, type AlterReport } from './migration/start.js';
export { alterOptions, DEFAULTS, type AlterOptions, type Progress } from './config.js';
export { PgshiftError, UserError, RuntimeError, DifferenceError, StoppedError } from './errors.js';
export { migrate, migrateUp, migrateDown, migrateStatus, migrateValidate, migratePlan, migrateOptions, type MigrateOptions, type FileRun, type StatusEntry, type PlannedStatement } from './migrate/runner.js';
export { lint, type LintOptions, type LintReport, type LintFinding } from './lint/lint.js';
export { plan, type StrategyPreview } from './strategy/preview.js';
export type { Decision, Strategy, Step } from './strategy/classify.js';
export { runBackfill as backfill, type BackfillOptions, type BackfillReport } from './backfill/backfill.js';
