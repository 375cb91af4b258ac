/**
 * Rate-limit tokens from buckets kept in Redis (`rate_limit.store`), so every instance and every
 * worker process draws from one budget per client and limit. A worker's LeasedRateLimiter asks for a
 * few tokens at a time and spends them locally; each ask is one EVALSHA of a token-bucket script that
 * refills by Redis' own clock (so instances' clocks do not matter) and grants only whole tokens the
 * bucket has: the instances together never admit more than the limit while Redis answers.
 *
 * While Redis is unreachable the client reconnects with a backoff (100 ms doubling to 2 s), asks are
 * not queued, and each is answered at once by `rate_limit.store_failure`: open (let the requests
 * through) or closed (429). Each change of state is logged once and counted.
 */
import { createHash } from 'node:crypto';
import { createClient } from '@redis/client';
import type { EventLog } from '../log/event-log.js';
import type { LeaseSource } from './client-limiter.js';
import { LEASE_TIMEOUT_MS } from './leased-rate-limiter.js';

/** KEYS[1]: the bucket; ARGV: rate (tokens/s), burst, tokens wanted. Returns { granted, seconds until a token }. */
const SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local bucket = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(bucket[1])
local at = tonumber(bucket[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
local wait = 0
if granted < want then wait = math.max(1, math.ceil((1 - tokens) / rate)) end
return { granted, wait }
`;
const SHA = createHash('sha1').update(SCRIPT).digest('hex');

const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 2_000;
/**
 * How long a lease waits for Redis before store_failure decides. Well under the limiter's own wait
 * for any lease (LEASE_TIMEOUT_MS, which lets the request through): a hung Redis must meet
 * store_failure (closed: refused), not the limiter's fail-open.
 */
const COMMAND_TIMEOUT_MS = LEASE_TIMEOUT_MS / 2;

export interface BucketLimits {
  rate: number;
  burst: number;
}

export interface StoreStats {
  /** Redis answers now. */
  up: boolean;
  /** Asks answered by store_failure instead of Redis (unreachable, an error, too slow). */
  failures: number;
}

export class RedisLeaseSource implements LeaseSource {
  readonly stats: StoreStats = { up: false, failures: 0 };
  private readonly client;
  private readonly failOpen: boolean;
  private readonly log: EventLog | null;
  private limits: ReadonlyMap<string, BucketLimits>;
  /** The last state logged: null before the first connect. */
  private logged: boolean | null = null;
  private closing = false;

  constructor(url: string, failure: 'open' | 'closed', limits: ReadonlyMap<string, BucketLimits>, log: EventLog | null) {
    this.failOpen = failure === 'open';
    this.limits = limits;
    this.log = log;
    this.client = createClient({
      url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: COMMAND_TIMEOUT_MS,
        reconnectStrategy: (retries: number) => Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** retries),
      },
    });
    this.client.on('ready', () => this.changed(true, ''));
    this.client.on('error', (err: Error) => this.changed(false, err.message));
    this.client.on('end', () => this.changed(false, 'connection closed'));
    this.client.connect().catch((err: Error) => this.changed(false, err.message));
  }

  /** The limits of the configuration now in force, by limiter name (a reload changes them). */
  setLimits(limits: ReadonlyMap<string, BucketLimits>): void {
    this.limits = limits;
  }

  lease(limiter: string, client: string, want: number, done: (granted: number, retryAfter: number) => void): void {
    const limit = this.limits.get(limiter);
    if (limit === undefined || !this.client.isReady) {
      this.fallback(want, done);
      return;
    }
    const key = `chanlb:rl:${limiter}:${client}`;
    const args = [String(limit.rate), String(limit.burst), String(want)];
    let answered = false;
    const finish = (granted: number, retryAfter: number): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      done(granted, retryAfter);
    };
    // A failure after the answer (the command fails once it timed out) is not counted twice.
    const failed = (): void => {
      if (!answered) this.fallback(want, finish);
    };
    const timer = setTimeout(failed, COMMAND_TIMEOUT_MS);
    this.run(['EVALSHA', SHA, '1', key, ...args])
      .catch((err: Error) => (err.message.startsWith('NOSCRIPT') ? this.run(['EVAL', SCRIPT, '1', key, ...args]) : Promise.reject(err)))
      .then(
        (reply) => {
          const [granted, wait] = Array.isArray(reply) ? reply.map(Number) : [NaN, NaN];
          if (Number.isInteger(granted) && Number.isFinite(wait)) finish(granted as number, wait as number);
          else failed();
        },
        failed,
      );
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.client.isOpen) this.client.destroy();
  }

  private run(command: string[]): Promise<unknown> {
    return this.client.sendCommand(command);
  }

  private fallback(want: number, done: (granted: number, retryAfter: number) => void): void {
    this.stats.failures++;
    if (this.failOpen) done(want, 0);
    else done(0, 1);
  }

  private changed(up: boolean, why: string): void {
    this.stats.up = up;
    if (this.closing || this.logged === up) return;
    // Down before it was ever up is logged too: the store named in the config cannot be reached.
    this.logged = up;
    if (up) this.log?.info('rate_limit_store_up', 'the rate-limit store answers: limits are shared again');
    else this.log?.error('rate_limit_store_down', `the rate-limit store is unreachable (${why}): requests are ${this.failOpen ? 'let through (store_failure: open)' : 'refused with 429 (store_failure: closed)'} until it is back`, { reason: why });
  }
}
