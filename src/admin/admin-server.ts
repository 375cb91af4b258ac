/**
 * The admin listener (`--admin HOST:PORT`, off by default, never a proxy listener). It is not on the
 * request path, so it is a plain node:http server.
 *
 *   GET  /status                                the live status page (status-page.ts)
 *   GET  /metrics                               Prometheus text (metrics.ts); ?per_worker: each worker process apart
 *   GET  /status.json                           the pools as they are (status.ts)
 *   GET  /status/events                         the same as Server-Sent Events, one a second
 *   POST /backends/POOL/HOST:PORT/drain         no new requests to it; those in flight finish
 *   POST /backends/POOL/HOST:PORT/return        back in rotation (if its health allows)
 *   POST /backends/POOL/HOST:PORT/weight?value=W its configured weight (a finite number > 0)
 *
 * With `admin.token` set, a POST without `Authorization: Bearer TOKEN` gets 401. A POST a browser
 * sends for another site (its Origin not this listener's own) gets 403, token or none: any page an
 * operator has open could otherwise drain backends on a tokenless admin listener (a form's POST
 * needs no preflight).
 */
import * as http from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Worker } from '../balancer/worker.js';
import { listenError } from '../errors.js';
import type { Address } from '../options/options.js';
import type { StatusSnapshot } from './status.js';
import { STATUS_PAGE } from './status-page.js';

export type BackendAction = { kind: 'drain' } | { kind: 'return' } | { kind: 'weight'; value: number };

export interface AdminHandlers {
  /** The Prometheus text; `perWorker`: each worker process's series apart, labelled `worker`. */
  metrics(perWorker: boolean): Promise<string>;
  contentType: string;
  status(): Promise<StatusSnapshot>;
  /** Does `action` to the backend `name` of the current pool `pool`: its state after, in words; null: no such backend. */
  act(pool: string, name: string, action: BackendAction): Promise<string | null>;
  /** The token POSTs need now (a reload may change it), or null for none. */
  token(): string | null;
  onError(err: Error): void;
}

/** Does an admin action to one backend of this process; says what it is now. */
export function applyAction(worker: Worker, action: BackendAction): string {
  if (action.kind === 'weight') worker.setWeight(action.value);
  else worker.drain(action.kind === 'drain');
  return `${worker.name}: ${action.kind === 'weight' ? `weight ${worker.configuredWeight}` : worker.draining ? 'draining' : 'returned'}`;
}

const ACTION = /^\/backends\/([^/]+)\/([^/]+)\/(drain|return|weight)$/;

function send(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers }).end(`${body}\n`);
}

/** Digests of equal length compared in constant time: neither the token nor its length shows in the timing. */
const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** `Authorization: Bearer TOKEN` (the scheme in any case, RFC 9110 §11.1). */
function authorized(req: http.IncomingMessage, token: string): boolean {
  const m = /^bearer +(.*)$/i.exec(req.headers.authorization ?? '');
  return m !== null && timingSafeEqual(digest(m[1] ?? ''), digest(token));
}

/** A browser's request from another site: an Origin that is not this listener's own address. */
function crossSite(req: http.IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true; // "null" (a sandboxed page, a file) and anything unreadable
  }
}

function act(h: AdminHandlers, req: http.IncomingMessage, res: http.ServerResponse, url: URL, m: RegExpExecArray): void {
  if (req.method !== 'POST') {
    send(res, 405, 'method not allowed: actions are POST', { Allow: 'POST' });
    return;
  }
  if (crossSite(req)) {
    send(res, 403, 'forbidden: a request from another site');
    return;
  }
  const token = h.token();
  if (token !== null && !authorized(req, token)) {
    send(res, 401, 'unauthorized: send Authorization: Bearer <admin.token>', { 'WWW-Authenticate': 'Bearer realm="chanlb admin"' });
    return;
  }
  const [, poolText = '', nameText = '', kind] = m;
  let action: BackendAction;
  if (kind === 'weight') {
    const value = Number(url.searchParams.get('value'));
    if (!(value > 0 && Number.isFinite(value))) {
      send(res, 400, 'weight: give ?value= a finite number > 0');
      return;
    }
    action = { kind, value };
  } else {
    action = { kind: kind === 'drain' ? 'drain' : 'return' };
  }
  let pool: string;
  let name: string;
  try {
    pool = decodeURIComponent(poolText);
    name = decodeURIComponent(nameText);
  } catch {
    // A malformed %-escape: decodeURIComponent throws, and thrown in a request handler it would end the process.
    send(res, 400, 'bad request: a malformed %-escape in the pool or backend');
    return;
  }
  h.act(pool, name, action).then(
    (done) => (done === null ? send(res, 404, `no backend ${name} in pool ${pool}`) : send(res, 200, done)),
    (err: Error) => {
      h.onError(err);
      send(res, 500, `${kind} failed: ${err.message}`);
    },
  );
}

/** How often the event stream sends a snapshot; and how long a browser waits before reconnecting. */
const EVENT_INTERVAL_MS = 1000;
const RECONNECT_MS = 2000;

/** Server-Sent Events: a snapshot at once, then one a second, until the client goes. */
function streamStatus(h: AdminHandlers, res: http.ServerResponse, head: boolean): void {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
  if (head) {
    res.end();
    return;
  }
  const push = (): void => {
    // The primary asks its workers first: the client may have gone meanwhile.
    h.status().then(
      (s) => {
        if (!res.destroyed) res.write(`data: ${JSON.stringify(s)}\n\n`);
      },
      (err: Error) => h.onError(err),
    );
  };
  res.write(`retry: ${RECONNECT_MS}\n\n`);
  push();
  const timer = setInterval(push, EVENT_INTERVAL_MS);
  res.once('close', () => clearInterval(timer));
}

/**
 * Opens the admin listener at `at`; a failure (an address in use) names the address. Once it
 * listens, errors (an accept failing with EMFILE, say) go to `failed` and the listener goes on: an
 * 'error' with no listener would end the process.
 */
export function listenAdmin(server: http.Server, at: Address, failed: (err: Error) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const refused = (err: Error): void => reject(listenError(at.host, at.port, err));
    server.once('error', refused);
    server.listen(at.port, at.host, () => {
      server.off('error', refused);
      server.on('error', failed);
      resolve();
    });
  });
}

export function adminServer(h: AdminHandlers): http.Server {
  return http.createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin');
    } catch {
      // `//[x` reads as an authority that does not parse: a throw here would end the process.
      send(res, 400, 'bad request: the request target is not a URL path');
      return;
    }
    const action = ACTION.exec(url.pathname);
    if (action !== null) {
      act(h, req, res, url, action);
      return;
    }
    if (!['/status', '/metrics', '/status.json', '/status/events'].includes(url.pathname)) {
      send(res, 404, 'not found: the admin listener serves GET /status, /metrics, /status.json, /status/events and POST /backends/POOL/HOST:PORT/{drain,return,weight}');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
      return;
    }
    const head = req.method === 'HEAD';
    if (url.pathname === '/status') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(head ? undefined : STATUS_PAGE);
      return;
    }
    if (url.pathname === '/status/events') {
      streamStatus(h, res, head);
      return;
    }
    if (url.pathname === '/status.json') {
      h.status().then(
        (s) => res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(head ? undefined : `${JSON.stringify(s)}\n`),
        (err: Error) => {
          h.onError(err);
          send(res, 500, 'status failed');
        },
      );
      return;
    }
    h.metrics(url.searchParams.has('per_worker')).then(
      (text) => res.writeHead(200, { 'Content-Type': h.contentType }).end(head ? undefined : text),
      (err: Error) => {
        h.onError(err);
        send(res, 500, 'metrics failed');
      },
    );
  });
}
