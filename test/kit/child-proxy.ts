/**
 * Test and bench helper: the proxy CLI (`node dist/src/main.js`) as a child process, serving (its
 * memory can be read from /proc/PID/status apart from the test's own: VmRSS now, VmHWM the peak) or
 * run to its exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ChildProxy {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly exit: Promise<ChildExit>;
  /** `exit`, or a rejection naming what it printed if it has not exited within `timeoutMs`. */
  exitWithin(timeoutMs: number): Promise<ChildExit>;
  /** Resident set size now, in KiB. */
  rssKb(): number;
  /** Peak resident set size so far (VmHWM), in KiB. */
  peakKb(): number;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within a second; resolves when it has exited. */
  close(): Promise<void>;
}

/** A `Vm*` field of /proc/PID/status in KiB (Linux only). */
export function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const m = new RegExp(`^${field}:\\s*(\\d+) kB$`, 'm').exec(status);
  if (m === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

/**
 * Starts the proxy CLI listening on 127.0.0.1 (ephemeral port; `listenFlag` false: where its config
 * file says, on 127.0.0.1) with `args` (give at least `--backend`); resolves once it prints its
 * listening line (looked for on either stream).
 */
export function spawnProxy(args: string[], startTimeoutMs = 10_000, listenFlag = true): Promise<ChildProxy> {
  const child = spawn(process.execPath, [MAIN, ...(listenFlag ? ['--listen', '127.0.0.1:0'] : []), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  const exit = new Promise<ChildExit>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  return new Promise<ChildProxy>((resolve, reject) => {
    const fail = (err: Error): void => {
      clearTimeout(timer);
      kill();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`proxy did not start within ${startTimeoutMs} ms: ${JSON.stringify(stdout + stderr)}`)), startTimeoutMs);
    child.once('error', fail);
    void exit.then((r) => fail(new Error(`proxy exited before listening: ${JSON.stringify(r)}`)));
    const onData = (): void => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(stdout + stderr);
      if (m === null || child.pid === undefined) return;
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      clearTimeout(timer);
      const pid = child.pid;
      resolve({
        child,
        pid,
        port: Number(m[1]),
        exit,
        exitWithin: (timeoutMs) => {
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`proxy still running after ${timeoutMs} ms: ${JSON.stringify(stdout + stderr)}`)), timeoutMs);
          });
          return Promise.race([exit, late]).finally(() => clearTimeout(timer));
        },
        rssKb: () => procStatusKb(pid, 'VmRSS'),
        peakKb: () => procStatusKb(pid, 'VmHWM'),
        output: () => stdout + stderr,
        close: async () => {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            const t = setTimeout(kill, 1_000);
            await exit;
            clearTimeout(t);
          }
        },
      });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  });
}

/**
 * Runs the proxy CLI with `args` to its exit, under `wrapper` (a command and its arguments that
 * runs what follows, e.g. setpriv) if given. Killed after 10 s: a CLI that wrongly starts serving
 * instead of refusing its arguments fails the test rather than hanging it.
 */
export function runCli(args: string[], wrapper: string[] = []): Promise<ChildExit> {
  const [command = process.execPath, ...before] = [...wrapper, process.execPath];
  const child = spawn(command, [...before, MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  return new Promise<ChildExit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
