// The measuring loop compare.ts, scale.ts and edge.ts share: backends (fast HTTP ones unless the
// workload says otherwise), every arm (a target with a number of worker processes) started in front
// of them, checked and warmed up, then each loaded once per round in rotating order, its CPU read
// from /proc over all of its processes.
import { describe, runLoad, type LoadResult, type LoadSettings } from './load.js';
import { cpuTicks, peakRssKiB, stopAll, usPerRequest, type Proc } from './procs.js';
import type { Run } from './report.js';
import { startTarget, unavailable, type Front, type Target, type TargetName } from './targets.js';
import { DIST, PAUSE_MS, checkHello, inRounds, startBackends, type Arm } from './driver.js';
import type { Pinning } from './pinning.js';

/** What the arms are put in front of, and how they are loaded. A "request" may be another unit (a handshake, a MiB). */
export interface Workload {
  /** For the progress line, e.g. `wrk -t1 -c64 -d5s --latency`. */
  describe: string;
  /** How the proxies listen (plain HTTP unless given). */
  front?: Front;
  /** Starts `n` backends, pinned to `cpus` if given. */
  backends(n: number, cpus: string | undefined): Promise<{ ports: number[]; procs: Proc[] }>;
  /** Throws unless the target on `port` answers as it should (before anything is measured). */
  check(port: number): Promise<void>;
  /** One run of about `seconds` against `port` (`warmup`: the one before the measured runs). */
  load(port: number, seconds: number, warmup: boolean): Promise<LoadResult>;
}

/** make compare's: wrk or ab for plain HTTP against backends/fast.ts processes. */
export function httpWorkload(load: LoadSettings): Workload {
  return {
    describe: describe(load),
    backends: (n, cpus) => startBackends('backends/fast.js', n, undefined, cpus),
    check: (port) => checkHello(port),
    load: (port, seconds) => runLoad({ ...load, seconds }, `http://127.0.0.1:${port}/`),
  };
}

export interface SessionOptions {
  load: LoadSettings;
  rounds: number;
  warmupSeconds: number;
  pinning: Pinning;
  /** How many backends/fast.ts processes the load is spread over. */
  backends: number;
  notes: string[];
  /** Another build's dist/, for the chanlb-baseline arm. */
  baseline?: string;
}

interface Started {
  arm: Arm<TargetName>;
  target: Target;
}

async function measure({ arm, target }: Started, backends: readonly Proc[], workload: Workload, seconds: number, round: number): Promise<Run> {
  const backendPids = backends.map((b) => b.pid);
  const pids = target.pids();
  const cpu0 = cpuTicks(pids);
  const backend0 = cpuTicks(backendPids);
  const result = await workload.load(target.port, seconds, false);
  return {
    ...result,
    target: arm.label,
    proxy: arm.name,
    workers: arm.workers,
    round,
    cpuUsPerReq: usPerRequest(cpuTicks(pids) - cpu0, result.requests),
    backendsUsPerReq: usPerRequest(cpuTicks(backendPids) - backend0, result.requests),
    peakRssMiB: peakRssKiB(pids) / 1024,
  };
}

function progress(r: Run, rounds: number): void {
  process.stdout.write(
    `round ${r.round + 1}/${rounds}  ${r.target.padEnd(8)} ${Math.round(r.rps).toLocaleString('en-US').padStart(8)} req/s  ` +
      `p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  errors ${r.errors}  CPU ${r.cpuUsPerReq.toFixed(1)} µs/req\n`,
  );
}

/**
 * Measures the arms that can run here (the others skipped and noted) under `workload` (make
 * compare's unless given); resolves with every run and the labels measured, in arm order.
 */
export async function measureArms(
  arms: readonly Arm<TargetName>[], opts: SessionOptions, tmp: string, workload: Workload = httpWorkload(opts.load),
): Promise<{ runs: Run[]; labels: string[] }> {
  const { load, rounds, notes } = opts;
  const wanted = arms.filter((arm) => {
    const reason = unavailable(arm.name, workload.front?.kind);
    if (reason !== null && arm === arms.find((a) => a.name === arm.name)) {
      process.stdout.write(`skipping ${reason}\n`);
      notes.push(`skipped ${reason}`);
    }
    return reason === null;
  });
  const perArm = opts.warmupSeconds + rounds * (load.seconds + PAUSE_MS / 1000);
  process.stdout.write(
    `load: ${workload.describe} · ${rounds} round(s) · targets: ${wanted.map((a) => a.label).join(', ')} · about ${Math.ceil((wanted.length * perArm) / 60)} min\n`,
  );

  const { ports: backendPorts, procs: backends } = await workload.backends(opts.backends, opts.pinning.load);
  const setup = {
    dist: DIST, tmp, backendPorts, backends, ...(opts.pinning.proxy === undefined ? {} : { cpus: opts.pinning.proxy }), ...(workload.front === undefined ? {} : { front: workload.front }),
    ...(opts.baseline === undefined ? {} : { baseline: opts.baseline }),
  };

  const started: Started[] = [];
  for (const arm of wanted) {
    try {
      const target = await startTarget(arm.name, setup, arm.workers);
      await workload.check(target.port);
      process.stdout.write(`${arm.label}: listening on ${target.port} (pids ${target.pids().join(' ')}), warming up ${opts.warmupSeconds} s\n`);
      await workload.load(target.port, opts.warmupSeconds, true);
      started.push({ arm, target });
    } catch (err) {
      const message = `${arm.label} left out: ${(err as Error).message.split('\n')[0] ?? ''}`;
      process.stdout.write(`${message}\n${(err as Error).message.split('\n').slice(1).join('\n')}\n`);
      notes.push(message);
    }
  }
  if (started.length === 0) throw new Error('no target could be started');

  const runs = await inRounds(started, rounds, (s) => s.arm.label, notes, async (s, round) => {
    const r = await measure(s, backends, workload, load.seconds, round);
    progress(r, rounds);
    return r;
  });
  await stopAll();
  return { runs, labels: started.map((s) => s.arm.label) };
}
