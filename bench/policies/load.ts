// One load run like compare/load.ts's runLoad (same arguments, same parsers), keeping p90 too:
// runLoad returns only p50/p99, and wrk --latency and ab both print a 90% line.
import { parseAb, parseWrk, type LoadResult, type LoadSettings } from '../compare/load.js';
import { start, stop } from '../compare/procs.js';

export interface LoadResultP90 extends LoadResult {
  p90Ms: number;
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3 };

export function parseP90(tool: LoadSettings['tool'], out: string): number {
  const m = tool === 'wrk' ? /^\s+90%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out) : /^\s+90%\s+(\d+)()/m.exec(out);
  if (m === null) throw new Error(`no 90% latency in the ${tool} report:\n${out.trim()}`);
  return Number(m[1]) * (UNIT_MS[m[2] || 'ms'] ?? 1);
}

export async function runLoadP90(s: LoadSettings, url: string): Promise<LoadResultP90> {
  const argv = s.tool === 'wrk'
    ? [`-t${s.threads}`, `-c${s.connections}`, `-d${s.seconds}s`, '--latency', url]
    : ['-k', '-r', '-q', '-c', String(s.connections), '-t', String(s.seconds), '-n', String(100_000 * s.seconds), url];
  const proc = start(s.tool, s.tool, argv, true);
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), (s.seconds + 30) * 1000)));
  const status = await Promise.race([proc.exited, limit]);
  clearTimeout(timer);
  if (status === 'timeout') {
    await stop(proc);
    throw new Error(`${s.tool} did not finish within ${s.seconds + 30} s`);
  }
  const out = proc.output();
  if (status !== 0) throw new Error(`${s.tool} exited with ${status}:\n${out.trim()}`);
  return { ...(s.tool === 'wrk' ? parseWrk(out) : parseAb(out)), p90Ms: parseP90(s.tool, out) };
}
