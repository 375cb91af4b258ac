// Question: what does logging cost per request, and what does it cost when it is off? One op = one
// log call. The logs write to /dev/null through their asynchronous sonic-boom destinations (a real
// disk falls behind at these rates and the destination then drops lines, which would flatter the
// figures); each task writes BATCH lines, then waits until its log has written them all, so that
// work is inside the timed part, and reports the mean per line (overriddenDuration), as in
// heap.bench.ts. "off" is what the request path does with no access
// log: one null check. The error-log tasks are a refused request at level info (written) and at
// level warn (filtered: the level check alone).
import { Bench } from 'tinybench';
import { perOperation, type BatchResult } from './batch.js';
import { AccessLog, type AccessEntry } from '../../src/log/access-log.js';
import { EventLog } from '../../src/log/event-log.js';
import { ProxyError } from '../../src/errors.js';

const BATCH = 256;
const NULL = '/dev/null';

const ENTRY: AccessEntry = {
  time: Date.now(),
  client: '203.0.113.7',
  tls: '',
  method: 'GET',
  target: '/products/1234?ref=home',
  version: '1.1',
  status: 200,
  bytes: 1534,
  backend: '10.0.0.2:8080',
  upstreamMs: 0.412,
  totalMs: 0.535,
  referer: 'https://shop.example.com/',
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
};

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export default async function loggingBench(): Promise<Bench> {
  const json = new AccessLog('json', NULL);
  const combined = new AccessLog('combined', NULL);
  const errorsInfo = new EventLog('info', NULL);
  const errorsWarn = new EventLog('warn', NULL); // writes nothing: its tasks wait one turn, as "off" does
  const off: AccessLog | null = [json, null][1] ?? null; // typed as the request path sees it

  const bench = new Bench({ name: 'logging, per line', time: 1000 });
  const batch = (log: { caughtUp(): Promise<void> } | null, write: () => void) => async (): Promise<BatchResult> => {
    const t0 = bench.now();
    for (let i = 0; i < BATCH; i++) write();
    await (log === null ? turn() : log.caughtUp());
    return perOperation(bench, t0, BATCH);
  };
  bench.add('access log off (a null check)', batch(off, () => off?.write(ENTRY)));
  bench.add('access log, JSON (pino)', batch(json, () => json.write(ENTRY)));
  bench.add('access log, combined', batch(combined, () => combined.write(ENTRY)));
  const limited = new ProxyError('PRX_ERR_RATE_LIMITED', 'over the rate limit');
  bench.add('error log: refused request, level info (written)', batch(errorsInfo, () => errorsInfo.refused('203.0.113.7', limited)));
  bench.add('error log: refused request, level warn (filtered)', batch(null, () => errorsWarn.refused('203.0.113.7', limited)));
  await bench.run();
  await Promise.all([json.close(), combined.close(), errorsInfo.close(), errorsWarn.close()]);
  for (const log of [json, combined]) {
    if (log.dropped > 0) process.stderr.write(`logging bench: ${log.dropped} lines dropped (the destination fell behind): the figure is too low\n`);
  }
  return bench;
}
