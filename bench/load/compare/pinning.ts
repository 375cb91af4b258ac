// Which CPUs the proxy and the load (wrk or ab, and the backends) may run on: `--pin-proxy 0
// --pin-load 1` keeps them off each other's cores, so the proxy's CPU is its own and not what wrk
// and the backends left over. Pinning goes through taskset (util-linux).
import type { Usage } from './driver.js';
import { onPath } from './procs.js';

export interface Pinning {
  /** A taskset CPU list (`0`, `0-3`, `0,2`) for the proxy and every process it forks. */
  proxy?: string;
  /** The same for the load tool and the backends. */
  load?: string;
}

export const PIN_FLAGS = { 'pin-proxy': 'CPUS', 'pin-load': 'CPUS' } as const;

const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

export function parsePinning(extra: Partial<Record<keyof typeof PIN_FLAGS, string>>, usage: Usage): Pinning {
  const pinning: Pinning = {};
  for (const [flag, key] of [['pin-proxy', 'proxy'], ['pin-load', 'load']] as const) {
    const cpus = extra[flag];
    if (cpus === undefined) continue;
    if (!CPU_LIST.test(cpus)) usage(`--${flag} needs a CPU list like 0, 0-3 or 0,2, got '${cpus}'`);
    pinning[key] = cpus;
  }
  if ((pinning.proxy !== undefined || pinning.load !== undefined) && !onPath('taskset')) {
    usage('--pin-proxy and --pin-load need taskset: apt-get install -y util-linux');
  }
  return pinning;
}

/** For the report's header. */
export function describePinning(p: Pinning): string | null {
  if (p.proxy === undefined && p.load === undefined) return null;
  return `pinned: proxy on CPU ${p.proxy ?? 'any'}, load tool and backends on CPU ${p.load ?? 'any'}`;
}
