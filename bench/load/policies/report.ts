// Medians over rounds per policy, as a markdown report and a hand-written SVG chart: latency
// percentiles, throughput, and how the requests were spread over the backends.
import { fixed, formatTable } from '../../format.js';
import { esc, int, median, notesAndRuns, svgStart, type Meta } from '../compare/report.js';
import type { LoadResult } from '../compare/load.js';

export interface BackendInfo {
  name: string;
  /** Its latency schedule, e.g. `1↔50 ms every 1 s`. */
  label: string;
}

export interface PolicyRun extends LoadResult {
  /** The policy, with its worker processes when a run has several counts (`p2c ×2`). */
  policy: string;
  workers: number;
  round: number;
  /** Requests each backend counted during the run, in backend order. */
  served: number[];
  /** Of those, the ones that got a slow delay. */
  slow: number[];
  /** User+system time of the proxy's processes (with --workers: the primary and its workers) per completed request. */
  proxyUsPerReq: number;
  /** Share of the whole machine's CPU time that was busy during the run, 0-1. */
  machineBusy: number;
}

export interface PolicySummary {
  policy: string;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Total over all rounds. */
  errors: number;
  proxyUsPerReq: number;
  machineBusy: number;
  /** Share of the requests (all rounds) each backend answered. */
  shares: number[];
  /** Share of all requests that got a slow delay, and per backend. */
  slowShare: number;
  slowShares: number[];
  runs: number;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

export function summarize(runs: readonly PolicyRun[], order: readonly string[], backends: number): PolicySummary[] {
  return order.flatMap((policy) => {
    const mine = runs.filter((r) => r.policy === policy);
    if (mine.length === 0) return [];
    const served = Array.from({ length: backends }, (_, i) => sum(mine.map((r) => r.served[i] ?? 0)));
    const slow = Array.from({ length: backends }, (_, i) => sum(mine.map((r) => r.slow[i] ?? 0)));
    const total = sum(served);
    return [{
      policy,
      rps: median(mine.map((r) => r.rps)),
      p50Ms: median(mine.map((r) => r.p50Ms)),
      p90Ms: median(mine.map((r) => r.p90Ms)),
      p99Ms: median(mine.map((r) => r.p99Ms)),
      errors: sum(mine.map((r) => r.errors)),
      proxyUsPerReq: median(mine.map((r) => r.proxyUsPerReq)),
      machineBusy: median(mine.map((r) => r.machineBusy)),
      shares: served.map((n) => (total > 0 ? n / total : NaN)),
      slowShare: total > 0 ? sum(slow) / total : NaN,
      slowShares: slow.map((n) => (total > 0 ? n / total : NaN)),
      runs: mine.length,
    }];
  });
}

const percent = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '-');

export function summaryTable(summaries: readonly PolicySummary[], backends: readonly BackendInfo[]): string {
  return formatTable(
    ['policy', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'errors', ...backends.map((b) => `to ${b.name}`), 'slow', 'proxy µs/req', 'CPU busy', 'runs'],
    summaries.map((s) => [
      s.policy, int(s.rps), fixed(s.p50Ms, 2), fixed(s.p90Ms, 2), fixed(s.p99Ms, 2), String(s.errors),
      ...s.shares.map(percent), percent(s.slowShare), fixed(s.proxyUsPerReq, 1), percent(s.machineBusy), String(s.runs),
    ]),
    [false, true, true, true, true, true, ...backends.map(() => true), true, true, true, true],
  );
}

export function markdown(summaries: readonly PolicySummary[], runs: readonly PolicyRun[], backends: readonly BackendInfo[], meta: Meta, svgName: string): string {
  const lines = [
    '# Balancing policies: least-pending heap against round robin and power of two choices',
    '',
    `${meta.date} · \`${meta.command}\` through chanlb per run · ${meta.rounds} round(s), policy order rotated each round · ${meta.machine}`,
    '',
    `Backends (\`backends/variable.ts\`; each delay is a timer, so a backend's latency does not grow with its load): ` +
      backends.map((b) => `**${b.name}** ${b.label}`).join(' · ') + '.',
    'Every backend restarts its schedule when a run starts, so each policy meets the same fast and slow spells.',
    '',
    'Medians over rounds (errors: total). "to N": share of the requests backend N answered, over all rounds;',
    '"slow": share of all requests that got a slow delay. proxy µs/req: user+system time of the chanlb processes',
    '(×2: the primary and its two workers, each balancing alone) per completed request. CPU busy: share of the whole machine\'s CPU time in use during the run (near 100%,',
    'requests also waited for CPU, not only for the backends).',
    meta.command.startsWith('wrk')
      ? 'Latency percentiles are wrk\'s, which include its coordinated-omission correction: a response slower than the\n' +
        'mean interval per connection adds extra samples, so slow spells weigh more than in a plain per-request count\n' +
        '(`--tool ab` gives plain per-request percentiles, in whole milliseconds).'
      : 'Latency percentiles are ab\'s: plain per-request, in whole milliseconds.',
    '',
    summaryTable(summaries, backends),
    '',
    `![p50/p90/p99, req/s and the spread over backends per policy](${svgName})`,
    '',
  ];
  lines.push(...notesAndRuns(meta.notes, formatTable(
    ['round', 'policy', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'errors', 'requests', ...backends.map((b) => `by ${b.name}`), 'slow', 'proxy µs/req', 'CPU busy'],
    runs.map((r) => [
      String(r.round + 1), r.policy, int(r.rps), fixed(r.p50Ms, 2), fixed(r.p90Ms, 2), fixed(r.p99Ms, 2), String(r.errors), int(r.requests),
      ...r.served.map(int), int(sum(r.slow)), fixed(r.proxyUsPerReq, 1), percent(r.machineBusy),
    ]),
    [true, false, true, true, true, true, true, true, ...backends.map(() => true), true, true, true],
  )));
  return lines.join('\n');
}

// ---- SVG ----

const WIDTH = 760;
const LABEL = 160; // room for labels like `least-pending ×2 A/A`
const BAR = 16;
const GAP = 10;
const BAR_MAX = WIDTH - LABEL - 130;
const PERCENTILES = [['p50', 0.4], ['p90', 0.7], ['p99', 1]] as const;
const BACKEND_COLOURS = ['#a5d8ff', '#4dabf7', '#1864ab', '#f08c00', '#c2255c', '#5f3dc4', '#2b8a3e', '#868e96'];

function colour(policy: string): string {
  if (policy.startsWith('least-pending')) return '#d9480f';
  if (policy.startsWith('round-robin')) return '#4c6ef5';
  return '#2f9e44';
}

function title(y: number, text: string): string {
  return `<text x="16" y="${y + 16}" font-size="14" font-weight="bold">${esc(text)}</text>`;
}

function bar(x: number, y: number, w: number, fill: string, opacity: number, label: string): string[] {
  return [
    `<rect x="${x}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${fill}" fill-opacity="${opacity}"/>`,
    `<text x="${(x + w + 6).toFixed(1)}" y="${y + BAR - 4}">${esc(label)}</text>`,
  ];
}

const width = (v: number, max: number): number => (Number.isFinite(v) && max > 0 ? Math.max(1, (v / max) * BAR_MAX) : 0);

function latencyPanel(y: number, summaries: readonly PolicySummary[]): { out: string[]; height: number } {
  const max = Math.max(...summaries.flatMap((s) => [s.p50Ms, s.p90Ms, s.p99Ms]).filter(Number.isFinite), 1e-9);
  const out = [title(y, 'Latency through the proxy, ms (lower is better)')];
  const group = PERCENTILES.length * (BAR + 2) + GAP;
  summaries.forEach((s, i) => {
    const top = y + 28 + i * group;
    out.push(`<text x="${LABEL - 8}" y="${top + (PERCENTILES.length * (BAR + 2)) / 2 + 4}" text-anchor="end" font-weight="bold">${esc(s.policy)}</text>`);
    PERCENTILES.forEach(([name, opacity], j) => {
      const v = name === 'p50' ? s.p50Ms : name === 'p90' ? s.p90Ms : s.p99Ms;
      out.push(...bar(LABEL, top + j * (BAR + 2), width(v, max), colour(s.policy), opacity, `${name} ${fixed(v, 2)}`));
    });
  });
  return { out, height: 36 + summaries.length * group };
}

function throughputPanel(y: number, summaries: readonly PolicySummary[]): { out: string[]; height: number } {
  const max = Math.max(...summaries.map((s) => s.rps).filter(Number.isFinite), 1e-9);
  const out = [title(y, 'Throughput, requests per second (higher is better)')];
  summaries.forEach((s, i) => {
    const top = y + 28 + i * (BAR + GAP);
    out.push(`<text x="${LABEL - 8}" y="${top + BAR - 4}" text-anchor="end" font-weight="bold">${esc(s.policy)}</text>`);
    out.push(...bar(LABEL, top, width(s.rps, max), colour(s.policy), 1, int(s.rps)));
  });
  return { out, height: 36 + summaries.length * (BAR + GAP) };
}

function spreadPanel(y: number, summaries: readonly PolicySummary[], backends: readonly BackendInfo[]): { out: string[]; height: number } {
  const out = [title(y, 'Where the requests went (share answered by each backend; hatched: with a slow delay)')];
  const full = WIDTH - LABEL - 90;
  const fill = (j: number): string => BACKEND_COLOURS[j % BACKEND_COLOURS.length] ?? '#868e96';
  summaries.forEach((s, i) => {
    const top = y + 28 + i * (BAR + GAP);
    out.push(`<text x="${LABEL - 8}" y="${top + BAR - 4}" text-anchor="end" font-weight="bold">${esc(s.policy)}</text>`);
    let x = LABEL;
    s.shares.forEach((share, j) => {
      if (!Number.isFinite(share) || share <= 0) return;
      const w = share * full;
      out.push(`<rect x="${x.toFixed(1)}" y="${top}" width="${w.toFixed(1)}" height="${BAR}" fill="${fill(j)}"/>`);
      const slow = (s.slowShares[j] ?? 0) * full;
      if (slow > 0) out.push(`<rect x="${(x + w - slow).toFixed(1)}" y="${top}" width="${slow.toFixed(1)}" height="${BAR}" fill="url(#slow)"/>`);
      if (w > 34) out.push(`<text x="${(x + (w - slow) / 2).toFixed(1)}" y="${top + BAR - 4}" text-anchor="middle" fill="${j < 2 ? '#212529' : '#ffffff'}">${(share * 100).toFixed(0)}%</text>`);
      x += w;
    });
    out.push(`<text x="${(x + 6).toFixed(1)}" y="${top + BAR - 4}">slow ${percent(s.slowShare)}</text>`);
  });
  const legendY = y + 28 + summaries.length * (BAR + GAP) + 4;
  let x = LABEL;
  backends.forEach((b, j) => {
    const text = `${b.name}: ${b.label}`;
    out.push(
      `<rect x="${x}" y="${legendY}" width="12" height="12" fill="${fill(j)}"/>`,
      `<text x="${x + 16}" y="${legendY + 10}">${esc(text)}</text>`,
    );
    x += 16 + text.length * 6.5 + 18;
  });
  return { out, height: 36 + summaries.length * (BAR + GAP) + 24 };
}

export function svg(summaries: readonly PolicySummary[], backends: readonly BackendInfo[], meta: Meta): string {
  const top = 56;
  const latency = latencyPanel(top, summaries);
  const throughput = throughputPanel(top + latency.height, summaries);
  const spread = spreadPanel(top + latency.height + throughput.height, summaries, backends);
  const height = top + latency.height + throughput.height + spread.height + 8;
  return [
    ...svgStart(WIDTH, height),
    '<defs><pattern id="slow" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
      '<rect width="6" height="6" fill="#000000" fill-opacity="0.25"/><line x1="0" y1="0" x2="0" y2="6" stroke="#000000" stroke-width="3"/></pattern></defs>',
    `<text x="16" y="22" font-size="16" font-weight="bold">chanlb balancing policies, uneven and changing backends (median of ${meta.rounds} round${meta.rounds === 1 ? '' : 's'})</text>`,
    `<text x="16" y="40" fill="#495057">${esc(`${meta.command}${meta.command.startsWith('wrk') ? " (percentiles with wrk's coordinated-omission correction)" : ''} · ${meta.date}`)}</text>`,
    ...latency.out,
    ...throughput.out,
    ...spread.out,
    '</svg>',
    '',
  ].join('\n');
}
