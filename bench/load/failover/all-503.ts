// Scenario 3, "every backend answers 503": how many attempts a proxy makes per client request when
// no backend can serve it (retries multiply load on an overloaded pool), and what the client gets.
import { startBackends } from '../compare/driver.js';
import { fixed } from '../../format.js';
import { int } from '../compare/report.js';
import { faultyStats, num, tally, text, type Scenario } from './scenario.js';
import { CHANLB_503, HAPROXY, HAPROXY_RETRY, NGINX, NGINX_503, startVariant } from './variants.js';
import { command, runWrk } from './wrk.js';

const SECONDS = 5;

export const all503: Scenario = {
  id: 'all-503',
  title: 'every backend answers 503',
  about:
    `Three \`backends/faulty.ts --status 503\` backends; \`${command(SECONDS)}\` (keep-alive GETs). attempts is ` +
    `what the backends counted, attempts/request that over the responses wrk counted (requests still in ` +
    `flight at the end make it a little high). chanlb runs with \`--retry-on connect-failure,reset,503\`. Where ` +
    `a 503 counts as a failure (chanlb with 503 in --retry-on, nginx with http_503), passive health can take every ` +
    `backend out, and the proxy then answers by itself without an attempt.`,
  wrk: true,
  rows: [CHANLB_503, NGINX, NGINX_503, HAPROXY, HAPROXY_RETRY],
  columns: [num('req/s'), num('requests'), text('statuses'), text('socket errors'), num('attempts'), num('attempts/request')],
  async run(variant, tmp) {
    const { ports } = await startBackends('backends/faulty.js', 3, () => ['--status', '503']);
    const target = await startVariant(variant, {}, ports, tmp);
    const r = await runWrk(`http://127.0.0.1:${target.port}/`, SECONDS, tmp);
    const attempts = (await Promise.all(ports.map(faultyStats))).reduce((sum, s) => sum + s.requests, 0);
    return [
      int(r.rps), int(r.requests), tally(r.statuses), tally(Object.entries(r.socketErrors), '0'),
      int(attempts), fixed(attempts / r.requests, 2),
    ];
  },
};
