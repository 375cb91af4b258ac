// `make scale` = `node dist/bench/load/scale.js [--max N | --workers 1,2,4] [--only chanlb,nginx]
// [--duration 10s] [--rounds 3] [--connections 32×cores] [--threads cores/4] [--warmup 2s]
// [--tool wrk|ab] [--backends N] [--control NAME[:N]] [--pin-proxy CPUS] [--pin-load CPUS]`
// For machines with more cores: chanlb with --workers 1..N against nginx with worker_processes 1..N
// (and HAProxy with nbthread 1..N if asked for), N the number of cores unless given. The same loop
// as make compare (compare/session.ts), every step of every proxy in each round; reports req/s and
// CPU µs per request at each step, the speed-up over one worker and chanlb's ratios to each peer, in
// bench/results/scale-<timestamp>.md with an SVG chart, copied to scale-latest.md/.svg.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summarize, summaryTable, svg } from './compare/report.js';
import { measureArms, type SessionOptions } from './compare/session.js';
import { unavailable, type TargetName } from './compare/targets.js';
import { describePinning, parsePinning, PIN_FLAGS } from './compare/pinning.js';
import { armLabel, list, parseCommon, requireBuilt, runMeta, runToEnd, withControl, workerCounts, writeResults, type Arm } from './compare/driver.js';
import { markdown, scaleTable } from './scale/report.js';

const PROXIES = ['chanlb', 'nginx', 'haproxy'] as const satisfies readonly TargetName[];
const CORES = os.cpus().length;
/** Enough single-process Node backends that they are not what limits nginx with N workers. */
const BACKENDS = Math.max(3, Math.ceil(CORES / 2));

function options(): SessionOptions & { arms: Arm<TargetName>[]; proxies: TargetName[] } {
  const { extra, usage, ...common } = parseCommon({
    name: 'scale',
    connections: String(Math.max(64, 32 * CORES)),
    threads: String(Math.ceil(CORES / 4)),
    warmup: '2s',
    extra: { max: String(CORES), workers: '1,2,4', only: 'chanlb,nginx', backends: String(BACKENDS), control: 'NAME[:N]', ...PIN_FLAGS },
  });
  if (extra.max !== undefined && extra.workers !== undefined) usage('give --max or --workers, not both');
  if (extra.max !== undefined && !/^[1-9]\d*$/.test(extra.max)) usage(`--max needs a positive whole number, got '${extra.max}'`);
  const max = Number(extra.max ?? CORES);
  const counts = extra.workers !== undefined ? workerCounts(extra.workers, usage) : Array.from({ length: max }, (_, i) => i + 1);
  const only = list(extra.only ?? 'chanlb,nginx');
  for (const n of only) if (!(PROXIES as readonly string[]).includes(n)) usage(`--only: unknown proxy '${n}' (have ${PROXIES.join(', ')})`);
  const backends = extra.backends ?? '';
  if (extra.backends !== undefined && !/^[1-9]\d*$/.test(backends)) usage(`--backends needs a positive whole number, got '${backends}'`);
  const proxies = PROXIES.filter((p) => only.includes(p) && unavailable(p) === null);
  for (const p of PROXIES.filter((p) => only.includes(p) && !proxies.includes(p))) common.notes.push(`skipped ${unavailable(p) ?? p}`);
  if (!proxies.includes('chanlb')) usage('--only must include chanlb');
  const arms = counts.flatMap((workers) => proxies.map((name) => ({ name, workers, label: armLabel(name, workers, counts) })));
  const pinning = parsePinning(extra, usage);
  const pinned = describePinning(pinning);
  if (pinned !== null) common.notes.push(pinned);
  return {
    ...common,
    load: { ...common.load, cpus: pinning.load },
    pinning,
    backends: Number(extra.backends ?? BACKENDS),
    arms: withControl(arms, extra.control, usage),
    proxies,
  };
}

async function run(opts: ReturnType<typeof options>, tmp: string): Promise<void> {
  requireBuilt(['src/main.js', 'backends/fast.js']);
  opts.notes.push(`${opts.backends} backends (backends/fast.ts)`);
  const { runs, labels } = await measureArms(opts.arms, opts, tmp);
  const summaries = summarize(runs, labels);
  const meta = runMeta(opts.load, opts.rounds, opts.notes);
  writeResults(
    'scale', (svgName) => markdown(summaries, runs, opts.proxies, meta, svgName), svg(summaries, meta, 'chanlb and its peers by worker processes'),
    `${scaleTable(summaries, opts.proxies)}\n\n${summaryTable(summaries)}`, opts.notes,
  );
}

const opts = options();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'chanlb-scale-'));
await runToEnd('scale', () => run(opts, tmp), () => rmSync(tmp, { recursive: true, force: true }));
