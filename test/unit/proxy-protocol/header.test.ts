/**
 * The PROXY protocol header, both ways: what the writer writes the parser reads back, however the
 * bytes are split; strict v1 syntax; v2 lengths, families and TLVs; and, as properties, that random
 * and mutated input is parsed or refused, never thrown on, and never read past.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { parseHeader, type ParseResult } from '../../../src/proxy-protocol/parse.js';
import { writeHeader, writeV1, writeV2 } from '../../../src/proxy-protocol/write.js';
import { V2_MAX, V2_SIGNATURE, type Addresses } from '../../../src/proxy-protocol/types.js';

const V4: Addresses = { source: { address: '192.0.2.10', port: 51234 }, destination: { address: '198.51.100.1', port: 443 } };
const V6: Addresses = { source: { address: '2001:db8::10', port: 0 }, destination: { address: '2001:db8:0:1::1', port: 65535 } };
const HTTP = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n');

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
function done(r: ParseResult): Extract<ParseResult, { status: 'done' }> {
  if (r.status !== 'done') throw new Error(`expected a header, got ${JSON.stringify(r)}`);
  return r;
}
const reason = (r: ParseResult): string => (r.status === 'invalid' ? r.reason : `not refused: ${r.status}`);

test('round trip: v1 and v2, IPv4 and IPv6, split at every byte, with the HTTP stream after it', () => {
  for (const version of ['v1', 'v2'] as const) {
    for (const addresses of [V4, V6]) {
      const header = writeHeader(version, addresses);
      const bytes = Buffer.concat([header, HTTP]);
      // Split at every byte: what came so far is a prefix to wait on, until the whole header is there.
      for (let cut = 0; cut < header.length; cut++) assert.is(parseHeader(bytes.subarray(0, cut)).status, 'more', `${version} cut at ${cut}`);
      for (let end = header.length; end <= bytes.length; end++) {
        const r = done(parseHeader(bytes.subarray(0, end)));
        assert.is(r.version, version === 'v1' ? 1 : 2);
        assert.is(r.consumed, header.length);
        assert.is(r.local, false);
        assert.equal(r.addresses, addresses);
      }
    }
  }
});

test('writer: the exact bytes of each version; mixed families go as IPv6, IPv4-mapped as IPv4', () => {
  assert.is(writeV1(V4).toString('latin1'), 'PROXY TCP4 192.0.2.10 198.51.100.1 51234 443\r\n');
  assert.is(writeV1(V6).toString('latin1'), 'PROXY TCP6 2001:db8::10 2001:db8:0:1::1 0 65535\r\n');
  assert.is(writeV1(null).toString('latin1'), 'PROXY UNKNOWN\r\n');
  const mapped: Addresses = { source: { address: '::ffff:192.0.2.10', port: 1 }, destination: { address: '198.51.100.1', port: 2 } };
  assert.is(writeV1(mapped).toString('latin1'), 'PROXY TCP4 192.0.2.10 198.51.100.1 1 2\r\n');
  const mixed: Addresses = { source: { address: '192.0.2.10', port: 1 }, destination: { address: '2001:db8::1', port: 2 } };
  assert.is(writeV1(mixed).toString('latin1'), 'PROXY TCP6 ::ffff:192.0.2.10 2001:db8::1 1 2\r\n');
  const notIp: Addresses = { source: { address: 'unknown', port: 0 }, destination: { address: '127.0.0.1', port: 1 } };
  assert.is(writeV1(notIp).toString('latin1'), 'PROXY UNKNOWN\r\n');
  assert.is(writeV2(V4).toString('hex'), `${V2_SIGNATURE.toString('hex')}2111000cc000020ac6336401c8220 1bb`.replace(' ', ''));
  assert.is(writeV2(null).toString('hex'), `${V2_SIGNATURE.toString('hex')}20000000`, 'LOCAL, UNSPEC, no addresses');
  assert.is(writeV2(notIp).toString('hex'), `${V2_SIGNATURE.toString('hex')}21000000`, 'PROXY, UNSPEC');
  assert.is(writeV2(V6).length, 16 + 36);
});

test('v1: UNKNOWN leaves the addresses to the connection, and what follows it on the line is ignored', () => {
  for (const line of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n', 'PROXY UNKNOWN anything at all\r\n']) {
    const r = done(parseHeader(ascii(line)));
    assert.is(r.addresses, null);
    assert.is(r.consumed, line.length);
  }
});

test('v1: strict syntax, each refusal saying why', () => {
  const cases: [string, string][] = [
    ['PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n', 'not printable'],
    ['PROXY TCP4 192.0.2.1 192.0.2.2 1 2\rX', 'CR not followed by LF'],
    ['PROXY TCP4  192.0.2.1 192.0.2.2 1 2\r\n', 'single spaces'],
    ['PROXY TCP4 192.0.2.1 192.0.2.2 1 2 \r\n', 'single spaces'],
    ['PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n', 'single spaces'],
    ['PROXY TCP5 192.0.2.1 192.0.2.2 1 2\r\n', 'unknown protocol "TCP5"'],
    ['PROXY tcp4 192.0.2.1 192.0.2.2 1 2\r\n', 'unknown protocol'],
    ['PROXY \r\n', 'unknown protocol ""'],
    ['PROXY TCP4 192.0.2.01 192.0.2.2 1 2\r\n', '"192.0.2.01" is not an IPv4 address'],
    ['PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n', 'is not an IPv4 address'],
    ['PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n', '"192.0.2.1" is not an IPv6 address'],
    ['PROXY TCP6 fe80::1%eth0 2001:db8::2 1 2\r\n', 'is not an IPv6 address'],
    ['PROXY TCP4 192.0.2.1 192.0.2.2 01 2\r\n', '"01" is not a port'],
    ['PROXY TCP4 192.0.2.1 192.0.2.2 1 65536\r\n', '"65536" is not a port'],
    ['PROXY TCP4 192.0.2.1 192.0.2.2 -1 2\r\n', '"-1" is not a port'],
    ['PROXY TCP4 192.0.2.1 192.0.2.2 +1 2\r\n', 'is not a port'],
    ['PROXY\tTCP4', 'not a PROXY protocol header'],
    ['GET / HTTP/1.1\r\n', 'not a PROXY protocol header'],
    ['proxy TCP4', 'not a PROXY protocol header'],
  ];
  for (const [line, why] of cases) assert.match(reason(parseHeader(ascii(line))), why, line);
  // The longest valid line is 104 bytes; the spec's bound is 107, CRLF included.
  const longest = 'PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n';
  assert.is(done(parseHeader(ascii(longest))).consumed, 104);
  const padded = `PROXY UNKNOWN ${'x'.repeat(107 - 'PROXY UNKNOWN \r\n'.length)}\r\n`;
  assert.is(padded.length, 107);
  assert.is(done(parseHeader(ascii(padded))).consumed, 107, 'a line of exactly 107 bytes');
  const over = `PROXY UNKNOWN ${'x'.repeat(108 - 'PROXY UNKNOWN \r\n'.length)}\r\n`;
  assert.match(reason(parseHeader(ascii(over))), 'no CRLF within 107 bytes');
  assert.match(reason(parseHeader(ascii(over.slice(0, 106)))), 'no CRLF within 107 bytes', 'refused as soon as 106 bytes hold no CR');
  assert.is(parseHeader(ascii(over.slice(0, 105))).status, 'more');
});

/** A v2 header: version/command byte, family/transport byte, then `body` (the length is its size). */
const v2 = (verCmd: number, famProto: number, body: number[] | Buffer, length = body.length): Buffer =>
  Buffer.concat([V2_SIGNATURE, Buffer.from([verCmd, famProto, length >> 8, length & 0xff]), Buffer.from(body)]);
const V4_BLOCK = [192, 0, 2, 10, 198, 51, 100, 1, 0xc8, 0x22, 0x01, 0xbb];

test('v2: LOCAL, UNSPEC, AF_UNIX and UDP leave the addresses to the connection; TLVs are skipped', () => {
  const local = done(parseHeader(v2(0x20, 0x00, [])));
  assert.is(local.local, true);
  assert.is(local.addresses, null);
  assert.is(done(parseHeader(v2(0x20, 0x11, V4_BLOCK))).addresses, null, 'LOCAL with addresses: ignored');
  assert.is(done(parseHeader(v2(0x21, 0x00, []))).addresses, null, 'PROXY over UNSPEC');
  assert.is(done(parseHeader(v2(0x21, 0x31, new Array<number>(216).fill(0x61)))).addresses, null, 'AF_UNIX');
  assert.is(done(parseHeader(v2(0x21, 0x12, V4_BLOCK))).addresses, null, 'UDP');
  // PP2_TYPE_ALPN "h2", PP2_TYPE_NOOP with no value, a custom TLV of 300 bytes.
  const tlvs = [0x01, 0, 2, 0x68, 0x32, 0x04, 0, 0, 0xe0, 1, 44, ...new Array<number>(300).fill(7)];
  const r = done(parseHeader(Buffer.concat([v2(0x21, 0x11, [...V4_BLOCK, ...tlvs]), HTTP])));
  assert.equal(r.addresses, V4);
  assert.is(r.consumed, 16 + 12 + tlvs.length);
});

test('v2: refusals, each saying why', () => {
  const cases: [Buffer, string][] = [
    [v2(0x11, 0x11, V4_BLOCK), 'version 1, not 2'],
    [v2(0x22, 0x11, V4_BLOCK), 'unknown command 2'],
    [v2(0x21, 0x41, V4_BLOCK), 'unknown address family 4'],
    [v2(0x21, 0x13, V4_BLOCK), 'unknown transport 3'],
    [v2(0x21, 0x11, V4_BLOCK.slice(0, 11)), 'length 11 is shorter than the 12-byte address block'],
    [v2(0x21, 0x21, V4_BLOCK), 'length 12 is shorter than the 36-byte address block'],
    [v2(0x21, 0x11, [...V4_BLOCK, 0x01, 0]), 'a TLV cut short'],
    [v2(0x21, 0x11, [...V4_BLOCK, 0x01, 0, 3, 0x68, 0x32]), 'a TLV longer than the header'],
    [v2(0x21, 0x11, V4_BLOCK, V2_MAX), `more than the ${V2_MAX} accepted`],
    [Buffer.concat([V2_SIGNATURE.subarray(0, 5), ascii('X')]), 'not a PROXY protocol header'],
  ];
  for (const [bytes, why] of cases) assert.match(reason(parseHeader(bytes)), why, why);
  // Refused at once from the length, before the body arrives: no waiting for 64 KiB that will be refused.
  assert.match(reason(parseHeader(v2(0x21, 0x11, [], 0xffff))), 'more than');
  assert.is(done(parseHeader(v2(0x21, 0x11, [...V4_BLOCK, 0xe0, (V2_MAX - 31) >> 8, (V2_MAX - 31) & 0xff, ...new Array<number>(V2_MAX - 31).fill(0)]))).consumed, V2_MAX,
    'a header of exactly the cap');
});

/** Every outcome is one of the three, and a header never takes more than it was given. */
function wellFormed(bytes: Uint8Array): ParseResult {
  const r = parseHeader(bytes);
  if (r.status === 'done') {
    assert.ok(r.consumed > 0 && r.consumed <= bytes.length, `consumed ${r.consumed} of ${bytes.length}`);
  } else if (r.status === 'invalid') {
    assert.type(r.reason, 'string');
  } else {
    assert.is(r.status, 'more');
    assert.ok(bytes.length < V2_MAX, 'never "more" past the cap');
  }
  return r;
}

const addressesArb = fc.oneof(
  fc.record({ source: fc.record({ address: fc.ipV4(), port: fc.nat(65535) }), destination: fc.record({ address: fc.ipV4(), port: fc.nat(65535) }) }),
  fc.record({ source: fc.record({ address: fc.ipV6(), port: fc.nat(65535) }), destination: fc.record({ address: fc.ipV6(), port: fc.nat(65535) }) }),
);

test('property: written headers parse back to the same addresses (canonical text), both versions', () => {
  fc.assert(fc.property(addressesArb, fc.constantFrom('v1' as const, 'v2' as const), fc.uint8Array({ maxLength: 20 }), (a, version, tail) => {
    const header = writeHeader(version, a);
    const r = done(parseHeader(Buffer.concat([header, tail])));
    assert.is(r.consumed, header.length);
    // Written again from what was read: the same bytes (addresses come back canonical).
    assert.equal(writeHeader(version, r.addresses), header);
    assert.is(r.addresses?.source.port, a.source.port);
    assert.is(r.addresses?.destination.port, a.destination.port);
  }), { numRuns: 1000 });
});

test('property: random bytes, and valid headers mutated, cut or extended, are parsed or refused, never thrown on', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    wellFormed(bytes);
    // Behind each signature too, so the random part reaches the parsers.
    wellFormed(Buffer.concat([ascii('PROXY '), bytes]));
    wellFormed(Buffer.concat([V2_SIGNATURE, bytes]));
  }), { numRuns: 3000 });
  const mutation = fc.record({
    at: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
    cut: fc.nat(),
    extra: fc.uint8Array({ maxLength: 40 }),
  });
  fc.assert(fc.property(addressesArb, fc.constantFrom('v1' as const, 'v2' as const), mutation, (a, version, m) => {
    const header = Buffer.from(writeHeader(version, a));
    header[m.at % header.length] = m.byte;
    const mutated = Buffer.concat([header.subarray(0, header.length - (m.cut % 4)), m.extra]);
    const r = wellFormed(mutated);
    // A mutated length field may claim more or fewer bytes, but never more than were given.
    if (r.status === 'done') assert.ok(r.consumed <= mutated.length);
  }), { numRuns: 5000 });
});

test.run();
