import { advisoryLocks } from '../db/advisory-locks.js';

/**
 * Every name pgshift gives an artifact comes from here, derived from the migration id, so that
 * the state table, cleanup and the tests agree on them.
 */
export interface ArtifactNames {
  /** the migration's schema: the shadow (under the table's name), its partitions and rebuilt materialized views, the old table after the swap */
  schema: string;
  /**
   * pgshift's own tables (changelog, reverse_changelog, copy_lanes, copy_xacts) and the capture
   * functions: a schema of their own (`pgshift_<id>_log`), where nothing of the user's ever goes,
   * so that no table, partition, materialized view or index of the user's moved through the
   * migration's schema can meet them under one name. A migration begun by a pgshift from before
   * it has them in the migration's schema itself (the `legacy` layout).
   */
  logSchema: string;
  changelog: string;
  /** the copy's key lanes and their watermarks (copy/lanes.ts) */
  copyLanes: string;
  /** the copy's chunk transactions (their ids: the shadow rows the copy wrote, verify/validate.ts) */
  copyXacts: string;
  captureTrigger: string;
  truncateTrigger: string;
  /** the revert window's capture on the new table (keys into the reverse changelog) */
  reverseChangelog: string;
  reverseTrigger: string;
  reverseTruncateTrigger: string;
  /** the shadow's table name while the origin moves in beside it during the swap */
  swapTable: string;
  swapRelation: (n: number) => string;
  /** advisory lock keys: (namespace, migration id) */
  lockKey: [number, number];
  applicationName: string;
}


/** The schema of pgshift's own tables beside a migration's (or a runbook's, or a rehearsal's) schema. */
export function logSchemaOf(schema: string): string {
  return `${schema}_log`;
}

/**
 * Where a migration keeps its own tables: `log` in a schema of their own (every migration begun
 * since), `legacy` in the migration's schema beside the shadow (one begun by an earlier pgshift,
 * still finishable, abortable and removable: migration/artifacts.ts migrationNames).
 */
export type ArtifactLayout = 'log' | 'legacy';

export function artifactNames(id: number, layout: ArtifactLayout = 'log'): ArtifactNames {
  const schema = `pgshift_${id}`;
  return {
    schema,
    logSchema: layout === 'log' ? logSchemaOf(schema) : schema,
    changelog: 'changelog',
    copyLanes: 'copy_lanes',
    copyXacts: 'copy_xacts',
    captureTrigger: `pgshift_capture_${id}`,
    truncateTrigger: `pgshift_truncate_${id}`,
    reverseChangelog: 'reverse_changelog',
    reverseTrigger: `pgshift_revert_${id}`,
    reverseTruncateTrigger: `pgshift_revert_truncate_${id}`,
    swapTable: `pgshift_swap_${id}`,
    swapRelation: (n) => `pgshift_swap_${id}_${n}`,
    lockKey: advisoryLocks.work(id),
    applicationName: `pgshift:${id}`,
  };
}
