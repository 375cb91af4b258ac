// `make compare` = `node dist/bench/compare.js [--duration 10s] [--rounds 3] [--connections 64]
// [--threads 1] [--warmup 2s] [--tool wrk|ab] [--only direct,chanlb,nginx,haproxy,undici]`
// Starts three fast backends and every target in front of them, warms each up, then runs the same
// load against each target once per round, rotating the order every round. Reports medians per
// target (req/s, latency, errors, CPU µs per request of the target's processes, peak RSS) as
// markdown on stdout and in bench/results/compare-<timestamp>.md, with an SVG chart beside it, and
// copies both to compare-latest.md/.svg. Every process started is stopped on the way out.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { timestamp } from './format.js';
import { INSTALL, describe, runLoad, type LoadSettings, type Tool } from './compare/load.js';
import { CLK_TCK, cpuTicks, freePort, killAllNow, onPath, peakRssKiB, start, stopAll, waitForPort, type Proc } from './compare/procs.js';
import { markdown, summarize, summaryTable, svg, type Meta, type Run } from './compare/report.js';
import { TARGET_NAMES, startTarget, unavailable, type Setup, type Target, type TargetName } from './compare/targets.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.resolve(HERE, '..');
const RESULTS = path.resolve(HERE, '../../bench/results');
const PAUSE_MS = 500;

interface Options {
  load: LoadSettings;
  rounds: number;
  warmupSeconds: number;
  only: TargetName[];
  notes: string[];
}

function usage(message: string): never {
  process.stderr.write(
    `compare: ${message}\nusage: node dist/bench/compare.js [--duration 10s] [--rounds 3] [--connections 64] [--threads 1] ` +
      `[--warmup 2s] [--tool wrk|ab] [--only ${TARGET_NAMES.join(',')}]\n`,
  );
  process.exit(2);
}

function seconds(flag: string, text: string): number {
  const m = /^(\d+)(s|m)?$/.exec(text);
  if (m === null || Number(m[1]) < 1) usage(`${flag} needs a whole number of seconds like 10s or 1m, got '${text}'`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

function count(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) usage(`${flag} needs a positive integer, got '${text}'`);
  return Number(text);
}

function options(): Options {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        duration: { type: 'string', default: '10s' },
        rounds: { type: 'string', default: '3' },
        connections: { type: 'string', default: '64' },
        threads: { type: 'string', default: '1' },
        warmup: { type: 'string', default: '2s' },
        tool: { type: 'string' },
        only: { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    usage((err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  const notes: string[] = [];
  let tool: Tool;
  if (values.tool === undefined) {
    if (onPath('wrk')) tool = 'wrk';
    else if (onPath('ab')) {
      tool = 'ab';
      notes.push(`wrk not installed (${INSTALL.wrk}): used ab, whose percentiles are whole milliseconds`);
    } else usage(`neither wrk nor ab is installed: ${INSTALL.wrk} (or ${INSTALL.ab})`);
  } else if (values.tool === 'wrk' || values.tool === 'ab') {
    tool = values.tool;
    if (!onPath(tool)) usage(`${tool} not installed: ${INSTALL[tool]}`);
  } else usage(`--tool must be wrk or ab, got '${values.tool}'`);
  const only = (values.only ?? TARGET_NAMES.join(',')).split(',').map((n) => n.trim()).filter((n) => n !== '');
  for (const n of only) if (!(TARGET_NAMES as readonly string[]).includes(n)) usage(`--only: unknown target '${n}' (have ${TARGET_NAMES.join(', ')})`);
  return {
    load: { tool, seconds: seconds('--duration', values.duration), connections: count('--connections', values.connections), threads: count('--threads', values.threads) },
    rounds: count('--rounds', values.rounds),
    warmupSeconds: seconds('--warmup', values.warmup),
    only: TARGET_NAMES.filter((n) => only.includes(n)),
    notes,
  };
}

/** One GET through the target: it must answer 200 `Hello from ...` before it is measured. */
function check(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 && body.startsWith('Hello from') ? resolve() : reject(new Error(`answered ${res.statusCode}: ${body.slice(0, 80)}`))));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(target: Target, backends: readonly Proc[], load: LoadSettings, round: number): Promise<Run> {
  const backendPids = backends.map((b) => b.pid);
  const cpu0 = cpuTicks(target.pids);
  const backend0 = cpuTicks(backendPids);
  const result = await runLoad(load, `http://127.0.0.1:${target.port}/`);
  const perRequest = (ticks: number): number => (result.requests > 0 ? (ticks / CLK_TCK / result.requests) * 1e6 : NaN);
  return {
    ...result,
    target: target.name,
    round,
    cpuUsPerReq: perRequest(cpuTicks(target.pids) - cpu0),
    backendsUsPerReq: perRequest(cpuTicks(backendPids) - backend0),
    peakRssMiB: peakRssKiB(target.pids) / 1024,
  };
}

function progress(r: Run, rounds: number): void {
  process.stdout.write(
    `round ${r.round + 1}/${rounds}  ${r.target.padEnd(8)} ${Math.round(r.rps).toLocaleString('en-US').padStart(8)} req/s  ` +
      `p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  errors ${r.errors}  CPU ${r.cpuUsPerReq.toFixed(1)} µs/req\n`,
  );
}

async function run(opts: Options, tmp: string): Promise<void> {
  for (const file of ['src/main.js', 'backends/fast.js', 'bench/peers/undici-proxy.js']) {
    if (!existsSync(path.join(DIST, file))) throw new Error(`dist/${file} missing: build first (make build)`);
  }
  const { load, rounds, notes } = opts;
  const wanted = opts.only.filter((name) => {
    const reason = unavailable(name);
    if (reason !== null) {
      process.stdout.write(`skipping ${reason}\n`);
      notes.push(`skipped ${reason}`);
    }
    return reason === null;
  });
  const perTarget = opts.warmupSeconds + rounds * (load.seconds + PAUSE_MS / 1000);
  process.stdout.write(
    `load: ${describe(load)} · ${rounds} round(s) · targets: ${wanted.join(', ')} · about ${Math.ceil((wanted.length * perTarget) / 60)} min\n`,
  );

  const backendPorts = await Promise.all([1, 2, 3].map(() => freePort()));
  const backends = backendPorts.map((port, i) =>
    start(`backend ${i + 1}`, process.execPath, [path.join(DIST, 'backends/fast.js'), '--port', String(port), '--name', String(i + 1)]),
  );
  await Promise.all(backends.map((b, i) => waitForPort(b, backendPorts[i] as number)));
  const setup: Setup = { dist: DIST, tmp, backendPorts, backends };

  const targets: Target[] = [];
  for (const name of wanted) {
    try {
      const target = await startTarget(name, setup);
      await check(target.port);
      process.stdout.write(`${name}: listening on ${target.port} (pids ${target.pids.join(' ')}), warming up ${opts.warmupSeconds} s\n`);
      await runLoad({ ...load, seconds: opts.warmupSeconds }, `http://127.0.0.1:${target.port}/`);
      targets.push(target);
    } catch (err) {
      const message = `${name} left out: ${(err as Error).message.split('\n')[0] ?? ''}`;
      process.stdout.write(`${message}\n${(err as Error).message.split('\n').slice(1).join('\n')}\n`);
      notes.push(message);
    }
  }
  if (targets.length === 0) throw new Error('no target could be started');

  const runs: Run[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(i + round) % targets.length] as Target;
      await sleep(PAUSE_MS);
      try {
        const r = await measure(target, backends, load, round);
        runs.push(r);
        progress(r, rounds);
      } catch (err) {
        const message = `round ${round + 1} ${target.name} failed: ${(err as Error).message.split('\n')[0] ?? ''}`;
        process.stdout.write(`${message}\n`);
        notes.push(message);
      }
    }
  }
  await stopAll();

  const summaries = summarize(runs, targets.map((t) => t.name));
  const stamp = timestamp();
  const meta: Meta = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    command: describe(load),
    rounds,
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(2) ?? '?'} at the end`,
    notes,
  };
  mkdirSync(RESULTS, { recursive: true });
  const chart = svg(summaries, meta);
  for (const name of [`compare-${stamp}`, 'compare-latest']) {
    writeFileSync(path.join(RESULTS, `${name}.md`), markdown(summaries, runs, meta, `${name}.svg`));
    writeFileSync(path.join(RESULTS, `${name}.svg`), chart);
  }
  process.stdout.write(`\n${summaryTable(summaries)}\n\n`);
  for (const note of notes) process.stdout.write(`- ${note}\n`);
  process.stdout.write(`wrote bench/results/compare-${stamp}.md and .svg (copied to compare-latest.md and .svg)\n`);
}

const opts = options();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'chanlb-compare-'));
let interrupted = false;
const interrupt = (signal: NodeJS.Signals): void => {
  if (interrupted) return;
  interrupted = true;
  process.stderr.write(`\ncompare: ${signal}, stopping everything it started\n`);
  void stopAll().finally(() => {
    rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  });
};
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);
process.on('exit', killAllNow);
try {
  await run(opts, tmp);
} catch (err) {
  process.stderr.write(`compare: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}
