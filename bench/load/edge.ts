// `make edge` = `node dist/bench/load/edge.js [--scenarios https,handshake,handshake-tls12,redis,bulk]
// [--only direct,chanlb,nginx,haproxy] [--control chanlb] [--pipeline 1,16] [--bulk-size 1g]
// [--duration 10s] [--rounds 3] [--connections 64] [--threads 1] [--warmup 2s] [--tool wrk|ab]
// [--pin-proxy CPUS] [--pin-load CPUS]`
// chanlb at the edge against nginx and HAProxy, one process each: terminating TLS (HTTPS keep-alive
// requests, new handshakes) in front of plain backends/fast.ts, and as a TCP proxy (chanlb --mode
// tcp, HAProxy mode tcp, nginx stream) in front of redis-server (redis-benchmark) and of a byte sink
// (one big upload). Each scenario runs make compare's loop (compare/session.ts) with its own
// workload: every target warmed up, then loaded once per round in rotating order, CPU read over all
// its processes. Reports rate and CPU per request / handshake / MiB, chanlb's ratios to each peer,
// in bench/results/edge-<timestamp>.md with an SVG chart, copied to edge-latest.md/.svg.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summarize } from './compare/report.js';
import { measureArms } from './compare/session.js';
import { describePinning, parsePinning, PIN_FLAGS, type Pinning } from './compare/pinning.js';
import { list, parseCommon, requireBuilt, runMeta, runToEnd, withControl, writeResults, type Arm } from './compare/driver.js';
import type { LoadSettings } from './compare/load.js';
import type { TargetName } from './compare/targets.js';
import { parseSize } from '../../src/options/values.js';
import { markdown, ratios, svg, type ScenarioResult } from './edge/report.js';
import { SCENARIO_NAMES, missing, scenarios, type ScenarioName } from './edge/workloads.js';

const TARGETS = ['direct', 'chanlb', 'nginx', 'haproxy'] as const satisfies readonly TargetName[];

interface Options {
  load: LoadSettings;
  rounds: number;
  warmupSeconds: number;
  pinning: Pinning;
  notes: string[];
  scenarios: ScenarioName[];
  only: TargetName[];
  control: string | undefined;
  pipelines: number[];
  bulkBytes: number;
}

function options(): Options {
  const { extra, usage, ...common } = parseCommon({
    name: 'edge', connections: '64', warmup: '2s',
    extra: { scenarios: SCENARIO_NAMES.join(','), only: TARGETS.join(','), control: 'chanlb', pipeline: '1,16', 'bulk-size': '1g', ...PIN_FLAGS },
    more: '  direct (no proxy) runs in the TCP scenarios only; --control chanlb measures chanlb twice (A/A)\n',
  });
  const names = list(extra.scenarios ?? SCENARIO_NAMES.join(','));
  for (const n of names) if (!(SCENARIO_NAMES as readonly string[]).includes(n)) usage(`--scenarios: unknown scenario '${n}' (have ${SCENARIO_NAMES.join(', ')})`);
  if (names.length === 0) usage('--scenarios is empty');
  const only = list(extra.only ?? TARGETS.join(','));
  for (const n of only) if (!(TARGETS as readonly string[]).includes(n)) usage(`--only: unknown target '${n}' (have ${TARGETS.join(', ')})`);
  if (!only.includes('chanlb')) usage('--only must include chanlb');
  if (extra.control !== undefined && extra.control !== 'chanlb') usage(`--control: only chanlb can be measured twice, got '${extra.control}'`);
  const pipelines = list(extra.pipeline ?? '1,16').map((p) => (/^[1-9]\d*$/.test(p) ? Number(p) : usage(`--pipeline needs positive whole numbers like 1,16, got '${p}'`)));
  let bulkBytes = 0;
  try {
    bulkBytes = parseSize('--bulk-size', extra['bulk-size'] ?? '1g');
  } catch (err) {
    usage((err as Error).message);
  }
  if (bulkBytes < 1024 * 1024) usage('--bulk-size must be at least 1m');
  const pinning = parsePinning(extra, usage);
  const pinned = describePinning(pinning);
  if (pinned !== null) common.notes.push(pinned);
  return {
    ...common, load: { ...common.load, cpus: pinning.load }, pinning, scenarios: names as ScenarioName[], only: only as TargetName[], control: extra.control, pipelines, bulkBytes,
  };
}

async function run(opts: Options, tmp: string): Promise<void> {
  requireBuilt(['src/main.js', 'backends/fast.js', 'backends/sink.js']);
  const results: ScenarioResult[] = [];
  for (const name of opts.scenarios) {
    const why = missing(name);
    if (why !== null) {
      process.stdout.write(`skipping ${name}: ${why}\n`);
      opts.notes.push(`skipped ${name}: ${why}`);
      continue;
    }
    for (const scenario of scenarios(name, opts.load, tmp, opts.pipelines, opts.bulkBytes)) {
      process.stdout.write(`\n== ${scenario.name}: ${scenario.what}\n`);
      const targets = TARGETS.filter((t) => opts.only.includes(t) && (scenario.tcp || t !== 'direct'));
      const arms: Arm<TargetName>[] = withControl(targets.map((t) => ({ name: t, workers: 1, label: t })), opts.control, () => {
        throw new Error('no chanlb arm');
      });
      const { runs, labels } = await measureArms(arms, { ...opts, backends: 3 }, tmp, scenario.workload);
      results.push({ name: scenario.name, unit: scenario.unit, what: scenario.what, command: scenario.workload.describe, runs, summaries: summarize(runs, labels) });
    }
  }
  if (results.length === 0) throw new Error('no scenario could run');
  const meta = runMeta(opts.load, opts.rounds, opts.notes);
  writeResults('edge', (svgName) => markdown(results, meta, svgName), svg(results, meta), ratios(results), opts.notes);
}

const opts = options();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'chanlb-edge-'));
await runToEnd('edge', () => run(opts, tmp), () => rmSync(tmp, { recursive: true, force: true }));
