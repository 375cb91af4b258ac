/**
 * Test helper: a chunked body decoded by a small, strict decoder written apart from the proxy's
 * parser (RFC 9112 §7.1), so a framing bug in the proxy cannot hide behind the same bug here.
 */
export interface Dechunked {
  payload: Buffer;
  /** Trailer fields as sent, in order. */
  trailers: [string, string][];
  /** Chunk extensions seen (the proxy forwards none). */
  extensions: number;
  /** Bytes after the end of the chunked body (none when the body was all there was). */
  rest: Buffer;
}

/** Decodes `framed` from its first byte; throws on anything malformed or cut short. */
export function dechunk(framed: Buffer): Dechunked {
  const parts: Buffer[] = [];
  let extensions = 0;
  let at = 0;
  const line = (): string => {
    const end = framed.indexOf('\r\n', at);
    if (end < 0) throw new Error(`chunked body cut short at byte ${at}`);
    const text = framed.toString('latin1', at, end);
    at = end + 2;
    return text;
  };
  for (;;) {
    const sizeLine = line();
    const semicolon = sizeLine.indexOf(';');
    if (semicolon >= 0) extensions++;
    const hex = semicolon >= 0 ? sizeLine.slice(0, semicolon) : sizeLine;
    if (!/^[0-9a-fA-F]+$/.test(hex)) throw new Error(`bad chunk size line ${JSON.stringify(sizeLine)}`);
    const size = parseInt(hex, 16);
    if (size === 0) break;
    if (at + size + 2 > framed.length) throw new Error(`chunk of ${size} bytes cut short`);
    parts.push(framed.subarray(at, at + size));
    at += size;
    if (framed[at] !== 0x0d || framed[at + 1] !== 0x0a) throw new Error(`no CRLF after a chunk of ${size} bytes`);
    at += 2;
  }
  const trailers: [string, string][] = [];
  for (let field = line(); field !== ''; field = line()) {
    const colon = field.indexOf(':');
    if (colon <= 0) throw new Error(`bad trailer field ${JSON.stringify(field)}`);
    trailers.push([field.slice(0, colon), field.slice(colon + 1).trim()]);
  }
  return { payload: Buffer.concat(parts), trailers, extensions, rest: framed.subarray(at) };
}
