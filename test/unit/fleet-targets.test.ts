import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTargets, shapeWaves } from '../../src/fleet/targets.js';
import { UserError } from '../../src/errors.js';

const env = { HOME: '/nonexistent' } as NodeJS.ProcessEnv;
const parse = (text: string, file = 'fleet.txt', e = env) => parseTargets(text, file, e);
const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return (err as Error).message;
  }
  throw new Error('not refused');
};

describe('targets file: plain lines', () => {
  it('takes URL, LABEL URL and LABEL service=NAME lines, skipping comments and blank lines', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-svc-'));
    fs.writeFileSync(path.join(dir, 'pg_service.conf'), '[shard7]\nhost=db7.internal\nport=6432\ndbname=tenant7\nuser=app\n');
    const f = parse(
      ['# the EU shards', '', 'postgres://app@db1.internal:5433/tenant1', 'eu-2   postgres://app@db2.internal/tenant2?application_name=x', 'eu-7 service=shard7', '  # indented comment'].join('\n'),
      'fleet.txt',
      { ...env, PGSERVICEFILE: path.join(dir, 'pg_service.conf') },
    );
    expect(f.form).toBe('plain');
    const t = f.waves.flatMap((w) => w.targets);
    expect(t.map((x) => [x.label, x.conn, x.address])).toEqual([
      ['db1.internal:5433/tenant1', 'postgres://app@db1.internal:5433/tenant1', 'db1.internal:5433'],
      ['eu-2', 'postgres://app@db2.internal/tenant2?application_name=x', 'db2.internal:5432'],
      ['eu-7', 'service=shard7', 'db7.internal:6432'],
    ]);
    expect(t[2]!.source).toBe('fleet.txt:5');
  });

  it('never puts credentials in a default label', () => {
    const [t] = parse('postgres://admin@10.0.0.5:5432/shop').waves[0]!.targets;
    expect(t!.label).toBe('10.0.0.5:5432/shop');
  });

  it('refuses a password in a URL, in its query, or in key=value settings, naming the line and not the password', () => {
    for (const line of ['postgres://app:s3cret@db/x', 'lbl postgres://app@db/x?password=s3cret', 'lbl host=db dbname=x password=s3cret']) {
      const m = refusal(() => parse(`# c\n${line}\n`));
      expect(m).toMatch(/fleet\.txt:2: the (URL|settings) carr(y|ies) a password; give it through PGPASSFILE/);
      expect(m).not.toContain('s3cret');
    }
  });

  it('refuses duplicate labels, an unknown service, a label without a connection, an empty file', () => {
    expect(refusal(() => parse('a postgres://h/x\na postgres://h/y'))).toMatch(/fleet\.txt:2: the label "a" is already used at fleet\.txt:1/);
    expect(refusal(() => parse('a service=nope'))).toMatch(/service "nope" not found/);
    expect(refusal(() => parse('lonely'))).toMatch(/neither a postgres:\/\/ URL nor key=value settings/);
    expect(refusal(() => parse('# nothing\n'))).toMatch(/names no target/);
  });
});

describe('targets file: YAML waves', () => {
  const yaml = `
waves:
  - name: canary
    targets:
      - { label: c1, url: "postgres://app@db1/t1" }
  - name: eu
    parallel: 3
    on_error: continue
    targets:
      - { label: eu1, url: "postgres://app@db2/t2" }
      - postgres://app@db3:5433/t3
`;
  it('keeps the waves in order with their bounds and policies', () => {
    const f = parse(yaml, 'fleet.yaml');
    expect(f.form).toBe('yaml');
    expect(f.waves.map((w) => [w.name, w.parallel, w.onError, w.targets.map((t) => t.label)])).toEqual([
      ['canary', 1, 'stop', ['c1']],
      ['eu', 3, 'continue', ['eu1', 'db3:5433/t3']],
    ]);
    // detected by its content too
    expect(parse(yaml, 'fleet.txt').form).toBe('yaml');
  });

  it('names the line of what is wrong', () => {
    expect(refusal(() => parse(yaml.replace('on_error: continue', 'on_error: maybe'), 'f.yaml'))).toMatch(/f\.yaml:\d+: wave "eu": on_error must be stop or continue/);
    expect(refusal(() => parse(yaml.replace('parallel: 3', 'parallel: 0'), 'f.yaml'))).toMatch(/parallel must be a positive whole number/);
    expect(refusal(() => parse(yaml.replace('postgres://app@db1/t1', 'postgres://app:pw@db1/t1'), 'f.yaml'))).toMatch(/^--targets: f\.yaml:5: the URL carries a password/);
    expect(refusal(() => parse('waves:\n  - name: a\n    targets:\n      - { label: x, url: "postgres://h/x", service: s }\n', 'f.yaml'))).toMatch(/url or service \(one of them\)/);
    expect(refusal(() => parse('waves: [\n', 'f.yaml'))).toMatch(/^--targets: f\.yaml:\d+: /);
    expect(refusal(() => parse('wavez: []\n', 'f.yaml'))).toMatch(/unknown key "wavez"/);
  });

  it('refuses the plain list options with a YAML file, which gives its waves itself', () => {
    expect(refusal(() => shapeWaves(parse(yaml, 'f.yaml'), { concurrency: 2 }))).toMatch(/--concurrency: f\.yaml gives its waves/);
  });
});

describe('plain list waves from the command line', () => {
  const f = parse(['a postgres://h/a', 'b postgres://h/b', 'c postgres://h/c', 'd postgres://h/d'].join('\n'));
  it('--canary N makes the first N a wave of their own; --concurrency bounds both; stop unless --continue-on-error', () => {
    expect(shapeWaves(f, { canary: 1, concurrency: 3 }).map((w) => [w.name, w.parallel, w.onError, w.targets.map((t) => t.label)])).toEqual([
      ['canary', 1, 'stop', ['a']],
      ['rest', 3, 'stop', ['b', 'c', 'd']],
    ]);
    expect(shapeWaves(f, { continueOnError: true }).map((w) => [w.name, w.parallel, w.onError])).toEqual([['all', 1, 'continue']]);
    expect(refusal(() => shapeWaves(f, { canary: 4 }))).toMatch(/a canary wave must leave some/);
  });
});
