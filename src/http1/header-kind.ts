/**
 * The few header names a proxy must understand, recognised by comparing bytes case-insensitively
 * (no strings). Every other header passes through untouched.
 *
 * A name that matches one of them only when `_` is read as `-` (`Transfer_Encoding`, `X_Forwarded_For`)
 * is H_LOOKALIKE: servers that map header names to variables (CGI, PHP, WSGI, Rack) read it as the
 * real header, so the proxy drops it rather than let it stand in for one it controls (nginx drops
 * every name with `_` by default).
 */
export const H_OTHER = 0;
export const H_CONNECTION = 1;
export const H_KEEP_ALIVE = 2;
export const H_PROXY_CONNECTION = 3;
export const H_TE = 4;
export const H_TRAILER = 5;
export const H_UPGRADE = 6;
export const H_TRANSFER_ENCODING = 7;
export const H_CONTENT_LENGTH = 8;
export const H_HOST = 9;
export const H_EXPECT = 10;
export const H_X_FORWARDED_FOR = 11;
export const H_X_FORWARDED_PROTO = 12;
export const H_X_FORWARDED_HOST = 13;
export const H_PROXY_AUTHORIZATION = 14;
export const H_PROXY_AUTHENTICATE = 15;
export const H_LOOKALIKE = 16;

const NAMES: readonly (readonly [string, number])[] = [
  ['connection', H_CONNECTION],
  ['keep-alive', H_KEEP_ALIVE],
  ['proxy-connection', H_PROXY_CONNECTION],
  ['te', H_TE],
  ['trailer', H_TRAILER],
  ['upgrade', H_UPGRADE],
  ['transfer-encoding', H_TRANSFER_ENCODING],
  ['content-length', H_CONTENT_LENGTH],
  ['host', H_HOST],
  ['expect', H_EXPECT],
  ['x-forwarded-for', H_X_FORWARDED_FOR],
  ['x-forwarded-proto', H_X_FORWARDED_PROTO],
  ['x-forwarded-host', H_X_FORWARDED_HOST],
  ['proxy-authorization', H_PROXY_AUTHORIZATION],
  ['proxy-authenticate', H_PROXY_AUTHENTICATE],
];

/** Known names bucketed by length: a header is compared only with names of its own length. */
const BY_LENGTH: (readonly { name: Buffer; kind: number }[])[] = [];
for (const [name, kind] of NAMES) {
  const bucket = (BY_LENGTH[name.length] ??= []) as { name: Buffer; kind: number }[];
  bucket.push({ name: Buffer.from(name, 'latin1'), kind });
}

/**
 * True if `buf[start, start+length)` equals the lowercase ASCII `lower`, ignoring case. Sound for
 * header-name tokens: `| 0x20` folds only letters onto lowercase, and '-' (the one non-letter in
 * the known names) already has that bit; llhttp has rejected the control bytes that would alias it.
 */
export function equalsLower(buf: Uint8Array, start: number, length: number, lower: Uint8Array): boolean {
  if (length !== lower.length) return false;
  for (let i = 0; i < length; i++) {
    if (((buf[start + i] as number) | 0x20) !== lower[i]) return false;
  }
  return true;
}

const UNDERSCORE = 0x5f;
const DASH = 0x2d;

export function headerKind(buf: Uint8Array, start: number, length: number): number {
  const bucket = BY_LENGTH[length];
  if (bucket === undefined) return H_OTHER;
  for (let b = 0; b < bucket.length; b++) {
    const entry = bucket[b] as { name: Buffer; kind: number };
    const match = compareName(buf, start, length, entry.name);
    if (match !== NO_MATCH) return match === EXACT ? entry.kind : H_LOOKALIKE;
  }
  return H_OTHER;
}

const NO_MATCH = 0;
const EXACT = 1;
const WITH_UNDERSCORES = 2;

/** Like equalsLower, and tells apart a name that matches only with `_` in place of `-`. */
function compareName(buf: Uint8Array, start: number, length: number, lower: Uint8Array): number {
  let folded = false;
  for (let i = 0; i < length; i++) {
    const c = buf[start + i] as number;
    if ((c | 0x20) === lower[i]) continue;
    if (c === UNDERSCORE && lower[i] === DASH) {
      folded = true;
      continue;
    }
    return NO_MATCH;
  }
  return folded ? WITH_UNDERSCORES : EXACT;
}
