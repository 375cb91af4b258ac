/**
 * send_proxy to an https:// backend: the PROXY header comes first on the TCP connection and the TLS
 * handshake after it (as a TLS server behind accept-proxy reads them, HAProxy's `send-proxy` on an
 * `ssl` server line). The backend here reads the header, then hands the connection to an HTTPS server.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import { spawnProxy } from '../../kit/child-proxy.js';
import { connect, HOST, waitFor, withCleanup, type Cleanup } from '../../kit/harness.js';
import { GET } from '../../kit/raw-client.js';
import { CA, cert } from '../../kit/tls-files.js';
import { parseHeader } from '../../../src/proxy-protocol/parse.js';

interface HeaderTlsBackend {
  port: number;
  /** Each TCP connection's PROXY header, as text (or `invalid: why` when it had none). */
  headers: string[];
  /** Requests served, by path. */
  paths: string[];
}

/** An HTTPS backend (certificate default.test) that reads a PROXY header on each connection before TLS. */
async function headerTlsBackend(c: Cleanup): Promise<HeaderTlsBackend> {
  const files = cert('default.test');
  const backend: HeaderTlsBackend = { port: 0, headers: [], paths: [] };
  const server = https.createServer({ cert: readFileSync(files.cert), key: readFileSync(files.key), keepAliveTimeout: 5_000 }, (req, res) => {
    backend.paths.push(req.url ?? '');
    res.end('ok');
  });
  const front = net.createServer((socket) => {
    let read = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      read = Buffer.concat([read, chunk]);
      const result = parseHeader(read);
      if (result.status === 'more') return;
      socket.off('data', onData);
      if (result.status === 'invalid') {
        backend.headers.push(`invalid: ${result.reason}`);
        socket.destroy();
        return;
      }
      backend.headers.push(read.subarray(0, result.consumed).toString('latin1'));
      socket.pause();
      socket.unshift(read.subarray(result.consumed));
      server.emit('connection', socket);
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => front.listen(0, HOST, () => resolve()));
  backend.port = (front.address() as net.AddressInfo).port;
  c.add({ close: () => new Promise<void>((resolve) => { server.closeAllConnections(); front.close(() => resolve()); }) });
  return backend;
}

test('v1 to an https:// backend: each TLS connection begins with its client\'s header, before the handshake; health checks send UNKNOWN', () => withCleanup(async (c) => {
  const backend = await headerTlsBackend(c);
  const proxy = c.add(await spawnProxy(['--backend', `https://localhost:${backend.port}`, '--backend-ca', CA, '--send-proxy', 'v1',
    '--health-check', 'tcp', '--health-check-interval', '100ms']));
  await waitFor('a health check', () => backend.headers.includes('PROXY UNKNOWN\r\n'), 5_000, () => JSON.stringify(backend.headers));
  const first = await connect(c, proxy.port);
  const second = await connect(c, proxy.port);
  for (const [client, path] of [[first, '/1'], [first, '/2'], [second, '/3']] as const) {
    await client.write(GET(path));
    const res = await client.readResponse();
    assert.is(res.status, 200);
    assert.is(res.body.toString(), 'ok');
  }
  assert.equal(backend.paths, ['/1', '/2', '/3']);
  const clients = backend.headers.filter((h) => h !== 'PROXY UNKNOWN\r\n');
  const line = (port: number | undefined): string => `PROXY TCP4 127.0.0.1 127.0.0.1 ${port ?? 0} ${proxy.port}\r\n`;
  assert.equal(clients, [line(first.socket.localPort), line(second.socket.localPort)], 'one TLS connection per client, its header first');
  assert.ok(!backend.headers.some((h) => h.startsWith('invalid')), JSON.stringify(backend.headers));
}));

test.run();
