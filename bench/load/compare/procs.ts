// Child processes for the comparison, every one of them tracked so that stopAll() (on the way out,
// on error and on Ctrl-C) leaves nothing running, plus what /proc says about their CPU and memory.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const OUTPUT_TAIL = 8192;

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Everything written to stdout and stderr (only the tail when keepAll was not asked for). */
  output(): string;
}

const running = new Set<Proc>();

/** `env`: added to this process's environment for the child. */
export function start(name: string, cmd: string, args: readonly string[], keepAll = false, env: Record<string, string> = {}): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  if (child.pid === undefined) throw new Error(`${name}: cannot start ${cmd}`);
  let text = '';
  const add = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    if (!keepAll && text.length > 2 * OUTPUT_TAIL) text = text.slice(-OUTPUT_TAIL);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (err) => {
      add(Buffer.from(`${err.message}\n`));
      resolve('error');
    });
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const proc: Proc = { name, pid: child.pid, child, exited, output: () => text };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/**
 * `cmd args` run through `taskset -c CPUS` (the same process: taskset execs it, and the children it
 * forks inherit the set), or unchanged when `cpus` is undefined.
 */
export function pinned(cpus: string | undefined, cmd: string, args: readonly string[]): [string, string[]] {
  return cpus === undefined ? [cmd, [...args]] : ['taskset', ['-c', cpus, cmd, ...args]];
}

/** Waits until the process has written a line matching `re` (e.g. a start-up line); fails early if it exits. */
export async function waitForOutput(proc: Proc, re: RegExp, timeoutMs = 10_000): Promise<void> {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (!re.test(proc.output())) {
    if (exited) throw new Error(`${proc.name} exited before writing ${re}:\n${proc.output().trim()}`);
    if (Date.now() > deadline) throw new Error(`${proc.name} did not write ${re} within ${timeoutMs} ms:\n${proc.output().trim()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** SIGTERM, then SIGKILL if it has not exited after graceMs. */
export async function stop(proc: Proc, graceMs = 3000): Promise<void> {
  if (!running.has(proc)) return;
  proc.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  if ((await Promise.race([proc.exited, late])) === 'late') {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => stop(p)));
}

/** For process 'exit', where nothing can be awaited. */
export function killAllNow(): void {
  for (const p of running) p.child.kill('SIGKILL');
}

/** Waits until `port` on 127.0.0.1 accepts a connection; fails early if the process exits. */
export async function waitForPort(proc: Proc, port: number, timeoutMs = 10_000): Promise<void> {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`${proc.name} exited before listening on ${port}:\n${proc.output().trim()}`);
    if (await connects(port)) return;
    if (Date.now() > deadline) throw new Error(`${proc.name} not listening on ${port} after ${timeoutMs} ms:\n${proc.output().trim()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A port that was free a moment ago (the kernel's pick for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function onPath(cmd: string): boolean {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    try {
      accessSync(path.join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

// ---- /proc ----

export const CLK_TCK = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** The fields after `pid (comm)`: index 0 is field 3 (state). comm may contain spaces and parens. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** pid and all its descendants (nginx: master and workers). */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = statFields(Number(entry))?.[1];
    if (ppid !== undefined) parents.set(Number(entry), Number(ppid));
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/** User + system CPU time of the processes (fields 14 and 15 of /proc/PID/stat), in clock ticks. */
export function cpuTicks(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const f = statFields(pid);
    if (f !== null) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks;
}

/** CPU ticks spent over `requests` completed requests, in µs per request (NaN for none). */
export function usPerRequest(ticks: number, requests: number): number {
  return requests > 0 ? (ticks / CLK_TCK / requests) * 1e6 : NaN;
}

/** Sum of the processes' peak resident set sizes (VmHWM), in KiB. */
export function peakRssKiB(pids: readonly number[]): number {
  return statusKiB(pids, 'VmHWM');
}

/** Sum of a /proc/PID/status size field (VmRSS: resident now, VmHWM: its peak) over the processes, in KiB. */
export function statusKiB(pids: readonly number[], field: 'VmRSS' | 'VmHWM'): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
      if (m !== null) kib += Number(m[1]);
    } catch {
      // gone
    }
  }
  return kib;
}

/** Open file descriptors of the processes (sockets included). */
export function openFds(pids: readonly number[]): number {
  let n = 0;
  for (const pid of pids) {
    try {
      n += readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      // gone
    }
  }
  return n;
}
