/**
 * The access log's view of a request: captured from the parsed head when the log is on, turned into
 * an entry when the response has been handed to the client socket.
 */
import type { Http1Parser } from '../http1/parser.js';
import { equalsLower } from '../http1/header-kind.js';
import { trimmedLength } from '../http1/hop-by-hop.js';
import type { Job, RequestRecord } from '../exchange/job.js';
import type { AccessEntry } from './access-log.js';

const REFERER = Buffer.from('referer');
const USER_AGENT = Buffer.from('user-agent');

function headerText(p: Http1Parser, name: Buffer): string {
  for (let i = 0; i < p.headerCount; i++) {
    if (equalsLower(p.head, p.nameStart(i), p.nameLength(i), name)) {
      const start = p.valueStart(i);
      return p.head.toString('latin1', start, start + trimmedLength(p.head, start, p.valueLength(i)));
    }
  }
  return '';
}

/** `tls`: the connection's TLS version, '' for plain HTTP. */
export function requestRecord(p: Http1Parser, client: string, tls: string): RequestRecord {
  let methodStart = 0;
  while (p.head[methodStart] === 0x0d || p.head[methodStart] === 0x0a) methodStart++;
  const methodEnd = p.head.indexOf(0x20, methodStart);
  return {
    client,
    tls,
    method: p.head.toString('latin1', methodStart, methodEnd),
    target: p.head.toString('latin1', p.urlStart, p.urlStart + p.urlLength),
    version: `${p.versionMajor}.${p.versionMinor}`,
    referer: headerText(p, REFERER),
    userAgent: headerText(p, USER_AGENT),
    headDoneAt: performance.now(),
    sentAt: -1,
    answeredAt: -1,
  };
}

/** A refused request: what is known of its head (all of it if the head was complete). */
export function refusedRecord(p: Http1Parser, client: string, tls: string): RequestRecord {
  if (p.inMessage && !p.readingHead) return requestRecord(p, client, tls);
  return { client, tls, method: '-', target: '-', version: '-', referer: '', userAgent: '', headDoneAt: performance.now(), sentAt: -1, answeredAt: -1 };
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

export function accessEntry(job: Job): AccessEntry {
  const r = job.record as RequestRecord;
  return {
    time: Date.now(),
    client: r.client,
    tls: r.tls,
    method: r.method,
    target: r.target,
    version: r.version,
    status: job.aborted ? 0 : job.status,
    bytes: job.bodyBytesOut,
    backend: job.worker?.name ?? '-',
    upstreamMs: r.sentAt >= 0 && r.answeredAt >= 0 ? round(r.answeredAt - r.sentAt) : -1,
    totalMs: round(performance.now() - r.headDoneAt),
    referer: r.referer,
    userAgent: r.userAgent,
  };
}
