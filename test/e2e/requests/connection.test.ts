/**
 * End-to-end: client connection semantics (HEAD, Connection: close, HTTP/1.0 with and without
 * keep-alive, half-close).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { EchoReport } from '../../../backends/echo.js';
import { headerValue, type RawClient, type RawResponse } from '../../kit/raw-client.js';
import { connect, echoBackends, helloBackends, startProxy, waitFor, waitForIdle, withCleanup } from '../../kit/harness.js';

const url = (res: RawResponse): string => (JSON.parse(res.body.toString()) as EchoReport).url;

test('HEAD gets the head without a body and the connection stays usable', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  const client = await connect(c, port);
  await client.write('HEAD /head HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  const head = await client.readResponse({ head: true });
  assert.is(head.status, 200);
  assert.is(head.body.length, 0);
  assert.ok(Number(headerValue(head, 'content-length')) > 0, 'Content-Length of the body a GET would get');
  assert.ok(head.keepAlive);
  // Any body bytes sent after the HEAD response would break the parse of this one.
  await client.write('GET /next HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  const next = await client.readResponse();
  assert.is(next.status, 200);
  assert.is(url(next), '/next');
  assert.is(client.unreadBytes().length, 0);
  assert.not.ok(client.peerEnded);
  assert.is(echo.stats().connections, 1, 'the backend connection was reused after HEAD');
  await waitForIdle(proxy);
}));

test('Connection: close from the client: the response says close and the connection ends after it', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  const client = await connect(c, port);
  await client.write('GET /bye HTTP/1.1\r\nHost: lb.test\r\nConnection: close\r\n\r\n');
  const res = await client.readResponse();
  assert.is(res.status, 200);
  assert.is(url(res), '/bye');
  assert.is(headerValue(res, 'connection')?.toLowerCase(), 'close');
  assert.not.ok(res.keepAlive);
  await client.waitForEnd();
  assert.is(client.unreadBytes().length, 0);
  await waitForIdle(proxy);
  // The backend connection itself is not closed because the client's was: it stays pooled.
  assert.is(proxy.stats().workers[0]?.idle, 1);
}));

test('Connection: close on a pipelined request: requests after it are not answered', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  const client = await connect(c, port);
  await client.write('GET /1 HTTP/1.1\r\nHost: lb.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: lb.test\r\nConnection: close\r\n\r\nGET /3 HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  const [r1, r2] = await client.readResponses(2);
  assert.is(url(r1 as RawResponse), '/1');
  assert.is(url(r2 as RawResponse), '/2');
  await client.waitForEnd();
  assert.is(client.unreadBytes().length, 0, 'no response to the request after Connection: close');
  assert.is(echo.stats().requests, 2);
  await waitForIdle(proxy);
}));

test('HTTP/1.0 without keep-alive gets the response and then a close', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 1);
  const { proxy, port } = await startProxy(c, backends);
  const client = await connect(c, port);
  await client.write('GET /old HTTP/1.0\r\nHost: lb.test\r\nUser-Agent: old/1.0\r\n\r\n');
  const res = await client.readResponse();
  assert.is(res.status, 200);
  assert.is(res.body.toString(), 'Hello from 1\n');
  assert.not.ok(res.keepAlive, 'the response must not promise a persistent connection to an HTTP/1.0 client');
  await client.waitForEnd();
  assert.is(client.unreadBytes().length, 0);
  await waitForIdle(proxy);
}));

test('HTTP/1.0 without a Host header (allowed in 1.0) is served, not refused by the backend', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 1);
  const { proxy, port } = await startProxy(c, backends);
  const client = await connect(c, port);
  await client.write('GET /old HTTP/1.0\r\nUser-Agent: old/1.0\r\n\r\n');
  const res = await client.readResponse();
  assert.is(res.status, 200, `status (body ${JSON.stringify(res.body.toString())})`);
  assert.is(res.body.toString(), 'Hello from 1\n');
  await client.waitForEnd();
  await waitForIdle(proxy);
}));

test('HTTP/1.0 with Connection: keep-alive gets keep-alive and the connection carries a second request', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  const client = await connect(c, port);
  for (const path of ['/a', '/b']) {
    await client.write(`GET ${path} HTTP/1.0\r\nHost: lb.test\r\nConnection: keep-alive\r\n\r\n`);
    const res = await client.readResponse();
    assert.is(res.status, 200);
    assert.is(url(res), path);
    assert.is(headerValue(res, 'connection')?.toLowerCase(), 'keep-alive');
    assert.ok(res.keepAlive);
  }
  assert.not.ok(client.peerEnded);
  await waitForIdle(proxy);
}));

test('keep-alive connections set their parsers aside once nothing is in flight and take one up at their next byte: pipelined requests, bodies and split heads after the rest', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  const clients = [await connect(c, port), await connect(c, port), await connect(c, port)];
  for (const [i, client] of clients.entries()) {
    await client.write(`GET /first/${i} HTTP/1.1\r\nHost: lb.test\r\n\r\n`);
    assert.is(url(await client.readResponse()), `/first/${i}`);
  }
  await waitFor('three resting connections', () => proxy.stats().restingClients === 3, 10_000);
  const [a, b, d] = clients as [RawClient, RawClient, RawClient];
  // A head begun holds a parser until it is complete and answered.
  await d.write('GET /spl');
  await waitFor('the connection mid-head holding a parser', () => proxy.stats().restingClients === 2, 10_000);
  // Each takes up a parser (perhaps another's): two pipelined requests; a body; the rest of the split head.
  await a.write('GET /p1 HTTP/1.1\r\nHost: lb.test\r\n\r\nGET /p2 HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  await b.write('POST /body HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 5\r\n\r\nhello');
  await d.write('it HTTP/1.1\r\nHo');
  await d.write('st: lb.test\r\n\r\n');
  assert.equal([url(await a.readResponse()), url(await a.readResponse())], ['/p1', '/p2']);
  const posted = await b.readResponse();
  assert.equal([url(posted), (JSON.parse(posted.body.toString()) as EchoReport).bodyLength], ['/body', 5]);
  assert.is(url(await d.readResponse()), '/split');
  await waitFor('all three resting again once answered', () => proxy.stats().restingClients === 3, 10_000);
  await waitForIdle(proxy);
}));

test('a client that half-closes after its request still gets the response, then the proxy closes', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  const client = await connect(c, port);
  client.socket.end('GET /half HTTP/1.1\r\nHost: lb.test\r\n\r\n');
  const res = await client.readResponse();
  assert.is(res.status, 200);
  assert.is(url(res), '/half');
  await client.waitForEnd();
  await waitForIdle(proxy);
}));

test.run();
