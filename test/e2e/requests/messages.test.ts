/**
 * End-to-end: responses without a body (HEAD, 1xx, 204, 304) leave the connection usable; a response
 * delimited by close reaches an HTTP/1.1 client re-chunked on a connection that stays open; Expect: 100-continue
 * when the backend answers without 100; HTTP/1.0 clients never get chunked; hop-by-hop headers
 * removed from responses; a response head that arrives in pieces reaches the client once.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import type * as net from 'node:net';
import { startRaw, type RawHandle } from '../../../backends/raw.js';
import type { EchoReport } from '../../../backends/echo.js';
import { headerValue, type RawResponse } from '../../kit/raw-client.js';
import { dechunk } from '../../kit/chunked.js';
import { closedPort, connect, echoBackends, startProxy, waitForIdle, withCleanup, type Cleanup } from '../../kit/harness.js';
import { serve } from '../../../backends/serve.js';

const GET = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: lb.test\r\n${extra}\r\n`;

interface SeenHead {
  line: string;
  head: string;
  /** 0 for the first request head on the backend connection. */
  index: number;
  socket: net.Socket;
}

/**
 * A raw backend that answers every request head (requests without bodies) with what `respond`
 * returns, in order; a string answer is written at once, a function answer is run (for pieces,
 * delays, closing). `heads` lists every head seen, over all connections.
 */
async function scripted(
  c: Cleanup,
  respond: (req: SeenHead) => string | ((socket: net.Socket) => Promise<void>),
): Promise<RawHandle & { heads: SeenHead[] }> {
  const heads: SeenHead[] = [];
  const handle = c.add(await startRaw({
    onConnection: (socket) => {
      let seen = '';
      let index = 0;
      let chain = Promise.resolve();
      socket.on('data', (data: Buffer) => {
        seen += data.toString('latin1');
        for (let end = seen.indexOf('\r\n\r\n'); end >= 0; end = seen.indexOf('\r\n\r\n')) {
          const head = seen.slice(0, end);
          seen = seen.slice(end + 4);
          const req: SeenHead = { line: head.slice(0, head.indexOf('\r\n')), head, index: index++, socket };
          heads.push(req);
          const answer = respond(req);
          chain = chain.then(() => (typeof answer === 'string' ? void socket.write(answer) : answer(socket))).catch(() => { socket.destroy(); });
        }
      });
    },
  }));
  return Object.assign(handle, { heads });
}

/** Writes `bytes` one byte per write, yielding to the event loop between writes. */
async function dribble(socket: net.Socket, bytes: string): Promise<void> {
  for (const byte of Buffer.from(bytes, 'latin1')) {
    socket.write(Buffer.of(byte));
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
}

const url = (res: RawResponse): string => (JSON.parse(res.body.toString()) as EchoReport).url;

test('a response head that arrives one byte per read reaches the client once, byte-exact', () => withCleanup(async (c) => {
  const response = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Split: yes\r\nContent-Length: 5\r\n\r\nhello';
  const backend = await scripted(c, (req) => (req.line.startsWith('GET /split ') ? (s) => dribble(s, response) : 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext'));
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  await client.write(GET('/split'));
  const res = await client.readResponse();
  assert.is(res.status, 200);
  assert.equal(res.headers, [['Content-Type', 'text/plain'], ['X-Split', 'yes'], ['Content-Length', '5']]);
  assert.is(res.body.toString(), 'hello');
  await client.write(GET('/next'));
  const next = await client.readResponse({ label: 'the next response on the connection' });
  assert.is(next.body.toString(), 'next');
  assert.is(client.unreadBytes().length, 0);
  await waitForIdle(proxy);
}));

test('HEAD answered with Transfer-Encoding: chunked and no body: the head alone (no framing header: the proxy writes its own), and the connections stay usable', () => withCleanup(async (c) => {
  const backend = await scripted(c, (req) => (req.line.startsWith('HEAD ')
    ? 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n'
    : 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nafter'));
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  await client.write('HEAD /page HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  const head = await client.readResponse({ head: true });
  assert.is(head.status, 200);
  assert.is(headerValue(head, 'transfer-encoding'), undefined);
  assert.is(head.body.length, 0);
  await client.write(GET('/after'));
  const after = await client.readResponse({ label: 'GET after HEAD' });
  assert.is(after.body.toString(), 'after');
  assert.is(client.unreadBytes().length, 0);
  assert.is(backend.connections(), 1, 'the backend connection was reused after the HEAD');
  await waitForIdle(proxy);
}));

test('204 and 304 (with Content-Length, with Transfer-Encoding) carry no body; both connections stay usable', () => withCleanup(async (c) => {
  const answers: Record<string, string> = {
    '/204': 'HTTP/1.1 204 No Content\r\nX-Kind: a\r\n\r\n',
    '/204-cl0': 'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n',
    '/304-cl': 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1234\r\n\r\n',
    '/304-te': 'HTTP/1.1 304 Not Modified\r\nETag: "v2"\r\nTransfer-Encoding: chunked\r\n\r\n',
    '/200': 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nend',
  };
  const backend = await scripted(c, (req) => answers[req.line.split(' ')[1] ?? ''] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  for (const path of ['/204', '/304-cl', '/204-cl0', '/304-te', '/200']) {
    await client.write(GET(path, path.startsWith('/304') ? 'If-None-Match: "v0"\r\n' : ''));
    const res = await client.readResponse({ label: path });
    assert.is(res.status, Number(path.slice(1, 4)), `${path}: status`);
    if (path !== '/200') assert.is(res.body.length, 0, `${path}: no body`);
    if (path === '/304-cl') assert.is(headerValue(res, 'content-length'), '1234', 'a 304 keeps the Content-Length of the representation');
    if (path === '/200') assert.is(res.body.toString(), 'end');
    assert.ok(res.keepAlive, `${path}: keep-alive`);
  }
  assert.is(client.unreadBytes().length, 0, 'nothing after the last response');
  assert.not.ok(client.peerEnded);
  assert.is(backend.connections(), 1, 'one backend connection carried all five');
  await waitForIdle(proxy);
}));

test('several interim responses (100, 102, 103) before a 204: relayed in order, then the connection carries another request', () => withCleanup(async (c) => {
  const backend = await scripted(c, (req) => (req.line.startsWith('GET /interim ')
    ? 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n'
    : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  await client.write(GET('/interim'));
  const statuses = (await client.readResponses(4)).map((r) => r.status);
  assert.equal(statuses, [100, 102, 103, 204]);
  await client.write(GET('/next'));
  assert.is((await client.readResponse()).body.toString(), 'ok');
  assert.is(backend.connections(), 1);
  await waitForIdle(proxy);
}));

test('Expect: 100-continue answered at once with a final 417: the client gets it, and a body sent anyway never becomes a request', () => withCleanup(async (c) => {
  const backend = await scripted(c, (req) => (/\r\nexpect:/i.test(req.head)
    ? 'HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n'
    : 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nafter'));
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  const body = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
  await client.write(`PUT /f HTTP/1.1\r\nHost: lb.test\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
  const res = await client.readResponse({ label: 'the 417' });
  assert.is(res.status, 417);
  // The client sends its body after all (allowed), then a new request.
  await client.write(body + GET('/after'));
  let after: RawResponse | null = null;
  try {
    after = await client.readResponse({ label: 'the request after the body' });
  } catch {
    // Closing the connection after the 417 is also correct.
  }
  if (after !== null) assert.is(after.body.toString(), 'after', 'the request after the body is answered');
  else assert.ok(client.peerEnded, 'no answer means the connection was closed');
  assert.not.ok(backend.heads.some((h) => h.line.includes('/smuggled')), `the body was never forwarded as a request: ${JSON.stringify(backend.heads.map((h) => h.line))}`);
  await waitForIdle(proxy);
}));

test('a response delimited by close (HTTP/1.1 or 1.0 backend) reaches an HTTP/1.1 client as HTTP/1.1, re-chunked, on a connection that stays open; the backend socket is not pooled', () => withCleanup(async (c) => {
  const pieces = ['first piece\n', 'x'.repeat(100_000), '\nlast piece\n'];
  for (const version of ['1.1', '1.0']) {
    const backend = await scripted(c, (req) => (req.line.startsWith('GET /second ')
      ? 'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond'
      : async (socket) => {
        socket.write(`HTTP/${version} 200 OK\r\nContent-Type: text/plain\r\n\r\n`);
        for (const piece of pieces) {
          socket.write(piece);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        socket.end();
      }));
    const { proxy, port } = await startProxy(c, [backend]);
    const client = await connect(c, port);
    // A second request pipelined behind it is answered on the same connection.
    await client.write(GET('/stream') + GET('/second'));
    const res = await client.readResponse({ label: `HTTP/${version} close-delimited` });
    assert.is(res.status, 200);
    assert.is(res.version, '1.1', `HTTP/${version} backend: the client gets the proxy's own version`);
    assert.is(headerValue(res, 'transfer-encoding'), 'chunked');
    assert.is(dechunk(res.body).payload.toString(), pieces.join(''), `HTTP/${version}: the whole body`);
    assert.ok(res.keepAlive, `HTTP/${version}: the client connection stays open`);
    const second = await client.readResponse({ label: 'the pipelined request behind it' });
    assert.is(second.body.toString(), 'second');
    assert.not.ok(client.peerEnded);
    await waitForIdle(proxy);
    assert.is(backend.connections(), 2, `HTTP/${version}: the backend socket that closed was not reused`);
  }
}));

test('behind an HTTP/1.0 backend that closes after every response, an HTTP/1.1 client gets HTTP/1.1 and keeps its connection', () => withCleanup(async (c) => {
  // What python3 -m http.server does: HTTP/1.0, a Content-Length, then a close.
  const backend = await scripted(c, (req) => async (socket) => {
    const body = `page ${req.line.split(' ')[1] ?? ''}`;
    socket.end(`HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  for (const path of ['/a', '/b', '/c']) {
    await client.write(GET(path));
    const res = await client.readResponse({ label: path });
    assert.is(res.status, 200);
    assert.is(res.version, '1.1', `${path}: the proxy's own version (RFC 9110 6.2)`);
    assert.is(res.body.toString(), `page ${path}`);
    assert.ok(res.keepAlive, `${path}: keep-alive`);
    assert.is(headerValue(res, 'connection'), undefined);
  }
  assert.not.ok(client.peerEnded, 'one client connection carried all three');
  assert.is(backend.connections(), 3, 'a backend connection per request, as the backend closes each');
  await waitForIdle(proxy);
}));

/** A node:http backend that writes its body in three pieces without Content-Length (chunked for 1.1 clients). */
async function unframedNodeBackend(c: Cleanup): Promise<{ port: number }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write(`one ${req.url ?? ''} `);
      setTimeout(() => { res.write('two '); setTimeout(() => res.end('three'), 5); }, 5);
    });
  });
  return c.add(await serve(server, {}));
}

test('an HTTP/1.1 client of a backend that writes without Content-Length gets chunked (the control case)', () => withCleanup(async (c) => {
  const backend = await unframedNodeBackend(c);
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  await client.write(GET('/eleven'));
  const res = await client.readResponse();
  assert.is(headerValue(res, 'transfer-encoding'), 'chunked');
  assert.ok(res.keepAlive);
  await waitForIdle(proxy);
}));

test('HTTP/1.0 clients never get a chunked response: the body arrives intact, delimited by close', () => withCleanup(async (c) => {
  const backend = await unframedNodeBackend(c);
  const { proxy, port } = await startProxy(c, [backend]);
  for (const connection of ['', 'Connection: keep-alive\r\n']) {
    const client = await connect(c, port);
    await client.write(`GET /ten HTTP/1.0\r\nHost: lb.test\r\n${connection}\r\n`);
    const res = await client.readResponse({ label: `HTTP/1.0 ${connection.trim() || 'without Connection'}` });
    assert.is(res.status, 200);
    assert.is(headerValue(res, 'transfer-encoding'), undefined, `no Transfer-Encoding (${connection.trim() || 'plain 1.0'})`);
    assert.is(res.body.toString(), 'one /ten two three');
    assert.not.ok(res.keepAlive, 'a body without a length can only end at close');
    await client.waitForEnd();
    client.close();
  }
  await waitForIdle(proxy);
}));

test('HTTP/1.0 client, a backend that answers chunked anyway: the client still never sees chunked framing', () => withCleanup(async (c) => {
  const chunked = '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
  const backend = await scripted(c, () => `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`);
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  await client.write('GET /old HTTP/1.0\r\nHost: lb.test\r\n\r\n');
  const res = await client.readResponse();
  assert.is(headerValue(res, 'transfer-encoding'), undefined, `an HTTP/1.0 client got Transfer-Encoding; body ${JSON.stringify(res.body.toString())}`);
  if (res.status === 200) assert.is(res.body.toString(), 'hello world', 'de-chunked');
  else assert.is(res.status, 502);
  await client.waitForEnd();
  await waitForIdle(proxy);
}));

test('hop-by-hop headers in a response never reach the client; end-to-end ones pass in order, byte-exact', () => withCleanup(async (c) => {
  const hop = [
    'Connection: close, X-Hop-Named',
    'Keep-Alive: timeout=5, max=100',
    'X-Hop-Named: secret',
    'Upgrade: h2c',
    'Proxy-Connection: keep-alive',
    'Trailer: X-Sum',
    'TE: trailers',
  ];
  const kept = ['Content-Type: text/plain', 'X-End-To-End: kept  value ', 'Cache-Control: no-store', 'Content-Length: 4'];
  const lines = [kept[0], hop[0], hop[1], kept[1], hop[2], hop[3], kept[2], hop[4], hop[5], hop[6], kept[3]];
  const backend = await scripted(c, (req) => (req.line.startsWith('GET /hop ')
    ? `HTTP/1.1 200 OK\r\n${lines.join('\r\n')}\r\n\r\nbody`
    : 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext'));
  const { proxy, port } = await startProxy(c, [backend]);
  const client = await connect(c, port);
  await client.write(GET('/hop'));
  const res = await client.readResponse();
  assert.is(res.body.toString(), 'body');
  assert.equal(res.headers.map(([n, v]) => `${n}: ${v}`), kept, 'only the end-to-end headers, in order, values byte-exact');
  assert.ok(res.keepAlive, "the backend's Connection: close is about its own connection, not the client's");
  await client.write(GET('/next'));
  assert.is((await client.readResponse()).body.toString(), 'next', 'the client connection is still usable');
  assert.is(backend.connections(), 2, 'the backend connection it asked to close was not reused');
  await waitForIdle(proxy);
}));

test('X-Forwarded-For: every earlier value kept in order and the client appended; Host and X-Forwarded-Host as the client sent', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  const client = await connect(c, port);
  await client.write('GET /xff HTTP/1.1\r\nX-Forwarded-For: 203.0.113.7\r\nHost: Upper.Example:81\r\nX-Forwarded-For: 198.51.100.1, 10.1.2.3\r\n\r\n');
  const res = await client.readResponse();
  assert.is(url(res), '/xff');
  const raw = (JSON.parse(res.body.toString()) as EchoReport).rawHeaders;
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([(raw[i] ?? '').toLowerCase(), raw[i + 1] ?? '']);
  assert.equal(pairs.filter(([n]) => n === 'x-forwarded-for').map(([, v]) => v), ['203.0.113.7, 198.51.100.1, 10.1.2.3, 127.0.0.1'], 'one X-Forwarded-For, the client last');
  assert.equal(pairs.filter(([n]) => n === 'host').map(([, v]) => v), ['Upper.Example:81'], 'Host kept as sent');
  assert.equal(pairs.filter(([n]) => n === 'x-forwarded-host').map(([, v]) => v), ['Upper.Example:81']);
  assert.equal(pairs.filter(([n]) => n === 'x-forwarded-proto').map(([, v]) => v), ['http']);
  await waitForIdle(proxy);
}));

test('an error answering a HEAD request has no body (refused by the proxy, or a dead backend)', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const dead = await closedPort();
  for (const [what, backend, request, status] of [
    ['HEAD without Host', echo, 'HEAD / HTTP/1.1\r\nAccept: */*\r\n\r\n', 400],
    ['HEAD to a backend that refuses connections', { port: dead }, 'HEAD / HTTP/1.1\r\nHost: lb.test\r\n\r\n', 502],
  ] as const) {
    const { proxy, port } = await startProxy(c, [backend]);
    const client = await connect(c, port);
    await client.write(request);
    const res = await client.readResponse({ head: true, label: what });
    assert.is(res.status, status, what);
    await client.waitForEnd();
    assert.is(client.unreadBytes().toString('latin1'), '', `${what}: no body after the head of a response to HEAD`);
    await waitForIdle(proxy);
  }
}));

test.run();
