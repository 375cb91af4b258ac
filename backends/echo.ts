// A test backend that answers with a JSON description of the request it received, and counts
// requests and connections so tests can check pool reuse and that nothing is sent twice.
// `node dist/backends/echo.js --port 9101 --name e1 [--host H]`
import { createHash } from 'node:crypto';
import http from 'node:http';
import { isMain, runCli } from './cli.js';
import { serve, type BackendHandle, type ListenOptions } from './serve.js';

export interface EchoOptions extends ListenOptions {
  name: string;
}

/** The JSON body of every echo response. */
export interface EchoReport {
  method: string;
  url: string;
  httpVersion: string;
  rawHeaders: string[];
  bodyLength: number;
  bodySha256: string;
  /** Trailer fields of a chunked body, by lowercase name (node:http's `req.trailers`). */
  trailers: NodeJS.Dict<string>;
}

export interface EchoHandle extends BackendHandle<http.Server> {
  /** Requests whose head arrived and connections accepted, since start. */
  stats(): { requests: number; connections: number };
  /** Requests whose body was read to its end (a request cut off mid-body is counted in stats() only). */
  completed(): number;
}

export async function startEcho(opts: EchoOptions): Promise<EchoHandle> {
  let requests = 0;
  let connections = 0;
  let completed = 0;
  const server = http.createServer((req, res) => {
    requests++;
    const hash = createHash('sha256');
    let bodyLength = 0;
    req.on('data', (chunk: Buffer) => {
      bodyLength += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      completed++;
      const report: EchoReport = {
        method: req.method ?? '',
        url: req.url ?? '',
        httpVersion: req.httpVersion,
        rawHeaders: req.rawHeaders,
        bodyLength,
        bodySha256: hash.digest('hex'),
        trailers: req.trailers,
      };
      const body = Buffer.from(JSON.stringify(report));
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': body.length,
        'X-Backend': opts.name,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    req.on('error', () => res.destroy());
  });
  server.on('connection', () => connections++);
  server.keepAliveTimeout = 5000;
  server.maxRequestsPerSocket = 0;
  const handle = await serve(server, opts);
  return { ...handle, stats: () => ({ requests, connections }), completed: () => completed };
}

if (isMain(import.meta.url)) {
  runCli('echo', process.argv.slice(2), ['port', 'name', 'host'], startEcho);
}
