import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessLog, combinedLine, type AccessEntry } from '../../../src/log/access-log.js';

const dir = mkdtempSync(join(tmpdir(), 'chanlb-access-log-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const file = (): string => join(dir, `log-${n++}.log`);
const lines = (path: string): string[] => readFileSync(path, 'latin1').split('\n').filter((l) => l !== '');

const T = Date.UTC(2026, 10, 24, 16, 20, 43, 123);

function entry(over: Partial<AccessEntry> = {}): AccessEntry {
  return {
    time: T,
    client: '127.0.0.1',
    tls: '',
    method: 'GET',
    target: '/a?b=1',
    version: '1.1',
    status: 200,
    bytes: 1234,
    backend: '10.0.0.2:8080',
    upstreamMs: 1.5,
    totalMs: 2.25,
    referer: 'http://example.com/',
    userAgent: 'curl/8.5.0',
    ...over,
  };
}

// nginx combined + backend upstream_ms total_ms
const COMBINED =
  /^(\S+) - - \[(\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "((?:[^"\\]|\\x[0-9A-F]{2})*)" (\d{1,3}) (\d+|-) "((?:[^"\\]|\\x[0-9A-F]{2})*)" "((?:[^"\\]|\\x[0-9A-F]{2})*)" (\S+) (\S+) (\S+)$/;

test('json: one object per line with exactly the fields', async () => {
  const path = file();
  const log = new AccessLog('json', path);
  log.write(entry());
  log.write(entry({ status: 0, bytes: 0, backend: '-', upstreamMs: -1, referer: '', userAgent: 'a "b"\\\n\x01é' }));
  await log.close();
  const got = readFileSync(path, 'utf8').split('\n');
  assert.is(got.length, 3);
  assert.is(got[2], '');
  assert.equal(JSON.parse(got[0] ?? ''), {
    time: '2026-11-24T16:20:43.123Z',
    client: '127.0.0.1',
    method: 'GET',
    target: '/a?b=1',
    version: '1.1',
    status: 200,
    bytes: 1234,
    backend: '10.0.0.2:8080',
    upstream_ms: 1.5,
    total_ms: 2.25,
    referer: 'http://example.com/',
    user_agent: 'curl/8.5.0',
  });
  const second = JSON.parse(got[1] ?? '') as Record<string, unknown>;
  assert.equal(Object.keys(second), ['time', 'client', 'method', 'target', 'version', 'status', 'bytes', 'backend', 'upstream_ms', 'total_ms', 'referer', 'user_agent']);
  assert.is(second['status'], 0);
  assert.is(second['backend'], '-');
  assert.is(second['upstream_ms'], -1);
  assert.is(second['referer'], '');
  assert.is(second['user_agent'], 'a "b"\\\n\x01é');
});

test('combined: standard line plus backend, upstream_ms, total_ms', () => {
  assert.is(
    combinedLine(entry()),
    '127.0.0.1 - - [24/Nov/2026:16:20:43 +0000] "GET /a?b=1 HTTP/1.1" 200 1234 "http://example.com/" "curl/8.5.0" 10.0.0.2:8080 1.5 2.25',
  );
  const m = COMBINED.exec(combinedLine(entry()));
  assert.ok(m);
  assert.is(m[3], 'GET /a?b=1 HTTP/1.1');
});

test('combined: empty and missing values', () => {
  const line = combinedLine(entry({ version: '1.0', status: 0, bytes: 0, backend: '-', upstreamMs: -1, totalMs: 0, referer: '', userAgent: '' }));
  assert.is(line, '127.0.0.1 - - [24/Nov/2026:16:20:43 +0000] "GET /a?b=1 HTTP/1.0" 0 - "-" "-" - - 0');
  assert.match(line, COMBINED);
  // a refused request whose head was never complete
  const refused = combinedLine(entry({ method: '-', target: '-', version: '-', status: 400 }));
  assert.match(refused, /"-" 400 /);
  assert.match(refused, COMBINED);
});

test('combined: quotes, backslashes, control and high bytes are escaped as \\xHH', () => {
  const line = combinedLine(
    entry({ target: '/"x"\\y\x00\x7f', referer: 'a\tb\r\nc', userAgent: 'Mozilla "evil" \x1b[31m\xe9' }),
  );
  const m = COMBINED.exec(line);
  assert.ok(m, line);
  assert.is(m[3], 'GET /\\x22x\\x22\\x5Cy\\x00\\x7F HTTP/1.1');
  assert.is(m[6], 'a\\x09b\\x0D\\x0Ac');
  assert.is(m[7], 'Mozilla \\x22evil\\x22 \\x1B[31m\\xE9');
  assert.not.match(line, /[\x00-\x1f\x7f-\uffff]/);
  // characters beyond latin1 (not produced by the parser) are escaped as their UTF-8 bytes
  assert.is(COMBINED.exec(combinedLine(entry({ userAgent: '€😀' })))?.[7], '\\xE2\\x82\\xAC\\xF0\\x9F\\x98\\x80');
});

test('combined: written to the file', async () => {
  const path = file();
  const log = new AccessLog('combined', path);
  log.write(entry());
  log.write(entry({ userAgent: 'x"y' }));
  await log.close();
  const got = lines(path);
  assert.is(got.length, 2);
  for (const l of got) assert.match(l, COMBINED);
  assert.is(got[0], combinedLine(entry()));
  assert.match(got[1] ?? '', /"x\\x22y"/);
});

for (const format of ['json', 'combined'] as const) {
  test(`${format}: close() flushes everything written`, async () => {
    const path = file();
    const log = new AccessLog(format, path);
    for (let i = 0; i < 1000; i++) log.write(entry({ target: `/${i}` }));
    await log.close();
    const got = lines(path);
    assert.is(got.length, 1000);
    assert.ok(got[999]?.includes('/999'));
    log.write(entry()); // after close: ignored, not thrown
    await log.close();
    assert.is(lines(path).length, 1000);
  });
}

test('appends to an existing file', async () => {
  const path = file();
  writeFileSync(path, 'old line\n');
  const log = new AccessLog('combined', path);
  log.write(entry());
  await log.close();
  assert.equal(lines(path), ['old line', combinedLine(entry())]);
});

test('creates missing directories', async () => {
  const path = join(dir, 'a', 'b', 'access.log');
  const log = new AccessLog('json', path);
  log.write(entry());
  await log.close();
  assert.is(lines(path).length, 1);
});

test('an unusable path fails at construction with a clear error', () => {
  const blocker = file();
  writeFileSync(blocker, '');
  assert.throws(() => new AccessLog('json', join(blocker, 'access.log')), /access log: cannot open .*access\.log/);
  assert.throws(() => new AccessLog('combined', dir), /access log: cannot open .*EISDIR/);
});

if (existsSync('/dev/full')) {
  test('a write error is reported once, stops logging, and close() still resolves', async () => {
    const errors: string[] = [];
    const real = process.stderr.write;
    process.stderr.write = ((chunk: string) => errors.push(chunk) > 0) as typeof process.stderr.write;
    try {
      const log = new AccessLog('json', '/dev/full');
      log.write(entry());
      await new Promise((r) => setTimeout(r, 50));
      log.write(entry());
      await log.close();
    } finally {
      process.stderr.write = real;
    }
    assert.is(errors.length, 1);
    assert.match(errors[0] ?? '', /access log '\/dev\/full': ENOSPC.*logging stopped/);
  });
}

test.run();
