import { describe, expect, it } from 'vitest';
import { childArgs } from '../../src/cli/fleet.js';
import { fleetId, exitCodeOf } from '../../src/fleet/fleet.js';
import { redact } from '../../src/fleet/child.js';

describe('a fleet child\'s command line', () => {
  it('is the parent\'s without the fleet\'s own options and output options, plus what the parent reads back', () => {
    const argv = ['alter', 'ALTER TABLE t ADD COLUMN c int', '--targets', 'f.yaml', '--execute', '--concurrency=3', '--canary', '1', '--continue-on-error', '--pause-after-wave', '--report-dir', 'r', '--json', '--log-format', 'human', '--quiet', '--chunk-time', '200ms'];
    expect(childArgs(argv, ['--json', '--log-format', 'json'])).toEqual(['alter', 'ALTER TABLE t ADD COLUMN c int', '--execute', '--chunk-time', '200ms', '--json', '--log-format', 'json']);
  });

  it('the fleet id changes with the command, the change and the targets file, not with how the fleet is run', () => {
    const base = fleetId(['alter', 'ALTER TABLE t ADD COLUMN c int', '--execute'], '', 'a postgres://h/a\n');
    expect(base).toMatch(/^[0-9a-f]{12}$/);
    expect(fleetId(['alter', 'ALTER TABLE t ADD COLUMN c int', '--execute'], '', 'a postgres://h/a\n')).toBe(base);
    expect(fleetId(['alter', 'ALTER TABLE t ADD COLUMN d int', '--execute'], '', 'a postgres://h/a\n')).not.toBe(base);
    expect(fleetId(['alter', 'ALTER TABLE t ADD COLUMN c int', '--execute'], '', 'a postgres://h/a\nb postgres://h/b\n')).not.toBe(base);
    expect(fleetId(['migrate', 'up'], '1:abc', '')).not.toBe(fleetId(['migrate', 'up'], '1:abd', ''));
  });

  it('exit codes follow DESIGN.md: 0 all done, 1 a failure, 4 stopped on purpose, 2 refused before anything changed', () => {
    expect([exitCodeOf('done', true), exitCodeOf('failed', true), exitCodeOf('aborted', true), exitCodeOf('refused', true), exitCodeOf('refused', false)]).toEqual([0, 1, 4, 2, 2]);
  });

  it('redacts a password an option may carry (--replica) from logs and records', () => {
    expect(redact('--replica postgres://u:secret@h/db password=x1')).toBe('--replica postgres://u:***@h/db password=***');
  });
});
