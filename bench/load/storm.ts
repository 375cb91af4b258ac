// `make storm` = `node dist/bench/load/storm.js [--storm 500] [--rounds 3] [--bursts 5] [--only chanlb,nginx,pipe]
// [--workers 1,2] [--control NAME[:N]]`
// Connection storms: --storm connections opened at once against each arm, each sending one GET as
// soon as it is connected; the latency of that first request (from before connect() to the whole
// response) is what a storm costs. Then, on the same connections already open, --bursts times all of
// them send one request at once: the steady-state latency of the same concurrency without accepting.
// Arms are loaded once per round, the order rotated; the kernel's listen-queue overflows
// (/proc/net/netstat ListenOverflows, ListenDrops) are counted over each storm. Markdown on stdout
// and in bench/results/storm-<timestamp>.md, copied to storm-latest.md.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fixed, formatTable } from '../format.js';
import { closeAll, openMany, quantile } from './conns.js';
import { stopAll } from './compare/procs.js';
import { int } from './compare/report.js';
import { startTarget, unavailable, type Target, type TargetName } from './compare/targets.js';
import {
  DIST, armLabel, checkHello, inRounds, list, requireBuilt, runToEnd, sleep, startBackends, withControl, workerCounts, writeResults, type Arm, type Usage,
} from './compare/driver.js';

const ARMS = ['chanlb', 'nginx', 'pipe'] as const satisfies readonly TargetName[];
const MULTI: readonly TargetName[] = ['chanlb', 'nginx'];
const USAGE = 'usage: node dist/bench/load/storm.js [--storm 500] [--rounds 3] [--bursts 5] [--only chanlb,nginx,pipe] [--workers 1,2] [--control NAME[:N]]';

function options() {
  const usage: Usage = (message) => {
    process.stderr.write(`storm: ${message}\n${USAGE}\n`);
    process.exit(2);
  };
  let values;
  try {
    values = parseArgs({
      options: { storm: { type: 'string', default: '500' }, rounds: { type: 'string', default: '3' }, bursts: { type: 'string', default: '5' }, only: { type: 'string', default: 'chanlb,nginx' }, workers: { type: 'string', default: '1,2' }, control: { type: 'string' } },
      strict: true,
    }).values;
  } catch (err) {
    return usage((err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  const whole = (flag: 'storm' | 'rounds' | 'bursts'): number => {
    const text = values[flag] ?? '';
    if (!/^[1-9]\d*$/.test(text)) usage(`--${flag} needs a positive whole number, got '${text}'`);
    return Number(text);
  };
  const only = list(values.only ?? '');
  for (const n of only) if (!(ARMS as readonly string[]).includes(n)) usage(`--only: unknown arm '${n}' (have ${ARMS.join(', ')})`);
  const counts = workerCounts(values.workers ?? '1', usage);
  const arms = counts.flatMap((workers) =>
    ARMS.filter((n) => only.includes(n) && (workers === 1 || MULTI.includes(n))).map((name) => ({ name, workers, label: armLabel(name, workers, counts) })),
  );
  if (arms.length === 0) usage('no arm to run');
  return { storm: whole('storm'), rounds: whole('rounds'), bursts: whole('bursts'), arms: withControl<TargetName>(arms, values.control, usage), notes: [] as string[] };
}
type Options = ReturnType<typeof options>;

/** TcpExt ListenOverflows + ListenDrops so far (the kernel's count of connections its listen queues refused). */
function listenDrops(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  return ['ListenOverflows', 'ListenDrops'].reduce((sum, n) => sum + Number(values[names.indexOf(n)] ?? 0), 0);
}

interface StormRun {
  label: string;
  round: number;
  firstMs: number[];
  failed: number;
  drops: number;
  steadyMs: number[];
}

async function storm(arm: Arm<TargetName>, target: Target, round: number, opts: Options): Promise<StormRun> {
  const drops0 = listenDrops();
  const { conns, firstMs, failed, firstError } = await openMany(target.port, opts.storm, opts.storm);
  const drops = listenDrops() - drops0;
  if (firstError !== undefined) opts.notes.push(`round ${round + 1} ${arm.label}: ${failed} first requests failed, the first with: ${firstError}`);
  const steadyMs: number[] = [];
  for (let b = 0; b < opts.bursts; b++) {
    await sleep(100);
    const results = await Promise.allSettled(conns.map((c) => c.request()));
    for (const r of results) if (r.status === 'fulfilled') steadyMs.push(r.value);
  }
  closeAll(conns);
  await sleep(1000); // the target closes its side before the next arm's storm
  const r = { label: arm.label, round, firstMs, failed, drops, steadyMs };
  process.stdout.write(
    `round ${round + 1}/${opts.rounds}  ${arm.label.padEnd(12)} first request p50 ${fixed(quantile(firstMs, 0.5), 1)} p99 ${fixed(quantile(firstMs, 0.99), 1)} max ${fixed(Math.max(...firstMs), 1)} ms, ` +
      `${failed} failed, ${drops} listen drops · open: p99 ${fixed(quantile(steadyMs, 0.99), 1)} ms\n`,
  );
  return r;
}

function table(runs: readonly StormRun[], labels: readonly string[]): string {
  return formatTable(
    ['arm', 'first p50 ms', 'first p99 ms', 'first max ms', 'first p99 by round', 'failed', 'listen drops', 'open p50 ms', 'open p99 ms', 'open max ms'],
    labels.map((l) => {
      const rs = runs.filter((r) => r.label === l);
      const first = rs.flatMap((r) => r.firstMs);
      const steady = rs.flatMap((r) => r.steadyMs);
      return [
        l, fixed(quantile(first, 0.5), 1), fixed(quantile(first, 0.99), 1), fixed(Math.max(...first), 1), rs.map((r) => fixed(quantile(r.firstMs, 0.99), 0)).join(', '),
        int(rs.reduce((n, r) => n + r.failed, 0)), int(rs.reduce((n, r) => n + r.drops, 0)),
        fixed(quantile(steady, 0.5), 1), fixed(quantile(steady, 0.99), 1), fixed(Math.max(...steady), 1),
      ];
    }),
    [false, true, true, true, false, true, true, true, true, true],
  );
}

function backlogNote(): string {
  const read = (f: string): string => {
    try {
      return readFileSync(f, 'utf8').trim();
    } catch {
      return '?';
    }
  };
  return `listen backlog: net.core.somaxconn = ${read('/proc/sys/net/core/somaxconn')}, net.ipv4.tcp_max_syn_backlog = ${read('/proc/sys/net/ipv4/tcp_max_syn_backlog')}; ` +
    'chanlb listens with a backlog of somaxconn (Node\'s default is 511), nginx with 511 on Linux (listen ... backlog=N), both capped at somaxconn';
}

async function run(opts: Options, tmp: string): Promise<void> {
  requireBuilt(['src/main.js', 'backends/fast.js', 'bench/load/peers/pipe.js']);
  opts.notes.push(backlogNote());
  const { ports, procs: backends } = await startBackends('backends/fast.js', 3);
  const setup = { dist: DIST, tmp, backendPorts: ports, backends, maxConnections: 2 * opts.storm };
  const live: { arm: Arm<TargetName>; target: Target }[] = [];
  for (const arm of opts.arms) {
    const reason = unavailable(arm.name);
    if (reason !== null) {
      opts.notes.push(`skipped ${reason}`);
      continue;
    }
    const target = await startTarget(arm.name, setup, arm.workers);
    await checkHello(target.port);
    live.push({ arm, target });
  }
  process.stdout.write(`storm: ${opts.storm} connections at once, ${opts.rounds} round(s), then ${opts.bursts} bursts on the open connections · arms: ${live.map((l) => l.arm.label).join(', ')}\n`);
  const runs = await inRounds(live, opts.rounds, (l) => l.arm.label, opts.notes, ({ arm, target }, round) => storm(arm, target, round, opts));
  await stopAll();
  const labels = live.map((l) => l.arm.label);
  const summary = table(runs, labels);
  const text = [
    '# Connection storms: first-request latency', '',
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(2) ?? '?'} at the end`, '',
    `Each round, each arm (order rotated): ${opts.storm} connections opened at once from one Node client process, each sending \`GET /\` as soon as it connects; "first" is that request's latency from before \`connect()\` to the whole response (connections refused or timed out count as failed). Then ${opts.bursts} times, all ${opts.storm} connections, already open, send one request at once: "open" is that latency, the same concurrency without accepting. Percentiles over all rounds' requests; the client shares the machine's 2 cores with the proxy and backends, so it adds its own delay to both.`, '',
    summary, '',
    ...opts.notes.map((n) => `- ${n}`), '',
  ].join('\n');
  writeResults('storm', () => text, null, summary, opts.notes);
}

const opts = options();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'chanlb-storm-'));
await runToEnd('storm', () => run(opts, tmp), () => rmSync(tmp, { recursive: true, force: true }));
