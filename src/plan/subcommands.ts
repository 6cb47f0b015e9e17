import { UserError } from '../errors.js';
import type { Node } from './parse.js';

/**
 * Where each ALTER TABLE subcommand takes effect:
 * - build: applied to the (empty) shadow when it is created; the copy then fills it;
 * - swap: applied to the new table inside the cutover transaction, because it concerns things
 *   that only exist or only matter there (triggers, RLS flags, owner, replica identity);
 * - validate: VALIDATE CONSTRAINT, run after the swap (SHARE UPDATE EXCLUSIVE: online-safe);
 * - refused, with the reason.
 */
export type Placement = 'build' | 'swap' | 'validate';

const BUILD = new Set([
  'AT_AddColumn', 'AT_ColumnDefault', 'AT_DropNotNull', 'AT_SetNotNull', 'AT_SetExpression',
  'AT_DropExpression', 'AT_SetStatistics', 'AT_SetOptions', 'AT_ResetOptions', 'AT_SetStorage',
  'AT_SetCompression', 'AT_DropColumn', 'AT_AddConstraint', 'AT_AlterConstraint', 'AT_DropConstraint',
  'AT_AlterColumnType', 'AT_SetRelOptions', 'AT_ResetRelOptions', 'AT_ReplaceRelOptions',
  'AT_AddIdentity', 'AT_SetIdentity', 'AT_DropIdentity', 'AT_SetLogged', 'AT_SetUnLogged',
  'AT_SetTableSpace', 'AT_SetAccessMethod', 'AT_AddIndex',
]);

const SWAP = new Set([
  'AT_ChangeOwner', 'AT_ClusterOn', 'AT_DropCluster', 'AT_EnableTrig', 'AT_EnableAlwaysTrig',
  'AT_EnableReplicaTrig', 'AT_DisableTrig', 'AT_EnableTrigAll', 'AT_DisableTrigAll',
  'AT_EnableTrigUser', 'AT_DisableTrigUser', 'AT_EnableRowSecurity', 'AT_DisableRowSecurity',
  'AT_ForceRowSecurity', 'AT_NoForceRowSecurity', 'AT_ReplicaIdentity',
]);

const REFUSED: Record<string, string> = {
  AT_AttachPartition: 'partitioning changes are not supported',
  AT_DetachPartition: 'partitioning changes are not supported',
  AT_DetachPartitionFinalize: 'partitioning changes are not supported',
  AT_AddInherit: 'inheritance is not supported',
  AT_DropInherit: 'inheritance is not supported',
  AT_AddOf: 'typed tables are not supported',
  AT_DropOf: 'typed tables are not supported',
  AT_EnableRule: 'rules are not supported',
  AT_EnableAlwaysRule: 'rules are not supported',
  AT_EnableReplicaRule: 'rules are not supported',
  AT_DisableRule: 'rules are not supported',
  AT_GenericOptions: 'foreign-table options are not supported',
};

export function placementOf(cmd: Node): Placement {
  const subtype: string = cmd.subtype;
  if (subtype === 'AT_ValidateConstraint') return 'validate';
  if (SWAP.has(subtype)) return 'swap';
  if (BUILD.has(subtype)) return 'build';
  const reason = REFUSED[subtype] ?? `${subtype.replace(/^AT_/, '')} is not supported online`;
  throw new UserError(`refused: ${reason}`);
}

/** The constraint type of an ADD CONSTRAINT subcommand, or of a column constraint. */
export function constraintType(cmd: Node): string | undefined {
  return cmd.def?.Constraint?.contype;
}

export function columnConstraintTypes(colDef: Node): string[] {
  return (colDef?.constraints ?? []).map((c: Node) => c.Constraint?.contype).filter(Boolean);
}

const SERIAL_TYPES = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

/**
 * Whether offline PostgreSQL computes a value for every row (a column added with a default, an
 * identity, a generated expression or a serial type; a type change; SET EXPRESSION) or rewrites
 * the table (SET LOGGED / UNLOGGED, SET ACCESS METHOD). It refuses exactly these while a column
 * of another relation stores the table's row type ("cannot alter table ... because column ...
 * uses its row type").
 */
export function fillsEveryRow(cmd: Node): boolean {
  switch (cmd.subtype) {
    case 'AT_AlterColumnType':
    case 'AT_SetExpression':
    case 'AT_SetLogged':
    case 'AT_SetUnLogged':
    case 'AT_SetAccessMethod':
      return true;
    case 'AT_AddColumn': {
      const col = cmd.def?.ColumnDef;
      const names: Node[] = col?.typeName?.names ?? [];
      if (names.length === 1 && SERIAL_TYPES.has(names[0]?.String?.sval)) return true;
      return (col?.constraints ?? []).some((c: Node) => {
        const con = c.Constraint;
        if (con?.contype === 'CONSTR_IDENTITY' || con?.contype === 'CONSTR_GENERATED') return true;
        return con?.contype === 'CONSTR_DEFAULT' && con.raw_expr?.A_Const?.isnull !== true;
      });
    }
    default:
      return false;
  }
}
