/**
 * Security regressions for request smuggling and message framing, end to end through real sockets.
 *
 * The backend is a recording raw backend (test/kit/recording-backend.ts): it keeps every byte it
 * receives and splits them into requests with its own small parser, independent of the proxy's
 * llhttp binding, so each test asserts both what the client got and exactly what the backend saw.
 * Every proxy here has one backend and at most one backend connection, so a socket the proxy pools
 * is certainly the one the next request goes on: the "victim" pattern (an attacker's request on
 * connection A, answered, then a victim's GET with a cookie on a new connection B) shows whether
 * anything the attacker left on the pooled socket swallows the victim's request.
 *
 * One test per rule: R1-R11 on requests, S1-S5 on responses. Refusals: the client gets the status
 * and a close, and the backend receives no byte of the refused request nor of the request pipelined
 * after it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { headerValue, type RawClient, type RawResponse } from '../../kit/raw-client.js';
import { connect, startProxy, waitForIdle, withCleanup, type Cleanup } from '../../kit/harness.js';
import {
  answerWithRequestLine, readChunked, startRecording, valuesOf,
  type RecordedAnswer, type RecordedRequest, type RecordingBackend, type RecordingOptions,
} from '../../kit/recording-backend.js';
import { ATTACKS, SMUGGLED, VICTIM, VICTIM_SECRET, isLookalike } from '../../kit/smuggling-cases.js';
import type { Server } from '../../../src/server.js';
import type { ProxyOptions } from '../../../src/options/options.js';

const GET = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: lb.test\r\n\r\n`;
const READ_MS = 3_000;
/** Short, so an exchange the current code leaves hanging ends (and frees the one backend socket) soon. */
const RESPONSE_TIMEOUT_MS = 2_000;

interface Setup {
  backend: RecordingBackend;
  proxy: Server;
  port: number;
}

async function setup(c: Cleanup, options: RecordingOptions = {}, overrides: Partial<ProxyOptions> = {}): Promise<Setup> {
  const backend = await startRecording(c, options);
  const { proxy, port } = await startProxy(c, [backend], { maxConnectionsPerBackend: 1, responseTimeoutMs: RESPONSE_TIMEOUT_MS, ...overrides });
  return { backend, proxy, port };
}

/** What the backend saw, for failure messages. */
function seen(backend: RecordingBackend): string {
  return JSON.stringify({
    requests: backend.requests.map((r) => ({ line: r.requestLine, headers: r.headers, body: r.body.toString('latin1') })),
    errors: backend.errors(),
    pending: backend.conns.map((conn) => conn.pending.toString('latin1')).filter((p) => p !== ''),
  });
}

/** Every byte the client receives, tapped beside the RawClient's own reading. */
function tap(client: RawClient): () => string {
  const parts: Buffer[] = [];
  client.socket.on('data', (d: Buffer) => parts.push(d));
  return () => Buffer.concat(parts).toString('latin1');
}

async function exchange(c: Cleanup, s: Setup, bytes: string, label: string): Promise<{ client: RawClient; res: RawResponse; raw: () => string }> {
  const client = await connect(c, s.port);
  const raw = tap(client);
  await client.write(bytes);
  let res: RawResponse;
  try {
    res = await client.readResponse({ label, timeoutMs: READ_MS });
  } catch (err) {
    throw new Error(`${label}: ${(err as Error).message}; the client received ${JSON.stringify(raw())}; the backend saw ${seen(s.backend)}`);
  }
  return { client, res, raw };
}

/**
 * The backend completed exactly these requests, had no framing error and holds no stray bytes. A
 * line given as `METHOD target` is compared without the version (for tests of other rules than R11).
 */
function assertSawExactly(backend: RecordingBackend, lines: string[], what: string): void {
  assert.equal(backend.errors(), [], `${what}: the backend hit a framing error; it saw ${seen(backend)}`);
  const got = backend.requests.map((r, i) => (lines[i]?.split(' ').length === 2 ? `${r.method} ${r.target}` : r.requestLine));
  assert.equal(got, lines, `${what}: the requests the backend completed; it saw ${seen(backend)}`);
  const stray = backend.conns.map((conn) => conn.pending.toString('latin1')).filter((p) => p !== '');
  assert.equal(stray, [], `${what}: bytes left on a backend connection that are not a complete request`);
}

/** The one request the backend completed with this request line. */
function requestFor(backend: RecordingBackend, line: string): RecordedRequest {
  const found = backend.requests.filter((r) => r.requestLine === line);
  assert.is(found.length, 1, `one request ${JSON.stringify(line)} at the backend; it saw ${seen(backend)}`);
  return found[0] as RecordedRequest;
}

/**
 * A victim's GET with a cookie on a new client connection, after the attacker's exchange is done:
 * it must get its own answer, and no other request at the backend may carry its cookie.
 */
async function victim(c: Cleanup, s: Setup): Promise<void> {
  await waitForIdle(s.proxy);
  const { res } = await exchange(c, s, VICTIM, 'the victim on a new connection');
  assert.is(res.body.toString('latin1'), 'GET /victim', `the victim got the answer to another request; the backend saw ${seen(s.backend)}`);
  assert.not.ok(s.backend.requests.some((r) => r.target.includes('/smuggled')), `the backend handled a request for /smuggled: ${seen(s.backend)}`);
  const carriers = s.backend.requests.filter((r) => r.target !== '/victim' && (r.head + r.body.toString('latin1')).includes(VICTIM_SECRET));
  assert.equal(carriers.map((r) => r.requestLine), [], "the victim's cookie inside another request");
}

/** The attacker's request on connection A (answered with its own answer), then the victim on B. */
async function attackThenVictim(c: Cleanup, s: Setup, attack: string, expectedLine: string): Promise<void> {
  const { res } = await exchange(c, s, attack, "the attacker's request");
  const answer = `${res.status} ${res.body.toString('latin1')}`;
  assert.is(answer, `200 ${expectedLine.split(' ').slice(0, 2).join(' ')}`, `the attacker's request is answered by the backend; the backend saw ${seen(s.backend)}`);
  await victim(c, s);
  assertSawExactly(s.backend, [expectedLine, 'GET /victim HTTP/1.1'], 'attacker then victim');
}

/** The one framing header a forwarded request carries, checked against the body the client sent. */
function assertFraming(req: RecordedRequest, body: string, kind: 'length' | 'chunked' | 'none'): void {
  const cl = valuesOf(req.headers, 'content-length');
  const te = valuesOf(req.headers, 'transfer-encoding');
  assert.is(req.body.toString('latin1'), body, `${req.requestLine}: the body`);
  if (kind === 'length') assert.equal({ cl, te }, { cl: [String(Buffer.byteLength(body, 'latin1'))], te: [] }, `${req.requestLine}: one canonical Content-Length`);
  if (kind === 'chunked') assert.equal({ cl, te }, { cl: [], te: ['chunked'] }, `${req.requestLine}: one Transfer-Encoding: chunked`);
  if (kind === 'none') assert.equal({ cl, te }, { cl: [], te: [] }, `${req.requestLine}: no framing header`);
}

/**
 * Each case on its own connection, with a valid GET pipelined behind it: the client gets `status`
 * (Connection: close) and then the close, and the backend receives no byte for either request.
 * Every case is run and all problems are reported together.
 */
async function assertRefused(c: Cleanup, s: Setup, cases: readonly (readonly [string, string, number])[]): Promise<void> {
  const problems: string[] = [];
  for (const [what, bytes, status] of cases) {
    const mark = s.backend.mark();
    const client = await connect(c, s.port);
    const raw = tap(client);
    await client.write(bytes + GET('/after-refusal'));
    try {
      const res = await client.readResponse({ label: what, timeoutMs: READ_MS });
      if (res.status !== status) problems.push(`${what}: got ${res.status} ${JSON.stringify(res.body.toString('latin1').slice(0, 60))}, expected ${status}`);
      else if (headerValue(res, 'connection')?.toLowerCase() !== 'close' || res.keepAlive) problems.push(`${what}: the ${status} does not say Connection: close`);
      else await client.waitForEnd(READ_MS);
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message}; the client received ${JSON.stringify(raw().slice(0, 300))}`);
    }
    client.close();
    await waitForIdle(s.proxy);
    const got = s.backend.since(mark);
    if (got !== '') problems.push(`${what}: the backend received ${JSON.stringify(got)}`);
  }
  assert.ok(problems.length === 0, `\n    ${problems.join('\n    ')}`);
}

// ---- R1: Connection tokens never remove framing, Host or X-Forwarded-* ----

test('R1 Connection: Content-Length cannot strip the framing: the backend gets the POST with its 43 body bytes; a victim on a new connection gets its own answer', () => withCleanup(async (c) => {
  const s = await setup(c);
  await attackThenVictim(c, s, ATTACKS.connectionContentLength.bytes, 'POST /c HTTP/1.1');
  assertFraming(requestFor(s.backend, 'POST /c HTTP/1.1'), SMUGGLED, 'length');
  // Any spelling or position of the token: case, a list, the name given twice.
  for (const value of ['content-length', 'keep-alive, CONTENT-LENGTH', 'X-A, Content-Length , X-B', 'Content-Length, Content-Length']) {
    const { res } = await exchange(c, s, `POST /c2 HTTP/1.1\r\nHost: a\r\nConnection: ${value}\r\nContent-Length: 43\r\n\r\n${SMUGGLED}`, `Connection: ${value}`);
    assert.is(res.body.toString('latin1'), 'POST /c2', `Connection: ${value}: the answer`);
    await waitForIdle(s.proxy);
    assertFraming(s.backend.requests[s.backend.requests.length - 1] as RecordedRequest, SMUGGLED, 'length');
  }
  await victim(c, s);
}));

test('R1 Connection: Transfer-Encoding cannot strip chunked framing: the backend gets the chunked body (a request hidden in it stays body); a victim gets its own answer', () => withCleanup(async (c) => {
  const s = await setup(c);
  await attackThenVictim(c, s, ATTACKS.connectionTransferEncoding.bytes, 'POST /c HTTP/1.1');
  assertFraming(requestFor(s.backend, 'POST /c HTTP/1.1'), SMUGGLED, 'chunked');
}));

test('R1 Connection: Host cannot strip Host: the backend gets the request with its Host', () => withCleanup(async (c) => {
  const s = await setup(c);
  const { res } = await exchange(c, s, ATTACKS.connectionHost.bytes, 'Connection: Host');
  assert.is(res.body.toString('latin1'), 'GET /h');
  await victim(c, s);
  assert.equal(valuesOf(requestFor(s.backend, 'GET /h HTTP/1.1').headers, 'host'), ['a.example'], 'Host reaches the backend once, as sent');
  assertSawExactly(s.backend, ['GET /h HTTP/1.1', 'GET /victim HTTP/1.1'], 'Connection: Host');
}));

test('R1 Connection naming X-Forwarded-For/-Proto/-Host: still written by the proxy; a header it names otherwise (X-Secret) is still dropped', () => withCleanup(async (c) => {
  const s = await setup(c);
  const { res } = await exchange(c, s, 'GET /xf HTTP/1.1\r\nHost: lb.test\r\nConnection: X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Secret\r\n'
    + 'X-Forwarded-For: 10.0.0.1\r\nX-Secret: s3cret\r\nX-Kept: k\r\n\r\n', 'Connection naming the X-Forwarded-* headers');
  assert.is(res.status, 200);
  await waitForIdle(s.proxy);
  const req = requestFor(s.backend, 'GET /xf HTTP/1.1');
  assert.equal(valuesOf(req.headers, 'x-forwarded-for'), ['10.0.0.1, 127.0.0.1'], 'X-Forwarded-For appended to');
  assert.equal(valuesOf(req.headers, 'x-forwarded-proto'), ['http'], 'X-Forwarded-Proto set');
  assert.equal(valuesOf(req.headers, 'x-forwarded-host'), ['lb.test'], 'X-Forwarded-Host set');
  assert.equal(valuesOf(req.headers, 'x-secret'), [], 'a header Connection names is dropped');
  assert.equal(valuesOf(req.headers, 'x-kept'), ['k'], 'an end-to-end header is kept');
  assertSawExactly(s.backend, ['GET /xf HTTP/1.1'], 'X-Forwarded-* named');
}));

// ---- R2: the proxy writes the request framing ----

test('R2 Content-Length is written by the proxy: 005 becomes 5, 0 stays 0, no body means no framing header', () => withCleanup(async (c) => {
  const s = await setup(c);
  const client = await connect(c, s.port);
  await client.write('POST /padded HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 005\r\n\r\nhello'
    + 'POST /zero HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 0\r\n\r\n'
    + GET('/none'));
  const answers = (await client.readResponses(3, { timeoutMs: READ_MS })).map((r) => r.body.toString('latin1'));
  assert.equal(answers, ['POST /padded', 'POST /zero', 'GET /none']);
  await waitForIdle(s.proxy);
  assertSawExactly(s.backend, ['POST /padded HTTP/1.1', 'POST /zero HTTP/1.1', 'GET /none HTTP/1.1'], 'three requests');
  assertFraming(requestFor(s.backend, 'POST /padded HTTP/1.1'), 'hello', 'length');
  assertFraming(requestFor(s.backend, 'POST /zero HTTP/1.1'), '', 'length');
  assertFraming(requestFor(s.backend, 'GET /none HTTP/1.1'), '', 'none');
}));

test('R2 a chunked body is re-chunked by the proxy: one Transfer-Encoding: chunked, chunk extensions gone, the decoded bytes identical', () => withCleanup(async (c) => {
  const s = await setup(c);
  const { res } = await exchange(c, s, 'POST /chunked HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\n\r\n'
    + '5;ext=1\r\nhello\r\n6;name="quoted value";flag\r\n world\r\n1;last\r\n!\r\n0;end=1\r\n\r\n', 'a chunked POST with extensions');
  assert.is(res.body.toString('latin1'), 'POST /chunked');
  await waitForIdle(s.proxy);
  assertSawExactly(s.backend, ['POST /chunked HTTP/1.1'], 'one chunked POST');
  const req = requestFor(s.backend, 'POST /chunked HTTP/1.1');
  assertFraming(req, 'hello world!', 'chunked');
  assert.equal(req.chunkLines.filter((l) => l.includes(';')), [], `no chunk extension is forwarded: ${JSON.stringify(req.chunkLines)}`);
}));

test('R2 request trailer fields are forwarded, except hop-by-hop, framing and routing ones', () => withCleanup(async (c) => {
  const s = await setup(c);
  const trailers = ['X-Checksum: abc123', 'Host: evil.example', 'Keep-Alive: timeout=1', 'TE: trailers', 'Trailer: X-Checksum',
    'Upgrade: h2c', 'Connection: keep-alive', 'X-After: 2'];
  const { res } = await exchange(c, s, 'POST /trailers HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum, X-After\r\n\r\n'
    + `5\r\nhello\r\n0\r\n${trailers.join('\r\n')}\r\n\r\n`, 'a chunked POST with trailers');
  assert.is(res.body.toString('latin1'), 'POST /trailers');
  await waitForIdle(s.proxy);
  assertSawExactly(s.backend, ['POST /trailers HTTP/1.1'], 'one POST with trailers');
  const req = requestFor(s.backend, 'POST /trailers HTTP/1.1');
  assertFraming(req, 'hello', 'chunked');
  assert.equal(req.trailers, [['X-Checksum', 'abc123'], ['X-After', '2']], 'only the end-to-end trailer fields');
  assert.equal(valuesOf(req.headers, 'host'), ['lb.test'], 'the Host in the trailers changed nothing');
}));

// ---- R3: Transfer-Encoding lists ----

test('R3 Transfer-Encoding: ,chunked (an empty member first) is accepted and forwarded as Transfer-Encoding: chunked', () => withCleanup(async (c) => {
  const s = await setup(c);
  await attackThenVictim(c, s, ATTACKS.commaChunked.bytes, 'POST /c HTTP/1.1');
  assertFraming(requestFor(s.backend, 'POST /c HTTP/1.1'), SMUGGLED, 'chunked');
}));

test('R3 refused: chunked with an empty member after it (400), chunked twice (400), Transfer-Encoding on HTTP/1.0 (400), gzip, chunked (501)', () => withCleanup(async (c) => {
  const s = await setup(c);
  const post = (te: string, version = '1.1'): string => `POST /te HTTP/${version}\r\nHost: lb.test\r\nTransfer-Encoding: ${te}\r\n\r\n2b\r\n${SMUGGLED}\r\n0\r\n\r\n`;
  await assertRefused(c, s, [
    ['Transfer-Encoding: chunked, (an empty member last)', post('chunked, '), 400],
    ['Transfer-Encoding: chunked, chunked', post('chunked, chunked'), 400],
    ['Transfer-Encoding: chunked in two header lines', 'POST /te HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['HTTP/1.0 with Transfer-Encoding: chunked', post('chunked', '1.0'), 400],
    [ATTACKS.http10TransferEncoding.name, ATTACKS.http10TransferEncoding.bytes, 400],
    ['Transfer-Encoding: gzip, chunked', post('gzip, chunked'), 501],
  ]);
  assertSawExactly(s.backend, [], 'nothing forwarded');
}));

// ---- R4: underscore lookalikes ----

const LOOKALIKES = ['Transfer_Encoding: chunked', 'Content_Length: 43', 'X_Forwarded_For: 6.6.6.6', 'X_Forwarded_Host: evil.example',
  'X_Forwarded_Proto: https', 'Proxy_Connection: keep-alive', 'Keep_Alive: timeout=9', 'transfer_encoding: chunked', 'CONTENT_LENGTH: 7'];

test('R4 underscore lookalikes of headers the proxy interprets or writes never reach the backend', () => withCleanup(async (c) => {
  const s = await setup(c);
  const client = await connect(c, s.port);
  await client.write(`GET /look HTTP/1.1\r\nHost: lb.test\r\n${LOOKALIKES.join('\r\n')}\r\n\r\n`
    + `POST /look-post HTTP/1.1\r\nHost: lb.test\r\n${LOOKALIKES.join('\r\n')}\r\nContent-Length: 5\r\n\r\nhello`);
  const answers = (await client.readResponses(2, { timeoutMs: READ_MS })).map((r) => r.body.toString('latin1'));
  assert.equal(answers, ['GET /look', 'POST /look-post']);
  await waitForIdle(s.proxy);
  assertSawExactly(s.backend, ['GET /look HTTP/1.1', 'POST /look-post HTTP/1.1'], 'two requests');
  for (const req of s.backend.requests) {
    const lookalikes = req.headers.filter(([n]) => isLookalike(n));
    assert.equal(lookalikes, [], `${req.requestLine}: lookalike headers forwarded`);
    assert.equal(valuesOf(req.headers, 'x-forwarded-for'), ['127.0.0.1'], `${req.requestLine}: X-Forwarded-For`);
  }
  assertFraming(requestFor(s.backend, 'GET /look HTTP/1.1'), '', 'none');
  assertFraming(requestFor(s.backend, 'POST /look-post HTTP/1.1'), 'hello', 'length');
}));

test('R4 Transfer_Encoding and Content_Length cannot smuggle through a backend that reads _ as - (CGI/WSGI style): victims get their own answers', () => withCleanup(async (c) => {
  for (const attack of [ATTACKS.transferEncodingLookalike, ATTACKS.contentLengthLookalike]) {
    await withCleanup(async (inner) => {
      const s = await setup(inner, { headerNames: 'cgi' });
      try {
        await attackThenVictim(inner, s, attack.bytes, 'POST /c HTTP/1.1');
      } catch (err) {
        throw new Error(`${attack.name}: ${(err as Error).message}`);
      }
      assertFraming(requestFor(s.backend, 'POST /c HTTP/1.1'), attack.expect.body, 'length');
    });
  }
}));

// ---- R5: absolute-form ----

test('R5 absolute-form is forwarded in origin-form with Host from the authority', () => withCleanup(async (c) => {
  const s = await setup(c);
  const cases = [
    ['GET http://example.com:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n', 'GET /p?q HTTP/1.1', 'example.com:8080'],
    ['GET http://example.com HTTP/1.1\r\nHost: other\r\n\r\n', 'GET / HTTP/1.1', 'example.com'],
    ['GET https://secure.example/x HTTP/1.1\r\nHost: secure.example\r\n\r\n', 'GET /x HTTP/1.1', 'secure.example'],
  ] as const;
  const problems: string[] = [];
  for (const [request, line, host] of cases) {
    const { res } = await exchange(c, s, request, request.split('\r\n')[0] ?? '');
    await waitForIdle(s.proxy);
    const req = s.backend.requests[s.backend.requests.length - 1];
    const got = { status: res.status, line: req?.requestLine, host: valuesOf(req?.headers ?? [], 'host') };
    const want = { status: 200, line, host: [host] };
    if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${JSON.stringify(request.split('\r\n')[0])}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
  assert.ok(problems.length === 0, `\n    ${problems.join('\n    ')}`);
  assert.is(s.backend.errors().length, 0);
}));

test('R5 refused: userinfo in the authority, a scheme other than http(s), a fragment in the target: 400', () => withCleanup(async (c) => {
  const s = await setup(c);
  await assertRefused(c, s, [
    ['userinfo http://u:p@h/', 'GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n', 400],
    ['scheme ftp', 'GET ftp://h/file HTTP/1.1\r\nHost: h\r\n\r\n', 400],
    ['a fragment in an origin-form target', 'GET /p#frag HTTP/1.1\r\nHost: lb.test\r\n\r\n', 400],
    ['a fragment in an absolute-form target', 'GET http://example.com/p#frag HTTP/1.1\r\nHost: example.com\r\n\r\n', 400],
  ]);
}));

// ---- R6: Host ----

test('R6 refused: an empty Host, a Host with / or @, a space inside, none on HTTP/1.1, two: 400', () => withCleanup(async (c) => {
  const s = await setup(c);
  const get = (hosts: string): string => `GET /host HTTP/1.1\r\n${hosts}\r\n`;
  await assertRefused(c, s, [
    ['an empty Host', get('Host: \r\n'), 400],
    ['Host: a/b@c', get('Host: a/b@c\r\n'), 400],
    ['a space inside the Host', get('Host: a b\r\n'), 400],
    ['no Host on HTTP/1.1', get('Accept: */*\r\n'), 400],
    ['two Host headers', get('Host: a\r\nHost: a\r\n'), 400],
  ]);
}));

test('R6 accepted: reg-name, IPv4, IP-literal, with and without a port; Host reaches the backend once, as sent', () => withCleanup(async (c) => {
  const s = await setup(c);
  for (const host of ['lb.test', 'Example.COM:8080', '127.0.0.1', '[::1]:8080', 'xn--bcher-kva.example', 'a-b_c~d.example:80']) {
    const { res } = await exchange(c, s, `GET /ok HTTP/1.1\r\nHost: ${host}\r\n\r\n`, `Host: ${host}`);
    assert.is(res.status, 200, `Host: ${host}`);
    await waitForIdle(s.proxy);
    assert.equal(valuesOf((s.backend.requests[s.backend.requests.length - 1] as RecordedRequest).headers, 'host'), [host], `Host: ${host} forwarded`);
  }
}));

// ---- R7: asterisk-form ----

test('R7 asterisk-form: GET * is refused 400; OPTIONS * is forwarded as it is', () => withCleanup(async (c) => {
  const s = await setup(c);
  const { res } = await exchange(c, s, 'OPTIONS * HTTP/1.1\r\nHost: lb.test\r\n\r\n', 'OPTIONS *');
  assert.is(res.body.toString('latin1'), 'OPTIONS *');
  await waitForIdle(s.proxy);
  assertSawExactly(s.backend, ['OPTIONS * HTTP/1.1'], 'OPTIONS *');
  await assertRefused(c, s, [
    ['GET *', 'GET * HTTP/1.1\r\nHost: lb.test\r\n\r\n', 400],
    ['POST *', 'POST * HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 0\r\n\r\n', 400],
  ]);
}));

// ---- R8: request lines ----

test('R8 malformed request lines: 400 (two spaces, leading whitespace, a method with non-token characters, no version)', () => withCleanup(async (c) => {
  const s = await setup(c);
  await assertRefused(c, s, [
    ['two spaces after the method', 'GET  / HTTP/1.1\r\nHost: lb.test\r\n\r\n', 400],
    ['two spaces before the version', 'GET /  HTTP/1.1\r\nHost: lb.test\r\n\r\n', 400],
    ['a leading space', ' GET / HTTP/1.1\r\nHost: lb.test\r\n\r\n', 400],
    ['G@T', 'G@T / HTTP/1.1\r\nHost: lb.test\r\n\r\n', 400],
    ['no version', 'GET /\r\nHost: lb.test\r\n\r\n', 400],
  ]);
}));

test('R8 a well-formed unknown method and CONNECT: 501', () => withCleanup(async (c) => {
  const s = await setup(c);
  await assertRefused(c, s, [
    ['FOO', 'FOO / HTTP/1.1\r\nHost: lb.test\r\n\r\n', 501],
    ['CONNECT', 'CONNECT lb.test:443 HTTP/1.1\r\nHost: lb.test:443\r\n\r\n', 501],
  ]);
}));

// ---- R9: versions ----

test('R9 HTTP/1.2 (a later 1.x) is processed and forwarded as HTTP/1.1', () => withCleanup(async (c) => {
  const s = await setup(c);
  const answers: string[] = [];
  for (const [path, version] of [['/v12', '1.2'], ['/v19', '1.9']] as const) {
    const { res } = await exchange(c, s, `GET ${path} HTTP/${version}\r\nHost: lb.test\r\n\r\n`, `HTTP/${version}`);
    answers.push(`${res.status} ${res.body.toString('latin1')}`);
  }
  assert.equal(answers, ['200 GET /v12', '200 GET /v19'], 'both answered by the backend');
  await waitForIdle(s.proxy);
  assertSawExactly(s.backend, ['GET /v12 HTTP/1.1', 'GET /v19 HTTP/1.1'], 'forwarded as HTTP/1.1');
}));

test('R9 HTTP/2.0, HTTP/3.0 and HTTP/0.9 request lines: 505', () => withCleanup(async (c) => {
  const s = await setup(c);
  await assertRefused(c, s, [
    ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: lb.test\r\n\r\n', 505],
    ['HTTP/3.0', 'GET / HTTP/3.0\r\nHost: lb.test\r\n\r\n', 505],
    ['HTTP/0.9', 'GET / HTTP/0.9\r\nHost: lb.test\r\n\r\n', 505],
  ]);
}));

// ---- R10: TRACE ----

test('R10 TRACE: 405 and the backend sees nothing', () => withCleanup(async (c) => {
  const s = await setup(c);
  await assertRefused(c, s, [
    ['TRACE', `TRACE / HTTP/1.1\r\nHost: lb.test\r\nCookie: session=${VICTIM_SECRET}\r\n\r\n`, 405],
  ]);
}));

// ---- R11: the request line is the proxy's ----

test('R11 the forwarded request line is METHOD SP target SP HTTP/1.1, for HTTP/1.0 clients too', () => withCleanup(async (c) => {
  const s = await setup(c);
  const client = await connect(c, s.port);
  await client.write('GET /ten HTTP/1.0\r\nHost: lb.test\r\nConnection: keep-alive\r\n\r\n'
    + 'POST /ten-body HTTP/1.0\r\nHost: lb.test\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc'
    + '\r\nGET /after-crlf HTTP/1.0\r\nHost: lb.test\r\n\r\n');
  const answers = (await client.readResponses(3, { timeoutMs: READ_MS })).map((r) => r.body.toString('latin1'));
  assert.equal(answers, ['GET /ten', 'POST /ten-body', 'GET /after-crlf']);
  await waitForIdle(s.proxy);
  assertSawExactly(s.backend, ['GET /ten HTTP/1.1', 'POST /ten-body HTTP/1.1', 'GET /after-crlf HTTP/1.1'], 'HTTP/1.0 requests');
  const heads = s.backend.conns.map((conn) => conn.bytes.toString('latin1')).join('');
  assert.ok(heads.startsWith('GET /ten HTTP/1.1\r\n'), `the bytes on the backend socket start with the proxy's request line: ${JSON.stringify(heads.slice(0, 40))}`);
  assertFraming(requestFor(s.backend, 'POST /ten-body HTTP/1.1'), 'abc', 'length');
}));

// ---- responses ----

/** A recording backend whose answers are picked by target (others get the default answer). */
function answering(answers: Record<string, RecordedAnswer>): RecordingOptions {
  return { respond: (req) => answers[req.target] ?? answerWithRequestLine(req) };
}

/** The status line and header lines of the first response in `raw`. */
function rawHead(raw: string): { statusLine: string; headers: [string, string][]; rest: string } {
  const end = raw.indexOf('\r\n\r\n');
  const lines = raw.slice(0, end < 0 ? raw.length : end).split('\r\n');
  const headers = lines.slice(1).map((l): [string, string] => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]);
  return { statusLine: lines[0] ?? '', headers, rest: end < 0 ? '' : raw.slice(end + 4) };
}

test('S1 the client always gets HTTP/1.1 in the status line, also when the backend answers HTTP/1.0', () => withCleanup(async (c) => {
  const s = await setup(c, answering({
    '/ok': 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok',
    '/missing': 'HTTP/1.0 404 Not Found\r\nContent-Length: 4\r\nConnection: keep-alive\r\n\r\nnope',
  }));
  for (const [request, line] of [
    [GET('/ok'), 'HTTP/1.1 200 OK'],
    [GET('/missing'), 'HTTP/1.1 404 Not Found'],
    ['GET /ok HTTP/1.0\r\nHost: lb.test\r\n\r\n', 'HTTP/1.1 200 OK'],
  ] as const) {
    const { res, raw } = await exchange(c, s, request, request.split('\r\n')[0] ?? '');
    assert.is(rawHead(raw()).statusLine, line, `${request.split('\r\n')[0]}: the status line`);
    assert.is(res.body.toString('latin1'), line.endsWith('OK') ? 'ok' : 'nope');
    await waitForIdle(s.proxy);
  }
  assertSawExactly(s.backend, ['GET /ok', 'GET /missing', 'GET /ok'], 'three GETs');
}));

test('S2 a Content-Length response gets one canonical Content-Length (005 becomes 5)', () => withCleanup(async (c) => {
  const s = await setup(c, answering({ '/padded': 'HTTP/1.1 200 OK\r\nContent-Length: 005\r\n\r\nhello' }));
  const { client, res, raw } = await exchange(c, s, GET('/padded'), 'a response with Content-Length: 005');
  assert.is(res.body.toString('latin1'), 'hello');
  const { headers } = rawHead(raw());
  assert.equal({ cl: valuesOf(headers, 'content-length'), te: valuesOf(headers, 'transfer-encoding') }, { cl: ['5'], te: [] });
  await client.write(GET('/next'));
  assert.is((await client.readResponse({ timeoutMs: READ_MS })).body.toString('latin1'), 'GET /next', 'the connection carries the next exchange');
  assertSawExactly(s.backend, ['GET /padded HTTP/1.1', 'GET /next HTTP/1.1'], 'two GETs on one connection');
}));

test('S2 a chunked response is re-chunked: one Transfer-Encoding: chunked, no chunk extension, the decoded body identical', () => withCleanup(async (c) => {
  const s = await setup(c, answering({
    '/chunked': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6;name="v"\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n',
  }));
  const { client, res } = await exchange(c, s, GET('/chunked'), 'a chunked response with extensions');
  assert.equal({ cl: valuesOf(res.headers, 'content-length'), te: valuesOf(res.headers, 'transfer-encoding') }, { cl: [], te: ['chunked'] });
  const decoded = readChunked(res.body, 0);
  assert.ok(decoded.kind === 'body', `the body is chunked: ${JSON.stringify(res.body.toString('latin1'))}`);
  assert.is(decoded.body.toString('latin1'), 'hello world');
  assert.equal(decoded.chunkLines.filter((l) => l.includes(';')), [], `no chunk extension reaches the client: ${JSON.stringify(decoded.chunkLines)}`);
  await client.write(GET('/next'));
  assert.is((await client.readResponse({ timeoutMs: READ_MS })).body.toString('latin1'), 'GET /next');
  assertSawExactly(s.backend, ['GET /chunked HTTP/1.1', 'GET /next HTTP/1.1'], 'two GETs');
}));

const CLOSE_DELIMITED: RecordedAnswer = { bytes: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nthe body ends at close', close: true };

test('S2 a close-delimited response to an HTTP/1.1 client is re-chunked and the client connection stays open', () => withCleanup(async (c) => {
  const s = await setup(c, answering({ '/stream': CLOSE_DELIMITED }));
  const { client, res } = await exchange(c, s, GET('/stream'), 'a close-delimited response');
  assert.equal(valuesOf(res.headers, 'transfer-encoding'), ['chunked'], 'chunked for the client');
  const decoded = readChunked(res.body, 0);
  assert.ok(decoded.kind === 'body' && decoded.body.toString('latin1') === 'the body ends at close', `the body: ${JSON.stringify(res.body.toString('latin1'))}`);
  assert.ok(res.keepAlive, 'the client connection is kept open');
  await client.write(GET('/next'));
  assert.is((await client.readResponse({ timeoutMs: READ_MS, label: 'the next request on the same client connection' })).body.toString('latin1'), 'GET /next');
  assertSawExactly(s.backend, ['GET /stream HTTP/1.1', 'GET /next HTTP/1.1'], 'two GETs');
  assert.is(requestFor(s.backend, 'GET /next HTTP/1.1').connection, 1, 'the next request went on a new backend connection');
}));

test('S2 a close-delimited response to an HTTP/1.0 client (keep-alive or not): decoded, delimited by close', () => withCleanup(async (c) => {
  const s = await setup(c, answering({ '/stream': CLOSE_DELIMITED }));
  for (const connection of ['', 'Connection: keep-alive\r\n']) {
    const what = `HTTP/1.0 ${connection === '' ? 'without keep-alive' : 'with keep-alive'}`;
    const client = await connect(c, s.port);
    const raw = tap(client);
    await client.write(`GET /stream HTTP/1.0\r\nHost: lb.test\r\n${connection}\r\n`);
    try {
      await client.waitForEnd(READ_MS);
    } catch (err) {
      throw new Error(`${what}: ${(err as Error).message}; the client received ${JSON.stringify(raw())}`);
    }
    const { statusLine, headers, rest } = rawHead(raw());
    assert.is(statusLine, 'HTTP/1.1 200 OK', `${what}: the status line`);
    assert.equal(valuesOf(headers, 'transfer-encoding'), [], `${what}: no chunked coding for an HTTP/1.0 client`);
    assert.is(rest, 'the body ends at close', `${what}: the body as it was, then the close`);
  }
  assertSawExactly(s.backend, ['GET /stream', 'GET /stream'], 'two GETs');
}));

test('S3 a response Transfer-Encoding other than chunked: 502, and that backend socket is never reused', () => withCleanup(async (c) => {
  const codings = ['chunked, identity', 'chunked, gzip', 'gzip, chunked', 'identity'];
  const answers: Record<string, RecordedAnswer> = {};
  codings.forEach((coding, i) => {
    answers[`/te${i}`] = `HTTP/1.1 200 OK\r\nTransfer-Encoding: ${coding}\r\n\r\n${coding.endsWith('chunked') ? '5\r\nhello\r\n0\r\n\r\n' : 'hello'}`;
  });
  const s = await setup(c, answering(answers));
  const problems: string[] = [];
  for (const [i, coding] of codings.entries()) {
    const client = await connect(c, s.port);
    const raw = tap(client);
    await client.write(GET(`/te${i}`));
    try {
      const res = await client.readResponse({ label: coding, timeoutMs: 2_000 });
      if (res.status !== 502) problems.push(`Transfer-Encoding: ${coding}: the client got ${res.status} ${JSON.stringify(res.body.toString('latin1'))}`);
    } catch (err) {
      problems.push(`Transfer-Encoding: ${coding}: ${(err as Error).message}; the client received ${JSON.stringify(raw())}`);
    }
    client.close();
    await waitForIdle(s.proxy);
    const { res } = await exchange(c, s, GET(`/after${i}`), `the request after ${coding}`);
    const bad = requestFor(s.backend, `GET /te${i} HTTP/1.1`);
    const after = requestFor(s.backend, `GET /after${i} HTTP/1.1`);
    if (res.body.toString('latin1') !== `GET /after${i}`) problems.push(`after ${coding}: the next request got ${JSON.stringify(res.body.toString('latin1'))}`);
    if (after.connection === bad.connection) problems.push(`after ${coding}: the next request reused backend connection ${bad.connection}`);
  }
  assert.ok(problems.length === 0, `\n    ${problems.join('\n    ')}`);
}));

test('S4 Connection: Content-Length (or Transfer-Encoding) in a response cannot remove its framing', () => withCleanup(async (c) => {
  const s = await setup(c, answering({
    '/cl': 'HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 2\r\n\r\nok',
    '/te': 'HTTP/1.1 200 OK\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  }));
  const client = await connect(c, s.port);
  const raw = tap(client);
  for (const path of ['/cl', '/te']) {
    await client.write(GET(path));
    let res: RawResponse;
    try {
      res = await client.readResponse({ label: path, timeoutMs: 2_000 });
    } catch (err) {
      throw new Error(`${path}: ${(err as Error).message}; the client received ${JSON.stringify(raw())}`);
    }
    const framing = path === '/cl' ? valuesOf(res.headers, 'content-length') : valuesOf(res.headers, 'transfer-encoding');
    assert.equal(framing, [path === '/cl' ? '2' : 'chunked'], `${path}: the framing header reaches the client`);
    assert.ok(res.keepAlive, `${path}: keep-alive`);
  }
  await client.write(GET('/next'));
  assert.is((await client.readResponse({ timeoutMs: READ_MS })).body.toString('latin1'), 'GET /next', 'the connection is still in step');
  assertSawExactly(s.backend, ['GET /cl HTTP/1.1', 'GET /te HTTP/1.1', 'GET /next HTTP/1.1'], 'three GETs');
}));

test('S5 no 1xx interim response is relayed to an HTTP/1.0 client', () => withCleanup(async (c) => {
  const s = await setup(c, answering({
    '/interim': 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal',
  }));
  const { res, raw } = await exchange(c, s, 'GET /interim HTTP/1.0\r\nHost: lb.test\r\n\r\n', 'an HTTP/1.0 request answered with 100 and 103 first');
  assert.is(res.status, 200, `the first response an HTTP/1.0 client gets; it received ${JSON.stringify(raw())}`);
  assert.is(res.body.toString('latin1'), 'final');
  assertSawExactly(s.backend, ['GET /interim'], 'one GET');
}));

test.run();
