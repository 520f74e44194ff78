// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that an L4 balancer
// in front of us (AWS NLB, HAProxy in TCP mode, keepalived/IPVS with a proxy) sends before the
// client's own bytes, to say whose connection this is. An incremental parser: fed bytes split
// anywhere, it returns "incomplete", the header, or an error. Pure: no sockets, no timers.
//
// The header, in wire order (the states below follow it):
//   SIGNATURE      v1: "PROXY " (text); v2: \r\n\r\n\0\r\nQUIT\n (12 bytes). The first byte decides.
//   V1_LINE        v1: "TCP4|TCP6 src dst sport dport" or "UNKNOWN ...", then CRLF; 107 bytes at most
//   V2_VERSION     v2 byte 13: version (high 4 bits, 2) and command (low 4 bits: LOCAL 0, PROXY 1)
//   V2_FAMILY      v2 byte 14: address family (high: UNSPEC, INET, INET6, UNIX), transport (low: UNSPEC, STREAM, DGRAM)
//   V2_LENGTH      v2 bytes 15-16: the length of what follows, big-endian
//   V2_ADDRESSES   v2: the addresses (12 bytes for INET, 36 for INET6, 216 for UNIX), then TLVs to
//                  the end of the length: skipped, we use none of them

import { decimal, ipv4Bytes, ipv4Text, ipv6Bytes, ipv6Text } from './ip-bytes.js';

/** The v2 signature (section 2.2): chosen to be invalid as the start of any text protocol. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** v1 starts with these 6 bytes (section 2.1). */
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** "the maximum line lengths the receiver must support including the CRLF are [...] 107 bytes" (section 2.1). */
export const V1_MAX_LENGTH = 107;

/** What a header says. */
export interface ProxyHeader {
  version: 1 | 2;
  /**
   * True when the header carries no client address to use: v2 LOCAL ("the connection was
   * established on purpose by the proxy", a health check), v1 UNKNOWN, or v2 families UNSPEC and
   * UNIX. The receiver then uses the connection's own addresses (section 2.1 and 2.2).
   */
  local: boolean;
  /** The client's address ("192.0.2.7", "2001:db8::1") and port; "" and 0 when `local`. */
  source: string;
  sourcePort: number;
  /** The address and port the client connected to (the proxy's side); "" and 0 when `local`. */
  destination: string;
  destinationPort: number;
}

/** Why bytes are not a PROXY header, with a stable code. Nothing is answered: the connection is closed. */
export const PROXY_ERRORS = {
  NOT_PROXY: 'the first bytes are neither "PROXY " (v1) nor the v2 signature',
  V1_TOO_LONG: `no CRLF within ${V1_MAX_LENGTH} bytes`,
  V1_BAD_CHARACTER: 'a byte that is not printable ASCII in the v1 line',
  V1_BAD_LINE: 'the v1 line is not "PROXY TCP4|TCP6 src dst sport dport" or "PROXY UNKNOWN"',
  V2_BAD_VERSION: 'the v2 version is not 2',
  V2_BAD_COMMAND: 'the v2 command is neither LOCAL nor PROXY',
  V2_BAD_FAMILY: 'the v2 address family or transport is not one the spec defines',
  V2_SHORT_ADDRESSES: "the v2 length is too short for the family's addresses",
} as const;
export type ProxyErrorCode = keyof typeof PROXY_ERRORS;

export class ProxyProtocolError {
  readonly message: string;
  /**
   * @param offset where in the header the problem was found (0: its first byte)
   */
  constructor(
    readonly code: ProxyErrorCode,
    readonly offset: number,
  ) {
    this.message = PROXY_ERRORS[code];
  }
}

const SIGNATURE = 0;
const V1_LINE = 1;
const V2_VERSION = 2;
const V2_FAMILY = 3;
const V2_LENGTH = 4;
const V2_ADDRESSES = 5;

/** v2 family byte's high 4 bits (section 2.2). */
const AF_UNSPEC = 0;
const AF_INET = 1;
// AF_INET6 = 2: the one family left once the others are handled (v2Header).
const AF_UNIX = 3;
/** The address block's length for each family: two addresses, two ports (UNIX: two 108-byte paths). */
const ADDRESS_BYTES = [0, 12, 36, 216];
/** Of the address block, what we keep: INET6 is the longest we read (UNIX paths are skipped). */
const KEPT_BYTES = 36;

export class ProxyHeaderParser {
  /** After execute() returned a header: how many bytes of its `buf[at..]` the header took. */
  consumed = 0;
  private state = SIGNATURE;
  /** The signature being matched: the first byte chose it. */
  private expected = V1_PREFIX;
  /** Bytes of the header seen so far, over every execute(). */
  private seen = 0;
  /** v1: the line after "PROXY ", up to its CRLF. */
  private readonly line = new Uint8Array(V1_MAX_LENGTH);
  private lineLength = 0;
  /** v2: the command (LOCAL 0, PROXY 1), family, length, and the address bytes read so far. */
  private command = 0;
  private family = 0;
  private length = 0;
  private readonly addresses = new Uint8Array(KEPT_BYTES);
  private addressesSeen = 0;

  /**
   * Reads buf[at..]. Returns null when every byte was read and the header is not complete yet
   * (feed the next bytes); the header, with `consumed` set to the bytes of buf[at..] it took
   * (what follows is the client's); or an error, after which the parser must not be fed again.
   */
  execute(buf: Uint8Array, at: number): ProxyHeader | ProxyProtocolError | null {
    const start = at;
    const end = buf.length;
    while (at < end) {
      const byte = buf[at]!;
      at++;
      const offset = this.seen++;
      switch (this.state) {
        case SIGNATURE: {
          // The first byte says which version: "P" or CR; anything else cannot begin a header.
          if (offset === 0) this.expected = byte === 0x50 ? V1_PREFIX : V2_SIGNATURE;
          const expected = this.expected;
          if (byte !== expected[offset]) return new ProxyProtocolError('NOT_PROXY', offset);
          if (offset === expected.length - 1) this.state = expected === V1_PREFIX ? V1_LINE : V2_VERSION;
          break;
        }
        case V1_LINE: {
          const result = this.v1Byte(byte, offset);
          if (result !== null) return this.done(result, start, at);
          break;
        }
        case V2_VERSION:
          // Section 2.2: "the highest four bits contains the version [...] \x2"; command \x0 LOCAL, \x1 PROXY.
          if (byte >> 4 !== 2) return new ProxyProtocolError('V2_BAD_VERSION', offset);
          if ((byte & 0x0f) > 1) return new ProxyProtocolError('V2_BAD_COMMAND', offset);
          this.command = byte & 0x0f;
          this.state = V2_FAMILY;
          break;
        case V2_FAMILY:
          if (byte >> 4 > AF_UNIX || (byte & 0x0f) > 2) return new ProxyProtocolError('V2_BAD_FAMILY', offset);
          this.family = byte >> 4;
          this.state = V2_LENGTH;
          break;
        case V2_LENGTH:
          this.length = (this.length << 8) | byte;
          if (offset === 15) {
            // LOCAL: "the receiver must [...] discard the protocol block including the family".
            const needed = this.command === 1 ? ADDRESS_BYTES[this.family]! : 0;
            if (this.length < needed) return new ProxyProtocolError('V2_SHORT_ADDRESSES', offset);
            if (this.length === 0) return this.done(this.v2Header(), start, at);
            this.state = V2_ADDRESSES;
          }
          break;
        case V2_ADDRESSES: {
          if (this.addressesSeen < KEPT_BYTES) this.addresses[this.addressesSeen] = byte;
          this.addressesSeen++;
          if (this.addressesSeen >= KEPT_BYTES) {
            // Past what we read: the rest of the block (UNIX paths, TLVs) is skipped in one step, as far as these bytes go.
            const skip = Math.min(this.length - this.addressesSeen, end - at);
            at += skip;
            this.seen += skip;
            this.addressesSeen += skip;
          }
          if (this.addressesSeen === this.length) return this.done(this.v2Header(), start, at);
          break;
        }
      }
    }
    return null;
  }

  /** One byte of the v1 line after "PROXY "; the header once the line ends, an error, or null. */
  private v1Byte(byte: number, offset: number): ProxyHeader | ProxyProtocolError | null {
    if (offset >= V1_MAX_LENGTH) return new ProxyProtocolError('V1_TOO_LONG', offset);
    const previous = this.lineLength === 0 ? 0 : this.line[this.lineLength - 1]!;
    if (byte === 0x0a) {
      // The line ends in CRLF; a bare LF is not a v1 header.
      if (previous !== 0x0d) return new ProxyProtocolError('V1_BAD_CHARACTER', offset);
      return this.v1Header(Buffer.from(this.line.subarray(0, this.lineLength - 1)).toString('latin1'), offset);
    }
    // Printable ASCII and the line's final CR; anything else (another CR, a NUL, bytes over 0x7e) is not a v1 header.
    if (previous === 0x0d || (byte !== 0x0d && (byte < 0x20 || byte > 0x7e))) return new ProxyProtocolError('V1_BAD_CHARACTER', offset);
    this.line[this.lineLength++] = byte;
    return null;
  }

  /**
   * The v1 line after "PROXY " without its CRLF. Section 2.1: "UNKNOWN" followed by anything (the
   * receiver ignores it), or the protocol, source and destination addresses and ports, each after
   * exactly one space; ports are decimal 0..65535.
   */
  private v1Header(line: string, offset: number): ProxyHeader | ProxyProtocolError {
    if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) return localHeader(1);
    const parts = line.split(' ');
    const bad = new ProxyProtocolError('V1_BAD_LINE', offset);
    if (parts.length !== 5) return bad;
    const [protocol, source, destination, sourcePort, destinationPort] = parts as [string, string, string, string, string];
    const bytes = protocol === 'TCP4' ? ipv4Bytes : protocol === 'TCP6' ? ipv6Bytes : null;
    if (bytes === null) return bad;
    const from = bytes(source);
    const to = bytes(destination);
    const fromPort = decimal(sourcePort, 5);
    const toPort = decimal(destinationPort, 5);
    if (from === null || to === null || fromPort < 0 || fromPort > 65535 || toPort < 0 || toPort > 65535) return bad;
    const text = protocol === 'TCP4' ? ipv4Text : ipv6Text;
    return { version: 1, local: false, source: text(from, 0), sourcePort: fromPort, destination: text(to, 0), destinationPort: toPort };
  }

  /** The v2 header whose address block has been read (section 2.2). */
  private v2Header(): ProxyHeader {
    const a = this.addresses;
    if (this.command === 0 || this.family === AF_UNSPEC || this.family === AF_UNIX) return localHeader(2);
    const port = (at: number): number => (a[at]! << 8) | a[at + 1]!;
    if (this.family === AF_INET) {
      return { version: 2, local: false, source: ipv4Text(a, 0), sourcePort: port(8), destination: ipv4Text(a, 4), destinationPort: port(10) };
    }
    return { version: 2, local: false, source: ipv6Text(a, 0), sourcePort: port(32), destination: ipv6Text(a, 16), destinationPort: port(34) };
  }

  private done(result: ProxyHeader | ProxyProtocolError, start: number, at: number): ProxyHeader | ProxyProtocolError {
    this.consumed = at - start;
    return result;
  }
}

function localHeader(version: 1 | 2): ProxyHeader {
  return { version, local: true, source: '', sourcePort: 0, destination: '', destinationPort: 0 };
}
