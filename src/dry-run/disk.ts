import type { Client } from '../db/session.js';
import { describeTable } from '../catalog/table.js';
import { describeDisk, describeFree, freeSpaceFor, formatBytes, needParts, totalNeed, type DiskCheck } from '../plan/disk-space.js';
import type { InPlaceSample } from '../estimate/in-place-rehearsal.js';
import type { DiskLine } from './model.js';

/**
 * The plan's disk line: what the change writes (a copy's shadow, its indexes and WAL: plan/disk-space.ts;
 * an index built concurrently or a direct rewrite: measured on the rehearsal's sample, scaled) against
 * what is free, and how that is known (the operator's --disk-free, this host's filesystem when the
 * server is provably on it) or that it is not: PostgreSQL reports no free space over SQL.
 */
export function diskLine(check: DiskCheck): DiskLine {
  const free = describeFree(check);
  return { text: describeDisk(check).trim(), needBytes: totalNeed(check.need), parts: needParts(check.need), freeBytes: free.bytes, freeKnown: free.how, enough: free.enough };
}

/** What a change without a copy writes (the indexes it builds; a direct rewrite, the whole table), from the rehearsal, and its WAL. */
export async function inPlaceDisk(c: Client, oid: string, s: InPlaceSample, diskFreeBytes?: number): Promise<DiskLine | null> {
  const heap = s.written.heapBytes * s.scale.linear;
  const index = s.written.indexBytes * s.scale.linear;
  if (heap + index === 0) return null;
  const need = { heapBytes: Math.round(heap), indexBytes: Math.round(index), walBytes: Math.round(heap + index), marginBytes: Math.round(0.1 * (heap + index)), writtenBytes: 0, walNote: null };
  const check = await freeSpaceFor(c, await describeTable(c, oid), need, diskFreeBytes);
  const parts = `${heap ? `the rewritten table ${formatBytes(heap)}, ` : ''}indexes ${formatBytes(index)}, WAL ${formatBytes(heap + index)}, margin ${formatBytes(need.marginBytes)}: the rehearsal's writes, scaled`;
  return { ...diskLine(check), parts, text: describeDisk(check, `the change writes about ${formatBytes(totalNeed(need))} (${parts})`).trim() };
}
