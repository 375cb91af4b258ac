/**
 * Issue #15, TCP mode through the real CLI: each connection piped to a backend the least-pending
 * heap picks (pending = open connections), half-close passed on, a refused connect retried on the
 * next backend, the idle timeout, the access log and metrics, send_proxy, graceful shutdown; TLS
 * terminated on a TCP listener; backends found through DNS.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnProxy, type ChildProxy } from '../../kit/child-proxy.js';
import { closedPort, HOST, sleep, waitFor, withCleanup, type Cleanup } from '../../kit/harness.js';
import { parseExposition, valueOf } from '../../kit/prometheus-text.js';
import * as tls from 'node:tls';
import { CA, cert } from '../../kit/tls-files.js';
import { DnsServer } from '../../kit/dns-server.js';

interface Echo {
  port: number;
  /** Connections accepted, and every byte each received. */
  received: string[];
}

/** A raw TCP backend: answers each read with `<name>:` and the bytes; on the client's end, `<name> bye` and its own end. */
async function echo(c: Cleanup, name: string, host = HOST, port = 0): Promise<Echo> {
  const e: Echo = { port: 0, received: [] };
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    const i = e.received.push('') - 1;
    socket.on('data', (d: Buffer) => {
      e.received[i] += d.toString('latin1');
      socket.write(`${name}:${d.toString('latin1')}`);
    });
    socket.on('end', () => socket.end(`${name} bye`));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, host, () => resolve()));
  c.add({ close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }) });
  e.port = (server.address() as net.AddressInfo).port;
  return e;
}

/** A client connection with what it has read so far. */
async function client(c: Cleanup, port: number): Promise<{ socket: net.Socket; read: () => string; closed: Promise<void> }> {
  const socket = net.connect({ port, host: HOST, allowHalfOpen: true });
  c.add({ close: async () => { socket.destroy(); } });
  let read = '';
  socket.on('data', (d: Buffer) => { read += d.toString('latin1'); });
  socket.on('error', () => {});
  // Half-open allowed: the proxy's close arrives as an 'end' (this side stays open until it ends too).
  const closed = new Promise<void>((resolve) => {
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
  });
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('error', reject); });
  return { socket, read: () => read, closed };
}

async function tcpProxy(c: Cleanup, backends: number[], extra: string[] = []): Promise<ChildProxy> {
  return c.add(await spawnProxy(['--mode', 'tcp', ...backends.flatMap((p) => ['--backend', `${HOST}:${p}`]), ...extra]));
}

test('each connection goes to the backend with the fewest open connections; bytes both ways, half-close passed on', () => withCleanup(async (c) => {
  const a = await echo(c, 'a');
  const b = await echo(c, 'b');
  const proxy = await tcpProxy(c, [a.port, b.port]);
  const first = await client(c, proxy.port);
  first.socket.write('one');
  await waitFor('the first answer', () => /^[ab]:one$/.test(first.read()), 5_000);
  const firstName = first.read()[0] as string;
  const second = await client(c, proxy.port);
  second.socket.write('two');
  await waitFor('the second answer', () => /^[ab]:two$/.test(second.read()), 5_000);
  assert.is.not(second.read()[0], firstName, 'the backend holding a connection is not picked again');
  // Half-close: the client's end reaches the backend, whose answer and end come back.
  second.socket.end();
  await second.closed;
  assert.match(second.read(), /^([ab]):two\1 bye$/);
  const third = await client(c, proxy.port);
  third.socket.write('three');
  await waitFor('the third answer', () => /^[ab]:three$/.test(third.read()), 5_000);
  assert.is.not(third.read()[0], firstName, 'the one with the open connection is still the busier');
}));

test('a refused connect goes to the next backend; after --eject-after refusals the backend is out', () => withCleanup(async (c) => {
  const good = await echo(c, 'g');
  const dead = await closedPort();
  const proxy = await tcpProxy(c, [dead, good.port], ['--eject-after', '2']);
  for (let i = 0; i < 6; i++) {
    const conn = await client(c, proxy.port);
    conn.socket.write(`x${i}`);
    await waitFor(`answer ${i}`, () => conn.read() === `g:x${i}`, 5_000);
    conn.socket.destroy();
  }
  await waitFor('the refusals logged', () => (proxy.output().match(/"event":"backend_failed"/g) ?? []).length >= 2, 5_000);
  assert.match(proxy.output(), /"event":"backend_ejected"/);
  assert.ok((proxy.output().match(/"event":"backend_failed"/g) ?? []).length <= 3, 'an ejected backend is not tried again');
}));

test('the idle timeout closes a silent connection; the access log and metrics count it, with its bytes', () => withCleanup(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-tcp-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  const access = join(dir, 'access.log');
  const a = await echo(c, 'a');
  const admin = await closedPort();
  const proxy = await tcpProxy(c, [a.port], ['--tcp-idle-timeout', '300ms', '--access-log', 'json', '--access-log-file', access, '--admin', `${HOST}:${admin}`]);
  const conn = await client(c, proxy.port);
  conn.socket.write('12345');
  await waitFor('the answer', () => conn.read() === 'a:12345', 5_000);
  const startedAt = Date.now();
  await conn.closed;
  const idle = Date.now() - startedAt;
  // Timed on the coarse clock from the sweep that last saw bytes move: never early, up to a tick late.
  assert.ok(idle >= 250 && idle < 5_000, `closed after ${idle} ms of silence`);
  await waitFor('the access line', () => existsSync(access) && readFileSync(access, 'utf8').includes('"mode":"tcp"'), 5_000);
  const line = JSON.parse(readFileSync(access, 'utf8').trim().split('\n')[0] as string) as Record<string, unknown>;
  assert.equal([line.backend, line.result, line.bytes_in, line.bytes_out], [`${HOST}:${a.port}`, 'idle_timeout', 5, 7]);
  const metrics = parseExposition(await (await fetch(`http://${HOST}:${admin}/metrics`)).text());
  assert.is(valueOf(metrics, 'chanlb_tcp_connections_total', { result: 'idle_timeout' }), 1);
  assert.is(valueOf(metrics, 'chanlb_tcp_bytes_total', { direction: 'in' }), 5);
  assert.is(valueOf(metrics, 'chanlb_tcp_bytes_total', { direction: 'out' }), 7);
  assert.is(valueOf(metrics, 'chanlb_tcp_connections_open'), 0);
}));

test('send_proxy v1 in TCP mode: the backend reads the client\'s addresses first', () => withCleanup(async (c) => {
  const a = await echo(c, 'a');
  const proxy = await tcpProxy(c, [a.port], ['--send-proxy', 'v1']);
  const conn = await client(c, proxy.port);
  conn.socket.write('data');
  await waitFor('the data at the backend', () => (a.received[0] ?? '').endsWith('data'), 5_000);
  assert.match(a.received[0] ?? '', new RegExp(`^PROXY TCP4 127\\.0\\.0\\.1 127\\.0\\.0\\.1 ${conn.socket.localPort} ${proxy.port}\\r\\ndata$`));
}));

test('TLS on a TCP listener: the backend gets the decrypted bytes, the client its answer encrypted; half-close passed on', () => withCleanup(async (c) => {
  const backend = await echo(c, 'b');
  const { cert: certFile, key } = cert('a.test');
  const proxy = await tcpProxy(c, [backend.port], ['--tls-cert', certFile, '--tls-key', key]);
  // A client of some other protocol over TLS (h2 here) is not refused for want of ALPN http/1.1.
  const socket = tls.connect({ host: HOST, port: proxy.port, servername: 'a.test', ca: readFileSync(CA), ALPNProtocols: ['h2'] });
  c.add({ close: async () => { socket.destroy(); } });
  let read = '';
  socket.on('data', (d: Buffer) => { read += d.toString('latin1'); });
  const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
  await new Promise<void>((resolve, reject) => { socket.once('secureConnect', () => resolve()); socket.once('error', reject); });
  assert.is(socket.getPeerCertificate().subject?.CN, 'a.test');
  socket.write('PING\r\n');
  await waitFor('the echo', () => read === 'b:PING\r\n', 5_000, () => read);
  assert.equal(backend.received, ['PING\r\n'], 'plain bytes at the backend');
  socket.end();
  await ended;
  assert.is(read, 'b:PING\r\nb bye');
}));

test('dns: backends in TCP mode: an address that appears takes new connections; one that leaves keeps its open connection and gets no new one', () => withCleanup(async (c) => {
  const one = await echo(c, 'b1', '127.0.0.1');
  await echo(c, 'b2', '127.0.0.2', one.port);
  const dns = c.add(await DnsServer.start());
  dns.set('tcp.chanlb.test', { a: ['127.0.0.1'], ttl: 0 });
  const admin = await closedPort();
  const proxy = c.add(await spawnProxy(['--mode', 'tcp', '--backend', `dns:tcp.chanlb.test:${one.port}`, '--dns-server', dns.address,
    '--dns-min-interval', '50ms', '--dns-max-interval', '200ms', '--dns-timeout', '100ms', '--admin', `${HOST}:${admin}`]));
  /** chanlb_tcp_connections_open of the backend at `host`, or undefined when the backend is not listed. */
  const openTo = async (host: string): Promise<number | undefined> => {
    const metrics = parseExposition(await (await fetch(`http://${HOST}:${admin}/metrics`)).text());
    return metrics.samples.find((m) => m.name === 'chanlb_tcp_connections_open' && m.labels.backend === `${host}:${one.port}`)?.value;
  };
  /** Which backend answers a new connection's first bytes (the connection stays open). */
  const answerer = async (): Promise<{ name: string; conn: Awaited<ReturnType<typeof client>> }> => {
    const conn = await client(c, proxy.port);
    conn.socket.write('hi');
    await waitFor('an echo', () => conn.read().endsWith(':hi'), 5_000, () => conn.read());
    return { name: conn.read().split(':')[0] ?? '', conn };
  };
  const first = await answerer();
  assert.is(first.name, 'b1');
  dns.set('tcp.chanlb.test', { a: ['127.0.0.2'], ttl: 0 });
  // Within a few lookups the name gives only 127.0.0.2: new connections go there.
  const deadline = Date.now() + 5_000;
  for (let name = ''; name !== 'b2';) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a new connection answered by b2');
    const next = await answerer();
    next.conn.socket.destroy();
    name = next.name;
  }
  for (let i = 0; i < 3; i++) assert.is((await answerer()).name, 'b2', 'b1 takes no new connection once it left');
  // The connection open to b1 goes on, and b1 is listed while it does.
  first.conn.socket.write('again');
  await waitFor('b1 still answering its open connection', () => first.conn.read().endsWith('b1:again'), 5_000, () => first.conn.read());
  assert.is(await openTo('127.0.0.1'), 1, 'the backend that left, with its open connection');
  first.conn.socket.destroy();
  const until = Date.now() + 5_000;
  while ((await openTo('127.0.0.1')) !== undefined) {
    if (Date.now() > until) throw new Error('b1 still listed after its last connection closed');
    await sleep(20);
  }
  const text = await (await fetch(`http://${HOST}:${admin}/metrics`)).text();
  assert.not.match(text, `backend="127.0.0.1:${one.port}"`, 'nor counted among ended connections');
  assert.match(text, `chanlb_tcp_connections_total{pool="default",backend="127.0.0.2:${one.port}"`);
}));

test('SIGTERM waits for open TCP connections (they go on), and exits when they close', () => withCleanup(async (c) => {
  const a = await echo(c, 'a');
  const proxy = await tcpProxy(c, [a.port]);
  const conn = await client(c, proxy.port);
  conn.socket.write('before');
  await waitFor('the answer', () => conn.read() === 'a:before', 5_000);
  proxy.child.kill('SIGTERM');
  await waitFor('the shutdown begun', () => /SIGTERM/.test(proxy.output()), 5_000);
  conn.socket.write('during');
  await waitFor('an answer during the shutdown', () => conn.read() === 'a:beforea:during', 5_000);
  assert.is(proxy.child.exitCode, null, 'still running while the connection is open');
  conn.socket.end();
  const exit = await proxy.exitWithin(5_000);
  assert.is(exit.code, 0);
}));

test.run();
