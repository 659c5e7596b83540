import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

/**
 * The SSRF guard for webhook URLs: only http(s), and only to public unicast addresses, unless an
 * address is allow-listed (WEBHOOK_ALLOW_PRIVATE, for local development and tests). Loopback,
 * private, link-local (cloud metadata), CGNAT, unique-local, multicast and reserved ranges are
 * refused. Checked at submit and again at delivery, where the request goes to the checked
 * address (no second DNS answer can swap it: DNS rebinding).
 */

export type AllowList = [ipaddr.IPv4 | ipaddr.IPv6, number][];

/** Parses `127.0.0.0/8,::1/128,10.1.2.3` (a bare address means just that address). */
export function parseAllowList(value: string): AllowList {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      if (entry.includes('/')) return ipaddr.parseCIDR(entry);
      const address = ipaddr.parse(entry);
      return [address, address.kind() === 'ipv4' ? 32 : 128] as [ipaddr.IPv4 | ipaddr.IPv6, number];
    });
}

export class UnsafeUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeUrlError';
  }
}

function isAllowed(address: ipaddr.IPv4 | ipaddr.IPv6, allow: AllowList): boolean {
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as the IPv4 address it carries.
  const plain = address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address;
  if (allow.some(([range, bits]) => range.kind() === plain.kind() && plain.match(range, bits))) return true;
  return plain.range() === 'unicast';
}

export interface CheckedTarget {
  url: URL;
  address: string;
  family: 4 | 6;
}

/** Resolves the URL's host and returns an address it may be sent to, or throws UnsafeUrlError. */
export async function checkWebhookUrl(raw: string, allow: AllowList): Promise<CheckedTarget> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeUrlError('is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UnsafeUrlError('must use http or https');
  if (url.username || url.password) throw new UnsafeUrlError('must not carry credentials');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: { address: string; family: number }[];
  if (ipaddr.isValid(host)) {
    addresses = [{ address: host, family: ipaddr.parse(host).kind() === 'ipv4' ? 4 : 6 }];
  } else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch {
      throw new UnsafeUrlError(`host "${host}" does not resolve`);
    }
  }
  // Every address the name resolves to must be allowed: otherwise a later lookup could pick a bad one.
  const refused = addresses.find(({ address }) => !isAllowed(ipaddr.parse(address), allow));
  if (refused) throw new UnsafeUrlError(`resolves to ${refused.address}, a private, loopback, link-local or reserved address`);
  const first = addresses[0];
  if (!first) throw new UnsafeUrlError(`host "${host}" has no address`);
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}
