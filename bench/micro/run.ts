// `node dist/bench/micro/run.js [NAME ...] [--compare FILE]`: runs every `*.bench.js` beside this file (or
// those named: `heap`, `parser`, ...) one after another, prints a table per bench and writes all
// results to bench/results/micro-<timestamp>.json. `--compare FILE` adds the ratio of each task's
// median ops/s to the same task in an earlier JSON.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Bench } from 'tinybench';
import { fixed, formatTable, timestamp } from '../format.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** dist/bench/micro/ → the repository's bench/results/. */
const RESULTS = path.resolve(HERE, '../../../bench/results');
const SUFFIX = '.bench.js';

export interface TaskRow {
  task: string;
  /** Median of the per-sample rates (tinybench throughput.p50). */
  opsPerSec: number;
  meanMs: number;
  p99Ms: number;
  rme: number;
  samples: number;
}

export interface MicroResults {
  date: string;
  node: string;
  cpu: string;
  benches: Record<string, TaskRow[]>;
}

function usage(message: string): never {
  process.stderr.write(`run: ${message}\nusage: node dist/bench/micro/run.js [NAME ...] [--compare FILE]\n`);
  process.exit(2);
}

/** A time in ms as ns, µs or ms with three significant digits. */
function duration(ms: number): string {
  if (ms < 1e-3) return `${(ms * 1e6).toPrecision(3)} ns`;
  if (ms < 1) return `${(ms * 1e3).toPrecision(3)} µs`;
  return `${ms.toPrecision(3)} ms`;
}

function rows(bench: Bench): { rows: TaskRow[]; errors: string[] } {
  const out: TaskRow[] = [];
  const errors: string[] = [];
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state === 'completed' || r.state === 'aborted-with-statistics') {
      out.push({
        task: task.name,
        opsPerSec: r.throughput.p50,
        meanMs: r.latency.mean,
        p99Ms: r.latency.p99,
        rme: r.latency.rme,
        samples: r.latency.samplesCount,
      });
    } else {
      errors.push(`${task.name}: ${r.state === 'errored' ? r.error.message : r.state}`);
    }
  }
  return { rows: out, errors };
}

function loadPrevious(file: string): MicroResults {
  const data: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof data !== 'object' || data === null || typeof (data as { benches?: unknown }).benches !== 'object') {
    usage(`${file} is not a micro-benchmark result (no "benches")`);
  }
  return data as MicroResults;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ options: { compare: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (err) {
    usage((err as Error).message);
  }
  const previous = parsed.values.compare === undefined ? undefined : loadPrevious(parsed.values.compare);
  const available = readdirSync(HERE).filter((f) => f.endsWith(SUFFIX)).map((f) => f.slice(0, -SUFFIX.length)).sort();
  const wanted = parsed.positionals.map((n) => n.replace(/(\.bench)?(\.[jt]s)?$/, ''));
  for (const name of wanted) if (!available.includes(name)) usage(`no bench "${name}" (have: ${available.join(', ')})`);
  const names = wanted.length > 0 ? wanted : available;

  const results: MicroResults = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
    benches: {},
  };
  const failures: string[] = [];
  for (const name of names) {
    const mod = (await import(pathToFileURL(path.join(HERE, name + SUFFIX)).href)) as { default?: () => Promise<Bench> };
    if (typeof mod.default !== 'function') {
      failures.push(`${name}: no default export`);
      continue;
    }
    process.stdout.write(`\n## ${name}\n`);
    const bench = await mod.default();
    const { rows: taskRows, errors } = rows(bench);
    results.benches[name] = taskRows;
    failures.push(...errors.map((e) => `${name}: ${e}`));
    const before = previous?.benches[name];
    const header = ['task', 'ops/s (median)', 'mean', 'p99', '±rme', 'samples'];
    if (before !== undefined) header.push('vs previous');
    const table = taskRows.map((r) => {
      const cells = [r.task, Math.round(r.opsPerSec).toLocaleString('en-US'), duration(r.meanMs), duration(r.p99Ms), `${fixed(r.rme, 1)}%`, String(r.samples)];
      if (before !== undefined) {
        const old = before.find((b) => b.task === r.task);
        cells.push(old === undefined ? 'new' : `${fixed(r.opsPerSec / old.opsPerSec, 2)}×`);
      }
      return cells;
    });
    process.stdout.write(formatTable(header, table, [false, true, true, true, true, true, true]) + '\n');
    for (const e of errors) process.stdout.write(`  FAILED ${e}\n`);
  }

  mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `micro-${timestamp()}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), file)}\n`);
  if (failures.length > 0) {
    process.stderr.write(`${failures.length} task(s) failed:\n${failures.map((f) => `  ${f}`).join('\n')}\n`);
    process.exit(1);
  }
}

await main();
