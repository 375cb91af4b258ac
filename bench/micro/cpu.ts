// `make cpu` = `node dist/bench/micro/cpu.js [--baseline DIST] [--control] [--rounds 5] [--requests 200000]`
// The proxy's own CPU time and heap allocation per request, in process (hot-path-rig.ts: the real
// classes over in-memory sockets, no kernel), this build against another (`--baseline`: that build's
// dist/ directory, e.g. from `git worktree add ../base HEAD~1 && make -C ../base build`) and, with
// `--control`, against a second copy of itself (A/A: the spread that is noise). Each measurement is
// a fresh process that warms up, then runs `--requests` round trips between two readings of
// process.cpuUsage() (user + system) and of the heap (bytes allocated = used after − used before +
// bytes the GCs in between freed, from node:v8's GCProfiler). Arms are interleaved, their order
// rotated each round, and medians reported with each round's value, on stdout and in
// bench/results/cpu-<timestamp>.md (copied to cpu-latest.md).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import v8 from 'node:v8';
import { fixed, formatTable, timestamp } from '../format.js';
import { loadRig, FAST_RESPONSE, NODE_RESPONSE } from './hot-path-rig.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** This build's dist/ (this file is dist/bench/micro/cpu.js). */
const DIST = path.resolve(HERE, '../..');
const RESULTS = path.resolve(DIST, '../bench/results');
const RESPONSES = { fast: FAST_RESPONSE, node: NODE_RESPONSE } as const;
type ResponseKind = keyof typeof RESPONSES;
const RESPONSE_LABEL: Record<ResponseKind, string> = {
  fast: 'minimal backend head (backends/fast.js)',
  node: 'node:http head (Connection, Keep-Alive to drop)',
};

interface Sample {
  usPerRequest: number;
  bytesPerRequest: number;
}

/** One measurement in this process: warm up, then `requests` round trips timed and weighed. */
async function child(src: string, kind: ResponseKind, requests: number): Promise<Sample> {
  const rig = (await loadRig(src))(3);
  const response = RESPONSES[kind];
  await rig.warm(response);
  // Enough round trips for the optimizing compiler to have settled on the hot functions.
  for (let i = 0; i < Math.max(50_000, requests / 4); i++) rig.roundTrip(response);
  const profiler = new v8.GCProfiler();
  profiler.start();
  const used0 = v8.getHeapStatistics().used_heap_size;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < requests; i++) rig.roundTrip(response);
  const cpu = process.cpuUsage(cpu0);
  const used1 = v8.getHeapStatistics().used_heap_size;
  let freed = 0;
  for (const s of profiler.stop().statistics) freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
  rig.close();
  return { usPerRequest: (cpu.user + cpu.system) / requests, bytesPerRequest: (used1 - used0 + freed) / requests };
}

function usage(message: string): never {
  process.stderr.write(`cpu: ${message}\nusage: node dist/bench/micro/cpu.js [--baseline DIST] [--control] [--rounds 5] [--requests 200000]\n`);
  process.exit(2);
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

async function parent(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: { baseline: { type: 'string' }, control: { type: 'boolean' }, rounds: { type: 'string' }, requests: { type: 'string' } },
      strict: true,
    }));
  } catch (err) {
    usage((err as Error).message);
  }
  const whole = (text: string | undefined, fallback: number, flag: string): number => {
    if (text === undefined) return fallback;
    if (!/^[1-9]\d*$/.test(text)) usage(`--${flag} needs a positive whole number, got '${text}'`);
    return Number(text);
  };
  const rounds = whole(values.rounds, 5, 'rounds');
  const requests = whole(values.requests, 200_000, 'requests');
  const arms: { label: string; src: string }[] = [{ label: 'this build', src: path.join(DIST, 'src') }];
  if (values.baseline !== undefined) {
    const src = path.join(path.resolve(values.baseline), 'src');
    if (!existsSync(path.join(src, 'main.js'))) usage(`--baseline ${values.baseline}: no src/main.js there (give a build's dist/ directory)`);
    arms.push({ label: 'baseline', src });
  }
  if (values.control === true) arms.push({ label: 'this build A/A', src: path.join(DIST, 'src') });

  const run = promisify(execFile);
  const samples = new Map<string, Sample[]>();
  process.stdout.write(`${rounds} round(s) of ${requests.toLocaleString('en-US')} requests per arm and response, each in a fresh process\n`);
  for (let round = 0; round < rounds; round++) {
    for (const kind of Object.keys(RESPONSES) as ResponseKind[]) {
      for (let i = 0; i < arms.length; i++) {
        const arm = arms[(i + round) % arms.length] as (typeof arms)[number];
        const { stdout } = await run(process.execPath, [fileURLToPath(import.meta.url), '--child', arm.src, kind, String(requests)]);
        const sample = JSON.parse(stdout) as Sample;
        const key = `${arm.label}\0${kind}`;
        samples.set(key, [...(samples.get(key) ?? []), sample]);
        process.stdout.write(`round ${round + 1}/${rounds}  ${kind.padEnd(4)}  ${arm.label.padEnd(14)} ${fixed(sample.usPerRequest, 3)} µs/req  ${Math.round(sample.bytesPerRequest)} B/req\n`);
      }
    }
  }

  const lines = [
    '# In-process CPU and allocation per request',
    '',
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · \`make cpu ARGS='${process.argv.slice(2).join(' ')}'\` · ${rounds} round(s) × ${requests.toLocaleString('en-US')} requests per arm, order rotated · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(2)} at the end`,
    '',
    'One keep-alive GET and its response through the real ClientConn, balancer, Worker, SocketPool and UpstreamConn over in-memory sockets (bench/micro/hot-path-rig.ts): the proxy\'s own work, without the kernel and Node\'s socket streams. CPU is process.cpuUsage() (user + system) over the requests; allocation is the heap\'s growth plus what the GCs in between freed.',
    '',
  ];
  const baseline = arms.find((a) => a.label === 'baseline');
  for (const kind of Object.keys(RESPONSES) as ResponseKind[]) {
    const rows = arms.map((arm) => {
      const s = samples.get(`${arm.label}\0${kind}`) ?? [];
      const us = median(s.map((x) => x.usPerRequest));
      const bytes = median(s.map((x) => x.bytesPerRequest));
      const base = baseline === undefined ? undefined : samples.get(`baseline\0${kind}`);
      const ratio = base === undefined || arm === baseline ? '' : `${fixed(us / median(base.map((x) => x.usPerRequest)), 2)}×`;
      return [arm.label, fixed(us, 3), s.map((x) => fixed(x.usPerRequest, 2)).join(' '), String(Math.round(bytes)), ratio];
    });
    lines.push(`## ${RESPONSE_LABEL[kind]}`, '', formatTable(['arm', 'µs/req (median)', 'each round', 'bytes allocated/req', 'vs baseline'], rows, [false, true, false, true, true]), '');
  }
  const text = lines.join('\n');
  mkdirSync(RESULTS, { recursive: true });
  const stamp = timestamp();
  for (const base of [`cpu-${stamp}`, 'cpu-latest']) writeFileSync(path.join(RESULTS, `${base}.md`), text);
  process.stdout.write(`\n${text}\nwrote bench/results/cpu-${stamp}.md (copied to cpu-latest.md)\n`);
}

if (process.argv[2] === '--child') {
  const [src, kind, requests] = process.argv.slice(3);
  if (src === undefined || (kind !== 'fast' && kind !== 'node')) usage('--child SRC fast|node REQUESTS');
  process.stdout.write(JSON.stringify(await child(src, kind, Number(requests))));
} else {
  await parent();
}
