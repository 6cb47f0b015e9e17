import type { Client } from '../db/session.js';
import { ident, type SqlText } from '../db/quote.js';
import { sqlFile } from '../db/sql-files.js';

const PRIVILEGES = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'MAINTAIN']);

/**
 * GRANT/REVOKE statements that give `target` the same table and column privileges `sourceOid`
 * has. Grants recorded under another grantor are re-granted by the owner (PostgreSQL 14 and
 * 15 cannot grant on another role's behalf).
 */
export async function copyAclStatements(
  c: Client,
  sourceOid: string,
  target: SqlText,
  columnName: (origin: string) => string | undefined = (n) => n,
): Promise<string[]> {
  const rows = (await c.query(sqlFile('acl-items.sql'), [sourceOid])).rows;
  const out: string[] = [];
  for (const r of rows) {
    if (!PRIVILEGES.has(r.privilege)) continue;
    const grantee = r.is_public ? 'PUBLIC' : ident(r.grantee);
    let on = '';
    if (r.column_name !== null) {
      const col = columnName(r.column_name);
      if (col === undefined) continue; // the column was dropped: its grants go with it, as offline
      on = ` (${ident(col)})`;
    }
    out.push(
      r.revoke
        ? `REVOKE ${r.privilege}${on} ON TABLE ${target} FROM ${grantee}`
        : `GRANT ${r.privilege}${on} ON TABLE ${target} TO ${grantee}${r.grantable ? ' WITH GRANT OPTION' : ''}`,
    );
  }
  return out;
}
