export { onlineAlter, type AlterReport } from './migration/start.js';
export { alterOptions, DEFAULTS, type AlterOptions, type Progress } from './config.js';
export { PgshiftError, UserError, RuntimeError, DifferenceError, StoppedError } from './errors.js';
