import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { TrustedProxies, TrustedProxyError } from '../../../src/frontend/trusted-proxies.js';

const proxies = TrustedProxies.parse(['10.0.0.0/8', '192.168.1.1', '2001:db8::/32', ' 127.0.0.1 ']);

function parseError(entry: string): string {
  try {
    TrustedProxies.parse(['10.0.0.0/8', entry]);
  } catch (error) {
    assert.instance(error, TrustedProxyError);
    return (error as TrustedProxyError).message;
  }
  throw new Error(`${entry} was accepted`);
}

test('parse takes addresses and subnets of both families and names a bad entry', () => {
  assert.is(proxies.size, 4);
  assert.is(TrustedProxies.parse([]).size, 0);
  assert.is(TrustedProxies.parse(['0.0.0.0/0', '::/0', '::1/128', '1.2.3.4/32']).size, 4);
  for (const bad of ['', 'example.com', '10.0.0.256', '10.0.0.0 /8', '1.2.3.4:80', '1.2.3.4:80/32', '010.0.0.1']) {
    assert.is(parseError(bad), `"${bad}" is not an IP address or CIDR subnet`, bad);
  }
  assert.is(parseError('10.0.0.0/33'), '"10.0.0.0/33": prefix length "33" is not 0-32 for IPv4');
  assert.is(parseError('2001:db8::/129'), '"2001:db8::/129": prefix length "129" is not 0-128 for IPv6');
  assert.match(parseError('10.0.0.0/'), 'prefix length ""');
  assert.match(parseError('10.0.0.0/-1'), 'prefix length "-1"');
  assert.match(parseError('10.0.0.0/8/8'), 'prefix length "8/8"');
  assert.match(parseError('2001:db8::/x'), 'prefix length "x"');
});

test('isTrusted checks subnets and single addresses; an IPv4-mapped peer counts as its IPv4 address', () => {
  assert.ok(proxies.isTrusted('10.200.3.4'));
  assert.ok(proxies.isTrusted('192.168.1.1'));
  assert.not.ok(proxies.isTrusted('192.168.1.2'), 'a plain address is exactly that address');
  assert.ok(proxies.isTrusted('127.0.0.1'), 'whitespace around an entry is trimmed');
  assert.ok(proxies.isTrusted('::ffff:10.1.2.3'), 'IPv4-mapped peer, IPv4 subnet');
  assert.ok(proxies.isTrusted('::FFFF:0a01:0203'), 'the same peer spelt in hex');
  assert.not.ok(proxies.isTrusted('::ffff:11.1.2.3'));
  assert.ok(proxies.isTrusted('2001:db8:ffff::1'), 'IPv6 subnet');
  assert.ok(proxies.isTrusted('2001:DB8::1'));
  assert.not.ok(proxies.isTrusted('2001:db9::1'));
  assert.not.ok(proxies.isTrusted('::1'));
  assert.not.ok(proxies.isTrusted('unknown'));
  assert.not.ok(proxies.isTrusted(''));
});

test('an untrusted peer is the client whatever its X-Forwarded-For says', () => {
  assert.is(proxies.clientAddress('203.0.113.9', '1.2.3.4'), '203.0.113.9');
  assert.is(proxies.clientAddress('203.0.113.9', '10.0.0.1, 1.2.3.4'), '203.0.113.9');
  assert.is(TrustedProxies.parse([]).clientAddress('10.0.0.1', '1.2.3.4'), '10.0.0.1', 'nothing trusted');
});

test('from a trusted peer the client is the rightmost untrusted entry', () => {
  assert.is(proxies.clientAddress('10.0.0.1', '203.0.113.9'), '203.0.113.9');
  assert.is(proxies.clientAddress('10.0.0.1', '6.6.6.6, 203.0.113.9, 10.9.9.9, 192.168.1.1'), '203.0.113.9', 'trusted hops skipped, spoofed left part ignored');
  assert.is(proxies.clientAddress('::ffff:10.0.0.1', '2001:db8::7,198.51.100.1,2001:db8::8'), '198.51.100.1');
  assert.is(proxies.clientAddress('2001:db8::1', '2001:DB8:0:0:0:0:0:1, 2001:0DB9::0001'), '2001:db9::1', 'IPv6 comes back canonical');
});

test('all trusted gives the leftmost entry; no entries gives the peer', () => {
  assert.is(proxies.clientAddress('10.0.0.1', '10.0.0.3, 192.168.1.1, 10.0.0.2'), '10.0.0.3');
  assert.is(proxies.clientAddress('10.0.0.1', ''), '10.0.0.1');
  assert.is(proxies.clientAddress('10.0.0.1', ' , ,\t'), '10.0.0.1', 'only empty elements');
  assert.is(proxies.clientAddress('10.0.0.1', ',1.2.3.4,,'), '1.2.3.4', 'empty elements are skipped');
  assert.is(proxies.clientAddress('::ffff:10.0.0.1', ''), '::ffff:10.0.0.1', 'the peer comes back as given');
});

test('an entry that is not an address stops the walk at the trusted hop that reported it', () => {
  assert.is(proxies.clientAddress('10.0.0.1', '1.2.3.4, unknown, 10.0.0.2'), '10.0.0.2');
  assert.is(proxies.clientAddress('10.0.0.1', '1.2.3.4, _hidden'), '10.0.0.1', 'garbage rightmost: the peer reported it');
  assert.is(proxies.clientAddress('10.0.0.1', '1.2.3.4, 10.0.0.3, 300.1.1.1, 10.0.0.2'), '10.0.0.2');
  assert.is(proxies.clientAddress('10.0.0.1', 'unknown, 5.6.7.8, 10.0.0.2'), '5.6.7.8', 'garbage left of the client does not matter');
  for (const garbage of ['1.2.3.4:', '1.2.3.4:http', '[1.2.3.4]', '[2001:db8::9', '[2001:db8::9]x', '[2001:db8::9]:123456', '1.2.3.4 5.6.7.8', '"1.2.3.4"']) {
    assert.is(proxies.clientAddress('10.0.0.1', `9.9.9.9, ${garbage}, 10.0.0.2`), '10.0.0.2', garbage);
  }
});

test('whitespace, ports and brackets are dropped; IPv4-mapped entries come back as IPv4', () => {
  assert.is(proxies.clientAddress('10.0.0.1', '\t1.2.3.4:5678 '), '1.2.3.4');
  assert.is(proxies.clientAddress('10.0.0.1', '[2001:db9::1]:443'), '2001:db9::1');
  assert.is(proxies.clientAddress('10.0.0.1', '[2001:db9::1]'), '2001:db9::1');
  assert.is(proxies.clientAddress('10.0.0.1', '::ffff:1.2.3.4'), '1.2.3.4');
  assert.is(proxies.clientAddress('10.0.0.1', '[::ffff:1.2.3.4]:80'), '1.2.3.4');
  assert.is(proxies.clientAddress('10.0.0.1', '1.2.3.4, 10.0.0.5:80, [::ffff:10.0.0.6]:443'), '1.2.3.4', 'trusted hops with ports');
});

test('at most the last 32 entries are examined, however long the header', () => {
  const trustedHops = Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
  const started = performance.now();
  assert.is(proxies.clientAddress('10.0.0.1', ['1.2.3.4', ...trustedHops].join(', ')), '10.0.3.200', 'the 32nd entry from the right');
  assert.is(proxies.clientAddress('10.0.0.1', [...trustedHops, '1.2.3.4'].join(', ')), '1.2.3.4');
  assert.is(proxies.clientAddress('10.0.0.1', `${'1.2.3.4,'.repeat(200_000)}5.6.7.8`), '5.6.7.8');
  assert.is(proxies.clientAddress('10.0.0.1', `5.6.7.8${','.repeat(200_000)}`), '10.0.0.1', 'empty elements count too');
  assert.is(proxies.clientAddress('10.0.0.1', `5.6.7.8, 1${' '.repeat(200_000)}x, 10.0.0.2`), '10.0.0.2', 'one huge entry');
  assert.is(proxies.clientAddress('10.0.0.1', `5.6.7.8, ${' '.repeat(200_000)}1.2.3.4${' '.repeat(200_000)}`), '1.2.3.4', 'huge whitespace');
  const hops31 = trustedHops.slice(0, 31).join(', ');
  assert.is(proxies.clientAddress('10.0.0.1', `1.2.3.4, ${hops31}`), '1.2.3.4', 'the 32nd entry is still looked at');
  assert.ok(performance.now() - started < 100, 'quick');
});

const v4 = ['10.0.0.1', '10.1.2.3', '1.2.3.4', '5.6.7.8', '192.168.1.1', '172.16.0.9'];
const v6 = ['2001:db8::1', '2001:db8:1::2', '::1', 'fe80::1', '2a00:1450::5'];
const addresses = [...v4, ...v6];
const garbage = ['unknown', '_hidden', '', '1.2.3', 'a, b'];

test('property: the client is the peer or a valid entry, and trusted only when every candidate is', () => {
  fc.assert(
    fc.property(
      fc.subarray(addresses),
      fc.constantFrom(...addresses),
      fc.array(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...addresses) }, { weight: 1, arbitrary: fc.constantFrom(...garbage) }), { maxLength: 40 }),
      (trusted, peer, list) => {
        const trustedProxies = TrustedProxies.parse(trusted);
        const isTrusted = (a: string): boolean => trusted.includes(a);
        const client = trustedProxies.clientAddress(peer, list.join(', '));
        assert.ok(client === peer || (addresses.includes(client) && list.includes(client)), `${client} came from nowhere`);
        if (!isTrusted(peer)) return assert.is(client, peer);
        // The candidates: entries from the right, up to the first that is not an address, at most 32.
        const elements = list.join(',').split(',').map((e) => e.trim()).reverse().slice(0, 32);
        const stop = elements.findIndex((e) => e !== '' && !addresses.includes(e));
        const candidates = (stop === -1 ? elements : elements.slice(0, stop)).filter((e) => e !== '');
        if (candidates.some((c) => !isTrusted(c))) {
          assert.not.ok(isTrusted(client), `${client} is trusted but ${candidates.join(' ')} are not all`);
          const at = candidates.indexOf(client);
          assert.ok(at !== -1 && candidates.slice(0, at).every(isTrusted), 'the rightmost untrusted candidate');
        } else {
          assert.is(client, candidates.at(-1) ?? peer, 'all trusted: the leftmost candidate');
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test.run();
