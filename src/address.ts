// How a bound address is written in log lines and URLs.

import type { AddressInfo } from 'node:net';

/** "127.0.0.1:8080", or "[::1]:8080" for IPv6. */
export function formatAddress({ address, port, family }: AddressInfo): string {
  return family === 'IPv6' ? `[${address}]:${port}` : `${address}:${port}`;
}
