import { describe, expect, it } from 'vitest';
import { relOptionsList } from '../../src/shadow/reloptions.js';

describe('relOptionsList', () => {
  it('quotes names and values', () => {
    expect(relOptionsList(['fillfactor=70', 'autovacuum_enabled=false'])).toEqual([
      `"fillfactor" = '70'`,
      `"autovacuum_enabled" = 'false'`,
    ]);
  });

  it('prefixes the namespace (toast) as a quoted qualifier', () => {
    expect(relOptionsList(['autovacuum_enabled=false', 'fillfactor=90'], 'toast')).toEqual([
      `"toast"."autovacuum_enabled" = 'false'`,
      `"toast"."fillfactor" = '90'`,
    ]);
  });

  it('splits at the first "=" only, and escapes the value', () => {
    expect(relOptionsList(["opt=a=b", "o\"pt=it's", 'p=C:\\x'])).toEqual([
      `"opt" = 'a=b'`,
      `"o""pt" = 'it''s'`,
      `"p" = E'C:\\\\x'`,
    ]);
  });

  it('reads a bare name as true', () => {
    expect(relOptionsList(['user_catalog_table'])).toEqual([`"user_catalog_table" = 'true'`]);
  });

  it('is empty for null or no options', () => {
    expect(relOptionsList(null)).toEqual([]);
    expect(relOptionsList([])).toEqual([]);
    expect(relOptionsList(null, 'toast')).toEqual([]);
  });
});
