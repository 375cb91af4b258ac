/**
 * The checks a config file's fields go through, each failing with a ConfigError that names the
 * file, the line, the field and what was expected.
 */
import { TomlDate } from 'smol-toml';
import type { ScalarKind } from '../kinds.js';
import { OptionError } from '../values.js';
import { configError, type Locate, type Path } from './config-error.js';

export type Table = Record<string, unknown>;

export const isTable = (v: unknown): v is Table =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

export class Checker {
  constructor(
    private readonly file: string,
    private readonly locate: Locate,
  ) {}

  fail(path: Path, expected: string, got: string, at: 'key' | 'value' = 'value'): never {
    throw configError(this.file, this.locate(path, at), fieldPath(path), expected, got);
  }

  /** `value`, a table whose keys are all among `keys`. */
  table(path: Path, value: unknown, keys: readonly string[]): Table {
    if (!isTable(value)) return this.fail(path, 'a table', describe(value));
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) this.fail([...path, key], `one of the keys ${keys.join(', ')}`, `unknown key "${key}"`, 'key');
    }
    return value;
  }

  /**
   * A value of `kind`, read as a flag's text would be. The kind's parser throws an OptionError naming
   * a flag; here the message is phrased for the file.
   */
  value<T>(path: Path, value: unknown, kind: ScalarKind<T>): T {
    const text = kind.text(value);
    if (text === undefined) return this.fail(path, kind.expected, describe(value));
    try {
      return kind.parse(fieldPath(path), text);
    } catch (err) {
      if (err instanceof OptionError) return this.fail(path, kind.expected, describe(value));
      throw err;
    }
  }
}

/** A value as an error message shows what was found. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof TomlDate || value instanceof Date) return `a date (${value.toISOString()})`;
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : `a list of ${value.length}`;
  return 'a table';
}

/** `routes[1].pool`; `(top level)` for the file as a whole. */
function fieldPath(path: Path): string {
  if (path.length === 0) return '(top level)';
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}
