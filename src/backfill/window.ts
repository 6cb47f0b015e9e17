import { UserError } from '../errors.js';

/** `--window 01:00-05:00` (seconds allowed: 01:00:30), in the server's time zone; may span midnight. */
export interface TimeWindow {
  startS: number;
  endS: number;
}

export function parseWindow(text: string): TimeWindow {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?-(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text.trim());
  const secs = (h?: string, mi?: string, s?: string): number => Number(h) * 3600 + Number(mi) * 60 + Number(s ?? 0);
  if (!m || Number(m[1]) > 23 || Number(m[4]) > 23 || Number(m[2]) > 59 || Number(m[5]) > 59) {
    throw new UserError(`--window: "${text}" is not a time window; write it as HH:MM-HH:MM, e.g. 01:00-05:00`);
  }
  const w = { startS: secs(m[1], m[2], m[3]), endS: secs(m[4], m[5], m[6]) };
  if (w.startS === w.endS) throw new UserError(`--window: "${text}" is empty`);
  return w;
}

/** Whether a server clock time (seconds since midnight) falls inside the window. */
export function insideWindow(w: TimeWindow, nowS: number): boolean {
  return w.startS < w.endS ? nowS >= w.startS && nowS < w.endS : nowS >= w.startS || nowS < w.endS;
}
