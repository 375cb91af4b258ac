/**
 * The admin listener (`--admin HOST:PORT`, off by default, never a proxy listener): GET /metrics
 * and GET /status.json. It is not on the request path, so it is a plain node:http server.
 */
import * as http from 'node:http';
import type { Registry } from 'prom-client';
import type { StatusSnapshot } from './status.js';

export function adminServer(registry: Registry, status: () => StatusSnapshot, onError: (err: Error) => void): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' && path !== '/status.json') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: the admin listener serves GET /metrics and /status.json\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    if (path === '/status.json') {
      const body = `${JSON.stringify(status())}\n`;
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => {
        onError(err);
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('metrics failed\n');
      },
    );
  });
}
