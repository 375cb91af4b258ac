// Small text helpers shared by run.ts and compare.ts.

/** A number with `digits` decimals; '-' when it is not finite. */
export function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/** Now as `2025-01-31T12-34-56Z`: an ISO time that is safe in a file name. */
export function timestamp(date = new Date()): string {
  return date.toISOString().slice(0, 19).replace(/:/g, '-') + 'Z';
}

/** A markdown table with padded columns, so it reads as well in a terminal as in a .md file. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], rightAlign: readonly boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, 3, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    '| ' + widths.map((w, i) => (rightAlign[i] === true ? (cells[i] ?? '').padStart(w) : (cells[i] ?? '').padEnd(w))).join(' | ') + ' |';
  const rule = '| ' + widths.map((w, i) => (rightAlign[i] === true ? '-'.repeat(w - 1) + ':' : '-'.repeat(w))).join(' | ') + ' |';
  return [line(header), rule, ...rows.map(line)].join('\n');
}
