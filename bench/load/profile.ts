// `make profile` = `node dist/bench/load/profile.js [--duration 5s] [--rounds 2] [--connections 64]
// [--threads 1] [--warmup 2s] [--only chanlb,pipe,nginx] [--control NAME] [--baseline DIST] [--top 20] [--frequency 2000]`
// Where a request's CPU goes in the real process: three fast backends, chanlb (and the Node byte pipe,
// bench/load/peers/pipe.ts, and nginx beside it) started in front of them, the Node ones with
// --perf-basic-prof; each arm loaded with wrk once per round, order rotated, while `perf record -g`
// samples its processes. The samples are split into categories (profile/perf.ts says how) and
// reported in µs per request, with the top self-time symbols, on stdout and in
// bench/results/profile-<timestamp>.md, copied to profile-latest.md. Every process started is stopped
// on the way out, and the perf maps (/tmp/perf-PID.map) of the Node processes it started removed.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runLoad } from './compare/load.js';
import { cpuTicks, stopAll, usPerRequest } from './compare/procs.js';
import { startTarget, unavailable, type Target, type TargetName } from './compare/targets.js';
import {
  DIST, checkHello, inRounds, list, parseCommon, requireBuilt, runMeta, runToEnd, startBackends, withBaseline, withControl, writeResults, type Arm,
} from './compare/driver.js';
import { checkPerf, finishRecord, readProfile, startRecord } from './profile/perf.js';
import { categoryTable, controlNote, markdown, type ProfileRun } from './profile/report.js';

const ARMS = ['chanlb', 'pipe', 'nginx'] as const satisfies readonly TargetName[];
/** Names for JIT and WASM code in /tmp/perf-PID.map; the V8 log that flag also opens goes to the run's temp dir, not the working directory. */
const V8_FLAGS = (tmp: string): string[] => ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${tmp}/v8-%p.log`];

function options() {
  const { extra, usage, ...common } = parseCommon({
    name: 'profile', connections: '64', warmup: '2s', duration: '5s', rounds: '2',
    extra: { only: ARMS.join(','), control: 'NAME', baseline: 'DIST', top: '20', frequency: '2000' },
  });
  if (common.load.tool !== 'wrk') usage('profile needs wrk (apt-get install -y wrk)');
  const only = list(extra.only ?? ARMS.join(','));
  for (const n of only) if (!(ARMS as readonly string[]).includes(n)) usage(`--only: unknown arm '${n}' (have ${ARMS.join(', ')})`);
  const whole = (flag: 'top' | 'frequency', fallback: string): number => {
    const text = extra[flag] ?? fallback;
    if (!/^[1-9]\d*$/.test(text)) usage(`--${flag} needs a positive whole number, got '${text}'`);
    return Number(text);
  };
  const arms: Arm<TargetName>[] = ARMS.filter((n) => only.includes(n)).map((name) => ({ name, workers: 1, label: name }));
  const baseline = extra.baseline === undefined ? undefined : path.resolve(extra.baseline);
  return {
    ...common, ...(baseline === undefined ? {} : { baseline }), arms: withControl(withBaseline(arms, baseline, usage), extra.control, usage),
    top: whole('top', '20'), frequency: whole('frequency', '2000'),
  };
}

type Options = ReturnType<typeof options>;

async function run(opts: Options, tmp: string, started: number[]): Promise<void> {
  requireBuilt(['src/main.js', 'backends/fast.js', 'bench/load/peers/pipe.js']);
  const perfNote = checkPerf(tmp);
  if (perfNote !== null) opts.notes.push(perfNote);
  const arms = opts.arms.filter((arm) => {
    const reason = unavailable(arm.name);
    if (reason !== null) opts.notes.push(`skipped ${reason}`);
    return reason === null;
  });
  const perfCommand = `perf record -g -F ${opts.frequency} -p PIDS`;
  process.stdout.write(`load: wrk -t${opts.load.threads} -c${opts.load.connections} -d${opts.load.seconds}s under ${perfCommand} · ${opts.rounds} round(s) · arms: ${arms.map((a) => a.label).join(', ')}\n`);
  const { ports, procs: backends } = await startBackends('backends/fast.js', 3);
  const setup = { dist: DIST, tmp, backendPorts: ports, backends, nodeFlags: V8_FLAGS(tmp), ...(opts.baseline === undefined ? {} : { baseline: opts.baseline }) };
  const live: { arm: Arm<TargetName>; target: Target }[] = [];
  for (const arm of arms) {
    const target = await startTarget(arm.name, setup);
    started.push(...target.pids());
    await checkHello(target.port);
    process.stdout.write(`${arm.label}: listening on ${target.port} (pids ${target.pids().join(' ')}), warming up ${opts.warmupSeconds} s\n`);
    await runLoad({ ...opts.load, seconds: opts.warmupSeconds }, `http://127.0.0.1:${target.port}/`);
    live.push({ arm, target });
  }
  const runs = await inRounds(live, opts.rounds, (l) => l.arm.label, opts.notes, async ({ arm, target }, round): Promise<ProfileRun> => {
    const pids = target.pids();
    const file = path.join(tmp, `perf-${target.port}-${round}.data`);
    const recording = await startRecord(pids, file, opts.frequency);
    const cpu0 = cpuTicks(pids);
    const result = await runLoad(opts.load, `http://127.0.0.1:${target.port}/`);
    const procUsPerReq = usPerRequest(cpuTicks(pids) - cpu0, result.requests);
    await finishRecord(recording);
    const profile = await readProfile(file, arm.name === 'nginx' ? 'nginx' : 'node');
    rmSync(file, { force: true });
    const sampled = profile.totalNs / result.requests / 1000;
    process.stdout.write(
      `round ${round + 1}/${opts.rounds}  ${arm.label.padEnd(10)} ${Math.round(result.rps).toLocaleString('en-US').padStart(7)} req/s  ` +
        `CPU ${procUsPerReq.toFixed(1)} µs/req (/proc), ${sampled.toFixed(1)} sampled, ${profile.samples} samples\n`,
    );
    return { label: arm.label, round, rps: result.rps, requests: result.requests, procUsPerReq, profile };
  });
  await stopAll();
  const labels = live.map((l) => l.arm.label);
  const control = controlNote(runs, labels);
  if (control !== null) opts.notes.unshift(control);
  const meta = runMeta(opts.load, opts.rounds, opts.notes);
  writeResults('profile', () => markdown(runs, labels, meta, opts.top, perfCommand), null, categoryTable(runs, labels), opts.notes);
}

const opts = options();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'chanlb-profile-'));
const started: number[] = []; // the pids whose perf maps are removed at the end
await runToEnd('profile', () => run(opts, tmp, started), () => {
  rmSync(tmp, { recursive: true, force: true });
  for (const pid of started) rmSync(`/tmp/perf-${pid}.map`, { force: true });
});
