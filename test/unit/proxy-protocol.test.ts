// The PROXY protocol header parser (src/http/proxy-protocol.ts): every case is fed whole, split in
// two at every offset and byte by byte (each piece behind junk, overwritten once taken), and every
// way must give the same header and bytes taken, or the same error at the same offset. The client's
// bytes follow each header: they are not the header's.

import t, { type Test } from 'tap';
import { ipv6Bytes, ipv6Text } from '../../src/http/ip-bytes.js';
import { PROXY_ERRORS, ProxyHeaderParser, V1_MAX_LENGTH, V2_SIGNATURE, type ProxyErrorCode, type ProxyHeader } from '../../src/http/proxy-protocol.js';
import { expectProxyAllWays } from '../helpers/split.js';

const REQUEST = 'GET / HTTP/1.1\r\n';
const make = () => new ProxyHeaderParser();

const tcp = (version: 1 | 2, source: string, sourcePort: number, destination: string, destinationPort: number): ProxyHeader => ({
  version,
  local: false,
  source,
  sourcePort,
  destination,
  destinationPort,
});
const local = (version: 1 | 2): ProxyHeader => ({ version, local: true, source: '', sourcePort: 0, destination: '', destinationPort: 0 });

/** `header` then the client's request: the parser takes the header's bytes only. */
function expectHeader(t: Test, header: Buffer, expected: ProxyHeader): void {
  expectProxyAllWays(t, Buffer.concat([header, Buffer.from(REQUEST)]), make, { header: expected, consumed: header.length });
}
function expectError(t: Test, input: Buffer, code: ProxyErrorCode, offset: number): void {
  expectProxyAllWays(t, input, make, { error: code, offset });
}

const v1 = (line: string): Buffer => Buffer.from(line, 'latin1');

/** A v2 header: the signature, version/command, family, then `block` with its length. */
function v2(command: number, family: number, block: number[] | Buffer, version = 2): Buffer {
  const bytes = Buffer.from(block);
  const head = Buffer.from([(version << 4) | command, family, bytes.length >> 8, bytes.length & 0xff]);
  return Buffer.concat([V2_SIGNATURE, head, bytes]);
}
const INET_BLOCK = [192, 0, 2, 7, 198, 51, 100, 1, 0xdc, 0x04, 0x01, 0xbb]; // 192.0.2.7:56324 -> 198.51.100.1:443

t.test('v1: TCP4, TCP6 and UNKNOWN', async (t) => {
  expectHeader(t, v1('PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n'), tcp(1, '192.0.2.7', 56324, '198.51.100.1', 443));
  expectHeader(t, v1('PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n'), tcp(1, '0.0.0.0', 0, '255.255.255.255', 65535));
  // IPv6 is written back the one RFC 5952 way: lower case, "::" for the longest run of zeros.
  expectHeader(t, v1('PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 1 8080\r\n'), tcp(1, '2001:db8::1', 1, '::1', 8080));
  expectHeader(t, v1('PROXY TCP6 ::ffff:192.0.2.7 ::ffff:c633:6401 80 81\r\n'), tcp(1, '192.0.2.7', 80, '198.51.100.1', 81));
  // UNKNOWN: "the receiver must ignore anything presented before the CRLF".
  expectHeader(t, v1('PROXY UNKNOWN\r\n'), local(1));
  const longest = v1('PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n');
  t.equal(longest.length, V1_MAX_LENGTH, "the spec's worst case is the longest line");
  expectHeader(t, longest, local(1));
});

t.test('v1: what is not a header, closed at once or at the byte that shows it', async (t) => {
  expectError(t, Buffer.from(REQUEST), 'NOT_PROXY', 0);
  expectError(t, v1('\x16\x03\x01'), 'NOT_PROXY', 0); // a TLS ClientHello
  expectError(t, v1('PROXX TCP4'), 'NOT_PROXY', 4);
  expectError(t, v1('PROXYTCP4'), 'NOT_PROXY', 5);
  expectError(t, v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), 'V1_BAD_CHARACTER', 30);
  expectError(t, v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n'), 'V1_BAD_CHARACTER', 31);
  expectError(t, v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rx\n'), 'V1_BAD_CHARACTER', 31);
  expectError(t, v1('PROXY TCP4 1.2.3.4\x00'), 'V1_BAD_CHARACTER', 18);
  expectError(t, v1('PROXY TCP4 1.2.3.4\xe9'), 'V1_BAD_CHARACTER', 18);
  expectError(t, v1(`PROXY UNKNOWN ${'f'.repeat(V1_MAX_LENGTH)}`), 'V1_TOO_LONG', V1_MAX_LENGTH);
  expectError(t, v1(`PROXY UNKNOWN ${'f'.repeat(V1_MAX_LENGTH - 15)}\r\n`), 'V1_TOO_LONG', V1_MAX_LENGTH);
  const bad = (line: string) => expectError(t, v1(`PROXY ${line}\r\n`), 'V1_BAD_LINE', line.length + 7);
  bad('TCP5 1.2.3.4 5.6.7.8 1 2');
  bad('tcp4 1.2.3.4 5.6.7.8 1 2');
  bad('UNKNOWNX');
  bad('');
  bad('TCP4 1.2.3.4 5.6.7.8 1');
  bad('TCP4 1.2.3.4  5.6.7.8 1 2');
  bad('TCP4 1.2.3.4 5.6.7.8 1 2 ');
  bad('TCP4 256.2.3.4 5.6.7.8 1 2');
  bad('TCP4 01.2.3.4 5.6.7.8 1 2');
  bad('TCP4 1.2.3 5.6.7.8 1 2');
  bad('TCP4 1.2.3.4 5.6.7.x 1 2');
  bad('TCP4 1.2.3.4 5.6.7.8 65536 2');
  bad('TCP4 1.2.3.4 5.6.7.8 1 080');
  bad('TCP4 1.2.3.4 5.6.7.8 -1 2');
  bad('TCP4 1.2.3.4 5.6.7.8 1 123456');
  bad('TCP4 ::1 ::1 1 2');
  bad('TCP6 1.2.3.4 ::1 1 2');
  for (const address of [':::', '1::2::3', '12345::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::8', '::1.2.3', 'g::1', '::1.2.3.4:5']) {
    bad(`TCP6 ${address} ::1 1 2`);
  }
  expectProxyAllWays(t, v1('PROXY TCP4 192.0.2.7 198.51.100.1 56324 44'), make, 'incomplete');
});

t.test('v2: INET, INET6, LOCAL, UNSPEC and UNIX; TLVs skipped', async (t) => {
  expectHeader(t, v2(1, 0x11, INET_BLOCK), tcp(2, '192.0.2.7', 56324, '198.51.100.1', 443));
  expectHeader(t, v2(1, 0x12, INET_BLOCK), tcp(2, '192.0.2.7', 56324, '198.51.100.1', 443)); // UDP over INET: the addresses all the same
  // TLVs (an ALPN and a NOOP of 300 bytes) after the addresses are skipped.
  const tlvs = [0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x01, 0x2c, ...new Array<number>(300).fill(0)];
  expectHeader(t, v2(1, 0x11, [...INET_BLOCK, ...tlvs]), tcp(2, '192.0.2.7', 56324, '198.51.100.1', 443));
  const six = [...ipv6Bytes('2001:db8::7')!, ...ipv6Bytes('2001:db8::1')!, 0x00, 0x50, 0x1f, 0x90];
  expectHeader(t, v2(1, 0x21, six), tcp(2, '2001:db8::7', 80, '2001:db8::1', 8080));
  expectHeader(t, v2(1, 0x21, [...six, ...tlvs]), tcp(2, '2001:db8::7', 80, '2001:db8::1', 8080));
  const mapped = [...ipv6Bytes('::ffff:192.0.2.7')!, ...ipv6Bytes('::1')!, 0, 1, 0, 2];
  expectHeader(t, v2(1, 0x21, mapped), tcp(2, '192.0.2.7', 1, '::1', 2));
  // LOCAL: the proxy's own connection (a health check); the block, family included, is ignored.
  expectHeader(t, v2(0, 0x00, []), local(2));
  expectHeader(t, v2(0, 0x11, INET_BLOCK), local(2));
  expectHeader(t, v2(0, 0x21, [1, 2, 3]), local(2));
  // UNSPEC and UNIX carry no address the balancer could use: the connection's own.
  expectHeader(t, v2(1, 0x00, []), local(2));
  expectHeader(t, v2(1, 0x00, tlvs), local(2));
  expectHeader(t, v2(1, 0x31, new Array<number>(216).fill(0x2f)), local(2));
  expectHeader(t, v2(1, 0x32, [...new Array<number>(216).fill(0x2f), ...tlvs]), local(2));
});

t.test('v2: what is not a header', async (t) => {
  expectError(t, Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0d]), 'NOT_PROXY', 11);
  expectError(t, Buffer.from('\r\n\r\nGET'), 'NOT_PROXY', 4);
  expectError(t, v2(1, 0x11, INET_BLOCK, 1), 'V2_BAD_VERSION', 12);
  expectError(t, v2(1, 0x11, INET_BLOCK, 3), 'V2_BAD_VERSION', 12);
  expectError(t, v2(2, 0x11, INET_BLOCK), 'V2_BAD_COMMAND', 12);
  expectError(t, v2(0xf, 0x11, INET_BLOCK), 'V2_BAD_COMMAND', 12);
  expectError(t, v2(1, 0x41, INET_BLOCK), 'V2_BAD_FAMILY', 13);
  expectError(t, v2(1, 0x13, INET_BLOCK), 'V2_BAD_FAMILY', 13);
  expectError(t, v2(1, 0x11, INET_BLOCK.slice(0, 11)), 'V2_SHORT_ADDRESSES', 15);
  expectError(t, v2(1, 0x21, new Array<number>(35).fill(0)), 'V2_SHORT_ADDRESSES', 15);
  expectError(t, v2(1, 0x31, new Array<number>(215).fill(0)), 'V2_SHORT_ADDRESSES', 15);
  const whole = v2(1, 0x11, INET_BLOCK);
  expectProxyAllWays(t, whole.subarray(0, whole.length - 1), make, 'incomplete');
  expectProxyAllWays(t, V2_SIGNATURE, make, 'incomplete');
});

t.test('every error code has its one-line reason, and each is shown above', async (t) => {
  for (const [code, reason] of Object.entries(PROXY_ERRORS)) t.ok(reason.length > 10, code);
  const parser = new ProxyHeaderParser();
  const err = parser.execute(Buffer.from('x'), 0) as { message: string };
  t.equal(err.message, PROXY_ERRORS.NOT_PROXY);
});

t.test('IPv6 text: RFC 5952, the longest run of zero groups (the first of equal ones) as "::"', async (t) => {
  const cases: [string, string][] = [
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:0:0:2:3:0:0:4', '1::2:3:0:0:4'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['2001:DB8:AA:0:0:0:0:FF', '2001:db8:aa::ff'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::1.2.3.4', '::102:304'],
  ];
  for (const [input, text] of cases) t.equal(ipv6Text(ipv6Bytes(input)!, 0), text, input);
});

