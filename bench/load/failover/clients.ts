// Small node:http clients that record what a client sees: the status or the socket error, and when.
import http from 'node:http';

/** Longer than any proxy here keeps a client waiting (HAProxy's retries: 4 × 2 s). */
const CLIENT_TIMEOUT_MS = 15_000;

export interface Answer {
  /** The status code, or the error (`ECONNRESET`, `no answer in 15 s`). */
  outcome: string;
  /** From sending the request to the end of the answer or the error. */
  ms: number;
  /** The request went out on a connection that had carried one before. */
  reused: boolean;
}

/** One request through `agent` (false: on a fresh connection), the body read to its end. */
export function request(port: number, agent: http.Agent | false, method = 'GET', body = ''): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const headers = body === '' ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
    const req = http.request({ host: '127.0.0.1', port, path: '/', method, agent, headers, timeout: CLIENT_TIMEOUT_MS });
    const done = (outcome: string): void => resolve({ outcome, ms: performance.now() - t0, reused: req.reusedSocket });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => done(String(res.statusCode)));
      res.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    });
    let timedOut = false;
    req.on('timeout', () => {
      timedOut = true;
      req.destroy();
    });
    req.on('error', (err: NodeJS.ErrnoException) => done(timedOut ? `no answer in ${CLIENT_TIMEOUT_MS / 1000} s` : err.code ?? err.message));
    req.end(body);
  });
}

/** Two GETs, one after the other, on one keep-alive client connection (if the proxy keeps it open). */
export async function twoOnOneConnection(port: number): Promise<[Answer, Answer]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const first = await request(port, agent);
    return [first, await request(port, agent)];
  } finally {
    agent.destroy();
  }
}

/** `total` POSTs of `body` from `concurrency` keep-alive connections: how many ended each way. */
export async function postMany(port: number, total: number, concurrency: number, body: string): Promise<Map<string, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const outcomes = new Map<string, number>();
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < total) {
      started++;
      const { outcome } = await request(port, agent, 'POST', body);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return outcomes;
}
