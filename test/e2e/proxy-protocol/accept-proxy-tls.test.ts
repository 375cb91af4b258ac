/**
 * accept_proxy on a TLS listener: the PROXY header comes first on the TCP connection, then the TLS
 * handshake (as HAProxy's `accept-proxy` on an `ssl` bind, and curl's --haproxy-protocol send it).
 * The header's source is the client; a connection that starts its handshake without a header is
 * closed without a response.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnProxy, type ChildProxy } from '../../kit/child-proxy.js';
import { closedPort, HOST, waitFor, withCleanup, type Cleanup } from '../../kit/harness.js';
import { startRecording, valuesOf, type RecordingBackend } from '../../kit/recording-backend.js';
import { run } from '../../kit/command.js';
import { CA, cert, hasCurl } from '../../kit/tls-files.js';

interface Setup {
  proxy: ChildProxy;
  port: number;
  backend: RecordingBackend;
  /** The access log's lines so far, parsed. */
  accessLines: () => Record<string, unknown>[];
}

async function setUp(c: Cleanup): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-pp-tls-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  const backend = await startRecording(c);
  const port = await closedPort();
  const access = join(dir, 'access.log');
  const file = join(dir, 'chanlb.yaml');
  const { cert: certFile, key } = cert('a.test');
  writeFileSync(file, [
    'listen:', `  - address: ${HOST}:${port}`, '    tls:', '      certificates:', `        - cert: ${certFile}`, `          key: ${key}`,
    `backends:\n  - ${HOST}:${backend.port}`, 'accept_proxy: true', 'trusted_proxies: [127.0.0.1]', '',
  ].join('\n'));
  const proxy = c.add(await spawnProxy(['--config', file, '--access-log', 'json', '--access-log-file', access, '--log-level', 'info'], 10_000, false));
  const accessLines = (): Record<string, unknown>[] => (existsSync(access) ? readFileSync(access, 'utf8') : '')
    .split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { proxy, port, backend, accessLines };
}

/**
 * An HTTPS GET over a TCP connection that first sends `header`: in a write of its own, or in the same
 * write as the TLS ClientHello (`together`), so the proxy reads the header and the start of the
 * handshake at once. Resolves with the response's text.
 */
async function getBehindHeader(port: number, header: Buffer, together: boolean): Promise<string> {
  const raw = net.connect(port, HOST);
  // A proxy that never ends the exchange fails the test instead of hanging it.
  raw.setTimeout(10_000, () => raw.destroy(new Error('no end within 10 s')));
  await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
  let first = true;
  const transport = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      const out = first && together ? Buffer.concat([header, chunk]) : chunk;
      first = false;
      raw.write(out, done);
    },
    final(done) {
      raw.end();
      done();
    },
  });
  raw.on('data', (d: Buffer) => transport.push(d));
  raw.on('end', () => transport.push(null));
  raw.on('error', (err) => transport.destroy(err));
  if (!together) raw.write(header);
  const socket = tls.connect({ socket: transport, servername: 'a.test', ca: readFileSync(CA) });
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('secureConnect', () => socket.write(`GET /pp HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n`));
    socket.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

test('a PROXY header before the TLS handshake (v1 in a write of its own; v2 in the same write as the ClientHello): its source is the client', () => withCleanup(async (c) => {
  const { port, backend, accessLines } = await setUp(c);
  const v1 = await getBehindHeader(port, Buffer.from('PROXY TCP4 203.0.113.7 192.0.2.1 40000 443\r\n'), false);
  assert.match(v1, /^HTTP\/1\.1 200 /, JSON.stringify(v1));
  // v2, TCP over IPv4 from 198.51.100.20:50000 to 192.0.2.1:443.
  const v2 = Buffer.concat([
    Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x21, 0x11, 0, 12]),
    Buffer.from([198, 51, 100, 20, 192, 0, 2, 1, 0xc3, 0x50, 0x01, 0xbb]),
  ]);
  const second = await getBehindHeader(port, v2, true);
  assert.match(second, /^HTTP\/1\.1 200 /, JSON.stringify(second));
  assert.equal(backend.requests.map((r) => valuesOf(r.headers, 'x-forwarded-for')), [['203.0.113.7'], ['198.51.100.20']]);
  assert.equal(backend.requests.map((r) => valuesOf(r.headers, 'x-forwarded-proto')), [['https'], ['https']]);
  await waitFor('two access lines', () => accessLines().length === 2, 5_000);
  assert.equal(accessLines().map((l) => [l.client, typeof l.tls === 'string' && l.tls.startsWith('TLSv1.')]), [['203.0.113.7', true], ['198.51.100.20', true]]);
}));

test('curl --haproxy-protocol over HTTPS: served, the header\'s source (curl\'s own address) forwarded', () => withCleanup(async (c) => {
  if (!hasCurl) {
    console.log('  skipped: curl is needed (apt-get install -y curl)');
    return;
  }
  const { port, backend } = await setUp(c);
  const r = await run('curl', ['-sS', '--haproxy-protocol', '--cacert', CA, '--resolve', `a.test:${port}:127.0.0.1`, `https://a.test:${port}/curl`]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(valuesOf(backend.requests[0]?.headers ?? [], 'x-forwarded-for'), ['127.0.0.1']);
}));

test('a TLS handshake without a PROXY header is closed without a response, and logged', () => withCleanup(async (c) => {
  const { proxy, port, backend } = await setUp(c);
  const outcome = await new Promise<string>((resolve) => {
    const socket = tls.connect({ host: HOST, port, servername: 'a.test', ca: readFileSync(CA) }, () => resolve('handshake completed'));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    socket.on('close', () => resolve('closed'));
  });
  assert.is.not(outcome, 'handshake completed');
  await waitFor('the refusal logged', () => /"event":"proxy_header_refused"/.test(proxy.output()), 5_000, () => proxy.output());
  assert.is(backend.requests.length, 0);
}));

test.run();
