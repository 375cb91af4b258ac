// The demo backend: every request gets `200 Hello from <name>\n`, on keep-alive connections.
// `node dist/backends/hello.js --port 9001 --name 1 [--host H] [--delay-ms N]`
import http from 'node:http';
import { isMain, runCli } from './cli.js';
import { serve, type BackendHandle, type ListenOptions } from './serve.js';

export interface HelloOptions extends ListenOptions {
  name: string;
  /** Answer this many ms after the request body has been read. */
  delayMs?: number;
}

/**
 * Idle keep-alive connections are closed after this long. A proxy pooling connections to this
 * backend must use a shorter idle timeout, or it will pick sockets the backend is about to close.
 */
export const HELLO_KEEP_ALIVE_MS = 5000;

export function startHello(opts: HelloOptions): Promise<BackendHandle<http.Server>> {
  const body = Buffer.from(`Hello from ${opts.name}\n`);
  const headers = { 'Content-Type': 'text/plain', 'Content-Length': body.length };
  const delayMs = opts.delayMs ?? 0;
  const server = http.createServer((req, res) => {
    const answer = (): void => {
      res.writeHead(200, headers).end(body);
    };
    // Read the whole body before answering so the connection stays usable for the next request.
    req.on('end', delayMs > 0 ? () => setTimeout(answer, delayMs) : answer);
    req.on('error', () => res.destroy());
    req.resume();
  });
  server.keepAliveTimeout = HELLO_KEEP_ALIVE_MS;
  server.maxRequestsPerSocket = 0;
  return serve(server, opts);
}

if (isMain(import.meta.url)) {
  runCli('hello', process.argv.slice(2), ['port', 'name', 'host', 'delay-ms'], startHello);
}
