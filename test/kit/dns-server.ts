/**
 * Test helper: a small authoritative DNS server on 127.0.0.1 over UDP whose answers a test sets and
 * changes: A and AAAA records with a TTL, NXDOMAIN for names it has none for, and, on demand, SERVFAIL
 * or silence for everything. It notes when each question came, per name and type. The message format
 * (RFC 1035 §4) is encoded and decoded here: a header, one question, answers that point back to it.
 */
import dgram from 'node:dgram';
import { isIPv4 } from 'node:net';

export interface DnsRecords {
  /** IPv4 and IPv6 addresses; the TTL in seconds (default 1). */
  a?: string[];
  aaaa?: string[];
  ttl?: number;
}

export type DnsMode = 'answer' | 'servfail' | 'silent';

const TYPE_A = 1;
const TYPE_AAAA = 28;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

export class DnsServer {
  readonly port: number;
  /** How the server answers every question now. */
  mode: DnsMode = 'answer';
  private readonly socket: dgram.Socket;
  private readonly zone = new Map<string, DnsRecords>();
  /** When each question came (performance.now()), by name and type. */
  private readonly asked = new Map<string, number[]>();

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    this.port = socket.address().port;
    socket.on('message', (msg, from) => {
      const reply = this.answer(msg);
      if (reply !== null) socket.send(reply, from.port, from.address);
    });
  }

  static start(): Promise<DnsServer> {
    const socket = dgram.createSocket('udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve(new DnsServer(socket)));
    });
  }

  /** `127.0.0.1:PORT`, for dns.servers. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The records of `name` from now on (undefined: none, NXDOMAIN). */
  set(name: string, records: DnsRecords | undefined): void {
    if (records === undefined) this.zone.delete(name.toLowerCase());
    else this.zone.set(name.toLowerCase(), records);
  }

  /** When `name`'s A records were asked for, oldest first: one per lookup (each asks A and AAAA once). */
  lookups(name: string): readonly number[] {
    return this.asked.get(`${name.toLowerCase()}/${TYPE_A}`) ?? [];
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private answer(query: Buffer): Buffer | null {
    if (query.length < 12 || query.readUInt16BE(4) !== 1) return null;
    // The question: length-prefixed labels, a zero byte, then its type and class.
    const labels: string[] = [];
    let at = 12;
    for (let len = query[at] ?? 0; len !== 0; len = query[at] ?? 0) {
      labels.push(query.toString('latin1', at + 1, at + 1 + len));
      at += 1 + len;
    }
    const end = at + 5;
    if (end > query.length) return null;
    const type = query.readUInt16BE(at + 1);
    const name = labels.join('.').toLowerCase();
    const key = `${name}/${type}`;
    this.asked.set(key, [...(this.asked.get(key) ?? []), performance.now()]);
    if (this.mode === 'silent') return null;
    const records = this.zone.get(name);
    const rcode = this.mode === 'servfail' ? RCODE_SERVFAIL : records === undefined ? RCODE_NXDOMAIN : 0;
    const addresses = rcode !== 0 ? [] : type === TYPE_A ? records?.a ?? [] : type === TYPE_AAAA ? records?.aaaa ?? [] : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0); // the query's id
    header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2); // QR, AA, RD as asked, RA
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(addresses.length, 6);
    const answers = addresses.map((address) => {
      const data = type === TYPE_A ? Buffer.from(address.split('.').map(Number)) : ipv6Bytes(address);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      rr.writeUInt16BE(type, 2);
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(records?.ttl ?? 1, 6);
      rr.writeUInt16BE(data.length, 10);
      return Buffer.concat([rr, data]);
    });
    return Buffer.concat([header, query.subarray(12, end), ...answers]);
  }
}

/** An IPv6 address's 16 bytes (`::` expanded; no embedded IPv4). */
function ipv6Bytes(address: string): Buffer {
  if (isIPv4(address)) throw new Error(`${address} is not an IPv6 address`);
  const [head = '', tail] = address.split('::');
  const groups = (s: string | undefined): string[] => (s === undefined || s === '' ? [] : s.split(':'));
  const left = groups(head);
  const right = groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
