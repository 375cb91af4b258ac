/**
 * IP addresses as the PROXY protocol carries them: strict text (v1) to bytes, and bytes (v2) to one
 * canonical text (dotted IPv4; RFC 5952 IPv6: lowercase, no leading zeros, the longest run of zero
 * groups as `::`, an IPv4-mapped address as `::ffff:a.b.c.d`). Text that is not an address (a zone
 * id, a leading zero in an IPv4 part, a group of five digits) is refused, never guessed at.
 */

/** Four decimal parts 0-255 without leading zeros (a leading zero is octal to some parsers). */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/** The longest IPv6 text: eight groups of four, or six groups and a dotted IPv4. */
const MAX_IPV6_TEXT = 45;

export function parseIPv4(text: string): Uint8Array | null {
  if (!IPV4.test(text)) return null;
  return Uint8Array.from(text.split('.'), Number);
}

export function parseIPv6(text: string): Uint8Array | null {
  if (text.length < 2 || text.length > MAX_IPV6_TEXT || !/^[0-9A-Fa-f:.]+$/.test(text)) return null;
  const gap = text.indexOf('::');
  if (gap !== -1 && text.indexOf('::', gap + 1) !== -1) return null;
  const head = gap === -1 ? text : text.slice(0, gap);
  const tail = gap === -1 ? '' : text.slice(gap + 2);
  // A dotted IPv4 may only end the address.
  const front = groups(head, gap === -1);
  const back = groups(tail, true);
  if (front === null || back === null) return null;
  const count = front.words.length + back.words.length;
  if (gap === -1 ? count !== 8 : count > 7) return null;
  const bytes = new Uint8Array(16);
  const put = (words: readonly number[], at: number): void => {
    words.forEach((w, i) => {
      bytes[at + 2 * i] = w >> 8;
      bytes[at + 2 * i + 1] = w & 0xff;
    });
  };
  put(front.words, 0);
  put(back.words, 16 - 2 * back.words.length);
  return bytes;
}

/** `a:b:c` → its 16-bit words; the last part may be a dotted IPv4 (two words) when `lastMayBeV4`. */
function groups(text: string, lastMayBeV4: boolean): { words: number[] } | null {
  if (text === '') return { words: [] };
  const parts = text.split(':');
  const words: number[] = [];
  for (const [i, part] of parts.entries()) {
    if (part.includes('.')) {
      const b = i === parts.length - 1 && lastMayBeV4 ? parseIPv4(part) : null;
      if (b === null) return null;
      words.push((b[0] as number) << 8 | (b[1] as number), (b[2] as number) << 8 | (b[3] as number));
    } else {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(part)) return null;
      words.push(parseInt(part, 16));
    }
  }
  return { words };
}

export function formatIPv4(bytes: Uint8Array, at = 0): string {
  return `${bytes[at] as number}.${bytes[at + 1] as number}.${bytes[at + 2] as number}.${bytes[at + 3] as number}`;
}

/** RFC 5952's text of the 16 bytes at `at`. */
export function formatIPv6(bytes: Uint8Array, at = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[at + 2 * i] as number) << 8 | (bytes[at + 2 * i + 1] as number));
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return `::ffff:${formatIPv4(bytes, at + 12)}`;
  // The longest run of two or more zero words (the first of equals) becomes "::".
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLength))}`;
}

/** The 4 bytes of an IPv4 address, given as dotted text or as IPv4-mapped IPv6 (`::ffff:a.b.c.d`); null otherwise. */
export function ipv4Bytes(text: string): Uint8Array | null {
  const v4 = parseIPv4(text);
  if (v4 !== null) return v4;
  const v6 = parseIPv6(text);
  return v6 !== null && isMapped(v6) ? v6.slice(12) : null;
}

/** The 16 bytes of an address, IPv4 mapped (`::ffff:a.b.c.d`); null if it is no address. */
export function ipv6Bytes(text: string): Uint8Array | null {
  const v6 = parseIPv6(text);
  if (v6 !== null) return v6;
  const v4 = parseIPv4(text);
  if (v4 === null) return null;
  const mapped = new Uint8Array(16);
  mapped[10] = 0xff;
  mapped[11] = 0xff;
  mapped.set(v4, 12);
  return mapped;
}

function isMapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}
