// `make compare` = `node dist/bench/load/compare.js [--duration 10s] [--rounds 3] [--connections 64]
// [--threads 1] [--warmup 2s] [--tool wrk|ab] [--only direct,chanlb,chanlb-metrics,nginx,haproxy,undici]
// [--workers 1] [--control NAME[:N]] [--baseline DIST] [--pin-proxy CPUS] [--pin-load CPUS]`
// Starts three fast backends and every target in front of them (with --workers 1,2: each proxy with
// one and with two worker processes: chanlb --workers, nginx worker_processes, HAProxy nbthread),
// warms each up, then runs the same load against each target once per round, rotating the order
// every round. Reports medians per target (req/s, latency, errors, CPU µs per request of all the
// target's processes, peak RSS) as markdown on stdout and in bench/results/compare-<timestamp>.md,
// with an SVG chart beside it, and copies both to compare-latest.md/.svg. Every process started is
// stopped on the way out.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { markdown, summarize, summaryTable, svg } from './compare/report.js';
import { measureArms, type SessionOptions } from './compare/session.js';
import { TARGET_NAMES, type TargetName } from './compare/targets.js';
import { describePinning, parsePinning, PIN_FLAGS } from './compare/pinning.js';
import { armLabel, list, parseCommon, requireBuilt, runMeta, runToEnd, withBaseline, withControl, workerCounts, writeResults, type Arm } from './compare/driver.js';

/** Targets that run with more than one process under --workers; the others are measured once, with one. */
const MULTI: readonly TargetName[] = ['chanlb', 'chanlb-baseline', 'chanlb-metrics', 'nginx', 'haproxy'];

function options(): SessionOptions & { arms: Arm<TargetName>[] } {
  const { extra, usage, ...common } = parseCommon({
    name: 'compare', connections: '64', warmup: '2s', extra: { only: TARGET_NAMES.join(','), workers: '1', control: 'NAME[:N]', baseline: 'DIST', ...PIN_FLAGS },
  });
  const only = list(extra.only ?? TARGET_NAMES.join(','));
  for (const n of only) if (!(TARGET_NAMES as readonly string[]).includes(n)) usage(`--only: unknown target '${n}' (have ${TARGET_NAMES.join(', ')})`);
  const counts = workerCounts(extra.workers ?? '1', usage);
  const arms = counts.flatMap((workers) =>
    TARGET_NAMES.filter((n) => only.includes(n) && (workers === 1 || MULTI.includes(n))).map((name) => ({ name, workers, label: armLabel(name, workers, counts) })),
  );
  if (arms.length === 0) usage(`no target runs with --workers ${counts.join(',')} (with more than one: ${MULTI.join(', ')})`);
  const pinning = parsePinning(extra, usage);
  const pinned = describePinning(pinning);
  if (pinned !== null) common.notes.push(pinned);
  const baseline = extra.baseline === undefined ? undefined : path.resolve(extra.baseline);
  const compared = withBaseline(arms, baseline, usage);
  return { ...common, load: { ...common.load, cpus: pinning.load }, pinning, backends: 3, ...(baseline === undefined ? {} : { baseline }), arms: withControl(compared, extra.control, usage) };
}

async function run(opts: ReturnType<typeof options>, tmp: string): Promise<void> {
  requireBuilt(['src/main.js', 'backends/fast.js', 'bench/load/peers/undici-proxy.js', 'bench/load/peers/pipe.js']);
  const { runs, labels } = await measureArms(opts.arms, opts, tmp);
  const summaries = summarize(runs, labels);
  const meta = runMeta(opts.load, opts.rounds, opts.notes);
  writeResults('compare', (svgName) => markdown(summaries, runs, meta, svgName), svg(summaries, meta), summaryTable(summaries), opts.notes);
}

const opts = options();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'chanlb-compare-'));
await runToEnd('compare', () => run(opts, tmp), () => rmSync(tmp, { recursive: true, force: true }));
