/**
 * The command line, run as a user would: `node dist/src/main.js ...` in a child process.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, echoBackends, withCleanup } from './test-support/harness.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; exit: Promise<Exit> } {
  // The timeout kills a CLI that wrongly starts serving instead of refusing its arguments.
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  const exit = new Promise<Exit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exit };
}

const run = (args: string[]): Promise<Exit> => start(args).exit;

function assertUsageError(r: Exit, flag: string): void {
  assert.is(r.code, 2, `exit code (stderr: ${JSON.stringify(r.stderr)})`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.is(lines.length, 1, `one line on stderr: ${JSON.stringify(r.stderr)}`);
  assert.ok(lines[0]?.includes(flag), `the error names ${flag}: ${JSON.stringify(lines[0])}`);
  assert.is(r.stdout, '', 'nothing on stdout');
}

test('--bogus exits 2 with one line naming the flag', async () => {
  assertUsageError(await run(['--bogus']), '--bogus');
});

test('--backend nope exits 2 with one line naming --backend', async () => {
  assertUsageError(await run(['--backend', 'nope']), '--backend');
});

test('no backend, a bad port, a bad --listen: exit 2 naming the flag', async () => {
  assertUsageError(await run([]), '--backend');
  assertUsageError(await run(['--backend', '127.0.0.1:70000']), '--backend');
  assertUsageError(await run(['--listen', 'nowhere', '--backend', '127.0.0.1:9001']), '--listen');
});

test('--help prints the usage and exits 0', async () => {
  const r = await run(['--help']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /--backend HOST:PORT/);
  assert.is(r.stderr, '');
});

test('the CLI serves through its backends and exits 0 on SIGTERM', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { child, exit } = start(['--listen', '127.0.0.1:0', '--backend', `127.0.0.1:${echo.port}`]);
  c.add({ close: () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); } });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line within 5 s: ${JSON.stringify(out)}`)), 5_000);
    child.stdout?.on('data', (s: string) => {
      out += s;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exit.then((r) => reject(new Error(`exited early: ${JSON.stringify(r)}`)), reject);
  });
  const client = await connect(c, port);
  await client.write('GET /via-cli HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  const res = await client.readResponse();
  assert.is(res.status, 200);
  assert.match(res.body.toString(), /"url":"\/via-cli"/);
  client.close();
  child.kill('SIGTERM');
  const r = await exit;
  assert.is(r.code, 0, `exit after SIGTERM: ${JSON.stringify(r)}`);
}));

test.run();
