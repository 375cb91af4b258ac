#!/usr/bin/env node
/**
 * The command line: flags → options → a running proxy, in this process or (--workers N) in N worker
 * processes under a primary (cluster/). SIGHUP re-reads the flags and the config file and reloads (a
 * bad config is logged and changes nothing); SIGINT/SIGTERM stop it gracefully.
 * Standard output carries the access log alone (it may be JSON lines read by a program); every
 * message for a person goes to standard error.
 */
import cluster from 'node:cluster';
import { Server } from './server.js';
import { addressText, OptionError, type Address, type ProxyOptions } from './options/options.js';
import type { EventLog } from './log/event-log.js';
import { poolDefinitions } from './routing/routing.js';
import { runChild } from './cluster/child.js';
import { startPrimary } from './cluster/primary.js';
import { parseCommandLine } from './cli.js';
import { USAGE } from './options/usage.js';
import { ConfigError } from './options/config/load-config.js';
import { OpenError } from './errors.js';

/** A running proxy as the signals see it: one process, or a primary and its worker processes. */
interface Running {
  log: EventLog;
  reload(options: ProxyOptions): Promise<void>;
  shutdown(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
  /** Where it listens and what it balances, for the start-up and reload lines. */
  describe(): string;
}

async function main(): Promise<void> {
  // A standard stream whose reader went away (`chanlb ... | head`) fails writes with EPIPE as an
  // 'error' event, which would end the process; the proxy goes on serving with nowhere to write.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  if (cluster.isWorker) {
    runChild();
    return;
  }
  if (process.argv.length <= 2) {
    // Run bare, the user most likely wants to know how to use it, not which flag is missing.
    process.stderr.write(USAGE);
    process.exit(2);
  }
  let options: ProxyOptions | 'help';
  try {
    options = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    exitIfUsersFault(err);
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  let running: Running;
  try {
    running = options.workers > 1 ? await withWorkers(options) : await alone(options);
  } catch (err) {
    exitIfUsersFault(err);
  }
  let stopping = false;
  let reloading = Promise.resolve();
  const reload = async (): Promise<void> => {
    const log = running.log;
    let next: ProxyOptions | 'help';
    try {
      next = parseCommandLine(process.argv.slice(2));
    } catch (err) {
      if (!(err instanceof OptionError) && !(err instanceof ConfigError)) throw err;
      log.error('reload_rejected', `reload rejected, the old configuration goes on serving: ${err.message}`);
      return;
    }
    if (next === 'help' || stopping) return;
    try {
      await running.reload(next);
    } catch (err) {
      log.error('reload_rejected', `reload rejected, the old configuration goes on serving: ${(err as Error).message}`);
      return;
    }
    // The error log's line is the only one: at its default (info, stderr) it is what a person sees,
    // and a log sent elsewhere or filtered is the user's choice, which a plain line would bypass.
    log.info('reloaded', `configuration reloaded: listening on ${running.describe()}`);
  };
  // One reload at a time: a signal during a reload runs another after it.
  process.on('SIGHUP', () => {
    reloading = reloading.then(reload);
  });
  const stop = (signal: string): void => {
    if (stopping) {
      say(`chanlb: ${signal} again, closing every connection now`);
      void running.close().then(() => process.exit(0));
      return;
    }
    stopping = true;
    say(`chanlb: ${signal}, finishing requests in flight (at most ${options.shutdownTimeoutMs} ms)`);
    void running.shutdown(options.shutdownTimeoutMs).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Last: whoever waits for this line may signal at once, and until a handler is installed a
  // signal takes its default action (SIGHUP would end the process).
  say(`chanlb listening on ${running.describe()}`);
}

async function alone(options: ProxyOptions): Promise<Running> {
  const proxy = new Server(options);
  await proxy.listen();
  return {
    log: proxy.eventLog,
    reload: (next) => proxy.reload(next),
    shutdown: (ms) => proxy.shutdown(ms),
    close: () => proxy.close(),
    describe: () => describe(proxy.addresses(), proxy.stats().pools.map((p) => [p.name, p.workers.map((w) => w.name)]), proxy.adminAddress()),
  };
}

async function withWorkers(options: ProxyOptions): Promise<Running> {
  const primary = await startPrimary(options);
  let current = options;
  return {
    log: primary.log,
    reload: async (next) => {
      await primary.reload(next);
      current = next;
    },
    shutdown: (ms) => primary.shutdown(ms),
    close: () => primary.close(),
    describe: () => `${describe(primary.addresses, poolDefinitions(current).map((p) => [p.name, p.backends.map(addressText)]), primary.admin)}; ` +
      `${options.workers} worker processes, connections handed out ${primary.distribution}`,
  };
}

/**
 * A start-up failure the user can fix (a flag, the config file, an address or a log file that
 * cannot be opened): one line naming it, exit 2. Anything else is rethrown.
 */
function exitIfUsersFault(err: unknown): never {
  if (!(err instanceof OptionError) && !(err instanceof ConfigError) && !(err instanceof OpenError)) throw err;
  process.stderr.write(`chanlb: ${err.message}${err instanceof OptionError ? ' (see --help)' : ''}\n`);
  process.exit(2);
}

/** A line for a person: on standard error, never among the access log's lines. */
const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};


/** `127.0.0.1:8080, ..., balancing over default: 127.0.0.1:9001, ...; api: ...; status page at ...` */
function describe(listening: Address[], pools: [string, string[]][], admin: Address | null): string {
  const over = pools.map(([name, backends]) => `${name}: ${backends.join(', ')}`).join('; ');
  return `${listening.map(addressText).join(', ')}, balancing over ${over}${admin === null ? '' : `; status page at http://${addressText(admin)}/status`}`;
}

main().catch((err: unknown) => {
  process.stderr.write(`chanlb: ${(err as Error).message}\n`);
  process.exit(1);
});
