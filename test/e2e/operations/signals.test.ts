/**
 * Signals through the real CLI: a second SIGINT/SIGTERM during a graceful shutdown cuts what is in
 * flight and the process exits 0, with nothing written to a log after it closed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST, connect, waitFor, withCleanup, type Cleanup } from '../../kit/harness.js';
import { spawnProxy, type ChildExit } from '../../kit/child-proxy.js';
import { GET } from '../../kit/raw-client.js';
import { onRequestHead, startRaw } from '../../../backends/raw.js';

/**
 * A proxy in front of a backend that reads requests and never answers, with one request seen
 * arriving there; then `first` and, once the proxy says it is finishing requests, `second`.
 */
async function twoSignals(c: Cleanup, first: NodeJS.Signals, second: NodeJS.Signals, args: string[] = []): Promise<{ exit: ChildExit; backend: string }> {
  let heads = 0;
  const backend = c.add(await startRaw({ onConnection: (socket) => onRequestHead(socket, () => heads++) }));
  const proxy = c.add(await spawnProxy(['--backend', `${HOST}:${backend.port}`, ...args]));
  const client = await connect(c, proxy.port);
  await client.write(GET('/never-answered'));
  await waitFor('the request at the backend', () => heads === 1, 10_000);
  proxy.child.kill(first);
  await waitFor('the shutdown notice', () => proxy.output().includes('finishing requests in flight'), 10_000, () => proxy.output());
  proxy.child.kill(second);
  return { exit: await proxy.exitWithin(10_000), backend: `${HOST}:${backend.port}` };
}

function assertCleanExit(exit: ChildExit): void {
  assert.is(exit.code, 0, `exit status (stderr: ${exit.stderr})`);
  assert.not.match(exit.stderr, /SonicBoom|Error/);
}

test('SIGTERM then SIGINT with a request at a silent backend: the cut, then exit 0 (error log on stderr)', () => withCleanup(async (c) => {
  const { exit } = await twoSignals(c, 'SIGTERM', 'SIGINT');
  assertCleanExit(exit);
}));

test('SIGINT twice with the error log in a file: exit 0, and the cut is in the log, written before it closed', () => withCleanup(async (c) => {
  const dir = mkdtempSync(join(tmpdir(), 'chanlb-signals-'));
  c.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  const file = join(dir, 'error.log');
  const { exit, backend } = await twoSignals(c, 'SIGINT', 'SIGINT', ['--log-file', file]);
  assertCleanExit(exit);
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(lines.some((l) => l.backend === backend), `a line about the exchange cut at ${backend}: ${JSON.stringify(lines)}`);
}));

test.run();
