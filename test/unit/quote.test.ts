import { describe, expect, it } from 'vitest';
import { ident, identList, literal, qualified, trusted } from '../../src/db/quote.js';

describe('ident', () => {
  it('always quotes, keeping case', () => {
    expect(ident('t')).toBe('"t"');
    expect(ident('MixedCase')).toBe('"MixedCase"');
    expect(ident('select')).toBe('"select"');
    expect(ident('with space')).toBe('"with space"');
  });

  it('doubles embedded double quotes', () => {
    expect(ident('a"b')).toBe('"a""b"');
    expect(ident('"')).toBe('""""');
    expect(ident('x"; DROP TABLE t; --')).toBe('"x""; DROP TABLE t; --"');
  });

  it('leaves single quotes and backslashes alone', () => {
    expect(ident("it's\\")).toBe('"it\'s\\"');
  });
});

describe('qualified', () => {
  it('quotes schema and name separately', () => {
    expect(qualified('public', 't')).toBe('"public"."t"');
    expect(qualified('my"schema', 'a.b')).toBe('"my""schema"."a.b"');
  });
});

describe('identList', () => {
  it('joins quoted names with ", "', () => {
    expect(identList(['a', 'B', 'c"d'])).toBe('"a", "B", "c""d"');
    expect(identList([])).toBe('');
  });
});

describe('literal', () => {
  it('quotes plain text in the standard form', () => {
    expect(literal('abc')).toBe("'abc'");
    expect(literal('')).toBe("''");
  });

  it('doubles single quotes', () => {
    expect(literal("it's")).toBe("'it''s'");
    expect(literal("''")).toBe("''''''");
  });

  it('uses the E form, with doubled backslashes, when there is a backslash', () => {
    expect(literal('a\\b')).toBe("E'a\\\\b'");
    expect(literal("a\\'b")).toBe("E'a\\\\''b'");
    expect(literal('\\')).toBe("E'\\\\'");
  });

  it('is NULL for null', () => {
    expect(literal(null)).toBe('NULL');
  });
});

describe('trusted', () => {
  it('passes text through unchanged', () => {
    expect(trusted('character varying(10)')).toBe('character varying(10)');
  });
});
