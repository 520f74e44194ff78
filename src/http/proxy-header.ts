// The PROXY protocol header we send (send_proxy: v1 | v2) at the start of a backend connection,
// so that the server sees the client's address as if it had connected itself; and the headers
// of a health check, which is our own connection (v1 UNKNOWN, v2 LOCAL). The format is
// proxy-protocol.ts's, read there.

import { ipv4Bytes, ipv6Bytes } from './ip-bytes.js';
import { V2_SIGNATURE } from './proxy-protocol.js';

/** What a health check opens with: "PROXY UNKNOWN" (v1) or the LOCAL command (v2): "not a client's connection". */
export const LOCAL_HEADER = {
  1: Buffer.from('PROXY UNKNOWN\r\n', 'latin1'),
  // Version 2, command LOCAL, family UNSPEC, no address block.
  2: Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]),
} as const;

/**
 * The header that says a connection comes from `source`:`sourcePort` to `destination`:
 * `destinationPort` (IP addresses as text). Two addresses of different families (an IPv4
 * client on an IPv6 listener) are both written as IPv6, IPv4-mapped; an address that is not IP
 * text gives the UNKNOWN / LOCAL header.
 */
export function proxyHeader(version: 1 | 2, source: string, sourcePort: number, destination: string, destinationPort: number): Buffer {
  let from = ipv4Bytes(source);
  let to = ipv4Bytes(destination);
  if (from === null || to === null) {
    from = ipv6Of(source);
    to = ipv6Of(destination);
  }
  if (from === null || to === null) return LOCAL_HEADER[version];
  const six = from.length === 16;
  if (version === 1) {
    const text = (address: string): string => (six && !address.includes(':') ? `::ffff:${address}` : address);
    return Buffer.from(`PROXY ${six ? 'TCP6' : 'TCP4'} ${text(source)} ${text(destination)} ${sourcePort} ${destinationPort}\r\n`, 'latin1');
  }
  const block = Buffer.alloc(six ? 36 : 12);
  block.set(from, 0);
  block.set(to, from.length);
  block.writeUInt16BE(sourcePort, 2 * from.length);
  block.writeUInt16BE(destinationPort, 2 * from.length + 2);
  // Version 2, command PROXY; family INET or INET6 over STREAM; the block's length.
  return Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, six ? 0x21 : 0x11, 0, block.length]), block]);
}

/** An IPv6 address's 16 bytes; an IPv4 one's as IPv4-mapped IPv6; null for anything else. */
function ipv6Of(address: string): Uint8Array | null {
  const v4 = ipv4Bytes(address);
  return v4 === null ? ipv6Bytes(address) : ipv6Bytes(`::ffff:${address}`);
}
