/**
 * accept_proxy through real sockets: the header's source is the client for the backend's
 * X-Forwarded-For, the access log and the rate limit; LOCAL keeps the peer; pipelined requests in the
 * header's read go through; an untrusted peer, a missing or bad header and a header too slow are
 * closed without a response, counted and logged at info.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, sleep, startProxy, waitFor, type Cleanup, withCleanup } from '../../kit/harness.js';
import { startRecording, valuesOf, type RecordingBackend } from '../../kit/recording-backend.js';
import { GET, type RawClient } from '../../kit/raw-client.js';
import type { ProxyOptions } from '../../../src/options/options.js';
import { V2_SIGNATURE } from '../../../src/proxy-protocol/types.js';


function tempFile(c: Cleanup, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-pp-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  return join(dir, name);
}

const lines = (file: string): Record<string, unknown>[] =>
  readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);

/** A proxy with accept_proxy, trusting 127.0.0.1, its access log and error log (at info) in files. */
async function setUp(c: Cleanup, overrides: Partial<ProxyOptions> = {}): Promise<{ port: number; backend: RecordingBackend; accessLog: string; errorLog: string; close: () => Promise<void> }> {
  const backend = await startRecording(c);
  const accessLog = tempFile(c, 'access.log');
  const errorLog = tempFile(c, 'error.log');
  const { proxy, port } = await startProxy(c, [backend], {
    acceptProxy: true, trustedProxies: ['127.0.0.1'], accessLog: 'json', accessLogFile: accessLog, logLevel: 'info', logTo: errorLog,
    ...overrides,
  });
  return { port, backend, accessLog, errorLog, close: () => proxy.close() };
}

/** A v2 PROXY header over TCP/IPv6 from [2001:db8::7]:40000 to [2001:db8::1]:443, with a NOOP TLV. */
function v2Header(): Buffer {
  const body = Buffer.alloc(36 + 3);
  Buffer.from('20010db8000000000000000000000007', 'hex').copy(body, 0);
  Buffer.from('20010db8000000000000000000000001', 'hex').copy(body, 16);
  body.writeUInt16BE(40000, 32);
  body.writeUInt16BE(443, 34);
  body[36] = 0x04; // PP2_TYPE_NOOP, length 0
  return Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x21, 0, body.length]), body]);
}

/** Whether the proxy closed `client`'s connection without a byte of response. */
async function closedSilently(client: RawClient): Promise<boolean> {
  await client.waitForEnd(3_000);
  return client.socket.bytesRead === 0;
}

test('v1 header and two pipelined requests in one write: X-Forwarded-For and the access log name its source', () => withCleanup(async (c) => {
  const { port, backend, accessLog, close } = await setUp(c);
  const client = await connect(c, port);
  await client.write(`PROXY TCP4 203.0.113.7 192.0.2.1 40000 80\r\n${GET('/a')}${GET('/b')}`);
  const [a, b] = await client.readResponses(2);
  assert.is(a?.status, 200);
  assert.is(b?.status, 200);
  assert.equal(backend.requests.map((r) => valuesOf(r.headers, 'x-forwarded-for')), [['203.0.113.7'], ['203.0.113.7']]);
  await close();
  assert.equal(lines(accessLog).map((l) => l.client), ['203.0.113.7', '203.0.113.7']);
}));

test('v2 header (IPv6, a TLV) sent a byte at a time: its source is the client; X-Forwarded-For from the client is appended to', () => withCleanup(async (c) => {
  const { port, backend, accessLog, close } = await setUp(c);
  const client = await connect(c, port);
  await client.writeInPieces(Buffer.concat([v2Header(), Buffer.from('GET /v2 HTTP/1.1\r\nHost: lb.test\r\nX-Forwarded-For: 198.51.100.9\r\n\r\n')]), 1);
  assert.is((await client.readResponse()).status, 200);
  assert.equal(valuesOf(backend.requests[0]?.headers ?? [], 'x-forwarded-for'), ['198.51.100.9, 2001:db8::7']);
  await close();
  // 2001:db8::7 is not a trusted proxy: its X-Forwarded-For is its own claim, and it is the client.
  assert.equal(lines(accessLog).map((l) => l.client), ['2001:db8::7']);
}));

test('v2 LOCAL (a health check of the proxy in front) and v1 UNKNOWN: the TCP peer is the client', () => withCleanup(async (c) => {
  const { port, backend } = await setUp(c);
  const local = await connect(c, port);
  await local.write(Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00]), Buffer.from(GET('/local'))]));
  assert.is((await local.readResponse()).status, 200);
  const unknown = await connect(c, port);
  await unknown.write(`PROXY UNKNOWN\r\n${GET('/unknown')}`);
  assert.is((await unknown.readResponse()).status, 200);
  assert.equal(backend.requests.map((r) => valuesOf(r.headers, 'x-forwarded-for')), [['127.0.0.1'], ['127.0.0.1']]);
}));

test("rate limit: keyed by the header's source, not by the proxy in front that sends every connection", () => withCleanup(async (c) => {
  const { port } = await setUp(c, { rateLimit: 1, rateBurst: 1 });
  const from = async (source: string): Promise<number> => {
    const client = await connect(c, port);
    await client.write(`PROXY TCP4 ${source} 192.0.2.1 40000 80\r\n${GET('/')}`);
    return (await client.readResponse()).status;
  };
  assert.is(await from('203.0.113.1'), 200);
  assert.is(await from('203.0.113.1'), 429, 'the same client on another connection: its bucket is empty');
  assert.is(await from('203.0.113.2'), 200, 'another client behind the same proxy: a bucket of its own');
}));

test('refused without a response, counted and logged at info: untrusted peer, no header, a bad one, one too slow', () => withCleanup(async (c) => {
  const { port, backend, errorLog } = await setUp(c, { headerTimeoutMs: 300, admin: { host: '127.0.0.1', port: 0 } });
  const untrustedSetUp = await setUp(c, { trustedProxies: ['10.0.0.0/8'] });

  const untrusted = await connect(c, untrustedSetUp.port);
  await untrusted.write(`PROXY TCP4 203.0.113.7 192.0.2.1 40000 80\r\n${GET('/')}`).catch(() => {});
  assert.ok(await closedSilently(untrusted), 'an untrusted peer: closed, no response');

  const plain = await connect(c, port);
  await plain.write(GET('/')).catch(() => {});
  assert.ok(await closedSilently(plain), 'plain HTTP where a header must come first: closed, no response');

  const bad = await connect(c, port);
  await bad.write('PROXY TCP4 203.0.113.7 192.0.2.1 040000 80\r\n').catch(() => {});
  assert.ok(await closedSilently(bad), 'a bad port: closed');

  const slow = await connect(c, port);
  const started = Date.now();
  await slow.write('PROXY TCP4 203.0');
  await sleep(50);
  await slow.write('.113.7 ');
  assert.ok(await closedSilently(slow), 'a slowloris header: closed');
  const took = Date.now() - started;
  assert.ok(took >= 300 && took < 1_500, `closed at the header timeout (300 ms), after ${took} ms`);

  assert.is(backend.requests.length + untrustedSetUp.backend.requests.length, 0, 'nothing reached a backend');
  const refused = (file: string): Record<string, unknown>[] => lines(file).filter((l) => l.event === 'proxy_header_refused');
  await waitFor('the refusals to be logged', () => refused(errorLog).length === 3 && refused(untrustedSetUp.errorLog).length === 1);
  assert.equal(refused(untrustedSetUp.errorLog).map((l) => [l.level, l.reason, l.peer]), [['info', 'untrusted', '127.0.0.1']]);
  assert.equal(refused(errorLog).map((l) => [l.reason, l.detail]), [
    ['invalid', 'not a PROXY protocol header'],
    ['invalid', 'v1: "040000" is not a port 0-65535'],
    ['timeout', 'no complete header within 300 ms'],
  ]);
}));

test('the refusals are counted by reason in the metrics', () => withCleanup(async (c) => {
  const backend = await startRecording(c);
  const { proxy, port } = await startProxy(c, [backend], { acceptProxy: true, trustedProxies: ['127.0.0.1'], admin: { host: '127.0.0.1', port: 0 } });
  for (const bytes of ['GET / HTTP/1.1\r\n', 'PROXY TCP9\r\n']) {
    const client = await connect(c, port);
    await client.write(bytes).catch(() => {});
    await client.waitForEnd(3_000);
  }
  const closer = await connect(c, port);
  closer.socket.end();
  await closer.waitForEnd(3_000);
  const counted = async (): Promise<Record<string, number>> => {
    const metric = (await proxy.metrics())?.find((m) => m.name === 'chanlb_proxy_header_refused_total');
    return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.reason), v.value]));
  };
  await sleep(50);
  assert.equal(await counted(), { untrusted: 0, invalid: 2, timeout: 0, closed: 1 });
}));

test.run();
