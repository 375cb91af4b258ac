/**
 * End-to-end with a client that does not share the proxy's parser: undici (its own llhttp build and
 * its own framing code) sends the requests and reads the responses, where every other end-to-end
 * test reads them with the kit's RawClient, which parses with the project's llhttp binding. A framing
 * bug shared by the proxy and RawClient (a body one byte short, a chunk terminator missing, bytes
 * after a HEAD response) passes those tests and fails here: undici refuses a response that does not
 * frame the way HTTP/1.1 says, or reads the next one wrong. The backends are node:http servers, so
 * neither end of the exchange is the project's code.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { Client } from 'undici';
import type { EchoHandle, EchoReport } from '../../../backends/echo.js';
import { serve } from '../../../backends/serve.js';
import { HOST, echoBackends, startProxy, waitForIdle, withCleanup, type Cleanup } from '../../kit/harness.js';

/** An undici client on one connection to the proxy (no pipelining); `connects()` counts the TCP connections it opened. */
function client(c: Cleanup, port: number): { client: Client; connects: () => number } {
  const undici = new Client(`http://${HOST}:${port}`, { pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 15_000, bodyTimeout: 15_000 });
  let connects = 0;
  undici.on('connect', () => connects++);
  c.add({ close: () => undici.destroy() });
  return { client: undici, connects: () => connects };
}

/** The one value of a response header, failing on a missing or repeated one. */
function one(headers: Record<string, string | string[] | undefined>, name: string): string {
  const value = headers[name];
  if (typeof value !== 'string') throw new Error(`${name}: expected one value, got ${JSON.stringify(value)}`);
  return value;
}

/** Every value of request header `name` (lowercase) as the backend received it, in order. */
function seen(report: EchoReport, name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < report.rawHeaders.length; i += 2) {
    if (report.rawHeaders[i]?.toLowerCase() === name) values.push(report.rawHeaders[i + 1] as string);
  }
  return values;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function echoProxy(c: Cleanup): Promise<{ port: number; echo: EchoHandle; idle: () => Promise<void> }> {
  const [echo] = (await echoBackends(c, 1)) as [EchoHandle];
  const { proxy, port } = await startProxy(c, [echo]);
  return { port, echo, idle: () => waitForIdle(proxy) };
}

test('GET three times on one keep-alive connection: one TCP connection, every response whole', () => withCleanup(async (c) => {
  const { port, idle } = await echoProxy(c);
  const { client: undici, connects } = client(c, port);
  for (const path of ['/a', '/b?x=1', '/c/d']) {
    const res = await undici.request({ path, method: 'GET' });
    const body = Buffer.from(await res.body.arrayBuffer());
    assert.is(res.statusCode, 200, path);
    assert.is(one(res.headers, 'content-length'), String(body.length), `${path}: Content-Length matches the body read`);
    const report = JSON.parse(body.toString()) as EchoReport;
    assert.is(report.method, 'GET', path);
    assert.is(report.url, path, path);
    assert.is(report.bodyLength, 0, `${path}: no body reached the backend`);
  }
  assert.is(connects(), 1, 'the three requests shared one connection');
  await idle();
}));

test('POST with Content-Length: the backend reads the body byte-exact under one Content-Length', () => withCleanup(async (c) => {
  const { port, idle } = await echoProxy(c);
  const { client: undici } = client(c, port);
  const payload = randomBytes(256 * 1024 + 7);
  const res = await undici.request({ path: '/upload', method: 'POST', body: payload, headers: { 'content-type': 'application/octet-stream' } });
  assert.is(res.statusCode, 200);
  const report = (await res.body.json()) as EchoReport;
  assert.is(report.method, 'POST');
  assert.is(report.bodyLength, payload.length);
  assert.is(report.bodySha256, sha256(payload));
  assert.equal(seen(report, 'content-length'), [String(payload.length)]);
  assert.equal(seen(report, 'transfer-encoding'), []);
  await idle();
}));

test('POST with a chunked body (a stream of unknown length): the backend reads it byte-exact, chunked', () => withCleanup(async (c) => {
  const { port, idle } = await echoProxy(c);
  const { client: undici, connects } = client(c, port);
  const pieces = [randomBytes(1), randomBytes(1000), randomBytes(64 * 1024), randomBytes(3)];
  const payload = Buffer.concat(pieces);
  const res = await undici.request({ path: '/stream', method: 'POST', body: Readable.from(pieces) });
  assert.is(res.statusCode, 200);
  const report = (await res.body.json()) as EchoReport;
  assert.is(report.bodyLength, payload.length);
  assert.is(report.bodySha256, sha256(payload));
  // The proxy forwards a Content-Length body under Content-Length: chunked here means undici sent chunked.
  assert.equal(seen(report, 'transfer-encoding'), ['chunked']);
  assert.equal(seen(report, 'content-length'), []);
  const after = await undici.request({ path: '/after', method: 'GET' });
  assert.is(((await after.body.json()) as EchoReport).url, '/after', 'the connection carries the next request');
  assert.is(connects(), 1);
  await idle();
}));

test('a chunked response with a trailer: read whole, the trailer delivered, the connection reused', () => withCleanup(async (c) => {
  const pieces = ['first,', 'x'.repeat(70_000), ',', 'last'];
  const body = pieces.join('');
  const backend = c.add(await serve(http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'text/plain', Trailer: 'X-Checksum' });
      for (const piece of pieces) res.write(piece);
      res.addTrailers({ 'X-Checksum': sha256(Buffer.from(body)) });
      res.end();
    });
  }), {}));
  const { proxy, port } = await startProxy(c, [backend]);
  const { client: undici, connects } = client(c, port);
  for (let i = 0; i < 2; i++) {
    const res = await undici.request({ path: `/chunked/${i}`, method: 'GET' });
    assert.is(res.statusCode, 200);
    assert.is(one(res.headers, 'transfer-encoding'), 'chunked');
    assert.is(res.headers['content-length'], undefined);
    assert.is(await res.body.text(), body, `response ${i}: the body, whole`);
    assert.equal(res.trailers, { 'x-checksum': sha256(Buffer.from(body)) }, `response ${i}: the trailer`);
  }
  assert.is(connects(), 1, 'both responses on one connection');
  await waitForIdle(proxy);
}));

test('HEAD: the GET\'s Content-Length and no body; the same connection then answers a GET', () => withCleanup(async (c) => {
  const { port, idle } = await echoProxy(c);
  const { client: undici, connects } = client(c, port);
  // undici closes after a HEAD unless told not to (reset: false), in case a server sends a body anyway.
  const head = await undici.request({ path: '/resource', method: 'HEAD', reset: false });
  assert.is(head.statusCode, 200);
  const declared = Number(one(head.headers, 'content-length'));
  assert.ok(declared > 0, `HEAD keeps the Content-Length the backend declared (${declared})`);
  assert.is((await head.body.arrayBuffer()).byteLength, 0, 'no body after a HEAD response');
  const get = await undici.request({ path: '/resource', method: 'GET' });
  const report = (await get.body.json()) as EchoReport;
  assert.is(report.method, 'GET', 'the next response is the GET\'s, not bytes left over from HEAD');
  assert.is(report.url, '/resource');
  assert.is(connects(), 1);
  await idle();
}));

test('refusals read whole: 404 where no route matches, 400 for a fragment in the target; the backend sees neither', () => withCleanup(async (c) => {
  const [echo] = (await echoBackends(c, 1)) as [EchoHandle];
  const { proxy, port } = await startProxy(c, [], {
    pools: [{ name: 'api', policy: 'least-pending', backends: [{ host: HOST, port: echo.port }] }],
    routes: [{ host: null, pathPrefix: '/api', port: null, pool: 'api', rateLimit: null }],
  });
  const { client: undici } = client(c, port);
  const ok = await undici.request({ path: '/api/x', method: 'GET' });
  assert.is(ok.statusCode, 200, 'a routed request is served');
  assert.is(((await ok.body.json()) as EchoReport).url, '/api/x');
  const before = echo.stats().requests;

  const missing = await undici.request({ path: '/elsewhere', method: 'GET' });
  const missingBody = await missing.body.text();
  assert.is(missing.statusCode, 404);
  assert.is(one(missing.headers, 'content-length'), String(Buffer.byteLength(missingBody)));
  assert.ok(missingBody.length > 0, 'a short plain-text body says why');

  const fragment = await undici.request({ path: '/api/x#frag', method: 'GET' });
  const fragmentBody = await fragment.body.text();
  assert.is(fragment.statusCode, 400);
  assert.is(one(fragment.headers, 'connection'), 'close');
  assert.is(one(fragment.headers, 'content-length'), String(Buffer.byteLength(fragmentBody)));

  const again = await undici.request({ path: '/api/y', method: 'GET' });
  assert.is(((await again.body.json()) as EchoReport).url, '/api/y', 'a new connection is served after the close');
  assert.is(echo.stats().requests, before + 1, 'only /api/y reached the backend');
  await waitForIdle(proxy);
}));

test.run();
