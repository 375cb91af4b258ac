// `make failover` = `node dist/bench/load/failover.js [--scenarios killed,silent-fresh,silent-reused,all-503,post]
// [--only chanlb,nginx,haproxy]`
// What a client sees when backends fail, through chanlb, nginx and HAProxy side by side: a backend
// killed under load next to one refusing, a silent backend on a fresh and on a reused socket, every
// backend answering 503 (attempts per request), and POSTs with one backend refusing. Every row starts
// its own backends (separate processes) and proxy, and all of them are stopped before the next row.
// One markdown table per scenario on stdout and in bench/results/failover-<timestamp>.md, copied to
// failover-latest.md. Proxies and wrk not installed are skipped with their install command.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { timestamp } from '../format.js';
import { RESULTS, list, requireBuilt, runToEnd } from './compare/driver.js';
import { INSTALL } from './compare/load.js';
import { onPath, stopAll } from './compare/procs.js';
import { unavailable } from './compare/targets.js';
import { all503 } from './failover/all-503.js';
import { killed } from './failover/killed.js';
import { post } from './failover/post.js';
import { markdown, table, type ScenarioResult } from './failover/report.js';
import type { Scenario } from './failover/scenario.js';
import { silentFresh, silentReused } from './failover/silent.js';
import type { Peer } from './failover/variants.js';

const SCENARIOS: readonly Scenario[] = [killed, silentFresh, silentReused, all503, post];
const PEERS: readonly Peer[] = ['chanlb', 'nginx', 'haproxy'];

interface Options {
  scenarios: Scenario[];
  peers: Peer[];
}

function options(): Options {
  const ids = SCENARIOS.map((s) => s.id);
  const usage = (message: string): never => {
    process.stderr.write(`failover: ${message}\nusage: node dist/bench/load/failover.js [--scenarios ${ids.join(',')}] [--only ${PEERS.join(',')}]\n`);
    process.exit(2);
  };
  let values: { scenarios?: string; only?: string } = {};
  try {
    values = parseArgs({ options: { scenarios: { type: 'string' }, only: { type: 'string' } }, strict: true }).values;
  } catch (err) {
    usage((err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  const scenarios = list(values.scenarios ?? ids.join(','));
  for (const id of scenarios) if (!ids.includes(id)) usage(`--scenarios: unknown scenario '${id}' (have ${ids.join(', ')})`);
  const peers = list(values.only ?? PEERS.join(','));
  for (const p of peers) if (!(PEERS as readonly string[]).includes(p)) usage(`--only: unknown target '${p}' (have ${PEERS.join(', ')})`);
  return { scenarios: SCENARIOS.filter((s) => scenarios.includes(s.id)), peers: PEERS.filter((p) => peers.includes(p)) };
}

const loadAverage = (): string => os.loadavg()[0]?.toFixed(2) ?? '?';

async function runScenario(scenario: Scenario, peers: readonly Peer[], tmp: string, notes: string[]): Promise<ScenarioResult> {
  process.stdout.write(`\n## ${scenario.title}\n`);
  const rows: string[][] = [];
  for (const variant of scenario.rows.filter((v) => peers.includes(v.peer))) {
    const t0 = performance.now();
    try {
      rows.push([variant.label, ...(await scenario.run(variant, tmp))]);
    } catch (err) {
      const message = `${scenario.title}, ${variant.label} failed: ${(err as Error).message.split('\n')[0] ?? ''}`;
      notes.push(message);
      rows.push([variant.label, ...scenario.columns.map(() => '-')]);
      process.stdout.write(`${message}\n`);
    } finally {
      await stopAll();
    }
    process.stdout.write(`${variant.label}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  const result = { scenario, rows };
  process.stdout.write(`\n${table(result)}\n`);
  return result;
}

async function run(opts: Options, tmp: string): Promise<void> {
  requireBuilt(['src/main.js', 'backends/fast.js', 'backends/faulty.js', 'backends/hello.js']);
  const notes: string[] = [];
  const skip = (what: string): void => {
    process.stdout.write(`skipping ${what}\n`);
    notes.push(`skipped ${what}`);
  };
  const peers = opts.peers.filter((p) => {
    const reason = unavailable(p);
    if (reason !== null) skip(reason);
    return reason === null;
  });
  const hasWrk = onPath('wrk');
  if (!hasWrk) skip(`the scenarios run with wrk: wrk not installed (${INSTALL.wrk})`);
  const scenarios = opts.scenarios.filter((s) => hasWrk || !s.wrk);
  const loadBefore = loadAverage();
  process.stdout.write(`failover: ${scenarios.map((s) => s.id).join(', ')} through ${peers.join(', ')} (load average ${loadBefore})\n`);

  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) results.push(await runScenario(scenario, peers, tmp, notes));

  const cpus = os.cpus();
  const report = markdown(results, {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    machine: `${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, load average ${loadBefore} before, ${loadAverage()} at the end`,
    notes,
  });
  const name = `failover-${timestamp()}.md`;
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, name), report);
  writeFileSync(path.join(RESULTS, 'failover-latest.md'), report);
  for (const note of notes) process.stdout.write(`- ${note}\n`);
  process.stdout.write(`\nwrote bench/results/${name} (copied to failover-latest.md)\n`);
}

const opts = options();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'chanlb-failover-'));
await runToEnd('failover', () => run(opts, tmp), () => rmSync(tmp, { recursive: true, force: true }));
