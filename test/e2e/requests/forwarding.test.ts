/**
 * End-to-end: what reaches the backend (URL and header bytes, hop-by-hop headers removed,
 * X-Forwarded-* added), request bodies intact, large responses intact, Expect: 100-continue.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { respondWith, startRaw } from '../../../backends/raw.js';
import type { EchoReport } from '../../../backends/echo.js';
import { headerValue } from '../../kit/raw-client.js';
import { connect, echoBackends, startProxy, waitForIdle, withCleanup } from '../../kit/harness.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const URL_PATH = '/path/to%20it;p=1/~user/a,b/%E2%9C%93?q=1&r=%2F&s=a+b&empty=&t=x:y@z';

/** Header lines (name, value) sent in order; `hop` marks the ones a proxy must not forward. */
const SENT: { name: string; value: string; hop?: boolean; forwarded?: boolean }[] = [
  { name: 'Host', value: 'Example.TEST:8080' },
  { name: 'User-Agent', value: 'raw-test/1.0 (byte at a time)' },
  { name: 'Accept', value: '*/*' },
  { name: 'X-Mixed-CASE-header', value: 'Value With  Two  Spaces' },
  { name: 'Connection', value: 'keep-alive, X-Hop-Secret', hop: true },
  { name: 'X-Hop-Secret', value: 'must-not-pass', hop: true },
  { name: 'Keep-Alive', value: 'timeout=5', hop: true },
  { name: 'TE', value: 'trailers', hop: true },
  { name: 'Proxy-Connection', value: 'keep-alive', hop: true },
  { name: 'X-Forwarded-For', value: '10.0.0.1', forwarded: true },
  { name: 'X-Forwarded-Proto', value: 'https', forwarded: true },
  { name: 'X-Forwarded-Host', value: 'spoofed.example', forwarded: true },
  { name: 'Cookie', value: `session=${'c'.repeat(300)}; theme=dark` },
  { name: 'X-Empty', value: '' },
  { name: 'Accept-Encoding', value: 'gzip, br' },
];

const SENT_HEAD = `GET ${URL_PATH} HTTP/1.1\r\n${SENT.map((h) => `${h.name}: ${h.value}\r\n`).join('')}\r\n`;

/** Lines the proxy writes itself: X-Forwarded-*, and (the client reads trailers) TE with its Connection option. */
function isForwardedHeader(name: string): boolean {
  return /^(x-forwarded-(for|proto|host)|te|connection)$/i.test(name);
}

test('a request written one byte at a time reaches the backend with the exact URL and headers', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  const client = await connect(c, port);
  await client.writeInPieces(SENT_HEAD, 1);
  const res = await client.readResponse();
  assert.is(res.status, 200);
  const report = JSON.parse(res.body.toString()) as EchoReport;
  assert.is(report.method, 'GET');
  assert.is(report.url, URL_PATH);

  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < report.rawHeaders.length; i += 2) pairs.push([report.rawHeaders[i] ?? '', report.rawHeaders[i + 1] ?? '']);
  const expectedKept = SENT.filter((h) => h.hop !== true && h.forwarded !== true).map((h): [string, string] => [h.name, h.value]);
  assert.equal(pairs.filter(([n]) => !isForwardedHeader(n)), expectedKept, 'end-to-end headers pass unchanged and in order; hop-by-hop ones are gone');
  const forwarded = pairs.filter(([n]) => isForwardedHeader(n)).map(([n, v]): [string, string] => [n.toLowerCase(), v]);
  assert.equal(forwarded.sort(), [
    ['connection', 'TE'],
    ['te', 'trailers'],
    ['x-forwarded-for', '10.0.0.1, 127.0.0.1'],
    ['x-forwarded-host', 'Example.TEST:8080'],
    ['x-forwarded-proto', 'http'],
  ], 'X-Forwarded-For appended to, X-Forwarded-Proto and -Host set, each once; TE: trailers said again (the proxy relays trailers)');
  await waitForIdle(proxy);
}));

test('the forwarded head keeps the exact bytes of every end-to-end header line (raw capture, 3-byte pieces)', () => withCleanup(async (c) => {
  let captured = Buffer.alloc(0);
  const backend = c.add(await startRaw({
    onConnection: (socket) => {
      socket.on('data', (data: Buffer) => {
        captured = Buffer.concat([captured, data]);
        if (captured.includes('\r\n\r\n')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
    },
  }));
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  // Trailing whitespace and a tab inside a value: the proxy copies lines, it does not rebuild them.
  const head = SENT_HEAD.replace('Accept: */*\r\n', 'Accept: */*  \r\nX-Tab:\tbefore\tand after \t\r\n');
  await client.writeInPieces(head, 3);
  const res = await client.readResponse();
  assert.is(res.status, 200);
  assert.is(res.body.toString(), 'ok');
  const text = captured.toString('latin1');
  assert.ok(text.endsWith('\r\n\r\n'), 'one complete head and nothing else');
  const lines = text.slice(0, -4).split('\r\n');
  const sentLines = head.slice(0, -4).split('\r\n');
  const hop = new Set(SENT.filter((h) => h.hop === true).map((h) => h.name.toLowerCase()));
  const name = (line: string): string => line.slice(0, line.indexOf(':'));
  assert.equal(
    lines.filter((l) => !isForwardedHeader(name(l))),
    sentLines.filter((l) => !hop.has(name(l).toLowerCase()) && !isForwardedHeader(name(l))),
    'request line and end-to-end header lines byte for byte, in order',
  );
  assert.equal(lines.filter((l) => isForwardedHeader(name(l))).map((l) => l.toLowerCase()).sort(), [
    'connection: te',
    'te: trailers',
    'x-forwarded-for: 10.0.0.1, 127.0.0.1',
    'x-forwarded-host: example.test:8080',
    'x-forwarded-proto: http',
  ]);
  await waitForIdle(proxy);
}));

test('a POST with a 1 MB Content-Length body reaches the backend intact and the response comes back', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  const client = await connect(c, port);
  const body = randomBytes(1 << 20);
  await client.write(Buffer.concat([
    Buffer.from(`POST /upload HTTP/1.1\r\nHost: lb.test\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`),
    body,
  ]));
  const res = await client.readResponse({ timeoutMs: 10_000 });
  assert.is(res.status, 200);
  const report = JSON.parse(res.body.toString()) as EchoReport;
  assert.is(report.method, 'POST');
  assert.is(report.bodyLength, body.length);
  assert.is(report.bodySha256, sha256(body));
  // The connection is still usable.
  await client.write('GET /after HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  assert.is((JSON.parse((await client.readResponse()).body.toString()) as EchoReport).url, '/after');
  assert.is(echo.stats().requests, 2);
  await waitForIdle(proxy);
}));

test('a chunked 1 MB POST (uneven chunks, with a trailer) reaches the backend intact', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  const client = await connect(c, port);
  const body = randomBytes(1 << 20);
  const parts: Buffer[] = [Buffer.from('POST /chunked HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\n\r\n')];
  const sizes = [1, 7, 4096, 65536, 100_000, 3];
  for (let at = 0, i = 0; at < body.length; i++) {
    const size = Math.min(sizes[i % sizes.length] ?? 1, body.length - at);
    parts.push(Buffer.from(`${size.toString(16)}\r\n`), body.subarray(at, at + size), Buffer.from('\r\n'));
    at += size;
  }
  parts.push(Buffer.from('0\r\nX-Checksum: done\r\n\r\n'));
  await client.write(Buffer.concat(parts));
  const res = await client.readResponse({ timeoutMs: 10_000 });
  assert.is(res.status, 200);
  const report = JSON.parse(res.body.toString()) as EchoReport;
  assert.is(report.bodyLength, body.length);
  assert.is(report.bodySha256, sha256(body));
  await waitForIdle(proxy);
}));

test('a 4 MB response body reaches the client intact, and the connection is reused afterwards', () => withCleanup(async (c) => {
  const big = randomBytes(4 << 20);
  const response = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${big.length}\r\n\r\n`), big]);
  let requests = 0;
  const backend = c.add(await startRaw({
    onConnection: (socket) => {
      let seen = '';
      socket.on('data', (data: Buffer) => {
        seen += data.toString('latin1');
        while (seen.includes('\r\n\r\n')) {
          seen = seen.slice(seen.indexOf('\r\n\r\n') + 4);
          requests++;
          socket.write(response);
        }
      });
    },
  }));
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  for (let i = 0; i < 2; i++) {
    await client.write('GET /big HTTP/1.1\r\nHost: lb.test\r\n\r\n');
    const res = await client.readResponse({ timeoutMs: 10_000 });
    assert.is(res.status, 200);
    assert.is(res.body.length, big.length);
    assert.ok(res.body.equals(big), `response ${i} body intact`);
  }
  assert.is(requests, 2);
  assert.is(backend.connections(), 1, 'the backend connection was kept alive and reused');
  await waitForIdle(proxy);
}));

test('Expect: 100-continue: the interim 100 reaches the client before it sends the body', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  const client = await connect(c, port);
  const body = Buffer.from('the body, sent only after 100 Continue');
  await client.write(`PUT /expect HTTP/1.1\r\nHost: lb.test\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
  const interim = await client.readResponse({ label: 'the interim 100' });
  assert.is(interim.status, 100);
  await client.write(body);
  const res = await client.readResponse({ label: 'the final response after 100 Continue', timeoutMs: 2_000 });
  assert.is(res.status, 200);
  const report = JSON.parse(res.body.toString()) as EchoReport;
  assert.is(report.method, 'PUT');
  assert.is(report.bodySha256, sha256(body));
  assert.ok(headerValue(res, 'content-type')?.startsWith('application/json'));
  await waitForIdle(proxy);
}));

test('an interim 103 Early Hints is relayed and the final 200 follows on the same exchange', () => withCleanup(async (c) => {
  const backend = c.add(await startRaw({
    onConnection: respondWith('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal'),
  }));
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  await client.write('GET /hints HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  const interim = await client.readResponse({ label: 'the interim 103' });
  assert.is(interim.status, 103);
  assert.is(headerValue(interim, 'link'), '</style.css>; rel=preload');
  const res = await client.readResponse({ label: 'the final response after 103', timeoutMs: 2_000 });
  assert.is(res.status, 200);
  assert.is(res.body.toString(), 'final');
  await waitForIdle(proxy);
  assert.is(proxy.stats().workers[0]?.failed, 0);
}));

test.run();
