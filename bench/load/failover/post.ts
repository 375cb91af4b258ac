// Scenario 4, "one backend refusing, POST": a request that is not idempotent may only go to another
// backend if the first never received it; a refused connection is that case. What fails for the client?
import { startBackends } from '../compare/driver.js';
import { freePort } from '../compare/procs.js';
import { int } from '../compare/report.js';
import { postMany } from './clients.js';
import { num, seconds, tally, text, type Scenario } from './scenario.js';
import { DEAD_BACKEND_ROWS, startVariant } from './variants.js';

const POSTS = 2000;
const CONCURRENCY = 16;
const BODY = JSON.stringify({ order: 42, items: ['a', 'b'] });

export const post: Scenario = {
  id: 'post',
  title: 'one backend refusing, POST',
  about:
    `Three \`backends/hello.ts\` (which read the body) and a port that refuses connections; ${POSTS} POSTs of ` +
    `${Buffer.byteLength(BODY)} bytes from a node:http keep-alive client, ${CONCURRENCY} at a time. failures: ` +
    `statuses other than 2xx and socket errors, as the client saw them.`,
  wrk: false,
  rows: DEAD_BACKEND_ROWS,
  columns: [num('POSTs'), num('2xx'), num('failed'), text('failures'), num('seconds')],
  async run(variant, tmp) {
    const { ports } = await startBackends('backends/hello.js', 3);
    const refusing = await freePort();
    const target = await startVariant(variant, {}, [...ports, refusing], tmp);
    const t0 = performance.now();
    const outcomes = await postMany(target.port, POSTS, CONCURRENCY, BODY);
    const ms = performance.now() - t0;
    const failures = [...outcomes].filter(([outcome]) => !/^2\d\d$/.test(outcome));
    const failed = failures.reduce((sum, [, n]) => sum + n, 0);
    return [int(POSTS), int(POSTS - failed), int(failed), tally(failures), seconds(ms)];
  },
};
