import { deparseStatement, type AlterStatement, type Node } from './parse.js';

/**
 * A leaf's own foreign keys into its tree are not the shadow's (shadow/leaf.ts keysIntoTree):
 * the cutover takes them off the old leaf before DETACH and adds them again by their definitions
 * on the new leaf after ATTACH (cutover/swap.ts). A change that names one (DROP, RENAME or ALTER
 * CONSTRAINT of it) is therefore run on the new leaf's key inside the cutover, right after it is
 * added back as it was, in the same transaction: the key ends as the change leaves it, and the
 * change commits with the swap or not at all, as offline. PostgreSQL itself applies the
 * statements, in the user's order, to the same key as offline, so their meaning (and their
 * errors) are offline's. A VALIDATE of one is not moved: it runs after the swap like any (the key
 * is added back NOT VALID), proven on the shadow before it (migration/phases/validate.ts).
 *
 * Splits the statements: what the shadow runs (everything else), and what the cutover runs on
 * the new leaf. A name a RENAME CONSTRAINT gives one of the keys names it too in later statements.
 */
export function splitLeafKeyChanges(statements: AlterStatement[], keys: string[]): { shadow: AlterStatement[]; onLeaf: AlterStatement[] } {
  const names = new Set(keys);
  const shadow: AlterStatement[] = [];
  const onLeaf: AlterStatement[] = [];
  if (names.size === 0) return { shadow: statements, onLeaf };
  for (const s of statements) {
    if (s.kind === 'rename-constraint' && names.has(s.from)) {
      names.add(s.to);
      onLeaf.push(s);
      continue;
    }
    if (s.kind !== 'alter') {
      shadow.push(s);
      continue;
    }
    const named = s.cmds.filter((cmd) => changesKey(cmd, names));
    if (named.length === 0) {
      shadow.push(s);
      continue;
    }
    const rest = s.cmds.filter((cmd) => !named.includes(cmd));
    if (rest.length) shadow.push(withCmds(s, rest));
    onLeaf.push(withCmds(s, named));
  }
  return { shadow, onLeaf };
}

/** The final name of each key the statements rename (key -> its name after them). */
export function renamedKeys(statements: AlterStatement[], keys: string[]): Map<string, string> {
  const out = new Map(keys.map((k) => [k, k]));
  for (const s of statements) {
    if (s.kind !== 'rename-constraint') continue;
    for (const [k, now] of out) if (now === s.from) out.set(k, s.to);
  }
  return out;
}

/** The statements `onLeaf`, addressed to the leaf by its schema-qualified name (the cutover runs under search_path = pg_catalog). */
export function leafKeyChangeSql(onLeaf: AlterStatement[], schema: string, table: string): string[] {
  return onLeaf.map((s) => {
    const node = structuredClone(s.node);
    node.relation = { ...node.relation, schemaname: schema, relname: table };
    return deparseStatement({ ...s, node } as AlterStatement);
  });
}

/** DROP or ALTER CONSTRAINT of one of `names` (VALIDATE stays where it is: after the swap). */
function changesKey(cmd: Node, names: Set<string>): boolean {
  if (cmd.subtype === 'AT_DropConstraint') return names.has(cmd.name);
  if (cmd.subtype === 'AT_AlterConstraint') return names.has(cmd.def?.Constraint?.conname);
  return false;
}

function withCmds(s: AlterStatement & { kind: 'alter' }, cmds: Node[]): AlterStatement {
  const node = { ...s.node, cmds: cmds.map((cmd) => ({ AlterTableCmd: cmd })) };
  return { kind: 'alter', node, cmds };
}
