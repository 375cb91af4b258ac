/**
 * A parsed config file, YAML or TOML alike → the options it sets (only those present), checked
 * against the schema: every key must be one an option names, every value of its option's kind. The
 * lists and tables some options take are read by shapes.ts.
 */
import { OPTION_KEYS, OPTIONS, type ProxyOptions } from '../schema.js';
import type { Locate } from './config-error.js';
import { Checker, type Table } from './check.js';
import { SHAPES, type Reader } from './shapes.js';

/** Where a file sets an option: a top-level key, or a field of a section (`timeouts.connect`). */
interface Place {
  path: string[];
  top: string;
  field: string | undefined;
}
const placeOf = (config: string): Place => {
  const path = config.split('.');
  const [top = config, field] = path;
  return { path, top, field };
};

/** Each option's place, in the schema's order. */
const PLACES = new Map(OPTION_KEYS.flatMap((key) => {
  const config = OPTIONS[key].config;
  return config === undefined ? [] : [[key, placeOf(config)] as const];
}));
/** The keys a file may have at its top level, and in each section. */
const TOP_KEYS = [...new Set([...PLACES.values()].map((place) => place.top))];
const SECTION_KEYS = new Map<string, string[]>();
for (const { top, field } of PLACES.values()) {
  if (field !== undefined) SECTION_KEYS.set(top, [...(SECTION_KEYS.get(top) ?? []), field]);
}

/** SHAPES has a reader for every hand-read option (its type says so); here, looked up by any key. */
const SHAPE_OF: { readonly [K in keyof ProxyOptions]?: Reader<K> } = SHAPES;

export function validate(file: string, root: unknown, locate: Locate): Partial<ProxyOptions> {
  const c = new Checker(file, locate);
  const doc = c.table([], root, TOP_KEYS);
  const options: Partial<ProxyOptions> = {};
  const sections = new Map<string, Table>();
  /** A section's table, its keys checked the first time one of its options is read. */
  const section = (name: string): Table => {
    const table = sections.get(name) ?? c.table([name], doc[name], SECTION_KEYS.get(name) ?? []);
    sections.set(name, table);
    return table;
  };
  const read = <K extends keyof ProxyOptions>(key: K): void => {
    const place = PLACES.get(key);
    if (place === undefined || doc[place.top] === undefined) return;
    const value = place.field === undefined ? doc[place.top] : section(place.top)[place.field];
    if (value === undefined) return;
    const kind = OPTIONS[key].kind;
    const shape = SHAPE_OF[key];
    if (!kind.byHand) options[key] = c.value(place.path, value, kind);
    else if (shape !== undefined) options[key] = shape(c, place.path, value, { doc, options });
  };
  OPTION_KEYS.forEach(read);
  // As on the command line (--access-log-file alone): a file without a format means JSON.
  if (options.accessLogFile !== undefined) options.accessLog ??= 'json';
  return options;
}
