import { describe, expect, it } from 'vitest';
import { isConnectionError, redactUrl } from '../../src/db/session.js';

describe('redactUrl', () => {
  it('replaces the password and keeps the rest', () => {
    const out = redactUrl('postgres://alice:s3cret@db.example:5433/app?sslmode=require');
    expect(out).not.toContain('s3cret');
    expect(out).toBe('postgres://alice:***@db.example:5433/app?sslmode=require');
  });

  it('never contains a percent-encoded password, encoded or decoded', () => {
    const out = redactUrl('postgresql://bob:p%40ss%3Aw0rd@localhost/db');
    expect(out).not.toContain('p%40ss');
    expect(out).not.toContain('p@ss');
    expect(out).not.toContain('w0rd');
  });

  it('leaves a URL without a password as it is', () => {
    expect(redactUrl('postgres://alice@localhost/db')).toBe('postgres://alice@localhost/db');
  });

  it('describes a missing or unparsable URL without echoing it', () => {
    expect(redactUrl(undefined)).toBe('(libpq environment)');
    expect(redactUrl('')).toBe('(libpq environment)');
    const kv = redactUrl('host=localhost password=hunter2');
    expect(kv).not.toContain('hunter2');
    expect(kv).toBe('(unparsable url)');
  });

  // pg (pg-connection-string) reads a password from the query string too.
  it('never contains a password given as a query parameter', () => {
    const out = redactUrl('postgres://alice@localhost/db?password=hunter2&sslmode=disable');
    expect(out).not.toContain('hunter2');
  });
});

describe('isConnectionError', () => {
  it.each([
    ['ECONNREFUSED', { code: 'ECONNREFUSED' }],
    ['ECONNRESET', { code: 'ECONNRESET' }],
    ['ENOTFOUND', { code: 'ENOTFOUND' }],
    ['SQLSTATE 08006 (connection failure)', { code: '08006' }],
    ['SQLSTATE 08001', { code: '08001' }],
    ['SQLSTATE 57P01 (admin shutdown)', { code: '57P01' }],
    ['pg "Connection terminated"', new Error('Connection terminated unexpectedly')],
  ])('is true for %s', (_what, err) => {
    expect(isConnectionError(err)).toBe(true);
  });

  it.each([
    ['a unique violation', { code: '23505' }],
    ['a lock timeout', { code: '55P03' }],
    ['a query cancel', { code: '57014' }],
    ['a plain Error', new Error('boom')],
    ['null', null],
    ['undefined', undefined],
    ['a string', 'ECONNREFUSED'],
  ])('is false for %s', (_what, err) => {
    expect(isConnectionError(err)).toBe(false);
  });
});
