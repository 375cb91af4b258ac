/**
 * End-to-end pipelining: requests written at once are answered in request order, whatever order
 * the backends finish in.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import type { EchoReport } from '../../../backends/echo.js';
import { GET, headerValue } from '../../kit/raw-client.js';
import { connect, echoBackends, startProxy, startUrlEcho, waitForIdle, withCleanup } from '../../kit/harness.js';

test('pipelined requests in one write go to different backends and are answered in order, slowest first', () => withCleanup(async (c) => {
  const backends = [await startUrlEcho(c, 'A'), await startUrlEcho(c, 'B'), await startUrlEcho(c, 'C')];
  const { proxy, port } = await startProxy(c, backends);
  const client = await connect(c, port);
  const paths = ['/first?delay=300', '/second?delay=150', '/third?delay=0'];
  await client.write(paths.map(GET).join(''));
  const responses = await client.readResponses(paths.length);
  const servedBy: string[] = [];
  for (const [i, res] of responses.entries()) {
    assert.is(res.status, 200);
    const [name = '', method, url] = res.body.toString('latin1').split(' ');
    assert.is(method, 'GET');
    assert.is(url, paths[i], `response ${i} answers request ${i}`);
    servedBy.push(name);
  }
  assert.is(new Set(servedBy).size, 3, `three idle backends share three requests: ${servedBy.join(',')}`);
  await waitForIdle(proxy);
}));

test('many pipelined requests with mixed delays come back in request order', () => withCleanup(async (c) => {
  const backends = [await startUrlEcho(c, 'A'), await startUrlEcho(c, 'B'), await startUrlEcho(c, 'C')];
  const { proxy, port } = await startProxy(c, backends);
  const client = await connect(c, port);
  const delays = [120, 0, 60, 90, 0, 30, 0, 100, 10, 50, 0, 70, 20, 0, 40, 80];
  const paths = delays.map((d, i) => `/r${i}?delay=${d}`);
  await client.write(paths.map(GET).join(''));
  const responses = await client.readResponses(paths.length);
  assert.equal(responses.map((r) => r.body.toString('latin1').split(' ')[2]), paths);
  await waitForIdle(proxy);
}));

test('more pipelined requests than maxPipeline: reading pauses and resumes, all answered in order', () => withCleanup(async (c) => {
  const backends = [await startUrlEcho(c, 'A'), await startUrlEcho(c, 'B')];
  const { proxy, port } = await startProxy(c, backends, { maxPipeline: 4 });
  const client = await connect(c, port);
  const paths = Array.from({ length: 40 }, (_, i) => `/p${i}?delay=${i % 3 === 0 ? 5 : 0}`);
  await client.write(paths.map(GET).join(''));
  const responses = await client.readResponses(paths.length);
  assert.equal(responses.map((r) => r.body.toString('latin1').split(' ')[2]), paths);
  await waitForIdle(proxy);
}));

test('pipelined GET, HEAD, POST with body, GET: each answered in order, HEAD without a body', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  const client = await connect(c, port);
  const body = Buffer.from('name=value&x=1234567890');
  await client.write(Buffer.concat([
    Buffer.from(GET('/one')),
    Buffer.from('HEAD /two HTTP/1.1\r\nHost: lb.test\r\n\r\n'),
    Buffer.from(`POST /three HTTP/1.1\r\nHost: lb.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`),
    body,
    Buffer.from(GET('/four')),
  ]));
  const one = await client.readResponse();
  const two = await client.readResponse({ head: true });
  const three = await client.readResponse();
  const four = await client.readResponse();
  assert.is((JSON.parse(one.body.toString()) as EchoReport).url, '/one');
  assert.is(two.status, 200);
  assert.is(two.body.length, 0);
  assert.ok(Number(headerValue(two, 'content-length')) > 0, 'HEAD response keeps its Content-Length');
  const report = JSON.parse(three.body.toString()) as EchoReport;
  assert.is(report.url, '/three');
  assert.is(report.method, 'POST');
  assert.is(report.bodyLength, body.length);
  assert.is(report.bodySha256, createHash('sha256').update(body).digest('hex'));
  assert.is((JSON.parse(four.body.toString()) as EchoReport).url, '/four');
  assert.is(echo.stats().requests, 4);
  await waitForIdle(proxy);
}));

test('a malformed request after pipelined good ones: the good ones are answered first, then 400 and close', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo]);
  const client = await connect(c, port);
  await client.write(`${GET('/ok1')}${GET('/ok2')}GET /bad HTTP/1.1\r\nHost: lb.test\r\nNo colon here\r\n\r\n${GET('/never')}`);
  const [r1, r2, r3] = await client.readResponses(3);
  assert.is((JSON.parse(r1?.body.toString() ?? '') as EchoReport).url, '/ok1');
  assert.is((JSON.parse(r2?.body.toString() ?? '') as EchoReport).url, '/ok2');
  assert.is(r3?.status, 400);
  await client.waitForEnd();
  assert.is(client.unreadBytes().length, 0, 'nothing after the 400');
  await waitForIdle(proxy);
  assert.is(echo.stats().requests, 2);
}));

test.run();
