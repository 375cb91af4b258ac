// Scenario 2, "silent backend": one backend that reads requests and never answers, a 2 s response
// timeout everywhere, and a node:http client timing its answer. On a fresh socket the backend is
// silent from the start; on a reused one it answers the first request of each connection and is
// silent after, so the client's second request shows what the proxy does on a pooled socket that
// stopped answering (nginx and HAProxy pool upstream sockets here: keepalive, http-reuse).
import { startBackends } from '../compare/driver.js';
import { request, twoOnOneConnection } from './clients.js';
import { faultyStats, num, seconds, text, type Scenario } from './scenario.js';
import { DEFAULT_ROWS, startVariant, type PeerSettings, type Variant } from './variants.js';

const TIMEOUT: PeerSettings = {
  chanlb: ['--response-timeout', '2s'],
  nginx: ['proxy_read_timeout 2s;'],
  haproxy: ['timeout server 2s'],
};

/** One backends/faulty.ts answering `answer` requests per connection, and the row's proxy before it. */
async function setUp(variant: Variant, tmp: string, answer: number): Promise<{ port: number; backendSaw: () => Promise<string> }> {
  const { ports } = await startBackends('backends/faulty.js', 1, () => ['--answer', String(answer)]);
  const backend = ports[0] as number;
  const target = await startVariant(variant, TIMEOUT, ports, tmp);
  const backendSaw = async (): Promise<string> => {
    const s = await faultyStats(backend);
    return `${s.requests} req (${s.answered} answered) on ${s.connections} conn`;
  };
  return { port: target.port, backendSaw };
}

const ABOUT_TIMEOUTS =
  'Response timeout 2 s in all (chanlb `--response-timeout 2s`, nginx `proxy_read_timeout 2s`, HAProxy `timeout server 2s`). ' +
  'chanlb checks its timeouts on a coarse clock (src/clock.ts: a tick of a quarter of the shortest timeout, 500 ms here), ' +
  'but times a backend response wait from the exact time it began, so its 504 comes at 2 s or up to one tick after, never before. "backend saw": requests the backend counted (and answered), on how many connections.';

export const silentFresh: Scenario = {
  id: 'silent-fresh',
  title: 'silent backend, fresh socket',
  about: `One \`backends/faulty.ts --answer 0\` backend (reads, never answers); one GET on a new client connection. ${ABOUT_TIMEOUTS}`,
  wrk: false,
  rows: DEFAULT_ROWS,
  columns: [text('answer'), num('after s'), text('backend saw')],
  async run(variant, tmp) {
    const { port, backendSaw } = await setUp(variant, tmp, 0);
    const a = await request(port, false);
    return [a.outcome, seconds(a.ms), await backendSaw()];
  },
};

export const silentReused: Scenario = {
  id: 'silent-reused',
  title: 'silent backend, reused socket',
  about:
    `One \`backends/faulty.ts --answer 1\` backend (answers the first request of each connection, then reads and never ` +
    `answers); two GETs one after the other on one keep-alive client connection. ${ABOUT_TIMEOUTS}`,
  wrk: false,
  rows: DEFAULT_ROWS,
  columns: [text('1st'), text('2nd'), num('2nd after s'), text('2nd on the same client conn'), text('backend saw')],
  async run(variant, tmp) {
    const { port, backendSaw } = await setUp(variant, tmp, 1);
    const [first, second] = await twoOnOneConnection(port);
    return [first.outcome, second.outcome, seconds(second.ms), second.reused ? 'yes' : 'no', await backendSaw()];
  },
};
