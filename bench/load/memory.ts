// `make memory` = `node dist/bench/load/memory.js [--duration 5s] [--rounds 2] [--connections 64]
// [--threads 1] [--warmup 2s] [--alloc chanlb,pipe] [--control NAME] [--idle direct,chanlb,nginx] [--clients 10000]`
// Two questions about memory, in front of three fast backends:
// - allocation per request: chanlb and the Node byte pipe (bench/load/peers/pipe.ts) started with
//   memory/gc-meter.ts preloaded; each loaded with wrk (keep-alive GET) once per round, order
//   rotated, its heap's allocation over the run (GC-freed bytes + growth of the used heap) ÷ requests;
// - idle connections: each target started alone (direct = backends/fast.ts, a bare Node net.Server
//   answering itself), one request, its RSS; then --clients keep-alive connections opened (200 at a
//   time), each making one request and staying open; RSS again after 2 s: the difference ÷ clients.
// Markdown on stdout and in bench/results/memory-<timestamp>.md, copied to memory-latest.md.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fixed, formatTable } from '../format.js';
import { closeAll, openMany } from './conns.js';
import { runLoad } from './compare/load.js';
import { openFds, statusKiB, stopAll } from './compare/procs.js';
import { int, median } from './compare/report.js';
import { startTarget, unavailable, type Target, type TargetName } from './compare/targets.js';
import {
  DIST, checkHello, inRounds, list, parseCommon, requireBuilt, runMeta, runToEnd, sleep, startBackends, withControl, writeResults, type Arm,
} from './compare/driver.js';
import { snapshotFile, type GcSnapshot } from './memory/gc-meter.js';

const ALLOC = ['chanlb', 'pipe'] as const satisfies readonly TargetName[];
const IDLE = ['direct', 'chanlb', 'pipe', 'nginx', 'haproxy'] as const satisfies readonly TargetName[];

function options() {
  const { extra, usage, ...common } = parseCommon({
    name: 'memory', connections: '64', warmup: '2s', duration: '5s', rounds: '2',
    extra: { alloc: ALLOC.join(','), control: 'NAME', idle: 'direct,chanlb,nginx', clients: '10000' },
  });
  const pick = <T extends string>(flag: 'alloc' | 'idle', have: readonly T[], fallback: string): T[] => {
    const names = list(extra[flag] ?? fallback);
    for (const n of names) if (!(have as readonly string[]).includes(n)) usage(`--${flag}: unknown target '${n}' (have ${have.join(', ')}; '' for none)`);
    return have.filter((n) => names.includes(n));
  };
  const clients = extra.clients ?? '10000';
  if (!/^[1-9]\d*$/.test(clients)) usage(`--clients needs a positive whole number, got '${clients}'`);
  const alloc = pick('alloc', ALLOC, ALLOC.join(',')).map((name) => ({ name, workers: 1, label: name }));
  return { ...common, alloc: alloc.length === 0 ? [] : withControl<TargetName>(alloc, extra.control, usage), idle: pick('idle', IDLE, 'direct,chanlb,nginx'), clients: Number(clients) };
}
type Options = ReturnType<typeof options>;

/** The soft limit on open files of this process (its children inherit it). */
function fileLimit(): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m === null || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

async function snapshot(pid: number): Promise<GcSnapshot> {
  const file = snapshotFile(pid);
  const before = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as GcSnapshot).seq : 0;
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 100; i++) {
    await sleep(20);
    if (!existsSync(file)) continue;
    const s = JSON.parse(readFileSync(file, 'utf8')) as GcSnapshot;
    if (s.seq > before) return s;
  }
  throw new Error(`process ${pid} wrote no gc-meter snapshot`);
}

interface AllocRun {
  label: string;
  round: number;
  requests: number;
  rps: number;
  bytesPerReq: number;
  gcs: number;
  gcUsPerReq: number;
}

async function allocation(opts: Options, setup: Parameters<typeof startTarget>[1], pids: number[]): Promise<AllocRun[]> {
  const meter = pathToFileURL(path.join(DIST, 'bench/load/memory/gc-meter.js')).href;
  const live: { arm: Arm<TargetName>; target: Target }[] = [];
  for (const arm of opts.alloc) {
    const target = await startTarget(arm.name, { ...setup, nodeFlags: ['--import', meter] });
    pids.push(...target.pids());
    await checkHello(target.port);
    await runLoad({ ...opts.load, seconds: opts.warmupSeconds }, `http://127.0.0.1:${target.port}/`);
    live.push({ arm, target });
  }
  return inRounds(live, opts.rounds, (l) => l.arm.label, opts.notes, async ({ arm, target }, round) => {
    const pid = target.pids()[0] as number;
    const a = await snapshot(pid);
    const result = await runLoad(opts.load, `http://127.0.0.1:${target.port}/`);
    const b = await snapshot(pid);
    const r: AllocRun = {
      label: arm.label, round, requests: result.requests, rps: result.rps,
      bytesPerReq: (b.used - a.used + b.freed - a.freed) / result.requests,
      gcs: b.gcs - a.gcs, gcUsPerReq: (b.pauseUs - a.pauseUs) / result.requests,
    };
    process.stdout.write(`round ${round + 1}/${opts.rounds}  ${r.label.padEnd(10)} ${int(r.rps).padStart(7)} req/s  ${int(r.bytesPerReq)} bytes/req  ${r.gcs} GCs\n`);
    return r;
  });
}

interface IdleRun {
  name: string;
  clients: number;
  failed: number;
  rss0KiB: number;
  rss1KiB: number;
  fds: number;
  openSeconds: number;
}

async function idle(opts: Options, setup: Parameters<typeof startTarget>[1]): Promise<IdleRun[]> {
  const runs: IdleRun[] = [];
  for (const name of opts.idle) {
    const reason = unavailable(name);
    if (reason !== null) {
      opts.notes.push(`skipped ${reason}`);
      continue;
    }
    const target = await startTarget(name, { ...setup, maxConnections: opts.clients });
    await checkHello(target.port);
    await sleep(1000);
    const pids = target.pids();
    const rss0KiB = statusKiB(pids, 'VmRSS');
    const fds0 = openFds(pids);
    const t0 = Date.now();
    const { conns, failed, firstError } = await openMany(target.port, opts.clients, 200);
    const openSeconds = (Date.now() - t0) / 1000;
    await sleep(2000);
    const r: IdleRun = { name, clients: conns.length, failed, rss0KiB, rss1KiB: statusKiB(pids, 'VmRSS'), fds: openFds(pids) - fds0, openSeconds };
    closeAll(conns);
    if (firstError !== undefined) opts.notes.push(`${name}: ${failed} of ${opts.clients} connections failed, the first with: ${firstError}`);
    process.stdout.write(`idle ${name.padEnd(8)} ${r.clients} clients: RSS ${int(r.rss0KiB)} → ${int(r.rss1KiB)} KiB, ${fixed((r.rss1KiB - r.rss0KiB) / r.clients, 2)} KiB each\n`);
    runs.push(r);
    await sleep(1000);
  }
  return runs;
}

function allocTable(runs: readonly AllocRun[], labels: readonly string[]): string {
  const rows = labels.map((l) => runs.filter((r) => r.label === l)).filter((rs) => rs.length > 0);
  return formatTable(
    ['target', 'bytes allocated / request', 'rounds (bytes/req)', 'GCs / 100k req', 'GC pause µs/req', 'req/s'],
    rows.map((rs) => [
      rs[0]?.label ?? '', int(median(rs.map((r) => r.bytesPerReq))), rs.map((r) => int(r.bytesPerReq)).join(', '),
      fixed(median(rs.map((r) => (r.gcs / r.requests) * 1e5)), 1), fixed(median(rs.map((r) => r.gcUsPerReq)), 2), int(median(rs.map((r) => r.rps))),
    ]),
    [false, true, false, true, true, true],
  );
}

function idleTable(runs: readonly IdleRun[]): string {
  return formatTable(
    ['target', 'idle clients', 'failed', 'RSS before KiB', 'RSS after KiB', 'KiB per connection', 'fds opened', 'seconds to open'],
    runs.map((r) => [r.name, int(r.clients), String(r.failed), int(r.rss0KiB), int(r.rss1KiB), fixed((r.rss1KiB - r.rss0KiB) / r.clients, 2), int(r.fds), fixed(r.openSeconds, 1)]),
    [false, true, true, true, true, true, true, true],
  );
}

async function run(opts: Options, tmp: string, pids: number[]): Promise<void> {
  requireBuilt(['src/main.js', 'backends/fast.js', 'bench/load/peers/pipe.js', 'bench/load/memory/gc-meter.js']);
  const limit = fileLimit();
  opts.notes.push(`open files limit (ulimit -n) of this run: ${limit}; make memory raises the soft limit to the hard one`);
  if (opts.idle.length > 0 && limit < opts.clients + 200) {
    throw new Error(`ulimit -n is ${limit}, too low for --clients ${opts.clients} (the clients and the proxy each need one per connection): raise it (ulimit -n ${opts.clients * 2 + 1000}, as root if the hard limit is lower) or lower --clients`);
  }
  if (opts.idle.includes('pipe') && limit < 2 * opts.clients + 200) opts.notes.push(`the pipe needs two fds per client (${2 * opts.clients}): over the limit, some of its connections fail`);
  const { ports, procs: backends } = await startBackends('backends/fast.js', 3);
  const setup = { dist: DIST, tmp, backendPorts: ports, backends };
  const sections: string[] = [];
  if (opts.alloc.length > 0) {
    const runs = await allocation(opts, setup, pids);
    sections.push(
      '## Bytes allocated per request (keep-alive GET)', '',
      `\`${describeLoad(opts)}\` per run, ${opts.rounds} round(s), order rotated; the target's heap allocation over the run (node:v8 GCProfiler: bytes the GCs freed + growth of the used heap, bench/load/memory/gc-meter.ts) ÷ requests. Includes everything the process allocated in that time (timers, the metrics, Node's streams), not only the request path.`, '',
      allocTable(runs, opts.alloc.map((a) => a.label)), '',
    );
  }
  if (opts.idle.length > 0) {
    const runs = await idle(opts, setup);
    sections.push(
      '## RSS per idle keep-alive connection', '',
      `${opts.clients} client connections, each having made one GET, held open (idle) for 2 s; RSS (VmRSS, all the target's processes) after minus before, ÷ connections. direct = \`backends/fast.ts\`, a bare Node \`net.Server\` answering itself; nginx: one worker, which allocates its connection array (worker_connections, sized to twice the clients) at start-up, so part of its per-connection memory is already in "before". "fds opened" counts the target's new file descriptors (client sockets and any upstream ones).`, '',
      idleTable(runs), '',
    );
  }
  await stopAll();
  const meta = runMeta(opts.load, opts.rounds, opts.notes);
  const text = ['# Memory: allocation per request and RSS per idle connection', '', `${meta.date} · ${meta.machine}`, '', ...sections, ...meta.notes.map((n) => `- ${n}`), ''].join('\n');
  writeResults('memory', () => text, null, sections.filter((s) => s.startsWith('|')).join('\n\n'), opts.notes);
}

function describeLoad(opts: Options): string {
  return `wrk -t${opts.load.threads} -c${opts.load.connections} -d${opts.load.seconds}s`;
}

const opts = options();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'chanlb-memory-'));
const metered: number[] = [];
await runToEnd('memory', () => run(opts, tmp, metered), () => {
  rmSync(tmp, { recursive: true, force: true });
  for (const pid of metered) rmSync(snapshotFile(pid), { force: true });
});
