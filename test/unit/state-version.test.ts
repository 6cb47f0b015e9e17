import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { STATE_SCHEMA_VERSION } from '../../src/state/store.js';

describe('the state schema version', () => {
  it('is the version the last block of sql/state-schema.sql sets (a current schema is not migrated again)', () => {
    const sql = readFileSync(new URL('../../sql/state-schema.sql', import.meta.url), 'utf8');
    const versions = [...sql.matchAll(/SET version = (\d+)/g)].map((m) => Number(m[1]));
    expect(Math.max(...versions)).toBe(STATE_SCHEMA_VERSION);
  });
});
