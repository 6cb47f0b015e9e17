/**
 * Whether ALTER COLUMN TYPE keeps the stored bytes (no table rewrite), by PostgreSQL's own rules.
 *
 * PostgreSQL (src/backend/commands/tablecmds.c, ATPrepAlterColumnType ->
 * ATColumnChangeRequiresRewrite, every version 14-18) plans the conversion expression, which
 * lets each type's planner support function drop a length coercion it proves a no-op, and then
 * skips the rewrite when what is left is the column itself under RelabelType (a binary-coercible
 * cast, pg_cast.castmethod = 'b'), or an unconstrained domain (CoerceToDomain of a domain without
 * constraints). The support functions (src/backend/utils/adt):
 * - varchar_support (varchar.c): varchar(n) -> varchar(m) is a no-op when m is unconstrained or
 *   n is constrained and m >= n; bpchar has no support function (char(n) -> char(m) pads: rewrite);
 * - numeric_support (numeric.c): no-op when the new typmod is unconstrained, or the old one is
 *   constrained with the same scale and a precision not smaller;
 * - timestamp_support / time_support via TemporalSimplify (timestamp.c, date.c): no-op when the
 *   new precision is unconstrained or >= the maximum (6), or the old one is constrained and <= it;
 * - interval_support (timestamp.c): no-op when the new typmod is unconstrained, or its least field
 *   is not larger and (the old least field is above SECOND, or the new precision is >= the maximum
 *   or >= the old one);
 * - varbit_support (varbit.c): no-op when the new length is unconstrained, or the old one is
 *   constrained and not larger; bit(n) has no support function.
 * timestamp <-> timestamptz is kept without a rewrite only when the session's TimeZone is UTC
 * (PostgreSQL 12+, TimestampTimestampTzRequiresRewrite): it depends on the executing session, so
 * the rule says "rewrite" unless the facts say the session is on UTC.
 * The docs say the same in general terms (https://www.postgresql.org/docs/current/sql-altertable.html,
 * Notes): "if the USING clause does not change the column contents and the old type is either
 * binary coercible to the new type or an unconstrained domain over the new type, a table rewrite
 * is not needed".
 */

export interface TypeRef {
  oid: number;
  typmod: number;
  /** format_type(oid, typmod) */
  name: string;
  /** for a domain: its base type and typmod; null otherwise */
  domainBase: { oid: number; typmod: number } | null;
  /** a domain with CHECK or NOT NULL constraints */
  domainConstrained: boolean;
}

export interface CoercionInput {
  from: TypeRef;
  to: TypeRef;
  /** pg_cast.castmethod from the source (base) type to the target (base) type, null without a cast */
  castMethod: string | null;
  /** a USING expression other than the bare column */
  using: boolean;
  /** the session's TimeZone is a zone with a fixed offset of zero */
  sessionUtc: boolean;
}

const VARCHAR = 1043;
const NUMERIC = 1700;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;
const TIME = 1083;
const TIMETZ = 1266;
const INTERVAL = 1186;
const VARBIT = 1562;

const VARHDRSZ = 4;
const MAX_TEMPORAL_PRECISION = 6;
const INTERVAL_FULL_RANGE = 0x7fff;
const INTERVAL_FULL_PRECISION = 0xffff;

export interface CoercionVerdict {
  binary: boolean;
  rule: string;
}

export function binaryCoercion(input: CoercionInput): CoercionVerdict {
  if (input.using) return { binary: false, rule: 'a USING expression that changes the value: PostgreSQL rewrites' };
  const { from, to } = input;
  if (to.domainBase) {
    if (to.domainConstrained) return { binary: false, rule: `${to.name} is a domain with constraints: PostgreSQL checks every row by rewriting` };
    const base = binaryCoercion({ ...input, to: { ...to, oid: to.domainBase.oid, typmod: to.domainBase.typmod, domainBase: null } });
    return { binary: base.binary, rule: `unconstrained domain ${to.name}: ${base.rule}` };
  }
  if (from.domainBase) {
    // A domain value is its base type's value: the cast strips the domain (RelabelType).
    return binaryCoercion({ ...input, from: { ...from, oid: from.domainBase.oid, typmod: from.domainBase.typmod, domainBase: null } });
  }
  if (from.oid === to.oid) return sameType(from.oid, from.typmod, to.typmod);
  if ((from.oid === TIMESTAMP && to.oid === TIMESTAMPTZ) || (from.oid === TIMESTAMPTZ && to.oid === TIMESTAMP)) {
    if (!input.sessionUtc) return { binary: false, rule: 'timestamp <-> timestamptz keeps the bytes only when the session TimeZone is UTC (PostgreSQL 12+)' };
    const p = temporal(-1, to.typmod);
    return { binary: p, rule: `timestamp <-> timestamptz under TimeZone UTC (PostgreSQL 12+)${p ? '' : ', but the precision shrinks'}` };
  }
  if (input.castMethod !== 'b') return { binary: false, rule: `no binary-coercible cast from ${from.name} to ${to.name} (pg_cast)` };
  // The cast relabels; a length coercion to the target typmod follows unless it is unconstrained.
  if (to.typmod < 0) return { binary: true, rule: `binary-coercible cast from ${from.name} to ${to.name} (pg_cast castmethod 'b')` };
  const after = sameType(to.oid, -1, to.typmod);
  return { binary: false, rule: `binary-coercible cast, then a length check to ${to.name}: ${after.rule}` };
}

function sameType(oid: number, oldMod: number, newMod: number): CoercionVerdict {
  if (oldMod === newMod) return { binary: true, rule: 'same type and modifier' };
  switch (oid) {
    case VARCHAR: {
      const ok = newMod < 0 || (oldMod >= 0 && newMod >= oldMod);
      return { binary: ok, rule: ok ? 'varchar length grows or becomes unlimited (varchar_support)' : 'varchar length shrinks or is newly limited: every value is checked' };
    }
    case NUMERIC: {
      const ok = newMod < 0 || (oldMod >= 0 && numericScale(oldMod) === numericScale(newMod) && numericPrecision(newMod) >= numericPrecision(oldMod));
      return { binary: ok, rule: ok ? 'numeric precision grows at the same scale, or becomes unconstrained (numeric_support)' : 'numeric scale changes or precision shrinks: values are rounded or checked' };
    }
    case TIMESTAMP:
    case TIMESTAMPTZ:
    case TIME:
    case TIMETZ: {
      const ok = temporal(oldMod, newMod);
      return { binary: ok, rule: ok ? 'fractional-second precision grows (TemporalSimplify)' : 'fractional-second precision shrinks: values are rounded' };
    }
    case INTERVAL: {
      const ok = intervalNoop(oldMod, newMod);
      return { binary: ok, rule: ok ? 'interval fields and precision widen (interval_support)' : 'interval fields or precision narrow: values are truncated' };
    }
    case VARBIT: {
      const ok = newMod <= 0 || (oldMod > 0 && oldMod <= newMod);
      return { binary: ok, rule: ok ? 'bit varying length grows (varbit_support)' : 'bit varying length shrinks or is newly limited' };
    }
    default:
      return { binary: false, rule: 'a modifier change with no no-op rule for this type (char(n) pads, bit(n) checks)' };
  }
}

function numericPrecision(typmod: number): number {
  return ((typmod - VARHDRSZ) >> 16) & 0xffff;
}

/** PostgreSQL 15+ encodes negative scales in 11 bits; for 0..1000 both encodings agree. */
function numericScale(typmod: number): number {
  return ((((typmod - VARHDRSZ) & 0x7ff) ^ 1024) - 1024);
}

function temporal(oldMod: number, newMod: number): boolean {
  return newMod < 0 || newMod >= MAX_TEMPORAL_PRECISION || (oldMod >= 0 && oldMod <= newMod);
}

// The interval range bits of src/include/utils/datetime.h: INTERVAL_MASK(f) = 1 << f.
const MONTH = 1 << 1;
const YEAR = 1 << 2;
const DAY = 1 << 3;
const HOUR = 1 << 10;
const MINUTE = 1 << 11;

/** intervaltypmodleastfield (timestamp.c): 0 = SECOND ... 5 = YEAR. */
function leastField(typmod: number): number {
  if (typmod < 0) return 0;
  const range = (typmod >> 16) & 0x7fff;
  switch (range) {
    case YEAR: return 5;
    case MONTH: case YEAR | MONTH: return 4;
    case DAY: return 3;
    case HOUR: case DAY | HOUR: return 2;
    case MINUTE: case DAY | HOUR | MINUTE: case HOUR | MINUTE: return 1;
    case INTERVAL_FULL_RANGE: return 0;
    default: return 0; // every remaining range ends in SECOND
  }
}

function intervalNoop(oldMod: number, newMod: number): boolean {
  if (newMod < 0) return true;
  const oldLeast = leastField(oldMod);
  const newLeast = leastField(newMod);
  const oldPrecis = oldMod < 0 ? INTERVAL_FULL_PRECISION : oldMod & 0xffff;
  const newPrecis = newMod & 0xffff;
  return newLeast <= oldLeast && (oldLeast > 0 || newPrecis >= MAX_TEMPORAL_PRECISION || newPrecis >= oldPrecis);
}
