// A server's host name turned into the address connections go to, looked up once rather than on
// every connection: at start and reload (snapshot.ts), and again by the health checker for a name
// that did not resolve at start.

import dns from 'node:dns/promises';
import net from 'node:net';

/** An IP address for `host`: itself if it is one, else the first IPv4 address DNS gives. Rejects with the lookup's error (code ENOTFOUND, ...). */
export async function resolveHost(host: string): Promise<string> {
  if (net.isIP(host) !== 0) return host;
  const addresses = await dns.lookup(host, { all: true });
  const v4 = addresses.find((a) => a.family === 4);
  /* c8 ignore next -- a name with IPv6 addresses only; this machine's hosts file has none */
  return (v4 ?? addresses[0]!).address;
}
