// What compare.ts and policies.ts share: the load flags, backends, rounds in rotating order, the
// report files, and stopping every process they started however they end.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { timestamp } from '../../format.js';
import { INSTALL, describe, type LoadSettings, type Tool } from './load.js';
import { freePort, killAllNow, onPath, pinned, start, stopAll, waitForPort, type Proc } from './procs.js';
import type { Meta } from './report.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The build output, dist/. */
export const DIST = path.resolve(HERE, '../../..');
/** bench/results in the source tree, where every load benchmark writes its reports. */
export const RESULTS = path.resolve(HERE, '../../../../bench/results');
/** Pause before each measured run (and, in policies, after its warm-up). */
export const PAUSE_MS = 500;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Prints the message and the usage text to stderr and exits 2. */
export type Usage = (message: string) => never;

export interface CliSpec<K extends string> {
  /** `compare` or `policies`: dist/bench/load/NAME.js, and the prefix of its messages. */
  name: string;
  connections: string;
  warmup: string;
  /** wrk's threads by default (1 unless given). */
  threads?: string;
  /** Defaults of --duration (10s) and --rounds (3) when not these. */
  duration?: string;
  rounds?: string;
  /** The driver's own string flags (no defaults), each with the value its usage line shows. */
  extra: Record<K, string>;
  /** Further usage lines. */
  more?: string;
}

export interface CommonOptions<K extends string> {
  load: LoadSettings;
  rounds: number;
  warmupSeconds: number;
  /** For the report: e.g. that ab stood in for wrk. */
  notes: string[];
  extra: Partial<Record<K, string>>;
  usage: Usage;
}

/** The flags both take (--duration --rounds --connections --threads --warmup --tool) plus `spec.extra`. */
export function parseCommon<K extends string>(spec: CliSpec<K>): CommonOptions<K> {
  const extraNames = Object.keys(spec.extra) as K[];
  const usage: Usage = (message) => {
    process.stderr.write(
      `${spec.name}: ${message}\nusage: node dist/bench/load/${spec.name}.js [--duration ${spec.duration ?? '10s'}] [--rounds ${spec.rounds ?? '3'}] [--connections ${spec.connections}] [--threads ${spec.threads ?? '1'}] ` +
        `[--warmup ${spec.warmup}] [--tool wrk|ab] ${extraNames.map((k) => `[--${k} ${spec.extra[k]}]`).join(' ')}\n${spec.more ?? ''}`,
    );
    process.exit(2);
  };
  const options: NonNullable<ParseArgsConfig['options']> = {
    duration: { type: 'string', default: spec.duration ?? '10s' },
    rounds: { type: 'string', default: spec.rounds ?? '3' },
    connections: { type: 'string', default: spec.connections },
    threads: { type: 'string', default: spec.threads ?? '1' },
    warmup: { type: 'string', default: spec.warmup },
    tool: { type: 'string' },
  };
  for (const k of extraNames) options[k] = { type: 'string' };
  let parsed;
  try {
    parsed = parseArgs({ options, strict: true }).values;
  } catch (err) {
    usage((err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  const value = (k: string): string | undefined => {
    const v = parsed[k];
    return typeof v === 'string' ? v : undefined;
  };
  const seconds = (flag: string): number => {
    const text = value(flag) ?? '';
    const m = /^(\d+)(s|m)?$/.exec(text);
    if (m === null || Number(m[1]) < 1) usage(`--${flag} needs a whole number of seconds like 10s or 1m, got '${text}'`);
    return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
  };
  const count = (flag: string): number => {
    const text = value(flag) ?? '';
    if (!/^\d+$/.test(text) || Number(text) < 1) usage(`--${flag} needs a positive integer, got '${text}'`);
    return Number(text);
  };

  const notes: string[] = [];
  const toolFlag = value('tool');
  let tool: Tool;
  if (toolFlag === undefined) {
    if (onPath('wrk')) tool = 'wrk';
    else if (onPath('ab')) {
      tool = 'ab';
      notes.push(`wrk not installed (${INSTALL.wrk}): used ab, whose percentiles are whole milliseconds`);
    } else usage(`neither wrk nor ab is installed: ${INSTALL.wrk} (or ${INSTALL.ab})`);
  } else if (toolFlag === 'wrk' || toolFlag === 'ab') {
    tool = toolFlag;
    if (!onPath(tool)) usage(`${tool} not installed: ${INSTALL[tool]}`);
  } else usage(`--tool must be wrk or ab, got '${toolFlag}'`);

  const extra: Partial<Record<K, string>> = {};
  for (const k of extraNames) {
    const v = value(k);
    if (v !== undefined) extra[k] = v;
  }
  return {
    load: { tool, seconds: seconds('duration'), connections: count('connections'), threads: count('threads') },
    rounds: count('rounds'),
    warmupSeconds: seconds('warmup'),
    notes,
    extra,
    usage,
  };
}

/** A comma-separated flag value as its non-empty, trimmed items. */
export function list(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Fails early when a file the run starts has not been built. */
export function requireBuilt(files: readonly string[]): void {
  for (const file of files) {
    if (!existsSync(path.join(DIST, file))) throw new Error(`dist/${file} missing: build first (make build)`);
  }
}

/**
 * `--baseline DIST`: another build's dist/ (e.g. `git worktree add ../base HEAD~3 && make -C ../base
 * build`), whose chanlb runs beside this one as the `chanlb-baseline` arm, right after `chanlb`.
 */
export function withBaseline<N extends string>(arms: readonly Arm<N>[], baseline: string | undefined, usage: Usage): Arm<N | 'chanlb-baseline'>[] {
  if (baseline === undefined) return [...arms];
  if (!existsSync(path.join(baseline, 'src/main.js'))) usage(`--baseline ${baseline}: no src/main.js there (give a build's dist/ directory)`);
  return arms.flatMap((arm) => (arm.name === 'chanlb' ? [arm, { ...arm, name: 'chanlb-baseline' as const, label: arm.label.replace('chanlb', 'chanlb-baseline') }] : [arm]));
}

/**
 * `n` backends from dist/`script` on free ports, named 1..n, each given `more(i)` as extra arguments,
 * pinned to `cpus` if given.
 */
export function startBackends(
  script: string, n: number, more: (i: number) => string[] = () => [], cpus?: string,
): Promise<{ ports: number[]; procs: Proc[] }> {
  return startServers(n, (port, i) => [process.execPath, [path.join(DIST, script), '--port', String(port), '--name', String(i + 1), ...more(i)]], cpus);
}

/** `n` servers, each `command(port, i)` on a free port of its own (e.g. redis-server), pinned to `cpus` if given; resolves once all listen. */
export async function startServers(
  n: number, command: (port: number, i: number) => [string, string[]], cpus?: string,
): Promise<{ ports: number[]; procs: Proc[] }> {
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
  const procs = ports.map((port, i) => start(`backend ${i + 1}`, ...pinned(cpus, ...command(port, i))));
  await Promise.all(procs.map((b, i) => waitForPort(b, ports[i] as number)));
  return { ports, procs };
}

/** One GET with a fresh connection: status and body. With `ca` (PEM), over HTTPS, verified against it. */
export function get(port: number, urlPath: string, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 5000 };
    const req = (ca === undefined ? http.get(options, onResponse) : https.get({ ...options, ca }, onResponse));
    function onResponse(res: http.IncomingMessage): void {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }
    req.on('timeout', () => req.destroy(new Error(`no answer from ${port}${urlPath} within 5 s`)));
    req.on('error', reject);
  });
}

/** Throws unless `/` on `port` (HTTPS with `ca`) answers 200 `Hello from ...`: checked before anything is measured. */
export async function checkHello(port: number, ca?: string): Promise<void> {
  const { status, body } = await get(port, '/', ca);
  if (status !== 200 || !body.startsWith('Hello from')) throw new Error(`answered ${status}: ${body.slice(0, 80)}`);
}

/**
 * Measures every item once per round, the order rotated by one each round, PAUSE_MS before each
 * run. A run that fails is printed and noted, and the rest go on.
 */
export async function inRounds<T, R>(
  items: readonly T[], rounds: number, name: (item: T) => string, notes: string[], measure: (item: T, round: number) => Promise<R>,
): Promise<R[]> {
  const runs: R[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < items.length; i++) {
      const item = items[(i + round) % items.length] as T;
      await sleep(PAUSE_MS);
      try {
        runs.push(await measure(item, round));
      } catch (err) {
        const message = `round ${round + 1} ${name(item)} failed: ${(err as Error).message.split('\n')[0] ?? ''}`;
        process.stdout.write(`${message}\n`);
        notes.push(message);
      }
    }
  }
  return runs;
}

/** The report's header: date, command, rounds, machine (with the load average now, at the end). */
export function runMeta(load: LoadSettings, rounds: number, notes: readonly string[]): Meta {
  return {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    command: describe(load),
    rounds,
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(2) ?? '?'} at the end`,
    notes,
  };
}

/**
 * Writes bench/results/NAME-<timestamp>.md and .svg (no .svg when `chart` is null), copies them to
 * NAME-latest.md/.svg, and prints the summary table and the notes.
 */
export function writeResults(name: string, markdown: (svgName: string) => string, chart: string | null, summary: string, notes: readonly string[]): void {
  const stamp = timestamp();
  mkdirSync(RESULTS, { recursive: true });
  for (const base of [`${name}-${stamp}`, `${name}-latest`]) {
    writeFileSync(path.join(RESULTS, `${base}.md`), markdown(`${base}.svg`));
    if (chart !== null) writeFileSync(path.join(RESULTS, `${base}.svg`), chart);
  }
  process.stdout.write(`\n${summary}\n\n`);
  for (const note of notes) process.stdout.write(`- ${note}\n`);
  const also = chart === null ? '' : ' and .svg';
  process.stdout.write(`wrote bench/results/${name}-${stamp}.md${also} (copied to ${name}-latest.md${also})\n`);
}

/**
 * Runs `main` and stops every process started through procs.ts on the way out: on return, on an
 * error (printed, exit code 1) and on SIGINT/SIGTERM (exit 130). `cleanup` runs last each way.
 */
export async function runToEnd(name: string, main: () => Promise<void>, cleanup: () => void = () => {}): Promise<void> {
  let interrupted = false;
  const interrupt = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${name}: ${signal}, stopping everything it started\n`);
    void stopAll().finally(() => {
      cleanup();
      process.exit(130);
    });
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  process.on('exit', killAllNow);
  try {
    await main();
  } catch (err) {
    process.stderr.write(`${name}: ${(err as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    await stopAll();
    cleanup();
  }
}

/** `--workers 1,2`: positive whole numbers, each once, in the order given. */
export function workerCounts(text: string, usage: Usage): number[] {
  const counts = list(text).map((s) => (/^\d+$/.test(s) && Number(s) >= 1 ? Number(s) : usage(`--workers needs positive whole numbers like 1,2, got '${s}'`)));
  if (counts.length === 0) usage('--workers is empty');
  return [...new Set(counts)];
}

/** An arm's name in reports: NAME when every arm runs one process, else `NAME ×N`. */
export function armLabel(name: string, workers: number, counts: readonly number[]): string {
  return counts.length === 1 && counts[0] === 1 ? name : `${name} ×${workers}`;
}

/** One thing measured: a proxy or policy with a number of worker processes, under its report label. */
export interface Arm<N extends string> {
  name: N;
  workers: number;
  label: string;
}

/**
 * `--control NAME[:N]` (N: its worker processes, default 1): that arm once more, started apart and
 * reported as `LABEL A/A`, measured in the same rounds. Its difference from the arm is the noise
 * floor of every comparison in the run.
 */
export function withControl<N extends string>(arms: readonly Arm<N>[], control: string | undefined, usage: Usage): Arm<N>[] {
  if (control === undefined) return [...arms];
  const [name, n = '1'] = control.split(':');
  const arm = arms.find((a) => a.name === name && String(a.workers) === n);
  if (arm === undefined) usage(`--control: no arm '${control}' (have ${arms.map((a) => `${a.name}:${a.workers}`).join(', ')})`);
  return [...arms, { ...arm, label: `${arm.label} A/A` }];
}
