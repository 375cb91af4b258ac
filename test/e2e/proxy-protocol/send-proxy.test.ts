/**
 * send_proxy through real sockets: a raw backend (node:net) reads a PROXY header with the client's
 * real address and port before the first request of each connection; a backend connection carries
 * one client connection's requests only; health checks send LOCAL (v2) or UNKNOWN (v1).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, startProxy, waitFor, withCleanup } from '../../kit/harness.js';
import { bytesText as text, startHeaderBackend as headerBackend } from '../../kit/proxy-header-backend.js';
import { V2_SIGNATURE } from '../../../src/proxy-protocol/types.js';
import { GET, type RawClient } from '../../kit/raw-client.js';


async function get(client: RawClient, path: string): Promise<void> {
  await client.write(GET(path));
  assert.is((await client.readResponse()).status, 200);
}

test("v1: each backend connection begins with its client's address and port; a client's requests share it, another client's never", () => withCleanup(async (c) => {
  const backend = await headerBackend(c);
  const { port } = await startProxy(c, [backend], { sendProxy: 'v1' });
  const first = await connect(c, port);
  const second = await connect(c, port);
  const line = (client: RawClient): string => `PROXY TCP4 127.0.0.1 127.0.0.1 ${client.socket.localPort ?? 0} ${port}\r\n`;
  await get(first, '/1');
  await get(first, '/2');
  await get(second, '/3');
  await get(first, '/4');
  assert.is(backend.conns.length, 2, 'one backend connection per client connection');
  assert.is(text(backend.conns[0]), `${line(first)}${GET('/1')}${GET('/2')}${GET('/4')}`.replaceAll('Host: lb.test\r\n', 'Host: lb.test\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: lb.test\r\n'));
  assert.ok(text(backend.conns[1]).startsWith(`${line(second)}GET /3 HTTP/1.1\r\n`), text(backend.conns[1]));
}));

test('v2 behind accept_proxy: the backend reads the address and port the client sent the proxy in front, in exact bytes', () => withCleanup(async (c) => {
  const backend = await headerBackend(c);
  const { port } = await startProxy(c, [backend], { sendProxy: 'v2', acceptProxy: true, trustedProxies: ['127.0.0.1'] });
  const client = await connect(c, port);
  await client.write(`PROXY TCP4 203.0.113.7 192.0.2.1 40000 80\r\n${GET('/')}`);
  assert.is((await client.readResponse()).status, 200);
  // PROXY over TCP/IPv4, 12 bytes: 203.0.113.7 -> 192.0.2.1, 40000 -> 80.
  const expected = Buffer.concat([V2_SIGNATURE, Buffer.from('2111000ccb007107c00002019c400050', 'hex')]);
  const bytes = backend.conns[0]?.bytes ?? Buffer.alloc(0);
  assert.is(bytes.subarray(0, expected.length).toString('hex'), expected.toString('hex'));
  assert.ok(bytes.subarray(expected.length).toString('latin1').startsWith('GET / HTTP/1.1\r\n'));
}));

test("at the backend connection cap, another client's idle connection makes room; the count never goes over", () => withCleanup(async (c) => {
  const backend = await headerBackend(c);
  const { proxy, port } = await startProxy(c, [backend], { sendProxy: 'v1', maxConnectionsPerBackend: 1 });
  const clients = [await connect(c, port), await connect(c, port), await connect(c, port)];
  for (const [i, client] of clients.entries()) {
    await get(client, `/${i}`);
    assert.ok((proxy.stats().workers[0]?.open ?? 0) <= 1, 'at most one backend connection');
  }
  assert.is(backend.conns.length, 3);
  for (const [i, client] of clients.entries()) {
    assert.ok(text(backend.conns[i]).startsWith(`PROXY TCP4 127.0.0.1 127.0.0.1 ${client.socket.localPort ?? 0} ${port}\r\nGET /${i} `), text(backend.conns[i]));
  }
  await waitFor('the evicted connections to close', () => backend.conns.slice(0, 2).every((conn) => conn.socket.destroyed || conn.socket.readableEnded));
}));

test('a pool sets its own: v2 for one pool, none for the default pool', () => withCleanup(async (c) => {
  const withHeader = await headerBackend(c);
  const plain = await headerBackend(c);
  const { port } = await startProxy(c, [plain], {
    pools: [{ name: 'pp', backends: [{ host: '127.0.0.1', port: withHeader.port }], policy: 'least-pending', settings: { sendProxy: 'v2' } }],
    routes: [{ host: null, pathPrefix: '/pp', port: null, pool: 'pp', rateLimit: null }],
  });
  const client = await connect(c, port);
  await get(client, '/pp');
  await get(client, '/plain');
  assert.ok(withHeader.conns[0]?.bytes.subarray(0, 12).equals(V2_SIGNATURE), 'the pp pool sends v2');
  assert.ok(text(plain.conns[0]).startsWith('GET /plain HTTP/1.1\r\n'), 'the default pool sends none');
}));

for (const [version, header] of [['v2', Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0, 0, 0])])], ['v1', Buffer.from('PROXY UNKNOWN\r\n')]] as const) {
  test(`health checks with send_proxy ${version}: ${version === 'v2' ? 'LOCAL' : 'UNKNOWN'} first, then the check`, () => withCleanup(async (c) => {
    const backend = await headerBackend(c);
    await startProxy(c, [backend], { sendProxy: version, healthCheck: 'http', healthCheckIntervalMs: 50, healthCheckPath: '/healthz' });
    await waitFor('a health check', () => backend.conns.some((conn) => text(conn).includes('/healthz')));
    const check = backend.conns.find((conn) => text(conn).includes('/healthz'));
    const bytes = check?.bytes ?? Buffer.alloc(0);
    assert.is(bytes.subarray(0, header.length).toString('hex'), header.toString('hex'));
    assert.ok(bytes.subarray(header.length).toString('latin1').startsWith('GET /healthz HTTP/1.1\r\n'));
  }));
}

test.run();
