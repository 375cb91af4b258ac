/**
 * Issue #15, TLS termination through the real CLI and real clients (curl, openssl s_client): HTTPS
 * served, X-Forwarded-Proto https, the TLS version in the access log; versions below the minimum
 * refused; SNI picks the certificate; a reload swaps it; a bad file refused with its name; a client
 * that never finishes its handshake is cut off. Skipped, saying so, without curl or openssl.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, spawnProxy } from '../../kit/child-proxy.js';
import { startRecording } from '../../kit/recording-backend.js';
import { closedPort, HOST, waitFor, withCleanup, type Cleanup } from '../../kit/harness.js';
import { run } from '../../kit/command.js';
import { CA, cert, hasCurl, hasOpenssl, servedSubject } from '../../kit/tls-files.js';

const skip = (): boolean => {
  if (hasCurl && hasOpenssl) return false;
  console.log('  skipped: curl and openssl are needed (apt-get install -y curl openssl)');
  return true;
};

function tempDir(c: Cleanup): string {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-tls-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  return dir;
}

/** A config whose one listener serves `certs` (the first the default). */
const tlsConfig = (port: number, backend: number, certs: string[], extra = ''): string =>
  `listen:\n  - address: ${HOST}:${port}\n    tls:\n${extra}      certificates:\n${certs.map((n) => `        - cert: ${cert(n).cert}\n          key: ${cert(n).key}\n`).join('')}` +
  `backends:\n  - ${HOST}:${backend}\n`;

test('curl over HTTPS: served, X-Forwarded-Proto https to the backend, TLS version in the access log', () => withCleanup(async (c) => {
  if (skip()) return;
  const backend = await startRecording(c);
  const dir = tempDir(c);
  const access = join(dir, 'access.log');
  const { cert: certFile, key } = cert('default.test');
  const proxy = c.add(await spawnProxy(['--backend', `${HOST}:${backend.port}`, '--tls-cert', certFile, '--tls-key', key, '--access-log', 'json', '--access-log-file', access]));
  const r = await run('curl', ['-sS', '--cacert', CA, `https://127.0.0.1:${proxy.port}/hello`]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'GET /hello');
  const headers = backend.requests[0]?.headers ?? [];
  assert.equal(headers.filter(([n]) => n.toLowerCase() === 'x-forwarded-proto').map(([, v]) => v), ['https']);
  const { readFileSync, existsSync } = await import('node:fs');
  await waitFor('the access line', () => existsSync(access) && readFileSync(access, 'utf8').includes('"tls":"TLSv1.3"'), 5_000);
  // Plain HTTP to a TLS listener is not served.
  const plain = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${proxy.port}/`]);
  assert.is.not(plain.stdout, '200');
}));

test('versions below the minimum are refused: TLS 1.1 by default, TLS 1.2 with min_version TLSv1.3', () => withCleanup(async (c) => {
  if (skip()) return;
  const backend = await startRecording(c);
  const { cert: certFile, key } = cert('default.test');
  const proxy = c.add(await spawnProxy(['--backend', `${HOST}:${backend.port}`, '--tls-cert', certFile, '--tls-key', key]));
  const old = await servedSubject(proxy.port, null, ['-tls1_1']);
  assert.is.not(old.code, 0, 'TLS 1.1 refused');
  const ok = await servedSubject(proxy.port, null, ['-tls1_2']);
  assert.is(ok.code, 0, ok.stderr);
  await waitFor('the failed handshake logged', () => /"event":"tls_handshake_failed".*"reason":"unsupported protocol"/.test(proxy.output()), 5_000);

  const dir = tempDir(c);
  const file = join(dir, 'chanlb.yaml');
  const port = await closedPort();
  writeFileSync(file, tlsConfig(port, backend.port, ['default.test'], '      min_version: TLSv1.3\n'));
  const strict = c.add(await spawnProxy(['--config', file], 10_000, false));
  assert.is.not((await servedSubject(strict.port, null, ['-tls1_2'])).code, 0, 'TLS 1.2 refused');
  assert.is((await servedSubject(strict.port, null, ['-tls1_3'])).code, 0);
}));

test('SNI picks the certificate: exact name, then a wildcard, then the default; a reload swaps them', () => withCleanup(async (c) => {
  if (skip()) return;
  const backend = await startRecording(c);
  const dir = tempDir(c);
  const file = join(dir, 'chanlb.yaml');
  const port = await closedPort();
  writeFileSync(file, tlsConfig(port, backend.port, ['default.test', 'a.test', 'wild.b.test']));
  const proxy = c.add(await spawnProxy(['--config', file], 10_000, false));
  assert.match((await servedSubject(port, 'a.test')).subject, /O ?= ?first/);
  assert.match((await servedSubject(port, 'x.b.test')).subject, /CN ?= ?wild\.b\.test/);
  assert.match((await servedSubject(port, 'y.x.b.test')).subject, /CN ?= ?default\.test/, 'a wildcard covers one label');
  assert.match((await servedSubject(port, 'other.test')).subject, /CN ?= ?default\.test/);
  assert.match((await servedSubject(port, null)).subject, /CN ?= ?default\.test/);
  // curl names the host: it verifies the certificate chosen for a.test against it.
  const r = await run('curl', ['-sS', '--cacert', CA, '--resolve', `a.test:${port}:127.0.0.1`, `https://a.test:${port}/sni`]);
  assert.is(r.stdout, 'GET /sni', r.stderr);

  writeFileSync(file, tlsConfig(port, backend.port, ['default.test', 'a2.test']));
  proxy.child.kill('SIGHUP');
  await waitFor('the reload', () => /"event":"reloaded"/.test(proxy.output()), 10_000);
  assert.match((await servedSubject(port, 'a.test')).subject, /O ?= ?second/, 'the new certificate for a.test');
  assert.match((await servedSubject(port, 'x.b.test')).subject, /CN ?= ?default\.test/, 'the wildcard one is gone');

  // A reload naming a missing key is refused, naming the file, and the certificates stay.
  writeFileSync(file, tlsConfig(port, backend.port, ['default.test']).replace(cert('default.test').key, join(dir, 'missing.key')));
  proxy.child.kill('SIGHUP');
  await waitFor('the rejected reload', () => /"event":"reload_rejected"/.test(proxy.output()), 10_000);
  assert.match(proxy.output(), new RegExp(`chanlb\\.yaml:\\d+: listen\\[0\\]\\.tls\\.certificates\\[0\\]: expected a readable certificate and its matching key, got cannot read the key ${join(dir, 'missing.key').replace(/\./g, '\\.')}: ENOENT`));
  assert.match((await servedSubject(port, 'a.test')).subject, /O ?= ?second/);
}));

test('a bad certificate or key refuses start-up with one line naming the file (and the config entry)', () => withCleanup(async (c) => {
  const dir = tempDir(c);
  const missing = await runCli(['--backend', '127.0.0.1:9', '--tls-cert', join(dir, 'nope.pem'), '--tls-key', cert('a.test').key]);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, new RegExp(`--tls-cert/--tls-key: cannot read the certificate ${join(dir, 'nope.pem')}: ENOENT`));
  const mismatched = await runCli(['--backend', '127.0.0.1:9', '--tls-cert', cert('a.test').cert, '--tls-key', cert('wild.b.test').key]);
  assert.is(mismatched.code, 2);
  assert.match(mismatched.stderr, `the key ${cert('wild.b.test').key} does not match the certificate ${cert('a.test').cert}`);
  const alone = await runCli(['--backend', '127.0.0.1:9', '--tls-cert', cert('a.test').cert]);
  assert.is(alone.code, 2);
  assert.match(alone.stderr, '--tls-cert: give --tls-key too');
  const file = join(dir, 'chanlb.yaml');
  writeFileSync(file, tlsConfig(8443, 9, ['a.test']).replace(cert('a.test').cert, cert('a.test').key));
  const notCert = await runCli(['--config', file]);
  assert.is(notCert.code, 2);
  assert.match(notCert.stderr, /chanlb\.yaml:5: listen\[0\]\.tls\.certificates\[0\]: expected a readable certificate and its matching key, got the certificate .*a\.test\.key is not a PEM certificate/);
}));

test('a client that never finishes its handshake is closed after --handshake-timeout', () => withCleanup(async (c) => {
  const backend = await startRecording(c);
  const { cert: certFile, key } = cert('default.test');
  const proxy = c.add(await spawnProxy(['--backend', `${HOST}:${backend.port}`, '--tls-cert', certFile, '--tls-key', key, '--handshake-timeout', '300ms']));
  const socket = net.connect(proxy.port, HOST);
  c.add({ close: async () => { socket.destroy(); } });
  const startedAt = Date.now();
  socket.write('\x16\x03\x01'); // the start of a ClientHello, and nothing more
  const closed = await new Promise<boolean>((resolve) => {
    const late = setTimeout(() => resolve(false), 5_000);
    socket.once('close', () => {
      clearTimeout(late);
      resolve(true);
    });
  });
  const waited = Date.now() - startedAt;
  assert.ok(closed, 'still open after 5 s');
  assert.ok(waited >= 250 && waited < 5_000, `closed after ${waited} ms`);
  await waitFor('the timeout logged', () => /"reason":"ERR_TLS_HANDSHAKE_TIMEOUT"/.test(proxy.output()), 5_000);
}));

test.run();
