// `make policies` = `node dist/bench/load/policies.js [--duration 10s] [--rounds 3] [--connections 32]
// [--threads 1] [--warmup 1s] [--tool wrk|ab] [--policies least-pending,round-robin,p2c]
// [--backends 1,2,5,flip:1:50:1000] [--workers 1,2] [--control POLICY[:N]]`
// The balancer's reason to exist: backends with different and changing latencies
// (backends/variable.ts, one schedule per --backends entry), and chanlb in front of them with each
// policy in turn, with one process and with two (--workers 2: each worker balances alone, seeing only
// its own requests in flight). Every run starts a fresh proxy with --policy, warms it up, restarts the backends'
// schedules and counters, loads it with a fixed number of connections (so throughput is decided by
// where requests wait) and reads back how many requests each backend answered. The policy order is
// rotated every round. Medians per policy go to stdout and bench/results/policies-<timestamp>.md
// with an SVG chart, copied to policies-latest.md/.svg. Every process started is stopped on the way out.
import path from 'node:path';
import { describe, runLoad, type LoadSettings } from './compare/load.js';
import { cpuTicks, freePort, processTree, start, stop, stopAll, usPerRequest, waitForOutput, waitForPort, type Proc } from './compare/procs.js';
import {
  DIST, PAUSE_MS, armLabel, checkHello, get, inRounds, list, parseCommon, requireBuilt, runMeta, runToEnd, sleep, startBackends, withControl, workerCounts, writeResults,
  type Arm,
} from './compare/driver.js';
import { busyShare, machineCpu } from './policies/machine.js';
import { markdown, summarize, summaryTable, svg, type BackendInfo, type PolicyRun } from './policies/report.js';
import { describeSchedule, parseSchedule, type VariableStats } from '../../backends/variable.js';
import { POLICIES, type PolicyName } from '../../src/options/vocabulary.js';

const DEFAULT_BACKENDS = '1,2,5,flip:1:50:1000';
const DEFAULT_WORKERS = '1,2';

interface Options {
  load: LoadSettings;
  rounds: number;
  warmupSeconds: number;
  /** Each policy with each count of worker processes (and the A/A control, if asked for). */
  arms: Arm<PolicyName>[];
  /** One schedule per backend, as --pattern takes it. */
  schedules: string[];
  notes: string[];
}

function options(): Options {
  const { extra, usage, ...common } = parseCommon({
    name: 'policies',
    connections: '32',
    warmup: '1s',
    extra: { policies: POLICIES.join(','), backends: DEFAULT_BACKENDS, workers: DEFAULT_WORKERS, control: 'POLICY[:N]' },
    more: '  a backend is MS, flip:FAST:SLOW:EVERY or spells:FAST:SLOW:EVERY:CHANCE[:SEED] (all in ms; see backends/variable.ts)\n',
  });
  const policies = list(extra.policies ?? POLICIES.join(','));
  for (const p of policies) if (!(POLICIES as readonly string[]).includes(p)) usage(`--policies: unknown policy '${p}' (have ${POLICIES.join(', ')})`);
  if (policies.length === 0) usage('--policies is empty');
  const schedules = list(extra.backends ?? DEFAULT_BACKENDS);
  if (schedules.length < 2) usage('--backends needs at least two backends to balance over');
  for (const s of schedules) {
    try {
      parseSchedule(s);
    } catch (err) {
      usage(`--backends: ${(err as Error).message}`);
    }
  }
  const counts = workerCounts(extra.workers ?? DEFAULT_WORKERS, usage);
  const arms = counts.flatMap((workers) => POLICIES.filter((p) => policies.includes(p)).map((name) => ({ name, workers, label: armLabel(name, workers, counts) })));
  return { ...common, arms: withControl(arms, extra.control, usage), schedules };
}

async function control(port: number, what: 'stats' | 'reset'): Promise<VariableStats> {
  const { status, body } = await get(port, `/__variable/${what}`);
  if (status !== 200) throw new Error(`backend on ${port} answered ${status} to /__variable/${what}`);
  return JSON.parse(body) as VariableStats;
}

interface Setup {
  opts: Options;
  backendPorts: readonly number[];
}

async function measure({ name: policy, workers, label }: Arm<PolicyName>, round: number, { opts, backendPorts }: Setup): Promise<PolicyRun> {
  const port = await freePort();
  const proxy: Proc = start(`chanlb --policy ${policy} --workers ${workers}`, process.execPath, [
    path.join(DIST, 'src/main.js'), '--listen', `127.0.0.1:${port}`,
    '--backend', backendPorts.map((p) => `127.0.0.1:${p}`).join(','), '--policy', policy, '--workers', String(workers),
  ]);
  try {
    await waitForPort(proxy, port);
    await waitForOutput(proxy, /chanlb listening on/); // with --workers, after every worker is ready
    await checkHello(port);
    const url = `http://127.0.0.1:${port}/`;
    await runLoad({ ...opts.load, seconds: opts.warmupSeconds }, url);
    await sleep(PAUSE_MS); // let the warm-up's slow requests finish before the counters restart
    await Promise.all(backendPorts.map((p) => control(p, 'reset')));
    const pids = processTree(proxy.pid); // the primary and its workers
    const cpu0 = cpuTicks(pids);
    const machine0 = machineCpu();
    const result = await runLoad(opts.load, url);
    const ticks = cpuTicks(pids) - cpu0;
    const machineBusy = busyShare(machine0, machineCpu());
    const stats = await Promise.all(backendPorts.map((p) => control(p, 'stats')));
    return {
      ...result,
      policy: label,
      workers,
      round,
      served: stats.map((s) => s.requests),
      slow: stats.map((s) => s.slow),
      proxyUsPerReq: usPerRequest(ticks, result.requests),
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
  requireBuilt(['src/main.js', 'backends/variable.js']);
  const { load, rounds, arms, notes } = opts;
  const backends: BackendInfo[] = opts.schedules.map((s, i) => ({ name: String(i + 1), label: describeSchedule(parseSchedule(s)) }));
  const perRun = opts.warmupSeconds + load.seconds + 2 * PAUSE_MS / 1000 + 1;
  process.stdout.write(
    `load: ${describe(load)} · ${rounds} round(s) · arms: ${arms.map((a) => a.label).join(', ')} · about ${Math.ceil((rounds * arms.length * perRun) / 60)} min\n` +
      `backends: ${backends.map((b) => `${b.name}: ${b.label}`).join(' · ')}\n`,
  );

  const { ports: backendPorts } = await startBackends('backends/variable.js', opts.schedules.length, (i) => ['--pattern', opts.schedules[i] ?? '']);
  const setup: Setup = { opts, backendPorts };

  const runs = await inRounds(arms, rounds, (a) => a.label, notes, async (arm, round) => {
    const r = await measure(arm, round, setup);
    progress(r, rounds);
    const counted = r.served.reduce((a, b) => a + b, 0);
    // Backends count arrivals, wrk completions: they differ by what was in flight at the end.
    if (Math.abs(counted - r.requests) > 2 * load.connections) {
      notes.push(`round ${round + 1} ${arm.label}: backends counted ${counted} requests, ${load.tool} ${r.requests}`);
    }
    return r;
  });
  await stopAll();
  if (runs.length === 0) throw new Error('no run succeeded');

  const summaries = summarize(runs, arms.map((a) => a.label), backends.length);
  const meta = runMeta(load, rounds, notes);
  writeResults(
    'policies', (svgName) => markdown(summaries, runs, backends, meta, svgName), svg(summaries, backends, meta), summaryTable(summaries, backends), notes,
  );
}

const opts = options();
await runToEnd('policies', () => run(opts));
