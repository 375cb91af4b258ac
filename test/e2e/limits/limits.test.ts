/**
 * Issue #3, limits: every limit flag's parsing, and end to end over real sockets the header
 * timeout (slowloris), the keep-alive timeout, max connections and max pipeline.
 * (Header and body size limits live with the bad-input tests.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type * as net from 'node:net';
import { createHash } from 'node:crypto';
import type { EchoReport } from '../../../backends/echo.js';
import { startRaw } from '../../../backends/raw.js';
import { parseCommandLine } from '../../../src/cli.js';
import { OptionError, type ProxyOptions } from '../../../src/options/options.js';
import { GET, RawClient } from '../../kit/raw-client.js';
import { assertClosingResponse } from '../../kit/error-response.js';
import { connect, echoBackends, helloBackends, sleep, startProxy, waitFor, waitForIdle, withCleanup } from '../../kit/harness.js';
import { okResponse, onRequests } from '../../kit/raw-requests.js';

// ---- flags ----

type NumberKey = { [K in keyof ProxyOptions]: ProxyOptions[K] extends number ? K : never }[keyof ProxyOptions];

const DURATION_FLAGS: [string, NumberKey][] = [
  ['connect-timeout', 'connectTimeoutMs'],
  ['response-timeout', 'responseTimeoutMs'],
  ['backend-idle-timeout', 'backendIdleTimeoutMs'],
  ['header-timeout', 'headerTimeoutMs'],
  ['keep-alive-timeout', 'keepAliveTimeoutMs'],
  ['eject-cooldown', 'ejectCooldownMs'],
  ['health-check-interval', 'healthCheckIntervalMs'],
  ['health-check-timeout', 'healthCheckTimeoutMs'],
  ['retry-timeout', 'retryTimeoutMs'],
];
const SIZE_FLAGS: [string, NumberKey][] = [
  ['max-header-bytes', 'maxHeadBytes'],
  ['max-body-bytes', 'maxBodyBytes'],
];
/** Whole-number flags and their minimum. */
const COUNT_FLAGS: [string, NumberKey, number][] = [
  ['max-connections', 'maxConnections', 0],
  ['max-pipeline', 'maxPipeline', 1],
  ['max-backend-connections', 'maxConnectionsPerBackend', 1],
  ['eject-after', 'failuresToEject', 1],
  ['max-backend-queue', 'maxBackendQueue', 1],
  ['health-check-rise', 'healthCheckRise', 1],
  ['health-check-fall', 'healthCheckFall', 1],
  ['retries', 'retries', 0],
  ['retry-budget-min', 'retryBudgetMin', 0],
];

function parse(args: string[]): ProxyOptions {
  const options = parseCommandLine(['--backend', '127.0.0.1:9001', ...args]);
  if (options === 'help') throw new Error('unexpected help');
  return options;
}

function assertRefused(args: string[], flag: string): void {
  let error: unknown = null;
  try {
    parse(args);
  } catch (err) {
    error = err;
  }
  assert.instance(error, OptionError, `${JSON.stringify(args)} must be refused`);
  assert.ok((error as Error).message.includes(flag), `${JSON.stringify(args)}: the message names ${flag}: ${(error as Error).message}`);
}

test('every duration flag takes ms, s, m and bare milliseconds, as --flag V and --flag=V', () => {
  const cases: [string, number][] = [['250ms', 250], ['2s', 2_000], ['1m', 60_000], ['1500', 1_500], ['1.5s', 1_500], [' 40ms ', 40]];
  for (const [flag, key] of DURATION_FLAGS) {
    for (const [text, ms] of cases) {
      assert.is(parse([`--${flag}`, text])[key], ms, `--${flag} ${JSON.stringify(text)}`);
      assert.is(parse([`--${flag}=${text}`])[key], ms, `--${flag}=${JSON.stringify(text)}`);
    }
  }
});

test('size flags take bytes and binary k, m, g (any case, optional b)', () => {
  const cases: [string, number][] = [['4096', 4_096], ['64k', 65_536], ['64K', 65_536], ['1m', 1_048_576], ['2MB', 2_097_152], ['1g', 1_073_741_824]];
  for (const [flag, key] of SIZE_FLAGS) {
    for (const [text, bytes] of cases) assert.is(parse([`--${flag}`, text])[key], bytes, `--${flag} ${text}`);
  }
});

test('count flags take whole numbers from their minimum (--max-connections 0 means no limit)', () => {
  for (const [flag, key, min] of COUNT_FLAGS) {
    assert.is(parse([`--${flag}`, String(min)])[key], min, `--${flag} ${min}`);
    assert.is(parse([`--${flag}`, '7'])[key], 7, `--${flag} 7`);
  }
});

test('a flag left out keeps its default; the last of a repeated flag wins', () => {
  const options = parse([]);
  assert.is(options.headerTimeoutMs, 10_000);
  assert.is(options.maxPipeline, 32);
  assert.is(parse(['--header-timeout', '1s', '--header-timeout', '2s']).headerTimeoutMs, 2_000);
});

test('bad durations are an OptionError naming the flag', () => {
  for (const [flag] of DURATION_FLAGS) {
    for (const text of ['', 'abc', '0', '0ms', '0s', '-5ms', '5x', '1h', '2 s', '1e3', '.5s', 'ms']) assertRefused([`--${flag}`, text], `--${flag}`);
    assertRefused([`--${flag}`], `--${flag}`); // no value at all
  }
});

test('bad sizes are an OptionError naming the flag', () => {
  for (const [flag] of SIZE_FLAGS) {
    for (const text of ['', 'abc', '0', '0k', '-1', '1.5k', '64q', '64kk', 'k']) assertRefused([`--${flag}`, text], `--${flag}`);
    assertRefused([`--${flag}`], `--${flag}`);
  }
});

test('bad counts are an OptionError naming the flag', () => {
  for (const [flag, , min] of COUNT_FLAGS) {
    const below = min > 0 ? [String(min - 1)] : [];
    for (const text of ['', 'abc', '-1', '1.5', '2k', '1e2', ...below]) assertRefused([`--${flag}`, text], `--${flag}`);
    assertRefused([`--${flag}`], `--${flag}`);
  }
});

test('a duration that rounds to 0 ms is refused (0 would switch the timeout off), never accepted as 0', () => {
  for (const [flag, key] of DURATION_FLAGS) {
    for (const text of ['0.4', '0.4ms', '0.0001s']) {
      let value: number | null = null;
      let error: unknown = null;
      try {
        value = parse([`--${flag}`, text])[key];
      } catch (err) {
        error = err;
      }
      if (error !== null) {
        assert.instance(error, OptionError);
        assert.ok((error as Error).message.includes(`--${flag}`));
      } else {
        assert.ok(value !== null && value >= 1, `--${flag} ${text} gave ${value} ms`);
      }
    }
  }
});

// ---- header timeout (slowloris) ----

test('--header-timeout: half a head and a stall gets 408 and a close within about the timeout', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo], { headerTimeoutMs: 200 });
  const client = await connect(c, port);
  const started = Date.now();
  await client.write('GET /stalled HTTP/1.1\r\nHost: lb.test\r\n');
  const res = await client.readResponse({ timeoutMs: 3_000 });
  const elapsed = Date.now() - started;
  assertClosingResponse(res, 408, 'stalled head');
  assert.ok(elapsed >= 140 && elapsed < 1_000, `408 after ${elapsed} ms (timeout 200 ms)`);
  await client.waitForEnd(1_000);
  assert.is(client.unreadBytes().length, 0);
  assert.equal(echo.stats(), { requests: 0, connections: 0 }, 'the backend saw nothing');
  await waitFor('the proxy to drop the client', () => proxy.stats().clients === 0, 1_000);
}));

test('--header-timeout: a head trickled slower than the timeout gets 408 (the timer runs from its first byte)', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { port } = await startProxy(c, [echo], { headerTimeoutMs: 200 });
  const client = await connect(c, port);
  const head = Buffer.from('GET /trickle HTTP/1.1\r\nHost: lb.test\r\nUser-Agent: slowloris\r\n\r\n');
  // One byte every 25 ms: the whole head would take about 1.6 s, each gap far under the timeout.
  const started = Date.now();
  let sent = 0;
  const trickle = (async () => {
    for (; sent < head.length && !client.peerEnded; sent++) {
      try {
        await client.write(head.subarray(sent, sent + 1));
      } catch {
        return;
      }
      await sleep(25);
    }
  })();
  const res = await client.readResponse({ timeoutMs: 3_000 });
  const elapsed = Date.now() - started;
  assertClosingResponse(res, 408, 'trickled head');
  assert.ok(elapsed < 800, `408 after ${elapsed} ms: the timer must not restart with each byte`);
  assert.ok(sent < head.length, 'the head was never complete');
  await client.waitForEnd(1_000);
  await trickle;
  assert.equal(echo.stats().requests, 0, 'the backend saw nothing');
}));

test('--header-timeout: a head split over time but finished in time is served; idle time between requests does not count', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo], { headerTimeoutMs: 300 });
  const client = await connect(c, port);
  const head = GET('/in-time');
  for (let i = 0; i < head.length; i += 10) {
    await client.write(head.slice(i, i + 10));
    await sleep(15); // about 100 ms for the whole head
  }
  const first = await client.readResponse();
  assert.is(first.status, 200);
  assert.is((JSON.parse(first.body.toString()) as EchoReport).url, '/in-time');
  // Idle longer than the header timeout: that is the keep-alive timer's business, not the head's.
  await sleep(450);
  assert.not.ok(client.peerEnded, 'closed while idle between requests');
  await client.write(GET('/after-idle'));
  const second = await client.readResponse();
  assert.is(second.status, 200);
  assert.is((JSON.parse(second.body.toString()) as EchoReport).url, '/after-idle');
  await waitForIdle(proxy);
}));

test('--header-timeout: a stalled head pipelined behind a slow request gets 408 after the first response', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 1, 400);
  const { proxy, port } = await startProxy(c, backends, { headerTimeoutMs: 150 });
  const client = await connect(c, port);
  const started = Date.now();
  await client.write(`${GET('/slow')}GET /half HTTP/1.1\r\nHost: lb`);
  const first = await client.readResponse({ timeoutMs: 3_000 });
  assert.is(first.status, 200);
  assert.is(first.body.toString(), 'Hello from 1\n');
  const second = await client.readResponse({ timeoutMs: 3_000 });
  assertClosingResponse(second, 408, 'stalled pipelined head');
  assert.ok(Date.now() - started < 1_500);
  await client.waitForEnd(1_000);
  await waitForIdle(proxy);
}));

// ---- keep-alive timeout ----

test('--keep-alive-timeout: an idle client connection is closed after about the timeout (used or never used)', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 1);
  const { proxy, port } = await startProxy(c, backends, { keepAliveTimeoutMs: 200 });
  const unused = await connect(c, port);
  const unusedSince = Date.now();
  const used = await connect(c, port);
  await used.write(GET('/once'));
  const res = await used.readResponse();
  assert.is(res.status, 200);
  assert.ok(res.keepAlive);
  const usedSince = Date.now();
  await used.waitForEnd(2_000);
  const usedIdle = Date.now() - usedSince;
  await unused.waitForEnd(2_000);
  const unusedIdle = Date.now() - unusedSince;
  assert.ok(usedIdle >= 140 && usedIdle < 1_000, `used connection closed after ${usedIdle} ms idle (timeout 200)`);
  assert.ok(unusedIdle >= 140 && unusedIdle < 1_000, `unused connection closed after ${unusedIdle} ms (timeout 200)`);
  assert.is(used.unreadBytes().length, 0, 'closed without a response');
  assert.is(unused.unreadBytes().length, 0, 'closed without a response');
  await waitFor('the proxy to drop both clients', () => proxy.stats().clients === 0, 1_000);
  // The backend socket stays pooled: only the client side timed out.
  assert.is(proxy.stats().workers[0]?.idle, 1);
}));

test('--keep-alive-timeout: a connection waiting for a slow backend is not closed, and times out only after the response', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 1, 500);
  const { proxy, port } = await startProxy(c, backends, { keepAliveTimeoutMs: 150 });
  const client = await connect(c, port);
  await client.write(GET('/slow'));
  const res = await client.readResponse({ timeoutMs: 3_000 });
  const answered = Date.now();
  assert.is(res.status, 200);
  assert.is(res.body.toString(), 'Hello from 1\n');
  assert.ok(res.keepAlive);
  await client.waitForEnd(2_000);
  const idle = Date.now() - answered;
  assert.ok(idle >= 100 && idle < 1_000, `closed ${idle} ms after the response (timeout 150)`);
  await waitForIdle(proxy);
}));

test('--keep-alive-timeout: a request body arriving slower than the timeout is not cut', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo], { keepAliveTimeoutMs: 150 });
  const client = await connect(c, port);
  await client.write('POST /slow-body HTTP/1.1\r\nHost: lb.test\r\nContent-Length: 10\r\n\r\n01234');
  await sleep(400);
  assert.not.ok(client.peerEnded, 'closed in the middle of a request body');
  await client.write('56789');
  const res = await client.readResponse();
  assert.is(res.status, 200);
  const report = JSON.parse(res.body.toString()) as EchoReport;
  assert.is(report.bodyLength, 10);
  await waitForIdle(proxy);
}));

// ---- max connections ----

/** Connects; resolves with the client, or null when the connection is refused outright. */
async function tryConnect(port: number): Promise<RawClient | null> {
  try {
    return await RawClient.connect(port);
  } catch {
    return null;
  }
}

test('--max-connections 2: a third concurrent connection is closed unanswered while the two stay usable', () => withCleanup(async (c) => {
  const backends = await helloBackends(c, 1);
  const { proxy, port } = await startProxy(c, backends, { maxConnections: 2 });
  const a = await connect(c, port);
  const b = await connect(c, port);
  for (const client of [a, b]) {
    await client.write(GET('/first'));
    assert.is((await client.readResponse()).status, 200);
  }
  await waitFor('two clients', () => proxy.stats().clients === 2, 1_000);
  const third = await tryConnect(port);
  if (third !== null) {
    c.add(third);
    third.write(GET('/third')).catch(() => {});
    await third.waitForEnd(2_000);
    assert.is(third.unreadBytes().length, 0, 'the third connection got no response');
  }
  assert.is(proxy.stats().clients, 2, 'the third client was never taken on');
  for (const client of [a, b]) {
    await client.write(GET('/again'));
    const res = await client.readResponse();
    assert.is(res.status, 200);
    assert.not.ok(client.peerEnded);
  }
  // A slot frees when one of the two leaves.
  a.close();
  await waitFor('the proxy to drop the closed client', () => proxy.stats().clients === 1, 2_000);
  const fourth = await connect(c, port);
  await fourth.write(GET('/fourth'));
  assert.is((await fourth.readResponse()).status, 200);
  await waitForIdle(proxy);
}));

// ---- max pipeline ----

interface HeldRequest {
  url: string;
  socket: net.Socket;
}

test('--max-pipeline 2: only two pipelined requests reach the backend until the front response is written', () => withCleanup(async (c) => {
  const held: HeldRequest[] = [];
  const backend = c.add(await startRaw({
    onConnection: (socket) => onRequests(socket, (req) => held.push({ url: req.url, socket })),
  }));
  const { proxy, port } = await startProxy(c, [backend], { maxPipeline: 2 });
  const client = await connect(c, port);
  const paths = Array.from({ length: 6 }, (_, i) => `/p${i}`);
  await client.write(paths.map(GET).join(''));
  await waitFor('two requests at the backend', () => held.length === 2, 2_000);
  await sleep(100);
  assert.is(held.length, 2, 'reading paused at maxPipeline');
  // Answering the second (not the front) frees nothing: responses go out in order.
  const answered = new Set<number>();
  const answer = (i: number): void => {
    const h = held.find((r) => r.url === paths[i]);
    assert.ok(h !== undefined, `request ${i} was held`);
    h?.socket.write(okResponse(h.url));
    answered.add(i);
  };
  answer(1);
  await sleep(100);
  assert.is(held.length, 2, 'a finished response behind the front one does not open the pipeline');
  for (let i = 0; i < paths.length; i++) {
    if (!answered.has(i)) answer(i);
    const res = await client.readResponse({ label: paths[i] });
    assert.is(res.status, 200);
    assert.is(res.body.toString(), paths[i], `response ${i} in order`);
    // Every answered response at the front is written, and each written one lets one more request in.
    let written = 0;
    while (answered.has(written)) written++;
    const expected = Math.min(paths.length, written + 2);
    await waitFor(`${expected} requests at the backend`, () => held.length >= expected, 2_000);
    assert.ok(held.length <= expected, `at most ${expected} requests read after ${i + 1} responses, saw ${held.length}`);
  }
  assert.equal(held.map((h) => h.url), paths, 'every request reached the backend once, in order');
  await waitForIdle(proxy);
}));

test('--max-pipeline 1: pipelined POSTs with bodies (one chunked) pause reading between requests and lose no byte', () => withCleanup(async (c) => {
  const [echo] = await echoBackends(c, 1);
  assert.ok(echo !== undefined);
  const { proxy, port } = await startProxy(c, [echo], { maxPipeline: 1 });
  const client = await connect(c, port);
  const bodies = Array.from({ length: 5 }, (_, i) => Buffer.alloc(48 * 1024 + i * 777, 97 + i));
  const parts: Buffer[] = [];
  bodies.forEach((body, i) => {
    if (i === 2) {
      const half = body.length >> 1;
      parts.push(Buffer.from(`POST /b${i} HTTP/1.1\r\nHost: lb.test\r\nTransfer-Encoding: chunked\r\n\r\n`),
        Buffer.from(`${half.toString(16)}\r\n`), body.subarray(0, half), Buffer.from(`\r\n${(body.length - half).toString(16)}\r\n`),
        body.subarray(half), Buffer.from('\r\n0\r\n\r\n'));
    } else {
      parts.push(Buffer.from(`POST /b${i} HTTP/1.1\r\nHost: lb.test\r\nContent-Length: ${body.length}\r\n\r\n`), body);
    }
  });
  parts.push(Buffer.from(GET('/last')));
  await client.write(Buffer.concat(parts));
  for (const [i, body] of bodies.entries()) {
    const res = await client.readResponse({ label: `/b${i}` });
    assert.is(res.status, 200);
    const report = JSON.parse(res.body.toString()) as EchoReport;
    assert.is(report.url, `/b${i}`);
    assert.is(report.bodyLength, body.length, `/b${i}: body length`);
    assert.is(report.bodySha256, createHash('sha256').update(body).digest('hex'), `/b${i}: body bytes`);
  }
  const last = await client.readResponse();
  assert.is((JSON.parse(last.body.toString()) as EchoReport).url, '/last');
  assert.is(echo.stats().requests, bodies.length + 1);
  await waitForIdle(proxy);
}));

test.run();
