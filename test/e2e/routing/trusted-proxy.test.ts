import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, helloBackends, startProxy, withCleanup, type Cleanup } from '../../kit/harness.js';

const viaProxy = (path: string, forwardedFor: string): string =>
  `GET ${path} HTTP/1.1\r\nHost: lb.test\r\nX-Forwarded-For: ${forwardedFor}\r\n\r\n`;

async function statusOf(c: Cleanup, port: number, request: string): Promise<number> {
  const client = await connect(c, port);
  await client.write(request);
  return (await client.readResponse()).status;
}

function accessLogFile(c: Cleanup): string {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-xff-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  return join(dir, 'access.log');
}

const clients = (file: string): string[] =>
  readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => String((JSON.parse(l) as { client: unknown }).client));

test('trusted proxy: X-Forwarded-For names the client for the rate limit and the access log', () => withCleanup(async (c) => {
  const file = accessLogFile(c);
  const backends = await helloBackends(c, 1);
  const { proxy, port } = await startProxy(c, backends, {
    trustedProxies: ['127.0.0.0/8'], rateLimit: 1, rateBurst: 1, accessLog: 'json', accessLogFile: file,
  });
  assert.is(await statusOf(c, port, viaProxy('/a', '203.0.113.5')), 200);
  assert.is(await statusOf(c, port, viaProxy('/b', '203.0.113.6, 127.0.0.9')), 200, 'another client, behind two trusted hops');
  assert.is(await statusOf(c, port, viaProxy('/c', '203.0.113.5')), 429, 'the first client again: its own bucket is empty');
  await proxy.close();
  assert.equal(clients(file), ['203.0.113.5', '203.0.113.6', '203.0.113.5']);
}));

test('untrusted peer: X-Forwarded-For is ignored (anyone can write it); the peer address counts', () => withCleanup(async (c) => {
  const file = accessLogFile(c);
  const backends = await helloBackends(c, 1);
  const { proxy, port } = await startProxy(c, backends, {
    trustedProxies: ['10.0.0.0/8'], rateLimit: 1, rateBurst: 1, accessLog: 'json', accessLogFile: file,
  });
  assert.is(await statusOf(c, port, viaProxy('/a', '203.0.113.5')), 200);
  assert.is(await statusOf(c, port, viaProxy('/b', '203.0.113.6')), 429, 'a new X-Forwarded-For does not buy a new bucket');
  await proxy.close();
  assert.equal(clients(file), ['127.0.0.1', '127.0.0.1']);
}));

test.run();
