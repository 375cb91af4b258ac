// Medians over rounds per target, as a markdown report and a hand-written SVG bar chart; the helpers
// policies/report.ts shares are exported.
import { fixed, formatTable } from '../../format.js';
import type { LoadResult } from './load.js';

export interface Run extends LoadResult {
  /** The report's label: the target, with its worker processes when a run has several counts. */
  target: string;
  /** The target as started (chanlb, nginx, ...) and how many worker processes it had. */
  proxy: string;
  workers: number;
  round: number;
  /** CPU time of the target's processes per completed request. */
  cpuUsPerReq: number;
  /** CPU time of the three backends per completed request. */
  backendsUsPerReq: number;
  peakRssMiB: number;
}

export interface Summary {
  target: string;
  proxy: string;
  workers: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Total over all rounds. */
  errors: number;
  cpuUsPerReq: number;
  /** The largest over all rounds. */
  peakRssMiB: number;
  runs: number;
}

export interface Meta {
  date: string;
  command: string;
  rounds: number;
  machine: string;
  notes: readonly string[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function summarize(runs: readonly Run[], order: readonly string[]): Summary[] {
  return order.flatMap((target) => {
    const mine = runs.filter((r) => r.target === target);
    if (mine.length === 0) return [];
    const first = mine[0] as Run;
    return [{
      target,
      proxy: first.proxy,
      workers: first.workers,
      rps: median(mine.map((r) => r.rps)),
      p50Ms: median(mine.map((r) => r.p50Ms)),
      p99Ms: median(mine.map((r) => r.p99Ms)),
      errors: mine.reduce((sum, r) => sum + r.errors, 0),
      cpuUsPerReq: median(mine.map((r) => r.cpuUsPerReq)),
      peakRssMiB: Math.max(...mine.map((r) => r.peakRssMiB)),
      runs: mine.length,
    }];
  });
}

export const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');

/** `unit`: what a "request" is (`req`; make edge: `handshake`, `MiB`). */
export function summaryTable(summaries: readonly Summary[], unit = 'req'): string {
  return formatTable(
    ['target', `${unit}/s`, 'p50 ms', 'p99 ms', 'errors', `CPU µs/${unit}`, 'peak RSS MiB', 'runs'],
    summaries.map((s) => [s.target, int(s.rps), fixed(s.p50Ms, 2), fixed(s.p99Ms, 2), String(s.errors), fixed(s.cpuUsPerReq, 1), fixed(s.peakRssMiB, 1), String(s.runs)]),
    [false, true, true, true, true, true, true, true],
  );
}

/**
 * chanlb against every other target with as many worker processes (an A/A control against the arm it
 * repeats): throughput ratio and CPU-per-request ratio.
 */
export function ratioTable(summaries: readonly Summary[], unit = 'req'): string | null {
  const ours = (workers: number): Summary | undefined => summaries.find((s) => s.proxy === 'chanlb' && s.workers === workers);
  const pairs = summaries.flatMap((s) => {
    const o = ours(s.workers);
    return o === undefined || o === s ? [] : [[o, s] as const];
  });
  if (pairs.length === 0) return null;
  const several = new Set(pairs.map(([o]) => o.target)).size > 1;
  return formatTable(
    [several ? 'chanlb (or A/A) vs' : 'chanlb vs', `${unit}/s: chanlb ÷ it`, `CPU µs/${unit}: it ÷ chanlb`],
    pairs.map(([o, s]) => [several ? `${o.target} vs ${s.target}` : s.target, `${fixed(o.rps / s.rps, 2)}×`, `${fixed(s.cpuUsPerReq / o.cpuUsPerReq, 2)}×`]),
    [false, true, true],
  );
}

export function markdown(summaries: readonly Summary[], runs: readonly Run[], meta: Meta, svgName: string): string {
  const lines = [
    '# Load comparison',
    '',
    `${meta.date} · \`${meta.command}\` per run · ${meta.rounds} round(s), order rotated each round · ${meta.machine}`,
    '',
    `Medians over rounds (errors: total; peak RSS: largest). CPU µs/req is the user+system time of the`,
    `target's own processes divided by completed requests (for \`direct\`: the one backend).`,
    '',
    summaryTable(summaries),
    '',
  ];
  const ratios = ratioTable(summaries);
  if (ratios !== null) lines.push(ratios, '', 'The goal for the undici peer: chanlb ≥ 3× its req/s.', '');
  lines.push(`![req/s and CPU µs per request](${svgName})`, '');
  lines.push(...notesAndRuns(meta.notes, runsTable(runs)));
  return lines.join('\n');
}

/** Every single run, in the order measured. */
export function runsTable(runs: readonly Run[], unit = 'req'): string {
  return formatTable(
    ['round', 'target', `${unit}/s`, 'p50 ms', 'p99 ms', 'errors', unit === 'req' ? 'requests' : unit, `CPU µs/${unit}`, `backends µs/${unit}`, 'peak RSS MiB'],
    runs.map((r) => [String(r.round + 1), r.target, int(r.rps), fixed(r.p50Ms, 2), fixed(r.p99Ms, 2), String(r.errors), int(r.requests), fixed(r.cpuUsPerReq, 1), fixed(r.backendsUsPerReq, 1), fixed(r.peakRssMiB, 1)]),
    [true, false, true, true, true, true, true, true, true, true],
  );
}

export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** An SVG's opening lines: its size, fonts and a white background. */
export function svgStart(width: number, height: number): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" fill="#212529">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
  ];
}

/** A report's closing lines: the notes as a list, then `## All runs` with the table of every run. */
export function notesAndRuns(notes: readonly string[], runsTable: string): string[] {
  const lines = notes.map((note) => `- ${note}`);
  if (notes.length > 0) lines.push('');
  lines.push('## All runs', '', runsTable, '');
  return lines;
}

export const WIDTH = 760;
const LABEL = 120; // room for labels like `chanlb ×2 A/A`
export const ROW = 26;
/** A panel's height above its first bar (the title). */
export const PANEL_TOP = 36;
const BAR = 18;
const BAR_MAX = WIDTH - LABEL - 120;

function colour(target: string): string {
  if (target.startsWith('chanlb')) return '#d9480f';
  if (target === 'direct') return '#adb5bd';
  return '#4c6ef5';
}

/** A chart panel at height `y`: a titled bar per item, its length `value`, written as `label`; PANEL_TOP + ROW per bar high. */
export function panel<T extends { target: string }>(y: number, title: string, summaries: readonly T[], value: (s: T) => number, label: (n: number) => string): string[] {
  const max = Math.max(...summaries.map(value).filter(Number.isFinite), 1e-9);
  const out = [`<text x="16" y="${y + 16}" font-size="14" font-weight="bold">${esc(title)}</text>`];
  summaries.forEach((s, i) => {
    const top = y + 28 + i * ROW;
    const v = value(s);
    const w = Number.isFinite(v) ? Math.max(1, (v / max) * BAR_MAX) : 0;
    out.push(
      `<text x="${LABEL - 8}" y="${top + BAR - 5}" text-anchor="end">${esc(s.target)}</text>`,
      `<rect x="${LABEL}" y="${top}" width="${w.toFixed(1)}" height="${BAR}" fill="${colour(s.target)}"/>`,
      `<text x="${(LABEL + w + 6).toFixed(1)}" y="${top + BAR - 5}">${esc(label(v))}</text>`,
    );
  });
  return out;
}

export function svg(summaries: readonly Summary[], meta: Meta, title = 'chanlb load comparison'): string {
  const panelHeight = PANEL_TOP + summaries.length * ROW;
  const top = 56;
  const height = top + 2 * panelHeight + 16;
  return [
    ...svgStart(WIDTH, height),
    `<text x="16" y="22" font-size="16" font-weight="bold">${esc(title)} (median of ${meta.rounds} round${meta.rounds === 1 ? '' : 's'})</text>`,
    `<text x="16" y="40" fill="#495057">${esc(`${meta.command} · ${meta.machine} · ${meta.date}`)}</text>`,
    ...panel(top, 'Throughput, requests per second (higher is better)', summaries, (s) => s.rps, int),
    ...panel(top + panelHeight, 'CPU per request of the target\'s processes, µs (lower is better)', summaries, (s) => s.cpuUsPerReq, (n) => fixed(n, 1)),
    '</svg>',
    '',
  ].join('\n');
}
