// A peer for `make compare`: the usual way to write a proxy in Node, a node:http server forwarding
// each request through an undici Pool per backend (round robin), with the same header work as chanlb
// (hop-by-hop removal, X-Forwarded-For/Proto/Host). Bodies stream both ways.
// `node dist/bench/load/peers/undici-proxy.js --listen 127.0.0.1:8081 --backend 127.0.0.1:9001,127.0.0.1:9002`
import http from 'node:http';
import type { Writable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { peerArgs } from './args.js';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-authorization', 'proxy-authenticate',
]);

function forwardHeaders(req: http.IncomingMessage): Record<string, string | string[]> {
  const named = new Set<string>();
  const connection = req.headers.connection;
  if (connection !== undefined) for (const token of connection.split(',')) named.add(token.trim().toLowerCase());
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name) || name.startsWith('x-forwarded-')) continue;
    out[name] = value;
  }
  const client = req.socket.remoteAddress ?? 'unknown';
  const prior = req.headers['x-forwarded-for'];
  out['x-forwarded-for'] = prior === undefined ? client : `${prior}, ${client}`;
  out['x-forwarded-proto'] = 'http';
  if (req.headers.host !== undefined) out['x-forwarded-host'] = req.headers.host;
  return out;
}

// Module-level factory and callback: the response travels as the request's opaque.
function factory({ statusCode, headers, opaque }: Dispatcher.StreamFactoryData<http.ServerResponse>): Writable {
  for (const name of HOP_BY_HOP) delete headers[name];
  opaque.writeHead(statusCode, headers);
  return opaque;
}

function done(err: Error | null, { opaque }: Dispatcher.StreamData<http.ServerResponse>): void {
  if (err === null) return;
  if (opaque.headersSent) opaque.destroy(err);
  else opaque.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway\n');
}

const { listen, backends } = peerArgs('undici-proxy');
const pools = backends.map(({ host, port }) => new Pool(`http://${host}:${port}`));

let next = 0;
const server = http.createServer((req, res) => {
  const pool = pools[next] as Pool;
  next = (next + 1) % pools.length;
  const method = (req.method ?? 'GET') as Dispatcher.HttpMethod;
  pool.stream<http.ServerResponse>(
    {
      path: req.url ?? '/',
      method,
      headers: forwardHeaders(req),
      body: method === 'GET' || method === 'HEAD' ? null : req,
      opaque: res,
    },
    factory,
    done,
  );
});

server.listen(listen.port, listen.host, () => {
  process.stdout.write(`undici-proxy listening on ${listen.host}:${listen.port}, round robin over ${backends.map((b) => `${b.host}:${b.port}`).join(', ')}\n`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  void Promise.all(pools.map((p) => p.close())).then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
