// make scale's report: at each count of worker processes, every proxy's req/s and CPU µs per
// request, its speed-up over one worker, and chanlb's ratios to each peer; then compare's tables.
import { fixed, formatTable } from '../../format.js';
import { int, notesAndRuns, runsTable, summaryTable, type Meta, type Run, type Summary } from '../compare/report.js';

const times = (n: number): string => (Number.isFinite(n) ? `${fixed(n, 2)}×` : '-');

export function scaleTable(summaries: readonly Summary[], proxies: readonly string[]): string {
  // The arms proper: an A/A control repeats one of them under another label.
  const arm = (proxy: string, workers: number): Summary | undefined =>
    summaries.find((s) => s.proxy === proxy && s.workers === workers && !s.target.endsWith(' A/A'));
  const counts = [...new Set(summaries.map((s) => s.workers))].sort((a, b) => a - b);
  const peers = proxies.filter((p) => p !== 'chanlb');
  const header = [
    'workers',
    ...proxies.flatMap((p) => [`${p} req/s`, `${p} ÷ ×1`, `${p} µs/req`]),
    ...peers.flatMap((p) => [`req/s chanlb ÷ ${p}`, `µs/req chanlb ÷ ${p}`]),
  ];
  const rows = counts.map((n) => {
    const cells = [String(n)];
    for (const p of proxies) {
      const s = arm(p, n);
      const one = arm(p, 1);
      cells.push(int(s?.rps ?? NaN), times(s !== undefined && one !== undefined ? s.rps / one.rps : NaN), fixed(s?.cpuUsPerReq ?? NaN, 1));
    }
    const ours = arm('chanlb', n);
    for (const p of peers) {
      const s = arm(p, n);
      cells.push(times((ours?.rps ?? NaN) / (s?.rps ?? NaN)), times((ours?.cpuUsPerReq ?? NaN) / (s?.cpuUsPerReq ?? NaN)));
    }
    return cells;
  });
  return formatTable(header, rows, header.map((_, i) => i > 0));
}

export function markdown(summaries: readonly Summary[], runs: readonly Run[], proxies: readonly string[], meta: Meta, svgName: string): string {
  return [
    '# Scaling with worker processes',
    '',
    `${meta.date} · \`${meta.command}\` per run · ${meta.rounds} round(s), order rotated each round · ${meta.machine}`,
    '',
    'Medians over rounds. "÷ ×1": req/s over the same proxy\'s with one worker. µs/req: user+system time of all',
    'the proxy\'s processes (chanlb: the primary and its workers; nginx: master and workers) per completed request.',
    'With the proxy, the load tool and the backends on the same cores, req/s is bounded by the whole machine:',
    'pin them apart (`--pin-proxy`, `--pin-load`) where there are cores to spare.',
    '',
    scaleTable(summaries, proxies),
    '',
    summaryTable(summaries),
    '',
    `![req/s and CPU µs per request by worker processes](${svgName})`,
    '',
    ...notesAndRuns(meta.notes, runsTable(runs)),
  ].join('\n');
}
