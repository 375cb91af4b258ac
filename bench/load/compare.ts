// `make compare` = `node dist/bench/load/compare.js [--duration 10s] [--rounds 3] [--connections 64]
// [--threads 1] [--warmup 2s] [--tool wrk|ab] [--only direct,chanlb,chanlb-metrics,nginx,haproxy,undici]`
// Starts three fast backends and every target in front of them, warms each up, then runs the same
// load against each target once per round, rotating the order every round. Reports medians per
// target (req/s, latency, errors, CPU µs per request of the target's processes, peak RSS) as
// markdown on stdout and in bench/results/compare-<timestamp>.md, with an SVG chart beside it, and
// copies both to compare-latest.md/.svg. Every process started is stopped on the way out.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, runLoad, type LoadSettings } from './compare/load.js';
import { cpuTicks, peakRssKiB, stopAll, usPerRequest, type Proc } from './compare/procs.js';
import { markdown, summarize, summaryTable, svg, type Run } from './compare/report.js';
import { TARGET_NAMES, startTarget, unavailable, type Setup, type Target, type TargetName } from './compare/targets.js';
import { DIST, PAUSE_MS, checkHello, inRounds, list, parseCommon, requireBuilt, runMeta, runToEnd, startBackends, writeResults } from './compare/driver.js';

interface Options {
  load: LoadSettings;
  rounds: number;
  warmupSeconds: number;
  only: TargetName[];
  notes: string[];
}

function options(): Options {
  const { extra, usage, ...common } = parseCommon({ name: 'compare', connections: '64', warmup: '2s', extra: { only: TARGET_NAMES.join(',') } });
  const only = list(extra.only ?? TARGET_NAMES.join(','));
  for (const n of only) if (!(TARGET_NAMES as readonly string[]).includes(n)) usage(`--only: unknown target '${n}' (have ${TARGET_NAMES.join(', ')})`);
  return { ...common, only: TARGET_NAMES.filter((n) => only.includes(n)) };
}

async function measure(target: Target, backends: readonly Proc[], load: LoadSettings, round: number): Promise<Run> {
  const backendPids = backends.map((b) => b.pid);
  const cpu0 = cpuTicks(target.pids);
  const backend0 = cpuTicks(backendPids);
  const result = await runLoad(load, `http://127.0.0.1:${target.port}/`);
  return {
    ...result,
    target: target.name,
    round,
    cpuUsPerReq: usPerRequest(cpuTicks(target.pids) - cpu0, result.requests),
    backendsUsPerReq: usPerRequest(cpuTicks(backendPids) - backend0, result.requests),
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
  requireBuilt(['src/main.js', 'backends/fast.js', 'bench/load/peers/undici-proxy.js']);
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

  const { ports: backendPorts, procs: backends } = await startBackends('backends/fast.js', 3);
  const setup: Setup = { dist: DIST, tmp, backendPorts, backends };

  const targets: Target[] = [];
  for (const name of wanted) {
    try {
      const target = await startTarget(name, setup);
      await checkHello(target.port);
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

  const runs = await inRounds(targets, rounds, (t) => t.name, notes, async (target, round) => {
    const r = await measure(target, backends, load, round);
    progress(r, rounds);
    return r;
  });
  await stopAll();

  const summaries = summarize(runs, targets.map((t) => t.name));
  const meta = runMeta(load, rounds, notes);
  writeResults('compare', (svgName) => markdown(summaries, runs, meta, svgName), svg(summaries, meta), summaryTable(summaries), notes);
}

const opts = options();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'chanlb-compare-'));
await runToEnd('compare', () => run(opts, tmp), () => rmSync(tmp, { recursive: true, force: true }));
