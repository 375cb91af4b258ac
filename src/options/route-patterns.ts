/**
 * What a route may match on, checked where a config is read and again where routing/route-table.ts
 * builds its rules: each check returns null for an acceptable pattern, else what was expected
 * instead (for `expected ${problem}`).
 */

/** An exact hostname, `*.domain` (any name under it), or an IPv6 literal in brackets; no port. */
export function hostPatternProblem(pattern: string): string | null {
  if (pattern === '') return 'a non-empty hostname';
  if (pattern.startsWith('[')) {
    return /^\[[0-9A-Fa-f.:]*:[0-9A-Fa-f.:]*\]$/.test(pattern) ? null : 'an IPv6 address in brackets like [::1], without a port';
  }
  const wildcard = pattern.startsWith('*.');
  let name = wildcard ? pattern.slice(2) : pattern;
  if (name.includes('*')) return "a hostname with a wildcard only as a leading '*.', like *.example.com";
  if (name.includes(':')) return 'a hostname without a port (a rule matches the port on its own)';
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === '') return wildcard ? "a domain after '*.'" : 'a non-empty hostname';
  for (const label of name.split('.')) {
    if (label === '') return "a hostname without empty labels ('..' or a leading '.')";
    if (!/^[A-Za-z0-9_-]+$/.test(label)) return "a hostname of letters, digits, '-', '_' and '.'";
  }
  return null;
}

/** A path prefix: starts with '/', visible ASCII, no query or fragment. */
export function pathPrefixProblem(prefix: string): string | null {
  if (!prefix.startsWith('/')) return "a path prefix starting with '/'";
  for (let i = 0; i < prefix.length; i++) {
    const c = prefix.charCodeAt(i);
    if (c === 0x3f || c === 0x23) return "a path prefix without '?' or '#' (the query is not matched)";
    // Request targets are ASCII on the wire, so anything else could never match.
    if (c <= 0x20 || c >= 0x7f) return 'a path prefix of visible ASCII characters (percent-encode the others)';
  }
  return null;
}
