/**
 * The command line, run as a user would: `node dist/src/main.js ...` in a child process.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, echoBackends, withCleanup } from './test-support/harness.js';
import { spawnProxy, type ChildExit } from './test-support/child-proxy.js';
import { GET } from './test-support/raw-client.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

function run(args: string[]): Promise<ChildExit> {
  // The timeout kills a CLI that wrongly starts serving instead of refusing its arguments.
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  return new Promise<ChildExit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function assertUsageError(r: ChildExit, flag: string): void {
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

test('no arguments: the usage on stderr, exit 2', async () => {
  const r = await run([]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /^Usage: chanlb .*--backend HOST:PORT/);
  assert.match(r.stderr, /--help +this text/);
  assert.is(r.stdout, '');
});

test('no backend, a bad port, a bad --listen: exit 2 naming the flag', async () => {
  assertUsageError(await run(['--listen', '127.0.0.1:0']), '--backend');
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
  const proxy = c.add(await spawnProxy(['--backend', `127.0.0.1:${echo.port}`]));
  const client = await connect(c, proxy.port);
  await client.write(GET('/via-cli'));
  const res = await client.readResponse();
  assert.is(res.status, 200);
  assert.match(res.body.toString(), /"url":"\/via-cli"/);
  client.close();
  proxy.child.kill('SIGTERM');
  const r = await proxy.exitWithin(10_000);
  assert.is(r.code, 0, `exit after SIGTERM: ${JSON.stringify(r)}`);
}));

test('--access-log json: standard output carries only the JSON lines; the banner and notices go to standard error', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const proxy = c.add(await spawnProxy(['--backend', `127.0.0.1:${echo.port}`, '--access-log', 'json']));
  const client = await connect(c, proxy.port);
  await client.write(GET('/logged'));
  assert.is((await client.readResponse()).status, 200);
  proxy.child.kill('SIGTERM'); // the access log is flushed before the process exits
  const r = await proxy.exitWithin(10_000);
  assert.is(r.code, 0);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  const entries = lines.map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`a line on stdout that is not JSON: ${JSON.stringify(line)}`);
    }
  });
  assert.equal(entries.map((e) => e.target), ['/logged'], JSON.stringify(lines));
  assert.match(r.stderr, /chanlb listening on 127\.0\.0\.1:\d+/);
  assert.match(r.stderr, /SIGTERM, finishing requests in flight/);
}));

test.run();
