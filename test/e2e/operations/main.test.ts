/**
 * The command line, run as a user would: `node dist/src/main.js ...` in a child process.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort, connect, echoBackends, withCleanup } from '../../kit/harness.js';
import { runCli, spawnProxy, type ChildExit } from '../../kit/child-proxy.js';
import { GET } from '../../kit/raw-client.js';

/** Exit status 2, nothing on stdout, and one line on stderr, `chanlb: ...`, that contains `names`. */
function assertOneLineExit2(r: ChildExit, names: string): void {
  assert.is(r.code, 2, `exit code (stderr: ${JSON.stringify(r.stderr)})`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.is(lines.length, 1, `one line on stderr: ${JSON.stringify(r.stderr)}`);
  assert.ok(lines[0]?.startsWith('chanlb: '), `the line says who speaks: ${JSON.stringify(lines[0])}`);
  assert.ok(lines[0]?.includes(names), `the error names ${names}: ${JSON.stringify(lines[0])}`);
  assert.is(r.stdout, '', 'nothing on stdout');
}

test('--bogus exits 2 with one line naming the flag', async () => {
  assertOneLineExit2(await runCli(['--bogus']), '--bogus');
});

test('--backend nope exits 2 with one line naming --backend', async () => {
  assertOneLineExit2(await runCli(['--backend', 'nope']), '--backend');
});

test('no arguments: the usage on stderr, exit 2', async () => {
  const r = await runCli([]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /^Usage: chanlb .*--backend HOST:PORT/);
  assert.match(r.stderr, /--help +this text/);
  assert.is(r.stdout, '');
});

test('no backend, a bad port, a bad --listen: exit 2 naming the flag', async () => {
  assertOneLineExit2(await runCli(['--listen', '127.0.0.1:0']), '--backend');
  assertOneLineExit2(await runCli(['--backend', '127.0.0.1:70000']), '--backend');
  assertOneLineExit2(await runCli(['--listen', 'nowhere', '--backend', '127.0.0.1:9001']), '--listen');
});

test('--help prints the usage and exits 0', async () => {
  const r = await runCli(['--help']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /--backend HOST:PORT/);
  assert.is(r.stderr, '');
});

test('an address already in use: exit 2 with one line naming it', () => withCleanup(async (c) => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  c.add({ close: () => taken.close() });
  const address = `127.0.0.1:${(taken.address() as net.AddressInfo).port}`;
  assertOneLineExit2(await runCli(['--listen', address, '--backend', '127.0.0.1:9001']), `cannot listen on ${address}: address already in use`);
}));

/**
 * A command prefix under which binding port 1 is refused (EACCES), or null if there is none here:
 * root gets it from setpriv (no CAP_NET_BIND_SERVICE); a user has it already, unless the kernel
 * lets everyone bind low ports.
 */
function withoutLowPorts(): string[] | null {
  const sysctl = '/proc/sys/net/ipv4/ip_unprivileged_port_start';
  if (existsSync(sysctl) && Number(readFileSync(sysctl, 'utf8')) <= 1) return null;
  if (process.getuid?.() !== 0) return [];
  return existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--bounding-set', '-net_bind_service'] : null;
}

const unprivileged = withoutLowPorts();
if (unprivileged !== null) {
  test('a port the user may not bind: exit 2 with one line naming it', async () => {
    const r = await runCli(['--listen', '127.0.0.1:1', '--backend', '127.0.0.1:9001'], unprivileged);
    assertOneLineExit2(r, 'cannot listen on 127.0.0.1:1: permission denied');
  });
}

test('a log file that cannot be opened (error log, access log): exit 2 with one line naming it', () => withCleanup(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-main-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  const notADirectory = join(dir, 'file');
  writeFileSync(notADirectory, '');
  const backend = ['--listen', '127.0.0.1:0', '--backend', '127.0.0.1:9001'];
  assertOneLineExit2(await runCli([...backend, '--log-file', dir]), `error log: cannot open '${dir}'`);
  assertOneLineExit2(await runCli([...backend, '--access-log-file', join(notADirectory, 'access.log')]),
    `access log: cannot open '${join(notADirectory, 'access.log')}'`);
}));

test('standard output and error closed by their reader (`chanlb | head`): the proxy logs nothing more and goes on serving', () => withCleanup(async (c) => {
  const [backend] = await echoBackends(c, 1);
  assert.ok(backend !== undefined);
  const refused = await closedPort();
  for (const workers of ['1', '2']) {
    const proxy = c.add(await spawnProxy(['--workers', workers, '--backend', `127.0.0.1:${backend.port},127.0.0.1:${refused}`, '--access-log', 'combined']));
    proxy.child.stdout?.destroy();
    proxy.child.stderr?.destroy();
    // Every other request meets the refused backend: an error-log line, and an access-log line each.
    for (let i = 0; i < 6; i++) {
      const client = await connect(c, proxy.port);
      await client.write(GET(`/after-close/${i}`));
      assert.is((await client.readResponse()).status, 200);
      client.close();
    }
    assert.is(proxy.child.exitCode, null, `--workers ${workers}: still running`);
  }
}));

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
