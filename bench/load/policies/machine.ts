// How busy the whole machine was during a run (the first line of /proc/stat), to tell a run whose
// latency is set by the backends' delays from one that waited for CPU.
import { readFileSync } from 'node:fs';

export interface CpuSample {
  busy: number;
  total: number;
}

export function machineCpu(): CpuSample {
  try {
    const fields = (readFileSync('/proc/stat', 'latin1').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal; guest is inside user
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** Share of all cores' time that was busy between two samples, 0-1. */
export function busyShare(a: CpuSample, b: CpuSample): number {
  return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : NaN;
}
