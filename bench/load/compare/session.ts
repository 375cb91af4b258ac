// The measuring loop compare.ts and scale.ts share: fast backends, every arm (a target with
// a number of worker processes) started in front of them, checked and warmed up, then each loaded
// once per round in rotating order, its CPU read from /proc over all of its processes.
import { describe, runLoad, type LoadSettings } from './load.js';
import { cpuTicks, peakRssKiB, stopAll, usPerRequest, type Proc } from './procs.js';
import type { Run } from './report.js';
import { startTarget, unavailable, type Target, type TargetName } from './targets.js';
import { DIST, PAUSE_MS, checkHello, inRounds, startBackends, type Arm } from './driver.js';
import type { Pinning } from './pinning.js';

export interface SessionOptions {
  load: LoadSettings;
  rounds: number;
  warmupSeconds: number;
  pinning: Pinning;
  /** How many backends/fast.ts processes the load is spread over. */
  backends: number;
  notes: string[];
}

interface Started {
  arm: Arm<TargetName>;
  target: Target;
}

async function measure({ arm, target }: Started, backends: readonly Proc[], load: LoadSettings, round: number): Promise<Run> {
  const backendPids = backends.map((b) => b.pid);
  const pids = target.pids();
  const cpu0 = cpuTicks(pids);
  const backend0 = cpuTicks(backendPids);
  const result = await runLoad(load, `http://127.0.0.1:${target.port}/`);
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

/** Measures the arms that can run here (the others skipped and noted); resolves with every run and the labels measured, in arm order. */
export async function measureArms(arms: readonly Arm<TargetName>[], opts: SessionOptions, tmp: string): Promise<{ runs: Run[]; labels: string[] }> {
  const { load, rounds, notes } = opts;
  const wanted = arms.filter((arm) => {
    const reason = unavailable(arm.name);
    if (reason !== null && arm === arms.find((a) => a.name === arm.name)) {
      process.stdout.write(`skipping ${reason}\n`);
      notes.push(`skipped ${reason}`);
    }
    return reason === null;
  });
  const perArm = opts.warmupSeconds + rounds * (load.seconds + PAUSE_MS / 1000);
  process.stdout.write(
    `load: ${describe(load)} · ${rounds} round(s) · targets: ${wanted.map((a) => a.label).join(', ')} · about ${Math.ceil((wanted.length * perArm) / 60)} min\n`,
  );

  const { ports: backendPorts, procs: backends } = await startBackends('backends/fast.js', opts.backends, undefined, opts.pinning.load);
  const setup = { dist: DIST, tmp, backendPorts, backends, ...(opts.pinning.proxy === undefined ? {} : { cpus: opts.pinning.proxy }) };

  const started: Started[] = [];
  for (const arm of wanted) {
    try {
      const target = await startTarget(arm.name, setup, arm.workers);
      await checkHello(target.port);
      process.stdout.write(`${arm.label}: listening on ${target.port} (pids ${target.pids().join(' ')}), warming up ${opts.warmupSeconds} s\n`);
      await runLoad({ ...load, seconds: opts.warmupSeconds }, `http://127.0.0.1:${target.port}/`);
      started.push({ arm, target });
    } catch (err) {
      const message = `${arm.label} left out: ${(err as Error).message.split('\n')[0] ?? ''}`;
      process.stdout.write(`${message}\n${(err as Error).message.split('\n').slice(1).join('\n')}\n`);
      notes.push(message);
    }
  }
  if (started.length === 0) throw new Error('no target could be started');

  const runs = await inRounds(started, rounds, (s) => s.arm.label, notes, async (s, round) => {
    const r = await measure(s, backends, load, round);
    progress(r, rounds);
    return r;
  });
  await stopAll();
  return { runs, labels: started.map((s) => s.arm.label) };
}
