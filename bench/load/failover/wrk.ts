// wrk -t1 -c32 with a Lua script that counts the responses by status, and what its report says
// about failures: "Non-2xx or 3xx responses", "Socket errors" by kind, and the status counts.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseWrk, runTool } from '../compare/load.js';

const WRK_CONNECTIONS = 32;

// response() runs in each thread's Lua state; done() in the main one reads the threads' tables.
const STATUS_SCRIPT = `local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do io.write(string.format("status %d %d\\n", status, n)) end
  end
end
`;

export interface WrkReport {
  requests: number;
  rps: number;
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** Responses per status, ascending. */
  statuses: [number, number][];
}

export function command(seconds: number): string {
  return `wrk -t1 -c${WRK_CONNECTIONS} -d${seconds}s`;
}

/** Runs wrk against `url` for `seconds`; the script goes into `tmp`. */
export async function runWrk(url: string, seconds: number, tmp: string): Promise<WrkReport> {
  const script = path.join(tmp, 'statuses.lua');
  writeFileSync(script, STATUS_SCRIPT);
  const out = await runTool({ tool: 'wrk', seconds, connections: WRK_CONNECTIONS, threads: 1 }, url, ['-s', script]);
  const { requests, rps } = parseWrk(out);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const [connect, read, write, timeout] = (socket?.slice(1) ?? ['0', '0', '0', '0']).map(Number);
  const statuses = [...out.matchAll(/^status (\d+) (\d+)$/gm)].map((m): [number, number] => [Number(m[1]), Number(m[2])]);
  return {
    requests,
    rps,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: { connect: connect ?? 0, read: read ?? 0, write: write ?? 0, timeout: timeout ?? 0 },
    statuses: statuses.sort((a, b) => a[0] - b[0]),
  };
}
