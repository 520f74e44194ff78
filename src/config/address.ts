// Addresses: how one is written with its port (the one place an IPv6 address gets its brackets),
// and the IP/CIDR matching that decides, per connection, whether a client is a trusted proxy.

import { isIP, type AddressInfo } from 'node:net';
import type { ListenAddress } from './schema.js';

/**
 * "127.0.0.1:8080", "localhost:8080", or "[::1]:8080": an IPv6 address (the only kind of host
 * with a ":") in brackets, as URLs, Host fields and the logs write it (RFC 3986 section 3.2.2).
 */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A bound socket's address as the logs and URLs write it: "127.0.0.1:8080", "[::1]:8080". */
export function formatAddress({ address, port }: AddressInfo): string {
  return hostPort(address, port);
}

/** A listen address as --check and the logs write it: "127.0.0.1:8080", "[::1]:8080", "*:8080 (all interfaces)". */
export function formatListen({ host, port }: ListenAddress): string {
  if (host === '') return `*:${port} (all interfaces)`;
  return hostPort(host, port);
}

// For matching, every address is a 128-bit number; an IPv4 address a.b.c.d is the IPv4-mapped
// IPv6 address ::ffff:a.b.c.d (RFC 4291 section 2.5.5.2), so that a client reaching a dual-stack
// listener as "::ffff:10.0.0.1" matches "10.0.0.0/8" and "10.0.0.1" alike.

const ALL_ONES = (1n << 128n) - 1n;
const V4_MAPPED = 0xffffn << 32n;

/** An address as a 128-bit number, IPv4 mapped; null if it is not an IP address. A zone ("%eth0") is ignored. */
function parseIp(text: string): bigint | null {
  const zone = text.indexOf('%');
  const s = zone === -1 ? text : text.slice(0, zone);
  const family = isIP(s);
  if (family === 4) return V4_MAPPED | ipv4Bits(s);
  if (family === 6) return ipv6Bits(s);
  return null;
}

function ipv4Bits(s: string): bigint {
  return s.split('.').reduce((bits, octet) => (bits << 8n) | BigInt(octet), 0n);
}

/** The bits of a valid IPv6 address: "::" stands for the missing zero groups; the last 32 bits may be a.b.c.d. */
function ipv6Bits(s: string): bigint {
  const [head, tail] = s.split('::') as [string, string | undefined];
  const groups = (part: string | undefined): bigint[] => {
    if (!part) return [];
    return part.split(':').flatMap((g) => {
      if (!g.includes('.')) return [BigInt(`0x${g}`)];
      const v4 = ipv4Bits(g);
      return [v4 >> 16n, v4 & 0xffffn];
    });
  };
  const front = groups(head);
  const back = groups(tail);
  const all = [...front, ...new Array<bigint>(8 - front.length - back.length).fill(0n), ...back];
  return all.reduce((bits, g) => (bits << 16n) | g, 0n);
}

/** A network as bits and mask: an address alone is a /32 (IPv4) or /128 (IPv6). null if malformed. */
export function parseCidr(text: string): { bits: bigint; mask: bigint } | null {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const bits = parseIp(address);
  if (bits === null) return null;
  const width = isIP(address) === 4 ? 32 : 128;
  let prefix = width;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > width) return null;
    prefix = Number(p);
  }
  const hostBits = BigInt(width - prefix);
  const mask = ALL_ONES ^ ((1n << hostBits) - 1n);
  return { bits: bits & mask, mask };
}

/** Parsed `trusted` lists, by identity: the config's list is parsed once, not once per request. */
const parsedLists = new WeakMap<readonly string[], { bits: bigint; mask: bigint }[]>();

/**
 * Whether `address` (as a socket reports it: "10.0.0.1", "::1", "::ffff:10.0.0.1") is one of the
 * `trusted` addresses or inside one of its CIDRs. IPv4 and IPv4-mapped IPv6 match each other.
 * Malformed entries never match.
 */
export function isTrustedProxy(address: string, trusted: string[]): boolean {
  if (trusted.length === 0) return false;
  let networks = parsedLists.get(trusted);
  if (networks === undefined) {
    networks = trusted.flatMap((entry) => parseCidr(entry) ?? []);
    parsedLists.set(trusted, networks);
  }
  const bits = parseIp(address);
  if (bits === null) return false;
  return networks.some((n) => (bits & n.mask) === n.bits);
}
