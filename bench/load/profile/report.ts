// The profile's report: CPU µs per request by category for each arm (medians over rounds), chanlb
// minus the pipe, the top self-time symbols, and every single run.
import { fixed, formatTable } from '../../format.js';
import { int, median, notesAndRuns, type Meta } from '../compare/report.js';
import { CATEGORIES, HOW_CATEGORIES, type Category, type Profile } from './perf.js';

export interface ProfileRun {
  label: string;
  round: number;
  rps: number;
  requests: number;
  /** From /proc: user + system time of the target's processes per request. */
  procUsPerReq: number;
  profile: Profile;
}

const us = (ns: number, requests: number): number => (requests > 0 ? ns / requests / 1000 : NaN);

function byLabel(runs: readonly ProfileRun[], labels: readonly string[]): [string, ProfileRun[]][] {
  return labels.map((l) => [l, runs.filter((r) => r.label === l)] as [string, ProfileRun[]]).filter(([, rs]) => rs.length > 0);
}

/** Category rows × arm columns: median over rounds of µs/request; `chanlb − pipe` when both ran. */
export function categoryTable(runs: readonly ProfileRun[], labels: readonly string[]): string {
  const arms = byLabel(runs, labels);
  const cell = (rs: readonly ProfileRun[], f: (r: ProfileRun) => number): number => median(rs.map(f));
  const via = new Map<string, number>();
  for (const r of runs) for (const [name, ns] of r.profile.kernelVia) via.set(name, (via.get(name) ?? 0) + ns);
  const calls = [...via].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([name]) => name);
  const rows: [string, (r: ProfileRun) => number][] = [
    ...CATEGORIES.flatMap((c): [string, (r: ProfileRun) => number][] => [
      [c, (r) => us(r.profile.ns[c as Category], r.requests)],
      ...(c === 'kernel' ? calls.map((call): [string, (r: ProfileRun) => number] => [`  kernel under ${call === 'other' ? 'no system call' : `${call}()`}`, (r) => us(r.profile.kernelVia.get(call) ?? 0, r.requests)]) : []),
    ]),
    ['(of V8 builtins: under own code)', (r) => us(r.profile.builtinsUnderOwnNs, r.requests)],
    ['**total, sampled**', (r) => us(r.profile.totalNs, r.requests)],
    ['total, /proc user+system', (r) => r.procUsPerReq],
  ];
  const chanlb = arms.find(([l]) => l === 'chanlb')?.[1];
  const pipe = arms.find(([l]) => l === 'pipe')?.[1];
  const diff = chanlb !== undefined && pipe !== undefined;
  return formatTable(
    ['µs per request', ...arms.map(([l]) => l), ...(diff ? ['chanlb − pipe'] : [])],
    rows.map(([name, f]) => [
      name,
      ...arms.map(([, rs]) => fixed(cell(rs, f), 2)),
      ...(diff ? [fixed(cell(chanlb, f) - cell(pipe, f), 2)] : []),
    ]),
    [false, ...arms.map(() => true), ...(diff ? [true] : [])],
  );
}

/** The `top` leaf symbols of one arm over all its rounds, in µs/request and share of its samples. */
export function symbolTable(runs: readonly ProfileRun[], top: number): string {
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  const total = runs.reduce((n, r) => n + r.profile.totalNs, 0);
  const symbols = new Map<string, number>();
  for (const r of runs) for (const [name, ns] of r.profile.symbols) symbols.set(name, (symbols.get(name) ?? 0) + ns);
  const rows = [...symbols].sort((a, b) => b[1] - a[1]).slice(0, top);
  return formatTable(
    ['#', 'self-time symbol', 'µs/req', '%'],
    rows.map(([name, ns], i) => [String(i + 1), `\`${name.replace(/\|/g, '\\|')}\``, fixed(us(ns, requests), 2), fixed((100 * ns) / total, 1)]),
    [true, false, true, true],
  );
}

/** The `top` own JS functions of one arm by the CPU they own (see ownerOf), in µs/request, with the sum over all of them. */
export function ownerTable(runs: readonly ProfileRun[], top: number): string {
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  const owners = new Map<string, number>();
  for (const r of runs) for (const [name, ns] of r.profile.owners) owners.set(name, (owners.get(name) ?? 0) + ns);
  const all = [...owners].sort((a, b) => b[1] - a[1]);
  const sum = all.reduce((n, [, ns]) => n + ns, 0);
  return formatTable(
    ['#', 'own function (with the builtins and WASM under it)', 'µs/req'],
    [
      ...all.slice(0, top).map(([name, ns], i) => [String(i + 1), `\`${name.replace(/\|/g, '\\|')}\``, fixed(us(ns, requests), 2)]),
      ['', `all ${all.length} functions`, fixed(us(sum, requests), 2)],
    ],
    [true, false, true],
  );
}

export function runsTable(runs: readonly ProfileRun[]): string {
  return formatTable(
    ['round', 'arm', 'req/s', 'requests', 'CPU µs/req (/proc)', 'sampled µs/req', 'samples'],
    runs.map((r) => [String(r.round + 1), r.label, int(r.rps), int(r.requests), fixed(r.procUsPerReq, 1), fixed(us(r.profile.totalNs, r.requests), 1), int(r.profile.samples)]),
    [true, false, true, true, true, true, true],
  );
}

/** How far the A/A control landed from its arm, per round's median, for the report's header. */
export function controlNote(runs: readonly ProfileRun[], labels: readonly string[]): string | null {
  const control = labels.find((l) => l.endsWith(' A/A'));
  if (control === undefined) return null;
  const arm = control.slice(0, -' A/A'.length);
  const total = (l: string): number => median(runs.filter((r) => r.label === l).map((r) => us(r.profile.totalNs, r.requests)));
  const a = total(arm);
  const b = total(control);
  return `A/A control: ${arm} ${fixed(a, 1)} and ${control} ${fixed(b, 1)} µs/request sampled (${fixed((100 * Math.abs(a - b)) / Math.min(a, b), 1)}% apart): differences smaller than that are noise`;
}

export function markdown(runs: readonly ProfileRun[], labels: readonly string[], meta: Meta, top: number, perfCommand: string): string {
  const lines = [
    '# Profile: CPU per request by category',
    '',
    `${meta.date} · \`${meta.command}\` per run under \`${perfCommand}\` · ${meta.rounds} round(s), order rotated each round · ${meta.machine}`,
    '',
    'Medians over rounds of CPU µs per request: the cpu-clock samples of the target\'s processes (all threads) in each category, divided by the requests wrk completed while perf recorded.',
    '"total, /proc" is the same processes\' user+system time over the run from /proc (perf\'s own sampling interrupts are in both: figures under perf run a few % above `make compare`\'s).',
    '',
    categoryTable(runs, labels),
    '',
    ...HOW_CATEGORIES.map((l, i) => (i === 0 ? l : `- ${l}`)),
    '',
  ];
  for (const [label, rs] of byLabel(runs, labels)) {
    if (label.endsWith(' A/A')) continue;
    lines.push(`## Top ${top} self-time symbols: ${label}`, '', symbolTable(rs, top), '');
    if (rs.some((r) => r.profile.owners.size > 0)) {
      lines.push(
        `## Own code by function: ${label}`, '',
        'Each main-thread sample goes to the nearest own JS function above its leaf, unless Node JS or a system call comes between: the function\'s self time with the V8 builtins, runtime calls and llhttp WASM it runs (llhttp\'s time is under the function that called it; its callbacks are functions of their own). Inlined functions count as the function they were inlined into.',
        '', ownerTable(rs, top), '',
      );
    }
  }
  lines.push(...notesAndRuns(meta.notes, runsTable(runs)));
  return lines.join('\n');
}
