/**
 * TOML text → plain values (smol-toml), and a locator that maps a field path back to its line.
 */
import { parse as parseToml, TomlError } from 'smol-toml';
import { configError, type Locate, type Path } from './config-error.js';

export function readToml(file: string, text: string): { value: unknown; locate: Locate } {
  try {
    return { value: parseToml(text), locate: tomlLocator(text) };
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const what = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
    throw configError(file, err.line, 'TOML syntax', 'valid TOML', what);
  }
}

/**
 * smol-toml gives no positions for values, so this finds lines by scanning the text. It knows
 * [table] and [[array]] headers, bare or quoted keys at the start of a line, one-level dotted keys
 * (`timeouts.connect = ...`), and elements of an array of strings or inline tables (`key = [...]`).
 * It is fooled by look-alike lines inside multi-line strings and does not follow deeper nesting;
 * then it falls back to the enclosing key's line, or to none. Used for error messages only.
 */
function tomlLocator(text: string): Locate {
  const lines = text.split('\n');
  const lineAt = (offset: number): number => text.slice(0, offset).split('\n').length;
  const lineStart = (index: number): number => lines.slice(0, index).reduce((n, l) => n + l.length + 1, 0);
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const keyPattern = (key: string): string => `(?:${esc(key)}|"${esc(key)}"|'${esc(key)}')`;
  const unquote = (s: string): string => s.trim().replace(/^["']|["']$/g, '');

  // Sections: the top level (name ''), then one per header up to the next.
  interface Section { name: string; array: boolean; index: number; header: number; from: number; to: number }
  const sections: Section[] = [{ name: '', array: false, index: 0, header: 0, from: 0, to: lines.length }];
  const arrayCounts = new Map<string, number>();
  lines.forEach((line, i) => {
    const m = /^\s*(\[\[?)\s*([^\]]+?)\s*\]/.exec(line);
    if (m === null) return;
    const array = m[1] === '[[';
    const name = (m[2] ?? '').split('.').map(unquote).join('.');
    const index = array ? (arrayCounts.get(name) ?? 0) : 0;
    if (array) arrayCounts.set(name, index + 1);
    const last = sections[sections.length - 1];
    if (last !== undefined) last.to = i;
    sections.push({ name, array, index, header: i + 1, from: i + 1, to: lines.length });
  });

  /** Line index and the offset just after `=` of `key = ...` within a section. */
  const findKey = (section: Section, key: string): { line: number; valueAt: number } | undefined => {
    const re = new RegExp(`^\\s*${keyPattern(key)}\\s*=`);
    for (let i = section.from; i < section.to; i++) {
      const m = re.exec(lines[i] ?? '');
      if (m !== null) return { line: i + 1, valueAt: lineStart(i) + m[0].length };
    }
    return undefined;
  };
  const top = sections[0] as Section;

  /** The [table] named by an all-string path, or the [[array]] element a path ending in an index names. */
  const sectionFor = (prefix: Path): Section | undefined => {
    const last = prefix[prefix.length - 1];
    const names = typeof last === 'number' ? prefix.slice(0, -1) : prefix;
    if (names.length === 0 || !names.every((n) => typeof n === 'string')) return undefined;
    const name = names.join('.');
    return typeof last === 'number'
      ? sections.find((s) => s.array && s.name === name && s.index === last)
      : sections.find((s) => !s.array && s.name === name);
  };

  /** The line of `rest` inside a section: its key (or a dotted `key.sub =`), then into an array value. */
  const within = (section: Section, rest: Path): number | undefined => {
    const header = section === top ? undefined : section.header;
    const [key, next, third] = rest;
    if (typeof key !== 'string') return header;
    const found = findKey(section, key);
    if (found === undefined) {
      const sub = typeof next === 'string' ? `\\s*\\.\\s*${keyPattern(next)}\\s*=` : '\\s*\\.';
      const dotted = new RegExp(`^\\s*${keyPattern(key)}${sub}`);
      for (let i = section.from; i < section.to; i++) if (dotted.test(lines[i] ?? '')) return i + 1;
      return header;
    }
    if (typeof next !== 'number') return found.line;
    // An element of `key = [...]`, and a key inside it when it is an inline table.
    const { starts, end } = arrayElements(text, found.valueAt);
    const start = starts[next];
    if (start === undefined) return found.line;
    if (typeof third !== 'string') return lineAt(start);
    const stop = starts[next + 1] ?? end;
    const m = new RegExp(`(?:^|[{,\\s])${keyPattern(third)}\\s*=`).exec(text.slice(start, stop));
    return m === null ? lineAt(start) : lineAt(start + m.index + (m[0].length - m[0].trimStart().length));
  };

  return (path) => {
    // The deepest table the path goes through, then the rest of the path inside it.
    for (let k = path.length; k >= 1; k--) {
      const section = sectionFor(path.slice(0, k));
      if (section !== undefined) return within(section, path.slice(k));
    }
    return within(top, path);
  };
}

/** Offsets where each top-level element of the array starting at or after `from` begins. */
function arrayElements(text: string, from: number): { starts: number[]; end: number } {
  const starts: number[] = [];
  let depth = 0;
  let expecting = false;
  let i = from;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '#') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
      continue;
    }
    if (/\s/.test(c)) { i++; continue; }
    if (depth === 0) {
      if (c !== '[') return { starts, end: i };
      depth = 1;
      expecting = true;
      i++;
      continue;
    }
    if (depth === 1 && c === ',') { expecting = true; i++; continue; }
    if (depth === 1 && c === ']') return { starts, end: i };
    if (depth === 1 && expecting) { starts.push(i); expecting = false; }
    if (c === '"' || c === "'") { i = skipString(text, i); continue; }
    if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    i++;
  }
  return { starts, end: text.length };
}

/** The offset just past the string (basic, literal, or either multi-line form) that starts at i. */
function skipString(text: string, i: number): number {
  const q = text[i] as string;
  const triple = text.startsWith(q.repeat(3), i);
  const close = triple ? q.repeat(3) : q;
  let j = i + close.length;
  while (j < text.length) {
    if (q === '"' && text[j] === '\\') { j += 2; continue; }
    if (text.startsWith(close, j)) return j + close.length;
    if (!triple && text[j] === '\n') return j;
    j++;
  }
  return j;
}
