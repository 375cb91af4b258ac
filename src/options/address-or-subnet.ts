/**
 * A trusted proxy as the config names it: an IPv4/IPv6 address or a CIDR subnet ("10.0.0.0/8",
 * "2001:db8::/32", "127.0.0.1"). The config and the flags are checked with this, and
 * frontend/trusted-proxies.ts builds its list from what it returns.
 */
import { isIP } from 'node:net';

export interface AddressOrSubnet {
  address: string;
  type: 'ipv4' | 'ipv6';
  /** The subnet's prefix length; null for a single address. */
  prefix: number | null;
}

/** The address or subnet `entry` names, or a sentence saying why it is not one. */
export function parseAddressOrSubnet(entry: string): AddressOrSubnet | string {
  const text = entry.trim();
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return `"${entry}" is not an IP address or CIDR subnet`;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (slash === -1) return { address, type, prefix: null };
  const prefix = text.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return `"${entry}": prefix length "${prefix}" is not 0-${max} for IPv${family}`;
  return { address, type, prefix: Number(prefix) };
}
