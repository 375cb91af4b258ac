// Question: what does routing cost per request? One op = one request's route: the Host value and
// the target taken out of the head buffer as strings (what ClientConn does when a rule needs them)
// and RouteTable.match. Against: no routes (the table is empty, ClientConn takes the default route
// without building a string). Eight rules like a small site's; the request matches the first rule,
// the last, or none. Each task runs BATCH routes and reports the mean per op (overriddenDuration).
import { Bench } from 'tinybench';
import { perOperation, type BatchResult } from './batch.js';
import { RouteTable, type RouteRule } from '../../src/routing/route-table.js';

const BATCH = 1024;

const RULES: RouteRule<string>[] = [
  { host: 'api.example.com', pathPrefix: '/v1', port: null, target: 'api-v1' },
  { host: 'api.example.com', pathPrefix: '/v2', port: null, target: 'api-v2' },
  { host: '*.cdn.example.com', pathPrefix: null, port: null, target: 'cdn' },
  { host: null, pathPrefix: '/static/', port: null, target: 'static' },
  { host: 'admin.example.com', pathPrefix: null, port: 8443, target: 'admin' },
  { host: 'shop.example.com', pathPrefix: '/cart', port: null, target: 'cart' },
  { host: 'shop.example.com', pathPrefix: '/checkout', port: null, target: 'checkout' },
  { host: '*.example.org', pathPrefix: '/', port: null, target: 'org' },
];

/** A head buffer with the Host value and target at known offsets, as the parser leaves them. */
function head(host: string, target: string): { buf: Buffer; host: [number, number]; target: [number, number] } {
  const text = `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nAccept: */*\r\n\r\n`;
  const t = 4;
  const h = text.indexOf('Host: ') + 6;
  return { buf: Buffer.from(text, 'latin1'), host: [h, h + host.length], target: [t, t + target.length] };
}

export default async function routingBench(): Promise<Bench> {
  const table = new RouteTable(RULES);
  const empty = new RouteTable<string>([]);
  const bench = new Bench({ name: 'routing, per request', time: 1000 });
  let sink = 0;
  const task = (t: RouteTable<string>, h: ReturnType<typeof head>) => (): BatchResult => {
    const t0 = bench.now();
    for (let i = 0; i < BATCH; i++) {
      if (t.size === 0) {
        sink++;
        continue;
      }
      const host = t.needsHost ? h.buf.toString('latin1', h.host[0], h.host[1]) : '';
      const target = t.needsPath ? h.buf.toString('latin1', h.target[0], h.target[1]) : '';
      if (t.match(host, target, 8080) !== undefined) sink++;
    }
    return perOperation(bench, t0, BATCH);
  };
  bench.add('no routes (default pool)', task(empty, head('www.example.com', '/index.html')));
  bench.add('8 rules, first matches', task(table, head('api.example.com', '/v1/users/42?fields=name')));
  bench.add('8 rules, last matches', task(table, head('www.example.org:8080', '/about')));
  bench.add('8 rules, none matches', task(table, head('www.example.net', '/index.html')));
  await bench.run();
  if (sink === 0) throw new Error('routing bench: nothing matched');
  return bench;
}
