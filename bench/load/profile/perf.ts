// perf record -g on a running target's processes while the load runs, then perf script read back
// sample by sample: each sample's CPU time (its period, ns of cpu-clock) put in one category, decided
// from its leaf frame (self time) and, for GC and helper threads, its whole stack. Needs Linux perf
// (Debian: apt-get install -y linux-perf) and Node started with --perf-basic-prof, so that JIT and
// WASM code has names (/tmp/perf-PID.map).
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import readline from 'node:readline';
import { onPath, start, stop, type Proc } from '../compare/procs.js';

export const PERF_INSTALL = 'apt-get install -y linux-perf';

export const CATEGORIES = [
  'own code', 'llhttp WASM', 'V8 builtins & runtime', 'Node JS (node:internal)', 'Node C++', 'libuv', 'libc',
  'kernel', 'GC', 'helper threads', 'unknown',
] as const;
export type Category = (typeof CATEGORIES)[number];

export const HOW_CATEGORIES = [
  'Each sample goes to one category (CPU time is the sum of the samples\' cpu-clock periods, in order of the rules):',
  '**helper threads**: any thread but the main one (V8\'s concurrent compiler and GC helpers, the libuv pool), unless GC as below;',
  '**GC**: a frame anywhere in the stack is a V8 collector function (`Heap::CollectGarbage`, `Scavenger`, `MarkCompactCollector`, `IncrementalMarking`, `ConcurrentMarking`, `Sweeper`, …), whatever the leaf (the kernel time of its page work included);',
  'then by the leaf frame (self time): **kernel** (`[kernel.kallsyms]`); **llhttp WASM** (JIT frames `wasm-function[N]`, and the `Wasm*`/`JSToWasm`/`WasmToJs` builtins of the JS↔WASM boundary);',
  '**own code** (JIT frames from the repository\'s `dist/` — chanlb: `dist/src`; the pipe: `dist/bench/load/peers/pipe.js` — and for nginx its own binary);',
  '**Node JS** (JIT frames from `node:` modules: streams, net, timers); **V8 builtins & runtime** (`Builtins_*`, `v8::*`, `Runtime_*`; the nearest JS frame above says whose: own code or Node JS, shown as "of which under own code");',
  '**libuv** (`uv_*`, `uv__*`); **Node C++** (any other symbol of the node binary: `node::*`, …); **libc** (libc, libstdc++, ld.so); **unknown** (addresses no map names: code V8 did not log).',
];

const GC = /Heap::(CollectGarbage|PerformGarbageCollection|CollectAllGarbage|StartIncrementalMarking|FinalizeIncrementalMarking)|Scaveng|MarkCompactCollector|MinorMarkCompact|MinorMarkSweep|IncrementalMarking|ConcurrentMarking|Sweeper::|GCTracer|MarkingVisitor|Evacuat/;
const WASM = /wasm-function|wasm-to-js|js-to-wasm|^Builtins_(Wasm|JSToWasm|GenericJSToWasm|JSToJSWrapper)/;
const OWN_JS = /\/dist\/(src|bench|backends)\//;

export interface Frame {
  sym: string;
  dso: string;
}

export interface Profile {
  /** ns of CPU per category. */
  ns: Record<Category, number>;
  /** V8 builtins & runtime whose nearest JS frame is own code. */
  builtinsUnderOwnNs: number;
  /** Kernel time by the user-space function that entered it (write, read, epoll_wait, …; `other`: none). */
  kernelVia: Map<string, number>;
  /** ns of self time per leaf symbol (short name). */
  symbols: Map<string, number>;
  /**
   * ns per own JS function (short name) of the samples it owns: its self time and that of the V8
   * builtins, runtime calls and WASM it runs without another JS frame between (ownerOf).
   */
  owners: Map<string, number>;
  samples: number;
  totalNs: number;
}

/** A JIT frame's name without the `JS:` prefix and the absolute path up to dist/. */
export function shortName(f: Frame): string {
  return f.sym.replace(/^JS:/, '').replace(/file:\/\/\/\S*?\/dist\//, '').replace(/^(LazyCompile|Function):/, '');
}

function isKernel(f: Frame): boolean {
  return f.dso.startsWith('[kernel') || f.dso === '[vdso]';
}

function isJit(f: Frame): boolean {
  return f.sym.startsWith('JS:') || /perf-\d+\.map$/.test(f.dso) || f.dso.startsWith('[JIT]');
}

/** The category of one sample: `stack[0]` is the leaf; `ownBinary` is the target's executable's base name (nginx). */
export function categorize(stack: readonly Frame[], mainThread: boolean, ownBinary: string): Category {
  const gc = stack.some((f) => GC.test(f.sym));
  if (!mainThread) return gc ? 'GC' : 'helper threads';
  if (gc) return 'GC';
  const leaf = stack[0];
  if (leaf === undefined) return 'unknown';
  if (isKernel(leaf)) return 'kernel';
  if (WASM.test(leaf.sym)) return 'llhttp WASM';
  if (isJit(leaf)) {
    if (OWN_JS.test(leaf.sym)) return 'own code';
    if (leaf.sym.includes('node:')) return 'Node JS (node:internal)';
    return leaf.sym.startsWith('JS:') ? 'Node JS (node:internal)' : 'unknown';
  }
  const base = leaf.dso.split('/').pop() ?? '';
  if (base === ownBinary && ownBinary !== 'node') return 'own code';
  if (/^(Builtins_|v8::|Runtime_)/.test(leaf.sym)) return 'V8 builtins & runtime';
  if (/^uv_{1,2}/.test(leaf.sym)) return 'libuv';
  if (base === 'node') return 'Node C++';
  if (/^(libc|libstdc\+\+|libm|libgcc|ld-linux|libpthread)/.test(base)) return 'libc';
  return 'unknown';
}

/** The system call (its libc wrapper's name) a kernel sample is under, or `other`. */
export function syscallOf(stack: readonly Frame[]): string {
  const user = stack.find((f) => !isKernel(f));
  if (user === undefined || !/^lib(c|pthread)/.test(user.dso.split('/').pop() ?? '')) return 'other';
  return user.sym.replace(/@@.*$/, '').replace(/^(__GI_)?_*(libc_)?/, '').replace(/(64|_nocancel)$/, '') || 'other';
}

/**
 * The own JS function a sample's CPU is spent for: the nearest own JS frame above the leaf, unless a
 * Node JS frame or a system call comes first (that cost is Node's or the kernel's, not the
 * function's); WASM frames are passed through, so llhttp's time goes to the JS function that ran it
 * (its callbacks into JS are functions of their own). null: none.
 */
export function ownerOf(stack: readonly Frame[]): string | null {
  for (const f of stack) {
    if (isKernel(f) && /entry_SYSCALL|do_syscall/.test(f.sym)) return null;
    if (!f.sym.startsWith('JS:') || WASM.test(f.sym)) continue;
    if (!OWN_JS.test(f.sym)) return null;
    return shortName(f).replace(/^[*~^]/, '').replace(/:\d+$/, '');
  }
  return null;
}

/** The nearest JS frame above the leaf: own code, Node JS or none. */
function jsCaller(stack: readonly Frame[]): 'own' | 'node' | 'none' {
  for (const f of stack) {
    if (!f.sym.startsWith('JS:') || WASM.test(f.sym)) continue;
    return OWN_JS.test(f.sym) ? 'own' : 'node';
  }
  return 'none';
}

function emptyProfile(): Profile {
  return { ns: Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>, builtinsUnderOwnNs: 0, kernelVia: new Map(), symbols: new Map(), owners: new Map(), samples: 0, totalNs: 0 };
}

/**
 * perf's permission check. Root passes whatever kernel.perf_event_paranoid says when it has
 * CAP_PERFMON; root without it (some containers) gets the setting lowered to 1 here, which the
 * returned note says. Throws with the install or sysctl command when perf cannot record.
 */
export function checkPerf(tmp: string): string | null {
  if (!onPath('perf')) throw new Error(`perf not installed: ${PERF_INSTALL}`);
  const file = `${tmp}/perf-check.data`;
  const tryRecord = (): string | null => {
    try {
      execFileSync('perf', ['record', '-q', '-g', '-o', file, '--', 'true'], { stdio: ['ignore', 'ignore', 'pipe'] });
      return null;
    } catch (err) {
      return String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim();
    } finally {
      rmSync(file, { force: true });
    }
  };
  const failed = tryRecord();
  if (failed === null) return null;
  const paranoid = readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8').trim();
  if (process.getuid?.() !== 0) {
    throw new Error(`perf cannot record (kernel.perf_event_paranoid = ${paranoid}); as root: sysctl -w kernel.perf_event_paranoid=1\n${failed}`);
  }
  writeFileSync('/proc/sys/kernel/perf_event_paranoid', '1');
  const again = tryRecord();
  if (again !== null) throw new Error(`perf cannot record even with kernel.perf_event_paranoid lowered from ${paranoid} to 1:\n${again}`);
  return `kernel.perf_event_paranoid lowered from ${paranoid} to 1 by this run (running as root) so that perf could record`;
}

/** Starts `perf record -g` on the processes; stop it with finishRecord(). */
export async function startRecord(pids: readonly number[], file: string, frequency: number): Promise<Proc> {
  const proc = start('perf record', 'perf', ['record', '-q', '-g', '-F', String(frequency), '-p', pids.join(','), '-o', file]);
  await new Promise((resolve) => setTimeout(resolve, 300)); // perf attaches to every thread
  return proc;
}

export async function finishRecord(proc: Proc): Promise<void> {
  proc.child.kill('SIGINT');
  await Promise.race([proc.exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  await stop(proc);
}

/** Reads the samples of a perf.data file back (perf script, one sample at a time) into categories and symbols. */
export async function readProfile(file: string, ownBinary: string): Promise<Profile> {
  const profile = emptyProfile();
  const script = spawn('perf', ['script', '-i', file, '-F', 'comm,pid,tid,period,ip,sym,dso'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let main = true;
  let period = 0;
  let stack: Frame[] = [];
  const flush = (): void => {
    if (period === 0) return;
    const category = categorize(stack, main, ownBinary);
    profile.ns[category] += period;
    profile.totalNs += period;
    profile.samples++;
    if (category === 'V8 builtins & runtime' && jsCaller(stack) === 'own') profile.builtinsUnderOwnNs += period;
    if (category === 'kernel') {
      const via = syscallOf(stack);
      profile.kernelVia.set(via, (profile.kernelVia.get(via) ?? 0) + period);
    }
    const leaf = stack[0];
    const name = leaf === undefined ? '[no stack]' : leaf.sym === '[unknown]' ? `[unknown] (${leaf.dso})` : shortName(leaf);
    profile.symbols.set(name, (profile.symbols.get(name) ?? 0) + period);
    const owner = main && category !== 'GC' ? ownerOf(stack) : null;
    if (owner !== null) profile.owners.set(owner, (profile.owners.get(owner) ?? 0) + period);
    period = 0;
    stack = [];
  };
  const lines = readline.createInterface({ input: script.stdout, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line === '') continue;
    const frame = /^\s+[0-9a-f]+ (.*) \((.*)\)$/.exec(line);
    if (frame !== null) {
      stack.push({ sym: frame[1] ?? '', dso: frame[2] ?? '' });
      continue;
    }
    const head = /(\d+)\/(\d+)\s+(\d+)\s*$/.exec(line);
    if (head === null) continue;
    flush();
    main = head[1] === head[2]; // pid/tid: the main thread's tid is the process id
    period = Number(head[3]);
  }
  flush();
  await new Promise((resolve) => (script.exitCode === null ? script.once('exit', resolve) : resolve(null)));
  return profile;
}
