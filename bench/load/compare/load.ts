// One load run with wrk or ab against a URL, and what their reports say (p50/p90/p99: wrk --latency
// and ab both print a 90% line; compare reports p50/p99, policies all three).
import { pinned, start, stop } from './procs.js';

export type Tool = 'wrk' | 'ab';

export const INSTALL: Record<Tool | 'nginx' | 'haproxy', string> = {
  wrk: 'apt-get install -y wrk',
  ab: 'apt-get install -y apache2-utils',
  nginx: 'apt-get install -y nginx-light',
  haproxy: 'apt-get install -y haproxy',
};

export interface LoadSettings {
  tool: Tool;
  seconds: number;
  connections: number;
  /** wrk threads (ab has one). */
  threads: number;
  /** CPUs the tool is pinned to (taskset -c), if any. */
  cpus?: string;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Socket errors plus responses that are not 2xx/3xx (wrk) or not 2xx (ab). */
  errors: number;
}

/** The command line, for the report. */
export function describe(s: LoadSettings): string {
  return (s.cpus === undefined ? '' : `taskset -c ${s.cpus} `) + (s.tool === 'wrk'
    ? `wrk -t${s.threads} -c${s.connections} -d${s.seconds}s --latency`
    : `ab -k -r -c ${s.connections} -t ${s.seconds}`);
}

function args(s: LoadSettings, url: string, extra: readonly string[]): string[] {
  if (s.tool === 'wrk') return [`-t${s.threads}`, `-c${s.connections}`, `-d${s.seconds}s`, '--latency', ...extra, url];
  // ab allocates a record per request up front from -n: allow 100k req/s, stop at -t seconds.
  return ['-k', '-r', '-q', '-c', String(s.connections), '-t', String(s.seconds), '-n', String(100_000 * s.seconds), ...extra, url];
}

/** `extra`: more arguments before the URL (e.g. `-H`, `Connection: close`); `env`: added to the tool's environment. */
export async function runLoad(s: LoadSettings, url: string, extra: readonly string[] = [], env: Record<string, string> = {}): Promise<LoadResult> {
  const out = await runTool(s, url, extra, env);
  return s.tool === 'wrk' ? parseWrk(out) : parseAb(out);
}

/** Runs the tool, `extra` arguments before the URL (e.g. wrk's `-s SCRIPT`), and returns its report. */
export function runTool(s: LoadSettings, url: string, extra: readonly string[] = [], env: Record<string, string> = {}): Promise<string> {
  return runCommand(s.tool, args(s, url, extra), s.seconds + 30, s.cpus, env);
}

/** Runs `cmd args` (pinned to `cpus` if given) to its end, and returns its output; fails on a status other than 0 or after `limitSeconds`. */
export async function runCommand(cmd: string, args: readonly string[], limitSeconds: number, cpus?: string, env: Record<string, string> = {}): Promise<string> {
  const proc = start(cmd, ...pinned(cpus, cmd, args), true, env);
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), limitSeconds * 1000)));
  const status = await Promise.race([proc.exited, limit]);
  clearTimeout(timer);
  if (status === 'timeout') {
    await stop(proc);
    throw new Error(`${cmd} did not finish within ${limitSeconds} s`);
  }
  const out = proc.output();
  if (status !== 0) throw new Error(`${cmd} exited with ${status}:\n${out.trim()}`);
  return out;
}

function num(out: string, re: RegExp, what: string): number {
  const m = re.exec(out);
  if (m === null) throw new Error(`no ${what} in the load tool's report:\n${out.trim()}`);
  return Number(m[1]);
}

function optional(out: string, re: RegExp): number {
  const m = re.exec(out);
  return m === null ? 0 : Number(m[1]);
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3 };

function wrkLatency(out: string, percent: string): number {
  const m = new RegExp(`^\\s+${percent}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
  if (m === null) throw new Error(`no ${percent}% latency in wrk's report (was --latency given?):\n${out.trim()}`);
  return Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] ?? 1);
}

export function parseWrk(out: string): LoadResult {
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  return {
    requests: num(out, /(\d+) requests in /, 'request count'),
    rps: num(out, /Requests\/sec:\s+([\d.]+)/, 'Requests/sec'),
    p50Ms: wrkLatency(out, '50'),
    p90Ms: wrkLatency(out, '90'),
    p99Ms: wrkLatency(out, '99'),
    errors: socketErrors + optional(out, /Non-2xx or 3xx responses: (\d+)/),
  };
}

/** ab reports whole milliseconds only (its percentiles are coarse at sub-millisecond latencies). */
export function parseAb(out: string): LoadResult {
  return {
    requests: num(out, /Complete requests:\s+(\d+)/, 'Complete requests'),
    rps: num(out, /Requests per second:\s+([\d.]+)/, 'Requests per second'),
    p50Ms: num(out, /^\s+50%\s+(\d+)/m, '50% latency'),
    p90Ms: num(out, /^\s+90%\s+(\d+)/m, '90% latency'),
    p99Ms: num(out, /^\s+99%\s+(\d+)/m, '99% latency'),
    errors: optional(out, /Failed requests:\s+(\d+)/) + optional(out, /Non-2xx responses:\s+(\d+)/) + optional(out, /Write errors:\s+(\d+)/),
  };
}
