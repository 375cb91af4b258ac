/**
 * The one error a config file can cause, and where in the file it is: every message is one line,
 * `<file>:<line>: <field>: expected <what>, got <what was found>`.
 */
import { PRX_ERR_CONFIG } from '../../errors.js';

export class ConfigError extends Error {
  readonly code = PRX_ERR_CONFIG;
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** `<file>:<line>: <field>: expected <expected>, got <got>`; without `:<line>` when it is not known. */
export function configError(file: string, line: number | undefined, field: string, expected: string, got: string): ConfigError {
  return new ConfigError(`${file}${line === undefined ? '' : `:${line}`}: ${field}: expected ${expected}, got ${got}`);
}

/** A field's place in the parsed file: keys and list indexes from the top. */
export type Path = readonly (string | number)[];

/** Line (1-based) of the key at `path`, or of its value; undefined when it cannot be told. */
export type Locate = (path: Path, at: 'key' | 'value') => number | undefined;
