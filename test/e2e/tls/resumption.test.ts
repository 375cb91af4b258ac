/**
 * Issues #14 and #15: a TLS session resumes on either worker process, for TLS 1.2 and 1.3, and
 * after a reload, with worker processes or without. Node's own TLS client; the worker that served
 * each connection read from the access log.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnProxy } from '../../kit/child-proxy.js';
import { closedPort, HOST, startUrlEcho, waitFor, withCleanup } from '../../kit/harness.js';
import { CA, cert } from '../../kit/tls-files.js';

interface Visit {
  /** The handshake resumed the session offered. */
  reused: boolean;
  /** Sessions (tickets) the server sent on this connection. */
  sessions: Buffer[];
}

/** One HTTPS request on a fresh connection offering `session`; resolves once the proxy closed it. */
/** A config whose one listener serves a.test over TLS, in front of `backend`. */
function tlsConfig(dir: string, port: number, backend: number): string {
  const file = join(dir, 'chanlb.yaml');
  const { cert: certFile, key } = cert('a.test');
  writeFileSync(file, `listen:\n  - address: ${HOST}:${port}\n    tls:\n      certificates:\n        - cert: ${certFile}\n          key: ${key}\nbackends:\n  - ${HOST}:${backend}\n`);
  return file;
}

function visit(port: number, version: tls.SecureVersion, session: Buffer | undefined): Promise<Visit> {
  return new Promise((resolve, reject) => {
    const sessions: Buffer[] = [];
    let reused = false;
    const socket = tls.connect({
      host: HOST, port, servername: 'a.test', ca: readFileSync(CA), minVersion: version, maxVersion: version, ...(session === undefined ? {} : { session }),
    }, () => {
      reused = socket.isSessionReused(); // read now: it is null once the socket is gone
      socket.write('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n');
    });
    socket.on('session', (s: Buffer) => sessions.push(s));
    // A proxy that never ends the exchange fails the test instead of hanging it.
    socket.setTimeout(10_000, () => socket.destroy(new Error('no end within 10 s')));
    socket.on('data', () => {});
    socket.on('end', () => resolve({ reused, sessions }));
    socket.on('error', reject);
  });
}

test('a TLS session resumes on either worker process, TLS 1.2 and 1.3, and after a reload', () => withCleanup(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-tls-workers-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  const backend = await startUrlEcho(c, 'b');
  const port = await closedPort();
  const access = join(dir, 'access.log');
  const file = tlsConfig(dir, port, backend.port);
  const proxy = c.add(await spawnProxy(['--config', file, '--workers', '2', '--access-log', 'json', '--access-log-file', access], 10_000, false));
  const workersOfLines = (): string[] => (existsSync(access) ? readFileSync(access, 'utf8').match(/"worker":\d+/g) ?? [] : []);

  const firsts = new Map<tls.SecureVersion, Buffer>();
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    const first = await visit(port, version, undefined);
    const session = first.sessions[0];
    assert.ok(!first.reused && session !== undefined, `${version}: a full handshake, and a session to offer`);
    firsts.set(version, session);
    const logged = workersOfLines().length;
    for (let i = 0; i < 4; i++) assert.ok((await visit(port, version, session)).reused, `${version}: connection ${i + 1} resumed`);
    await waitFor('the access lines', () => workersOfLines().length >= logged + 4, 5_000);
    // Connections are handed out in turn: the four resumed ones went to both processes.
    assert.is(new Set(workersOfLines().slice(logged)).size, 2, `${version}: both workers resumed the session`);
  }

  proxy.child.kill('SIGHUP');
  await waitFor('the reload logged', () => /"event":"reloaded"/.test(proxy.output()), 10_000);
  for (const [version, session] of firsts) {
    for (let i = 0; i < 2; i++) assert.ok((await visit(port, version, session)).reused, `${version}: resumed after the reload (${i + 1})`);
  }
}));

test('one process: a session begun before a reload resumes after it', () => withCleanup(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-tls-reload-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  const backend = await startUrlEcho(c, 'b');
  const port = await closedPort();
  const proxy = c.add(await spawnProxy(['--config', tlsConfig(dir, port, backend.port)], 10_000, false));
  const firsts = new Map<tls.SecureVersion, Buffer>();
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    const session = (await visit(port, version, undefined)).sessions[0];
    assert.ok(session !== undefined, `${version}: a session to offer`);
    firsts.set(version, session);
  }
  proxy.child.kill('SIGHUP');
  await waitFor('the reload logged', () => /"event":"reloaded"/.test(proxy.output()), 10_000);
  for (const [version, session] of firsts) assert.ok((await visit(port, version, session)).reused, `${version}: resumed after the reload`);
}));

test.run();
