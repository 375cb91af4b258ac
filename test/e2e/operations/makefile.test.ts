/**
 * `make run`'s set-up, run as a user would: the build is skipped when nothing changed, and the demo
 * backends are confirmed listening before the proxy starts (a taken port stops everything, named).
 * The load benchmarks' targets are checked only up to their arguments (a real run takes minutes).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closedPort, connect, refused, withCleanup, HOST, type Cleanup } from '../../kit/harness.js';
import { GET } from '../../kit/raw-client.js';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));

interface MakeResult {
  code: number | null;
  output: string;
}

interface MakeOptions {
  /** Its process group is interrupted (then killed) after this long, so a recipe that wrongly starts serving fails the test instead of hanging it. */
  timeoutMs?: number;
  /** Interrupt it (Ctrl-C) once its output matches this. */
  interruptWhen?: RegExp;
}

/** `make ARGS` in the repository, stdout and stderr together. */
function make(args: string[], { timeoutMs = 60_000, interruptWhen }: MakeOptions = {}): Promise<MakeResult> {
  const env = { ...process.env };
  delete env['MAKEFLAGS']; // not the jobserver of a `make test` around this
  delete env['MAKELEVEL'];
  const child = spawn('make', ['--no-print-directory', ...args], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let interrupted = false;
  const group = -(child.pid ?? 0);
  const onData = (s: string): void => {
    output += s;
    if (interruptWhen === undefined || interrupted || !interruptWhen.test(output)) return;
    interrupted = true;
    process.kill(group, 'SIGINT');
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  const timers = [
    setTimeout(() => process.kill(group, 'SIGINT'), timeoutMs),
    setTimeout(() => process.kill(group, 'SIGKILL'), timeoutMs + 5_000),
  ];
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      timers.forEach(clearTimeout);
      resolve({ code, output });
    });
  });
}

/** Waits (10 s at most) until nothing accepts connections on `port`. */
async function stopped(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await refused(port))) {
    if (Date.now() > deadline) throw new Error(`a backend still listens on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A RUN_DIR of its own, whose backends are stopped when the test ends. */
function runDir(c: Cleanup): string {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-make-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  c.add({ close: () => make(['stop_backend', `RUN_DIR=${dir}`]) });
  return dir;
}

test('make build: nothing to do when no source changed; a changed source is compiled, saying so', async () => {
  const built = await make(['build']);
  assert.is(built.code, 0, built.output);
  const upToDate = await make(['-q', 'build']);
  assert.is(upToDate.code, 0, `make -q build says there is work to do: ${upToDate.output}`);
  const changed = await make(['-n', '-W', 'src/main.ts', 'build']);
  assert.match(changed.output, /compiling TypeScript/);
  assert.match(changed.output, /tsc -p tsconfig\.json/);
});

test('make build: the build stamp lists tests, the test kit and benchmarks too (a changed one is compiled)', async () => {
  for (const source of ['test/unit/heap/heap.test.ts', 'test/e2e/requests/forwarding.test.ts', 'test/kit/harness.ts', 'bench/micro/run.ts', 'bench/load/compare.ts']) {
    const changed = await make(['-n', '-W', source, 'build']);
    assert.match(changed.output, /tsc -p tsconfig\.json/, `${source} changed: ${changed.output}`);
  }
});

test('make start_backend returns once every demo backend is listening', () => withCleanup(async (c) => {
  const dir = runDir(c);
  const ports = [await closedPort(), await closedPort()];
  const r = await make(['start_backend', `BACKEND_PORTS=${ports.join(' ')}`, `RUN_DIR=${dir}`]);
  assert.is(r.code, 0, r.output);
  for (const [i, port] of ports.entries()) {
    assert.match(r.output, `backend ${i + 1} listening on 127.0.0.1:${port}`);
    const client = await connect(c, port); // no waiting: make has returned, so it listens
    await client.write(GET('/'));
    assert.is((await client.readResponse()).body.toString(), `Hello from ${i + 1}\n`);
  }
}));

test('make run with a demo backend port taken: names it, stops the backends it started, exits non-zero, no proxy', () => withCleanup(async (c) => {
  const dir = runDir(c);
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, HOST, resolve));
  c.add({ close: () => taken.close() });
  const takenPort = (taken.address() as net.AddressInfo).port;
  const [first, listen] = [await closedPort(), await closedPort()];
  // A log left by an earlier backend 2 must not pass for this one's word.
  writeFileSync(join(dir, 'backend-2.log'), `hello 2 listening on 127.0.0.1:${takenPort}\n`);
  const r = await make(['run', `BACKEND_PORTS=${first} ${takenPort}`, `LISTEN=${HOST}:${listen}`, `RUN_DIR=${dir}`], { timeoutMs: 30_000 });
  assert.ok(r.code !== 0 && r.code !== null, `make run exits with an error status: ${r.code}\n${r.output}`);
  assert.match(r.output, `backend 2 did not start on 127.0.0.1:${takenPort}`);
  assert.not.match(r.output, /chanlb listening/);
  await stopped(first);
}));

test('make start_backend interrupted (Ctrl-C) after its first backend: no backend is left running', () => withCleanup(async (c) => {
  const dir = runDir(c);
  const ports = [await closedPort(), await closedPort(), await closedPort()];
  const r = await make(['start_backend', `BACKEND_PORTS=${ports.join(' ')}`, `RUN_DIR=${dir}`], { interruptWhen: /backend 1 listening/ });
  assert.ok(r.code !== 0, r.output);
  for (const port of ports) await stopped(port);
}));

test('make compare, policies, scale, edge, profile, memory and storm: a bad flag stops them with their usage line before anything starts', async () => {
  const cases: [string, string, RegExp][] = [
    ['compare', '--workers 0', /compare: --workers needs positive whole numbers/],
    ['policies', '--control p2c:3', /policies: --control: no arm 'p2c:3'/],
    ['scale', '--max 0', /scale: --max needs a positive whole number/],
    ['scale', '--pin-proxy x', /scale: --pin-proxy needs a CPU list/],
    ['profile', '--top 0', /profile: --top needs a positive whole number/],
    ['memory', '--clients x', /memory: --clients needs a positive whole number/],
    ['memory', '--idle chanlb,squid', /memory: --idle: unknown target 'squid'/],
    ['storm', '--storm 0', /storm: --storm needs a positive whole number/],
    ['edge', '--scenarios tls', /edge: --scenarios: unknown scenario 'tls'/],
    ['edge', '--control nginx', /edge: --control: only chanlb can be measured twice/],
    ['edge', '--pipeline 0', /edge: --pipeline needs positive whole numbers/],
  ];
  for (const [target, args, message] of cases) {
    const r = await make([target, `ARGS=${args}`]);
    assert.is(r.code, 2, r.output);
    assert.match(r.output, message);
    assert.match(r.output, `usage: node dist/bench/load/${target}.js`);
    assert.not.match(r.output, /listening on|round 1/);
  }
});

test.run();
