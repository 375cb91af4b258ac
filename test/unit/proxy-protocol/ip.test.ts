import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { SocketAddress } from 'node:net';
import { formatIPv6, parseIPv4, parseIPv6 } from '../../../src/proxy-protocol/ip.js';

test('IPv4: dotted decimal only, no leading zeros, parts 0-255', () => {
  assert.equal([...(parseIPv4('192.0.2.1') ?? [])], [192, 0, 2, 1]);
  assert.equal([...(parseIPv4('0.0.0.0') ?? [])], [0, 0, 0, 0]);
  for (const bad of ['192.0.2.01', '256.0.0.1', '1.2.3', '1.2.3.4.5', ' 1.2.3.4', '1.2.3.4 ', '0x1.2.3.4', '', '1..2.3']) {
    assert.is(parseIPv4(bad), null, bad);
  }
});

test('IPv6: every spelling of an address gives its bytes; zone ids, bad groups and two gaps are refused', () => {
  const text = (s: string): string | null => {
    const b = parseIPv6(s);
    return b === null ? null : formatIPv6(b);
  };
  assert.is(text('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.is(text('2001:db8::1'), '2001:db8::1');
  assert.is(text('::'), '::');
  assert.is(text('::1'), '::1');
  assert.is(text('1::'), '1::');
  assert.is(text('1:0:0:2:0:0:0:3'), '1:0:0:2::3', 'the longest zero run is the one compressed');
  assert.is(text('1:0:0:2:0:0:3:4'), '1::2:0:0:3:4', 'the first of equal runs');
  assert.is(text('1:0:2:3:4:5:6:7'), '1:0:2:3:4:5:6:7', 'a single zero group is not compressed');
  assert.is(text('::ffff:192.0.2.1'), '::ffff:192.0.2.1');
  assert.is(text('::FFFF:c000:0201'), '::ffff:192.0.2.1', 'IPv4-mapped in mixed notation (RFC 5952 5)');
  assert.is(text('64:ff9b::192.0.2.1'), '64:ff9b::c000:201');
  for (const bad of ['fe80::1%eth0', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', ':1:2:3:4:5:6:7', '1.2.3.4::', '::1.2.3', 'g::', '', ':', '::ffff:1.2.3.04']) {
    assert.is(parseIPv6(bad), null, bad);
  }
});

test('property: formatIPv6 writes what inet_ntop writes, and parseIPv6 reads it back', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), (bytes, sparse) => {
    // Many zero words, so that runs of zeros (and their compression) are common.
    const b = sparse ? bytes.map((x, i) => (x % 3 === 0 || (i >> 1) % 3 === 1 ? 0 : x)) : bytes;
    const text = formatIPv6(b);
    const back = parseIPv6(text);
    assert.ok(back !== null, text);
    assert.equal([...back], [...b], text);
    // libuv still writes the deprecated IPv4-compatible form (::a.b.c.d), which RFC 5952 does not.
    const compatible = b.subarray(0, 12).every((x) => x === 0) && (b[12] !== 0 || b[13] !== 0);
    if (!compatible) assert.is(text, new SocketAddress({ address: text, family: 'ipv6' }).address);
  }), { numRuns: 2000 });
});

test.run();
