import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, helloBackends, startProxy, withCleanup } from '../../kit/harness.js';
import { GET } from '../../kit/raw-client.js';

test('access log, JSON: one line per request with what was asked, what was answered, by whom and how long', () => withCleanup(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-log-'));
  try {
    const file = join(dir, 'access.log');
    const backends = await helloBackends(c, 1);
    const { proxy, port } = await startProxy(c, backends, { accessLog: 'json', accessLogFile: file });
    const client = await connect(c, port);
    await client.write('GET /a?b=1 HTTP/1.1\r\nHost: lb.test\r\nUser-Agent: test-agent\r\nReferer: http://r.test/\r\n\r\n');
    assert.is((await client.readResponse()).status, 200);
    await client.write('HEAD /h HTTP/1.1\r\nHost: lb.test\r\n\r\n');
    assert.is((await client.readResponse({ head: true })).status, 200);
    await client.write('GET /bad HTTP/1.1\r\n\r\n'); // no Host: refused here, never reaches the backend
    assert.is((await client.readResponse()).status, 400);
    await proxy.close(); // flushes the log
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.is(lines.length, 3);
    const [ok, head, bad] = lines as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    assert.is(ok.method, 'GET');
    assert.is(ok.target, '/a?b=1');
    assert.is(ok.version, '1.1');
    assert.is(ok.status, 200);
    assert.is(ok.client, '127.0.0.1');
    assert.is(ok.backend, `127.0.0.1:${backends[0]?.port}`);
    assert.is(ok.user_agent, 'test-agent');
    assert.is(ok.referer, 'http://r.test/');
    assert.is(ok.bytes, 'Hello from 1\n'.length, 'the body size, not the head (nginx\'s $body_bytes_sent)');
    assert.ok((ok.upstream_ms as number) >= 0 && (ok.total_ms as number) >= (ok.upstream_ms as number), JSON.stringify(ok));
    assert.is(head.method, 'HEAD');
    assert.is(head.bytes, 0, 'a response to HEAD has no body');
    assert.is(bad.status, 400);
    assert.is(bad.bytes, '400 Bad Request\n'.length);
    assert.is(bad.backend, '-');
    assert.is(bad.upstream_ms, -1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}));

test('access log, combined format: the Apache/nginx line plus backend and timings', () => withCleanup(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-log-'));
  try {
    const file = join(dir, 'access.log');
    const backends = await helloBackends(c, 1);
    const { proxy, port } = await startProxy(c, backends, { accessLog: 'combined', accessLogFile: file });
    const client = await connect(c, port);
    await client.write(GET('/x'));
    assert.is((await client.readResponse()).status, 200);
    await proxy.close();
    const line = readFileSync(file, 'utf8').trim();
    assert.match(line, /^127\.0\.0\.1 - - \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET \/x HTTP\/1\.1" 200 13 "-" "-" 127\.0\.0\.1:\d+ [\d.]+ [\d.]+$/,
      '%b is the body size: 13 bytes of "Hello from 1\\n"');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}));

test.run();
