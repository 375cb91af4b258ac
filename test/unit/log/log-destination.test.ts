/**
 * A closed or failed log destination drops writes from any logger on it: an event that arrives late
 * (an exchange cut at shutdown settles after the logs closed) must not throw "SonicBoom destroyed".
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog } from '../../../src/log/event-log.js';
import { ProxyError } from '../../../src/errors.js';
import { waitFor } from '../../kit/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'chanlb-log-destination-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const failure = new ProxyError('PRX_ERR_BACKEND_CLOSED', 'backend closed the connection');

/** Runs `body` with process.stderr.write captured; returns what was written. */
async function capturingStderr(body: (written: readonly string[]) => Promise<void>): Promise<string[]> {
  const written: string[] = [];
  const real = process.stderr.write;
  process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
  try {
    await body(written);
  } finally {
    process.stderr.write = real;
  }
  return written;
}

test('an error log to a file: an event after close() is dropped, not thrown', async () => {
  const file = join(dir, 'error.log');
  const log = new EventLog('info', file);
  log.backendFailed('127.0.0.1:1', failure);
  await log.close();
  log.backendFailed('127.0.0.1:2', failure);
  log.error('late', 'after close');
  await log.close();
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  assert.is(lines.length, 1, JSON.stringify(lines));
  assert.match(lines[0] ?? '', /"backend":"127\.0\.0\.1:1"/);
});

test('an error log to stderr: an event after close() is dropped, not thrown', async () => {
  const log = new EventLog('info', 2);
  await log.close();
  log.backendFailed('127.0.0.1:2', failure);
  await log.close();
});

if (existsSync('/dev/full')) {
  test('an error log whose writes fail: later events are dropped, not thrown', async () => {
    const written = await capturingStderr(async (sofar) => {
      const log = new EventLog('info', '/dev/full');
      log.backendFailed('127.0.0.1:1', failure);
      await waitFor('the write error to stop the log', () => sofar.length > 0);
      log.backendFailed('127.0.0.1:2', failure);
      await log.close();
    });
    assert.is(written.length, 1, JSON.stringify(written));
    assert.match(written[0] ?? '', /'\/dev\/full': ENOSPC.*logging stopped/);
  });
}

test.run();
