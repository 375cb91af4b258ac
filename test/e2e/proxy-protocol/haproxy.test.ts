/**
 * The PROXY protocol against the reference implementation: real HAProxy in front sends
 * `send-proxy-v2` to chanlb (accept_proxy), which sends v1 to a raw backend; and chanlb sends v1 and
 * v2 to an HAProxy listener with `accept-proxy`, which answers with the client address it read.
 * Skipped, with a message, where haproxy is not installed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as net from 'node:net';
import { closedPort, connect, startProxy, waitFor, withCleanup, HOST, type Cleanup } from '../../kit/harness.js';
import { bytesText, startHeaderBackend } from '../../kit/proxy-header-backend.js';

const HAPROXY = ['/usr/sbin/haproxy', 'haproxy'].find((bin) => spawnSync(bin, ['-v']).status === 0) ?? null;

function skipped(name: string): boolean {
  if (HAPROXY !== null) return false;
  process.stdout.write(`\n  skipped "${name}": haproxy is not installed (apt-get install haproxy)\n`);
  return true;
}

/** HAProxy with `sections` (after a global and defaults block), stopped at cleanup; resolves once `port` accepts. */
async function startHaproxy(c: Cleanup, sections: string, port: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-haproxy-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  const conf = join(dir, 'haproxy.cfg');
  writeFileSync(conf, `global\n  maxconn 100\ndefaults\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n${sections}`);
  let output = '';
  const child: ChildProcess = spawn(HAPROXY as string, ['-f', conf, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
  c.add({
    close: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  });
  let up = false;
  await waitFor('haproxy to listen', () => {
    if (child.exitCode !== null) throw new Error(`haproxy exited ${child.exitCode}: ${output}`);
    if (!up) {
      const probe = net.connect(port, HOST);
      probe.once('connect', () => { up = true; probe.destroy(); });
      probe.once('error', () => probe.destroy());
    }
    return up;
  }, 10_000, () => output);
}

test('HAProxy send-proxy-v2 -> chanlb accept_proxy, send_proxy v1 -> backend: the client address and port get through both hops', () => withCleanup(async (c) => {
  if (skipped('HAProxy send-proxy-v2 in front')) return;
  const backend = await startHeaderBackend(c);
  const { port: chanlb } = await startProxy(c, [backend], { acceptProxy: true, trustedProxies: ['127.0.0.1'], sendProxy: 'v1' });
  const front = await closedPort();
  await startHaproxy(c, `frontend front
  mode tcp
  bind ${HOST}:${front}
  default_backend chanlb
backend chanlb
  mode tcp
  server c1 ${HOST}:${chanlb} send-proxy-v2
`, front);
  const client = await connect(c, front);
  await client.write('GET /through HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  assert.is((await client.readResponse()).status, 200);
  const seen = bytesText(backend.conns[0]);
  // The source is the client's socket as HAProxy saw it; the destination the address it connected to.
  assert.ok(seen.startsWith(`PROXY TCP4 127.0.0.1 127.0.0.1 ${client.socket.localPort ?? 0} ${front}\r\nGET /through HTTP/1.1\r\n`), seen);
}));

for (const version of ['v1', 'v2'] as const) {
  test(`chanlb send_proxy ${version} -> HAProxy accept-proxy: HAProxy reads the client's address and port`, () => withCleanup(async (c) => {
    if (skipped(`chanlb send_proxy ${version} to HAProxy`)) return;
    const behind = await closedPort();
    await startHaproxy(c, `frontend behind
  mode http
  bind ${HOST}:${behind} accept-proxy
  http-request return status 200 content-type text/plain lf-string "%[src]:%[src_port] -> %[dst]:%[dst_port]"
`, behind);
    const { port } = await startProxy(c, [{ port: behind }], { sendProxy: version });
    const client = await connect(c, port);
    await client.write('GET / HTTP/1.1\r\nHost: lb.test\r\n\r\n');
    const res = await client.readResponse();
    assert.is(res.status, 200);
    assert.is(res.body.toString(), `127.0.0.1:${client.socket.localPort ?? 0} -> 127.0.0.1:${port}`);
  }));
}

test.run();
