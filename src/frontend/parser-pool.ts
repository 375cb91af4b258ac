/**
 * Request parsers and their head scanners, set aside by keep-alive connections as soon as they have
 * nothing in flight, and taken up again by whichever connection reads next: idle clients hold no
 * parser state (its typed arrays and WASM-side struct) between their requests, and busy ones share a
 * few warm parsers (the spares are reused last in, first out).
 *
 * An idle connection points at RESTING, a parser that is never run: it answers the questions asked
 * of an idle connection (`inMessage` false, `readingHead` false) without a null check at each of them.
 */
import { Http1Parser } from '../http1/parser.js';
import { HeadScan } from '../http1/hop-by-hop.js';

/** Kept at most; beyond, a parser set aside is freed. */
const SPARE_MAX = 1024;

let resting: Http1Parser | null = null;
let restingScanner: HeadScan | null = null;

/** The never-run parser of idle connections. */
export function restingParser(): Http1Parser {
  resting ??= new Http1Parser('request');
  return resting;
}

/** The never-run scanner of idle connections (so that one holds none that went back to the spares). */
export function restingScan(): HeadScan {
  restingScanner ??= new HeadScan();
  return restingScanner;
}

const spareParsers: Http1Parser[] = [];
const spareScans: HeadScan[] = [];

/** A parser at rest, set up for a client connection, and a scanner. */
export function takeParser(maxHeadBytes: number): { parser: Http1Parser; scan: HeadScan } {
  let parser = spareParsers.pop();
  // A reload may change the head limit: a spare made for another is freed, not reused.
  while (parser !== undefined && parser.maxHeadBytes !== maxHeadBytes) {
    parser.destroy();
    parser = spareParsers.pop();
  }
  if (parser === undefined) {
    parser = new Http1Parser('request', { maxHeadBytes });
    parser.decodeBody = true; // the body limit counts payload, not chunk framing
  }
  return { parser, scan: spareScans.pop() ?? new HeadScan() };
}

/** Sets aside a parser at rest (see Http1Parser.atRest) and its scanner. */
export function giveParser(parser: Http1Parser, scan: HeadScan): void {
  parser.forget();
  if (spareParsers.length < SPARE_MAX) spareParsers.push(parser);
  else parser.destroy();
  if (spareScans.length < SPARE_MAX) spareScans.push(scan);
}
