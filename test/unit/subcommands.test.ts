import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { columnConstraintTypes, constraintType, placementOf } from '../../src/plan/subcommands.js';

describe('placementOf', () => {
  it.each([
    'AT_AddColumn', 'AT_DropColumn', 'AT_AlterColumnType', 'AT_ColumnDefault', 'AT_SetNotNull', 'AT_AddConstraint',
    'AT_DropConstraint', 'AT_SetRelOptions', 'AT_AddIdentity', 'AT_SetLogged', 'AT_AddIndex',
  ])('%s is applied when the shadow is built', (subtype) => {
    expect(placementOf({ subtype })).toBe('build');
  });

  it.each([
    'AT_ChangeOwner', 'AT_EnableTrig', 'AT_DisableTrigAll', 'AT_EnableRowSecurity', 'AT_ForceRowSecurity',
    'AT_ReplicaIdentity', 'AT_ClusterOn',
  ])('%s is applied at the swap', (subtype) => {
    expect(placementOf({ subtype })).toBe('swap');
  });

  it('VALIDATE CONSTRAINT runs after the swap', () => {
    expect(placementOf({ subtype: 'AT_ValidateConstraint' })).toBe('validate');
  });

  it.each([
    ['AT_AttachPartition', 'refused: partitioning changes are not supported'],
    ['AT_DetachPartition', 'refused: partitioning changes are not supported'],
    ['AT_AddInherit', 'refused: inheritance is not supported'],
    ['AT_DropInherit', 'refused: inheritance is not supported'],
    ['AT_AddOf', 'refused: typed tables are not supported'],
    ['AT_EnableRule', 'refused: rules are not supported'],
    ['AT_SomethingNew', 'refused: SomethingNew is not supported online'],
  ])('%s is refused', (subtype, message) => {
    let caught: unknown;
    try {
      placementOf({ subtype });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UserError);
    expect((caught as UserError).exitCode).toBe(2);
    expect((caught as UserError).message).toBe(message);
  });
});

describe('constraintType / columnConstraintTypes', () => {
  it('reads the contype of ADD CONSTRAINT and of column constraints', () => {
    expect(constraintType({ subtype: 'AT_AddConstraint', def: { Constraint: { contype: 'CONSTR_PRIMARY' } } })).toBe('CONSTR_PRIMARY');
    expect(constraintType({ subtype: 'AT_DropColumn' })).toBeUndefined();
    expect(
      columnConstraintTypes({
        colname: 'x',
        constraints: [{ Constraint: { contype: 'CONSTR_NOTNULL' } }, { Constraint: { contype: 'CONSTR_PRIMARY' } }],
      }),
    ).toEqual(['CONSTR_NOTNULL', 'CONSTR_PRIMARY']);
    expect(columnConstraintTypes({ colname: 'x' })).toEqual([]);
    expect(columnConstraintTypes(undefined)).toEqual([]);
  });
});
