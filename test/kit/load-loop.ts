/**
 * Test helper: keep-alive clients that send requests back to back until stopped, and count what
 * happened to every request they wrote. A request that does not get a complete response (a reset,
 * a close, a parse error, a timeout) or gets a status other than 200 is a failure, with its reason.
 *
 * A response with `Connection: close` ends that connection; the client then opens a new one, unless
 * `reconnect` is off or the connection is refused (the proxy is shutting down): then it stops. No
 * request is ever retried: a failure is a failure.
 */
import { RawClient, headerValue, type RawResponse } from './raw-client.js';

export interface LoadResult {
  /** Requests written. */
  sent: number;
  ok: number;
  failures: string[];
  /** Responses per body (backends answer with their name). */
  bodies: Map<string, number>;
}

export interface LoadOptions {
  clients: number;
  /** The request client `i` sends as its `n`th. */
  request: (i: number, n: number) => string;
  /** Open a new connection after `Connection: close` (default true). */
  reconnect?: boolean;
}

export class LoadLoop {
  private readonly port: number;
  private readonly options: LoadOptions;
  private stopping = false;
  private readonly result: LoadResult = { sent: 0, ok: 0, failures: [], bodies: new Map() };
  private readonly loops: Promise<void>[] = [];

  constructor(port: number, options: LoadOptions) {
    this.port = port;
    this.options = options;
  }

  get ok(): number {
    return this.result.ok;
  }

  /** Responses seen so far per body. */
  get bodies(): ReadonlyMap<string, number> {
    return this.result.bodies;
  }

  start(): this {
    for (let i = 0; i < this.options.clients; i++) this.loops.push(this.run(i));
    return this;
  }

  /** Lets each client finish the request it has in flight, then resolves with the totals. */
  async stop(): Promise<LoadResult> {
    this.stopping = true;
    await Promise.all(this.loops);
    return this.result;
  }

  /** Waits until `n` more responses arrived than when called. */
  async waitForMore(n: number, timeoutMs = 5_000): Promise<void> {
    const target = this.result.ok + n;
    const deadline = Date.now() + timeoutMs;
    while (this.result.ok < target) {
      if (Date.now() > deadline) throw new Error(`load: only ${this.result.ok}/${target} responses; failures: ${this.result.failures.slice(0, 3).join('; ')}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private async run(i: number): Promise<void> {
    let n = 0;
    while (!this.stopping) {
      let client: RawClient;
      try {
        client = await RawClient.connect(this.port);
      } catch {
        return; // refused: nothing was sent on it, so nothing failed
      }
      try {
        while (!this.stopping) {
          const request = this.options.request(i, n++);
          let res: RawResponse;
          try {
            this.result.sent++;
            await client.write(request);
            res = await client.readResponse({ label: `client ${i} request ${n}` });
          } catch (err) {
            this.result.failures.push(`client ${i} request ${n}: ${(err as Error).message}`);
            break;
          }
          if (res.status !== 200) {
            this.result.failures.push(`client ${i} request ${n}: status ${res.status}: ${res.body.toString().slice(0, 80)}`);
          } else {
            this.result.ok++;
            const body = res.body.toString();
            this.result.bodies.set(body, (this.result.bodies.get(body) ?? 0) + 1);
          }
          if (headerValue(res, 'connection')?.toLowerCase() === 'close') break;
        }
      } finally {
        client.close();
      }
      if (this.options.reconnect === false) return;
    }
  }
}
