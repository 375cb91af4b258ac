// `make policies` = `node dist/bench/policies.js [--duration 10s] [--rounds 3] [--connections 32]
// [--threads 1] [--warmup 1s] [--tool wrk|ab] [--policies least-pending,round-robin,p2c]
// [--backends 1,2,5,flip:1:50:1000]`
// The balancer's reason to exist: backends with different and changing latencies
// (backends/variable.ts, one schedule per --backends entry), and chanlb in front of them with each
// policy in turn. Every run starts a fresh proxy with --policy, warms it up, restarts the backends'
// schedules and counters, loads it with a fixed number of connections (so throughput is decided by
// where requests wait) and reads back how many requests each backend answered. The policy order is
// rotated every round. Medians per policy go to stdout and bench/results/policies-<timestamp>.md
// with an SVG chart, copied to policies-latest.md/.svg. Every process started is stopped on the way out.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { timestamp } from './format.js';
import { INSTALL, describe, runLoad, type LoadSettings, type Tool } from './compare/load.js';
import { CLK_TCK, cpuTicks, freePort, killAllNow, onPath, start, stop, stopAll, waitForPort, type Proc } from './compare/procs.js';
import type { Meta } from './compare/report.js';
import { runLoadP90 } from './policies/load.js';
import { busyShare, machineCpu } from './policies/machine.js';
import { markdown, summarize, summaryTable, svg, type BackendInfo, type PolicyRun } from './policies/report.js';
import { describeSchedule, parseSchedule, type VariableStats } from '../backends/variable.js';
import { POLICIES, type PolicyName } from '../src/balancer/policy.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.resolve(HERE, '..');
const RESULTS = path.resolve(HERE, '../../bench/results');
const PAUSE_MS = 500;
const DEFAULT_BACKENDS = '1,2,5,flip:1:50:1000';

interface Options {
  load: LoadSettings;
  rounds: number;
  warmupSeconds: number;
  policies: PolicyName[];
  /** One schedule per backend, as --pattern takes it. */
  schedules: string[];
  notes: string[];
}

function usage(message: string): never {
  process.stderr.write(
    `policies: ${message}\nusage: node dist/bench/policies.js [--duration 10s] [--rounds 3] [--connections 32] [--threads 1] ` +
      `[--warmup 1s] [--tool wrk|ab] [--policies ${POLICIES.join(',')}] [--backends ${DEFAULT_BACKENDS}]\n` +
      `  a backend is MS, flip:FAST:SLOW:EVERY or spells:FAST:SLOW:EVERY:CHANCE[:SEED] (all in ms; see backends/variable.ts)\n`,
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
        connections: { type: 'string', default: '32' },
        threads: { type: 'string', default: '1' },
        warmup: { type: 'string', default: '1s' },
        tool: { type: 'string' },
        policies: { type: 'string', default: POLICIES.join(',') },
        backends: { type: 'string', default: DEFAULT_BACKENDS },
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
  const policies = values.policies.split(',').map((p) => p.trim()).filter((p) => p !== '');
  for (const p of policies) if (!(POLICIES as readonly string[]).includes(p)) usage(`--policies: unknown policy '${p}' (have ${POLICIES.join(', ')})`);
  if (policies.length === 0) usage('--policies is empty');
  const schedules = values.backends.split(',').map((b) => b.trim()).filter((b) => b !== '');
  if (schedules.length < 2) usage('--backends needs at least two backends to balance over');
  for (const s of schedules) {
    try {
      parseSchedule(s);
    } catch (err) {
      usage(`--backends: ${(err as Error).message}`);
    }
  }
  return {
    load: { tool, seconds: seconds('--duration', values.duration), connections: count('--connections', values.connections), threads: count('--threads', values.threads) },
    rounds: count('--rounds', values.rounds),
    warmupSeconds: seconds('--warmup', values.warmup),
    policies: POLICIES.filter((p) => policies.includes(p)),
    schedules,
    notes,
  };
}

/** One GET with a fresh connection: status and body. */
function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${port}${urlPath} within 5 s`)));
    req.on('error', reject);
  });
}

async function control(port: number, what: 'stats' | 'reset'): Promise<VariableStats> {
  const { status, body } = await get(port, `/__variable/${what}`);
  if (status !== 200) throw new Error(`backend on ${port} answered ${status} to /__variable/${what}`);
  return JSON.parse(body) as VariableStats;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Setup {
  opts: Options;
  backendPorts: readonly number[];
}

async function measure(policy: PolicyName, round: number, { opts, backendPorts }: Setup): Promise<PolicyRun> {
  const port = await freePort();
  const proxy: Proc = start(`chanlb --policy ${policy}`, process.execPath, [
    path.join(DIST, 'src/main.js'), '--listen', `127.0.0.1:${port}`,
    '--backend', backendPorts.map((p) => `127.0.0.1:${p}`).join(','), '--policy', policy,
  ]);
  try {
    await waitForPort(proxy, port);
    const hello = await get(port, '/');
    if (hello.status !== 200 || !hello.body.startsWith('Hello from')) throw new Error(`answered ${hello.status}: ${hello.body.slice(0, 80)}`);
    const url = `http://127.0.0.1:${port}/`;
    await runLoad({ ...opts.load, seconds: opts.warmupSeconds }, url);
    await sleep(PAUSE_MS); // let the warm-up's slow requests finish before the counters restart
    await Promise.all(backendPorts.map((p) => control(p, 'reset')));
    const cpu0 = cpuTicks([proxy.pid]);
    const machine0 = machineCpu();
    const result = await runLoadP90(opts.load, url);
    const ticks = cpuTicks([proxy.pid]) - cpu0;
    const machineBusy = busyShare(machine0, machineCpu());
    const stats = await Promise.all(backendPorts.map((p) => control(p, 'stats')));
    return {
      ...result,
      policy,
      round,
      served: stats.map((s) => s.requests),
      slow: stats.map((s) => s.slow),
      proxyUsPerReq: result.requests > 0 ? (ticks / CLK_TCK / result.requests) * 1e6 : NaN,
      machineBusy,
    };
  } finally {
    await stop(proxy);
  }
}

function progress(r: PolicyRun, rounds: number): void {
  const total = r.served.reduce((a, b) => a + b, 0);
  const spread = r.served.map((n) => (total > 0 ? `${Math.round((n / total) * 100)}%` : '-')).join('/');
  process.stdout.write(
    `round ${r.round + 1}/${rounds}  ${r.policy.padEnd(13)} ${Math.round(r.rps).toLocaleString('en-US').padStart(7)} req/s  ` +
      `p50 ${r.p50Ms.toFixed(2)}  p90 ${r.p90Ms.toFixed(2)}  p99 ${r.p99Ms.toFixed(2)} ms  errors ${r.errors}  spread ${spread}  CPU busy ${Math.round(r.machineBusy * 100)}%\n`,
  );
}

async function run(opts: Options): Promise<void> {
  for (const file of ['src/main.js', 'backends/variable.js']) {
    if (!existsSync(path.join(DIST, file))) throw new Error(`dist/${file} missing: build first (make build)`);
  }
  const { load, rounds, policies, notes } = opts;
  const backends: BackendInfo[] = opts.schedules.map((s, i) => ({ name: String(i + 1), label: describeSchedule(parseSchedule(s)) }));
  const perRun = opts.warmupSeconds + load.seconds + 2 * PAUSE_MS / 1000 + 1;
  process.stdout.write(
    `load: ${describe(load)} · ${rounds} round(s) · policies: ${policies.join(', ')} · about ${Math.ceil((rounds * policies.length * perRun) / 60)} min\n` +
      `backends: ${backends.map((b) => `${b.name}: ${b.label}`).join(' · ')}\n`,
  );

  const backendPorts = await Promise.all(opts.schedules.map(() => freePort()));
  const procs = opts.schedules.map((schedule, i) =>
    start(`backend ${i + 1}`, process.execPath, [path.join(DIST, 'backends/variable.js'), '--port', String(backendPorts[i]), '--name', String(i + 1), '--pattern', schedule]),
  );
  await Promise.all(procs.map((b, i) => waitForPort(b, backendPorts[i] as number)));
  const setup: Setup = { opts, backendPorts };

  const runs: PolicyRun[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < policies.length; i++) {
      const policy = policies[(i + round) % policies.length] as PolicyName;
      await sleep(PAUSE_MS);
      try {
        const r = await measure(policy, round, setup);
        runs.push(r);
        progress(r, rounds);
        const counted = r.served.reduce((a, b) => a + b, 0);
        // Backends count arrivals, wrk completions: they differ by what was in flight at the end.
        if (Math.abs(counted - r.requests) > 2 * load.connections) {
          notes.push(`round ${round + 1} ${policy}: backends counted ${counted} requests, ${load.tool} ${r.requests}`);
        }
      } catch (err) {
        const message = `round ${round + 1} ${policy} failed: ${(err as Error).message.split('\n')[0] ?? ''}`;
        process.stdout.write(`${message}\n`);
        notes.push(message);
      }
    }
  }
  await stopAll();
  if (runs.length === 0) throw new Error('no run succeeded');

  const summaries = summarize(runs, policies, backends.length);
  const stamp = timestamp();
  const meta: Meta = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    command: describe(load),
    rounds,
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(2) ?? '?'} at the end`,
    notes,
  };
  mkdirSync(RESULTS, { recursive: true });
  const chart = svg(summaries, backends, meta);
  for (const name of [`policies-${stamp}`, 'policies-latest']) {
    writeFileSync(path.join(RESULTS, `${name}.md`), markdown(summaries, runs, backends, meta, `${name}.svg`));
    writeFileSync(path.join(RESULTS, `${name}.svg`), chart);
  }
  process.stdout.write(`\n${summaryTable(summaries, backends)}\n\n`);
  for (const note of notes) process.stdout.write(`- ${note}\n`);
  process.stdout.write(`wrote bench/results/policies-${stamp}.md and .svg (copied to policies-latest.md and .svg)\n`);
}

const opts = options();
let interrupted = false;
const interrupt = (signal: NodeJS.Signals): void => {
  if (interrupted) return;
  interrupted = true;
  process.stderr.write(`\npolicies: ${signal}, stopping everything it started\n`);
  void stopAll().finally(() => process.exit(130));
};
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);
process.on('exit', killAllNow);
try {
  await run(opts);
} catch (err) {
  process.stderr.write(`policies: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
