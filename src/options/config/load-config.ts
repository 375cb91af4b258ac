/**
 * `--config FILE`: YAML (.yaml/.yml) or TOML (.toml) → the ProxyOptions it sets. Every problem is a
 * ConfigError of one line, `<file>:<line>: <field path>: <expected>, got <found>`.
 *
 * Both formats are parsed to plain values (yaml.ts, toml.ts) and checked by one validator
 * (validate.ts); each format supplies a locator that maps a field path back to a line of the file.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { ProxyOptions } from '../schema.js';
import { configError } from './config-error.js';
import { readToml } from './toml.js';
import { validate } from './validate.js';
import { readYaml } from './yaml.js';

export { ConfigError } from './config-error.js';

/** Reads and validates FILE; returns the options it sets (only those present). */
export function loadConfig(file: string): Partial<ProxyOptions> {
  const ext = extname(file).toLowerCase();
  if (ext !== '.yaml' && ext !== '.yml' && ext !== '.toml') {
    throw configError(file, undefined, 'config file', 'a .yaml, .yml or .toml extension', `"${ext}"`);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw configError(file, undefined, 'config file', 'a readable file', (err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
  const { value, locate } = ext === '.toml' ? readToml(file, text) : readYaml(file, text);
  return validate(file, value, locate);
}
