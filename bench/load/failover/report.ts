// The failover report: one markdown table per scenario, the configurations the rows ran with, and
// the machine (a busy two-core machine changes req/s, not what fails).
import { formatTable } from '../../format.js';
import type { Scenario } from './scenario.js';
import type { Variant } from './variants.js';

export interface ScenarioResult {
  scenario: Scenario;
  /** Cells, `target` first. */
  rows: string[][];
}

export interface ReportMeta {
  date: string;
  machine: string;
  notes: readonly string[];
}

export function table({ scenario, rows }: ScenarioResult): string {
  return formatTable(['target', ...scenario.columns.map((c) => c.name)], rows, [false, ...scenario.columns.map((c) => c.right)]);
}

const DEFAULTS = [
  'Every proxy runs `make compare`\'s configuration (bench/load/compare/targets.ts: one worker or thread, least connections, ' +
    'keep-alive to the backends) with its default failover settings; a "+" row adds what it needs to fail over like the others.',
  '',
  '- **chanlb**: `--retry-on connect-failure,reset` (a reset or close goes elsewhere for idempotent requests only), ' +
    '`--retries 2`, `--retry-budget 20` (timeouts and 502/503/504 only), `--eject-after 5` for `--eject-cooldown 10s`, ' +
    'no health checks.',
  '- **nginx**: `least_conn`, `keepalive 64`; `proxy_next_upstream error timeout` (a request already sent is not passed ' +
    'on when not idempotent), `proxy_next_upstream_tries 0` (every server), `max_fails=1 fail_timeout=10s`.',
  '- **haproxy**: `balance leastconn`, `http-reuse always`, no `check`; `retries 3` with `retry-on conn-failure` ' +
    '(a refused connect is tried again after a turn-around of min(`timeout connect`, 1 s)), no `option redispatch` ' +
    '(retries stay on the same server).',
];

/** What each "+" row adds: chanlb's flags as one command-line fragment, a config line each for the others. */
function extras(variants: readonly Variant[]): string[] {
  return variants
    .filter((v) => v.extra.length > 0)
    .map((v) => `- **${v.label}**: ${(v.peer === 'chanlb' ? [v.extra.join(' ')] : v.extra).map((e) => `\`${e}\``).join(', ')}`);
}

export function markdown(results: readonly ScenarioResult[], meta: ReportMeta): string {
  const variants = [...new Set(results.flatMap((r) => r.scenario.rows))];
  const lines = [
    '# Failover: what a client sees',
    '',
    `${meta.date} · ${meta.machine}. The load tool, the backends and the proxy share the cores with whatever else ` +
      'runs: req/s and seconds are indicative, what fails and how often is the point.',
    '',
    ...DEFAULTS,
    ...extras(variants),
    '',
  ];
  results.forEach((result, i) => {
    lines.push(`## ${i + 1}. ${result.scenario.title}`, '', result.scenario.about, '', table(result), '');
  });
  if (meta.notes.length > 0) lines.push(...meta.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}
