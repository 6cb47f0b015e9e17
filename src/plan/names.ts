import { advisoryLocks } from '../db/advisory-locks.js';

/**
 * Every name pgshift gives an artifact comes from here, derived from the migration id, so that
 * the state table, cleanup and the tests agree on them.
 */
export interface ArtifactNames {
  schema: string;
  changelog: string;
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


/** Names of pgshift's own tables in a migration's schema: nothing of the user's that moves through it may take them. */
export const KEPT_NAMES = ['changelog', 'reverse_changelog', 'copy_lanes', 'copy_xacts'];

export function artifactNames(id: number): ArtifactNames {
  return {
    schema: `pgshift_${id}`,
    changelog: 'changelog',
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
