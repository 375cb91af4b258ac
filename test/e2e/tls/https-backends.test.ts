/**
 * Issue #15, https:// backends: verified (against --backend-ca, or the system CAs), SNI set to the
 * backend's host name, keep-alive pooled like plain ones; a certificate that does not verify is a
 * backend failure with its own code (PRX_ERR_BACKEND_TLS) and a 502; health checks speak TLS too.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { spawnProxy } from '../../kit/child-proxy.js';
import { GET } from '../../kit/raw-client.js';
import { connect, HOST, waitFor, withCleanup, type Cleanup } from '../../kit/harness.js';
import { CA, cert } from '../../kit/tls-files.js';

interface TlsBackend {
  port: number;
  /** TLS connections accepted, and the SNI name each asked for ('' for none). */
  handshakes: string[];
  paths: string[];
}

async function httpsBackend(c: Cleanup, certName: string): Promise<TlsBackend> {
  const files = cert(certName);
  const b: TlsBackend = { port: 0, handshakes: [], paths: [] };
  const server = https.createServer({ cert: readFileSync(files.cert), key: readFileSync(files.key), keepAliveTimeout: 5_000 }, (req, res) => {
    b.paths.push(req.url ?? '');
    const body = `tls ${certName} ${req.url ?? ''}`;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) }).end(body);
  });
  server.on('secureConnection', (socket: TLSSocket) => b.handshakes.push((socket as TLSSocket & { servername?: string | false }).servername || ''));
  await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()));
  c.add({ close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) });
  b.port = (server.address() as AddressInfo).port;
  return b;
}

test('an https:// backend verified against --backend-ca: served over one pooled TLS connection, SNI from its host name', () => withCleanup(async (c) => {
  const backend = await httpsBackend(c, 'default.test');
  const proxy = c.add(await spawnProxy(['--backend', `https://localhost:${backend.port}`, '--backend-ca', CA]));
  const client = await connect(c, proxy.port);
  for (let i = 0; i < 5; i++) {
    await client.write(GET(`/k${i}`));
    const res = await client.readResponse();
    assert.is(res.status, 200);
    assert.is(res.body.toString(), `tls default.test /k${i}`);
  }
  assert.equal(backend.handshakes, ['localhost'], 'one TLS connection, kept alive, with SNI localhost');
}));

test('a backend certificate that does not verify: 502, logged as PRX_ERR_BACKEND_TLS with the reason; an IP address gets no SNI', () => withCleanup(async (c) => {
  const untrusted = await httpsBackend(c, 'default.test');
  const wrongName = await httpsBackend(c, 'a.test');
  // No --backend-ca: the system CAs do not know the test CA.
  const proxy = c.add(await spawnProxy(['--backend', `https://127.0.0.1:${untrusted.port}`]));
  const client = await connect(c, proxy.port);
  await client.write(GET('/x'));
  assert.is((await client.readResponse()).status, 502);
  await waitFor('the failure logged', () => /"event":"backend_failed".*"code":"PRX_ERR_BACKEND_TLS"/.test(proxy.output()), 5_000);
  assert.match(proxy.output(), /TLS with backend 127\.0\.0\.1:\d+ failed: (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/);
  assert.equal(untrusted.paths, [], 'nothing was sent to it');
  assert.equal(untrusted.handshakes, [], 'the client side gave up; the backend saw no finished handshake');

  // Trusted CA, but a certificate for a.test reached as 127.0.0.1: the name does not match.
  const other = c.add(await spawnProxy(['--backend', `https://127.0.0.1:${wrongName.port}`, '--backend-ca', CA]));
  const second = await connect(c, other.port);
  await second.write(GET('/y'));
  assert.is((await second.readResponse()).status, 502);
  await waitFor('the mismatch logged', () => /failed: ERR_TLS_CERT_ALTNAME_INVALID/.test(other.output()), 5_000);
  assert.equal(wrongName.paths, []);
}));

test('health checks of an https:// backend speak TLS: it stays up and serves', () => withCleanup(async (c) => {
  const backend = await httpsBackend(c, 'default.test');
  const proxy = c.add(await spawnProxy(['--backend', `https://127.0.0.1:${backend.port}`, '--backend-ca', CA,
    '--health-check', 'http', '--health-check-path', '/health', '--health-check-interval', '50ms', '--health-check-jitter', '0']));
  await waitFor('three checks over TLS', () => backend.paths.filter((p) => p === '/health').length >= 3, 5_000);
  assert.not.match(proxy.output(), /backend_down/);
  const client = await connect(c, proxy.port);
  await client.write(GET('/after-checks'));
  assert.is((await client.readResponse()).status, 200);
}));

test('a tcp health check of an https:// backend passes only when the handshake verifies', () => withCleanup(async (c) => {
  const backend = await httpsBackend(c, 'default.test');
  // No --backend-ca: the connect succeeds, the certificate does not verify.
  const proxy = c.add(await spawnProxy(['--backend', `https://127.0.0.1:${backend.port}`,
    '--health-check', 'tcp', '--health-check-interval', '50ms', '--health-check-jitter', '0', '--health-check-fall', '2']));
  await waitFor('down by its check', () => /"event":"backend_down"/.test(proxy.output()), 5_000);
}));

test.run();
