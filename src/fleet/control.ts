import fs from 'node:fs';
import os from 'node:os';
import { UserError } from '../errors.js';
import { alive } from '../backfill/job.js';

/**
 * `pgshift fleet resume` and `pgshift fleet abort` reach a running fleet through a small state
 * file next to its targets file (`<targets file>.pgshift-fleet.json`): the parent writes it when
 * it starts, pauses (--pause-after-wave), goes on and ends; the operator's command writes a
 * request into it, which the parent reads between targets (abort) or while paused (resume,
 * abort). A file, not a table on some target: the fleet's own pause must not depend on one
 * target being reachable, and the operator runs these commands where the targets file is.
 */
export const CONTROL_STATES = ['running', 'paused', 'resume requested', 'abort requested', 'ended'] as const;
export type ControlState = (typeof CONTROL_STATES)[number];

export interface FleetControl {
  fleetId: string;
  pid: number;
  host: string;
  state: ControlState;
  /** the wave that ran last (paused after it) */
  wave: string | null;
  /** the next wave, while paused */
  next: string | null;
  at: string;
}

export function controlPath(targetsFile: string): string {
  return `${targetsFile}.pgshift-fleet.json`;
}

export function readControl(file: string): FleetControl | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as FleetControl;
  } catch {
    return null;
  }
}

export function writeControl(file: string, c: Omit<FleetControl, 'pid' | 'host' | 'at'> & Partial<FleetControl>): void {
  const full: FleetControl = { pid: process.pid, host: os.hostname(), at: new Date().toISOString(), ...c };
  // Written whole and renamed: a reader never sees half a file.
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(full)}\n`);
  fs.renameSync(`${file}.tmp`, file);
}

/** The operator's request (`pgshift fleet resume|abort --targets FILE`); returns what it did, as a line. */
export function requestControl(targetsFile: string, what: 'resume' | 'abort'): string {
  const file = controlPath(targetsFile);
  const c = readControl(file);
  if (c === null) throw new UserError(`no fleet has run with ${targetsFile} (no ${file})`);
  const running = c.host !== os.hostname() || alive(c.pid);
  if (c.state === 'ended' || !running) {
    throw new UserError(`fleet ${c.fleetId} is not running (${c.state === 'ended' ? 'it ended' : `its process ${c.pid} is gone`}): run the same command again to continue it`);
  }
  if (what === 'resume') {
    if (c.state !== 'paused') throw new UserError(`fleet ${c.fleetId} is not paused (${c.state})`);
    writeControl(file, { ...c, state: 'resume requested' });
    return `fleet ${c.fleetId}: resume requested; wave ${c.next ?? '?'} starts`;
  }
  writeControl(file, { ...c, state: 'abort requested' });
  return `fleet ${c.fleetId}: abort requested; no further target starts, running ones finish (exit 4 when it stops)`;
}

