// make edge's report: one cross-scenario table of chanlb's ratios to each peer (and to its A/A
// copy), then per scenario make compare's summary table and every run in its own unit, and an SVG
// with the rate and the CPU per unit of each scenario.
import { fixed, formatTable } from '../../format.js';
import { PANEL_TOP, ROW, WIDTH, esc, int, notesAndRuns, panel, runsTable, summaryTable, svgStart, type Meta, type Run, type Summary } from '../compare/report.js';

export interface ScenarioResult {
  name: string;
  unit: string;
  what: string;
  /** What loaded it (the tool's command line). */
  command: string;
  runs: Run[];
  summaries: Summary[];
}

const times = (n: number): string => (Number.isFinite(n) ? `${fixed(n, 2)}×` : '-');

/** chanlb (the first arm named chanlb) against every other arm of every scenario: rate ratio and CPU-per-unit ratio. */
export function ratios(results: readonly ScenarioResult[]): string {
  const rows = results.flatMap((r) => {
    const ours = r.summaries.find((s) => s.target === 'chanlb');
    if (ours === undefined) return [];
    return r.summaries.filter((s) => s !== ours).map((s) => [
      r.name, s.target, times(ours.rps / s.rps), times(s.cpuUsPerReq / ours.cpuUsPerReq), `${fixed(ours.cpuUsPerReq, 1)} / ${fixed(s.cpuUsPerReq, 1)} µs per ${r.unit}`,
    ]);
  });
  return formatTable(['scenario', 'chanlb vs', 'rate: chanlb ÷ it', 'CPU/unit: it ÷ chanlb', 'CPU chanlb / it'], rows, [false, false, true, true, false]);
}

export function markdown(results: readonly ScenarioResult[], meta: Meta, svgName: string): string {
  const lines = [
    '# TLS termination and TCP mode against nginx and HAProxy',
    '',
    `${meta.date} · ${meta.rounds} round(s) per scenario, order rotated each round · ${meta.machine}`,
    '',
    'Medians over rounds. CPU per unit: user+system time of all the target\'s processes (for `direct`: the',
    'one backend) divided by what was done: requests, handshakes (each with its one request) or MiB.',
    'A row `chanlb A/A` is chanlb started a second time and measured in the same rounds: its distance',
    'from `chanlb` is the noise of that scenario.',
    '',
    ratios(results),
    '',
    `![rate and CPU per unit, by scenario](${svgName})`,
    '',
  ];
  for (const r of results) lines.push(`## ${r.name}`, '', `${r.what}. \`${r.command}\` per run.`, '', summaryTable(r.summaries, r.unit), '');
  lines.push(...notesAndRuns(meta.notes, results.map((r) => `### ${r.name}\n\n${runsTable(r.runs, r.unit)}`).join('\n\n')));
  return lines.join('\n');
}

export function svg(results: readonly ScenarioResult[], meta: Meta): string {
  const out: string[] = [];
  let y = 56;
  for (const r of results) {
    const height = PANEL_TOP + r.summaries.length * ROW;
    out.push(
      ...panel(y, `${r.name}: ${r.unit}/s (higher is better)`, r.summaries, (s) => s.rps, int),
      ...panel(y + height, `${r.name}: CPU µs per ${r.unit} (lower is better)`, r.summaries, (s) => s.cpuUsPerReq, (n) => fixed(n, 1)),
    );
    y += 2 * height + 8;
  }
  return [
    ...svgStart(WIDTH, y + 8),
    `<text x="16" y="22" font-size="16" font-weight="bold">${esc(`chanlb at the edge: TLS and TCP (median of ${meta.rounds} round${meta.rounds === 1 ? '' : 's'})`)}</text>`,
    `<text x="16" y="40" fill="#495057">${esc(`${meta.machine} · ${meta.date}`)}</text>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}
