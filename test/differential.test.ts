// Differential check against Node's own HTTP parser (llhttp, strict: node:http's defaults). Every
// raw request of the corpus below is sent twice over loopback: straight to a plain node:http
// server ("node"), and through the balancer to the same kind of server ("backend"). Both servers
// record what each request looked like to them: method, target, version, fields, trailers and
// the body's sha256. Then:
//
//   - what node rejects (a 4xx/5xx, or a close without an answer), we reject too: the backend
//     never sees a request that node did not see, and never has to reject one itself;
//   - what both accept reaches the backend as node saw it: same method, target, version, body
//     and end-to-end fields (hop-by-hop fields, and the X-Forwarded-* and X-Request-ID we add, set aside; an
//     absolute-form target arrives in origin form with Host set to its authority);
//   - where we are stricter (we reject what node takes), that is counted and listed.
//
// Each client connection comes from its own loopback address (127.0.x.y), so concurrent cases are
// told apart by the address node sees and by the X-Forwarded-For the balancer adds.

import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { Harness, HOST, q, within } from './helpers/net.js';

// ---------------------------------------------------------------------------------------------
// The corpus.

interface Case {
  name: string;
  raw: string;
  /** The status we must answer with, when the rules say (http-rules.md, interface.md). */
  ours?: number;
  /** Why we reject what node takes, where we do. */
  stricter?: string;
}

/** A head from its lines (CRLF after each, and the empty line). */
const head = (...lines: string[]) => lines.map((l) => l + '\r\n').join('') + '\r\n';
/** A chunked body from its pieces. */
const chunked = (...pieces: string[]) => pieces.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join('') + '0\r\n\r\n';
const BINARY = (() => {
  let s = '';
  for (let b = 0; b < 256; b++) s += String.fromCharCode(b);
  return s;
})();
const many = (n: number, make: (k: number) => string) => Array.from({ length: n }, (_, k) => make(k));

const CASES: Case[] = [
  // --- valid requests, the everyday ones ---
  { name: 'GET /', raw: head('GET / HTTP/1.1', 'Host: a') },
  { name: 'GET with a query', raw: head('GET /apple?x=1&y=%20z HTTP/1.1', 'Host: www.mango.com', 'Accept: */*') },
  { name: 'HEAD', raw: head('HEAD /h HTTP/1.1', 'Host: a') },
  { name: 'OPTIONS *', raw: head('OPTIONS * HTTP/1.1', 'Host: a') },
  { name: 'OPTIONS /path', raw: head('OPTIONS /p HTTP/1.1', 'Host: a') },
  { name: 'DELETE', raw: head('DELETE /d HTTP/1.1', 'Host: a') },
  { name: 'POST with Content-Length', raw: head('POST /p HTTP/1.1', 'Host: a', 'Content-Length: 5') + 'hello' },
  { name: 'PUT with every byte value', raw: head('PUT /bin HTTP/1.1', 'Host: a', 'Content-Length: 256') + BINARY },
  { name: 'PATCH with Content-Length 0', raw: head('PATCH /p HTTP/1.1', 'Host: a', 'Content-Length: 0') },
  { name: 'GET with a body', raw: head('GET /g HTTP/1.1', 'Host: a', 'Content-Length: 3') + 'abc' },
  { name: 'Content-Length with leading zeros', raw: head('POST /p HTTP/1.1', 'Host: a', 'Content-Length: 005') + 'hello' },
  { name: 'Content-Length with spaces around it', raw: head('POST /p HTTP/1.1', 'Host: a', 'Content-Length:   5   ') + 'hello' },
  { name: 'Content-Length with no space after the colon', raw: head('POST /p HTTP/1.1', 'Host: a', 'Content-Length:5') + 'hello' },
  { name: 'chunked, one chunk', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + chunked('hello') },
  { name: 'chunked, several chunks', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + chunked('a', 'bc', 'def', 'x'.repeat(300)) },
  { name: 'chunked, upper-case hex and leading zeros', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '000A\r\n0123456789\r\n0000\r\n\r\n' },
  { name: 'chunked, data with CR and LF inside', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + chunked('a\r\nb\r\n\r\n0\r\n\r\n') },
  { name: 'chunked, binary data', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + chunked(BINARY) },
  { name: 'chunked, only the last chunk', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '0\r\n\r\n' },
  { name: 'chunked, extensions', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '5;name=value\r\nhello\r\n3;a;b=c\r\nabc\r\n0;last\r\n\r\n' },
  { name: 'chunked, quoted extension', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '5;q="a b;c"\r\nhello\r\n0\r\n\r\n' },
  { name: 'chunked, quoted extension with an escaped quote', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '5;name="quoted \\" value"\r\nhello\r\n0\r\n\r\n' },
  { name: 'chunked, trailers', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '5\r\nhello\r\n0\r\nX-Trailer: 1\r\nX-Sum: abc\r\n\r\n' },
  { name: 'chunked, last chunk 000', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1\r\nx\r\n000\r\n\r\n' },
  { name: 'Transfer-Encoding: gzip, chunked', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: gzip, chunked') + chunked('zz') },
  { name: 'Transfer-Encoding over two lines (gzip, then chunked)', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: gzip', 'Transfer-Encoding: chunked') + chunked('zz') },
  { name: 'Transfer-Encoding: Chunked (case)', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: Chunked') + chunked('hi') },
  { name: 'transfer-encoding: chunked (lower-case name)', raw: head('POST /c HTTP/1.1', 'Host: a', 'transfer-encoding: chunked') + chunked('hi') },
  { name: 'Transfer-Encoding:\\tchunked (HTAB before the value)', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding:\tchunked') + chunked('hi') },
  { name: 'Transfer-Encoding: chunked with a space after', raw: head('POST /c HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked ') + chunked('hi') },
  { name: 'HTTP/1.0 without Host', raw: head('GET /old HTTP/1.0') },
  { name: 'HTTP/1.0 keep-alive', raw: head('GET /ka HTTP/1.0', 'Connection: keep-alive', 'Host: a') },
  { name: 'HTTP/1.0 POST', raw: head('POST /p HTTP/1.0', 'Content-Length: 2') + 'ok' },
  { name: 'absolute-form', raw: head('GET http://example.com/p HTTP/1.1', 'Host: example.com') },
  { name: 'absolute-form with port and query', raw: head('GET http://example.com:8080/p?q=1 HTTP/1.1', 'Host: example.com:8080') },
  { name: 'absolute-form https', raw: head('GET https://example.com/s HTTP/1.1', 'Host: example.com') },
  { name: 'absolute-form, Host differs', raw: head('GET http://target.example/x HTTP/1.1', 'Host: other.example') },
  { name: 'absolute-form without a path', raw: head('GET http://example.com HTTP/1.1', 'Host: example.com') },
  { name: 'absolute-form, upper-case scheme', raw: head('GET HTTP://Example.COM/x HTTP/1.1', 'Host: example.com') },
  { name: 'absolute-form, IPv6 literal', raw: head('GET http://[::1]:8080/x HTTP/1.1', 'Host: [::1]:8080') },
  { name: 'one empty line before the request line', raw: '\r\n' + head('GET / HTTP/1.1', 'Host: a') },
  { name: 'two empty lines before the request line', raw: '\r\n\r\n' + head('GET / HTTP/1.1', 'Host: a') },
  { name: 'pipelined GET, GET', raw: head('GET /1 HTTP/1.1', 'Host: a') + head('GET /2 HTTP/1.1', 'Host: a') },
  { name: 'pipelined POST, GET', raw: head('POST /1 HTTP/1.1', 'Host: a', 'Content-Length: 4') + 'body' + head('GET /2 HTTP/1.1', 'Host: a') },
  { name: 'pipelined chunked, GET', raw: head('POST /1 HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + chunked('xy') + head('GET /2 HTTP/1.1', 'Host: a') },
  { name: 'pipelined three', raw: head('GET /1 HTTP/1.1', 'Host: a') + head('HEAD /2 HTTP/1.1', 'Host: a') + head('DELETE /3 HTTP/1.1', 'Host: a') },
  { name: 'target of 7900 bytes', raw: head(`GET /${'t'.repeat(7900)} HTTP/1.1`, 'Host: a') },
  { name: '90 fields', raw: head('GET / HTTP/1.1', 'Host: a', ...many(89, (k) => `X-F${k}: ${k}`)) },
  { name: 'a value of 8000 bytes', raw: head('GET / HTTP/1.1', 'Host: a', `X-Long: ${'v'.repeat(8000)}`) },
  { name: 'obs-text in a value', raw: head('GET / HTTP/1.1', 'Host: a', 'X-Obs: caf\xe9 \x80\xff') },
  { name: 'HTAB inside a value', raw: head('GET / HTTP/1.1', 'Host: a', 'X-Tab: a\tb') },
  { name: 'HTAB around a value', raw: head('GET / HTTP/1.1', 'Host: a', 'X-Tab:\t v \t') },
  { name: 'empty value', raw: head('GET / HTTP/1.1', 'Host: a', 'X-Empty:') },
  { name: 'empty value with a space', raw: head('GET / HTTP/1.1', 'Host: a', 'X-Empty: ') },
  { name: 'trailing spaces in a value', raw: head('GET / HTTP/1.1', 'Host: a', 'X-Trail: v   ') },
  { name: 'Expect: 100-continue with a body', raw: head('POST /e HTTP/1.1', 'Host: a', 'Expect: 100-continue', 'Content-Length: 3') + 'abc' },
  { name: 'Connection: close', raw: head('GET / HTTP/1.1', 'Host: a', 'Connection: close') },
  { name: 'Connection: CLOSE (case)', raw: head('GET / HTTP/1.1', 'Host: a', 'Connection: CLOSE') },
  { name: 'Connection lists a field', raw: head('GET / HTTP/1.1', 'Host: a', 'Connection: keep-alive, X-Hop', 'X-Hop: 1', 'X-Kept: 2') },
  { name: 'Keep-Alive, Proxy-Connection, TE', raw: head('GET / HTTP/1.1', 'Host: a', 'Keep-Alive: timeout=5', 'Proxy-Connection: keep-alive', 'TE: trailers') },
  { name: 'Upgrade asked', raw: head('GET /ws HTTP/1.1', 'Host: a', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13') },
  { name: 'X-Forwarded-* from an untrusted client', raw: head('GET / HTTP/1.1', 'Host: a', 'X-Forwarded-For: 6.6.6.6', 'X-Forwarded-Host: evil', 'X-Forwarded-Proto: https') },
  { name: 'PURGE', raw: head('PURGE /cache HTTP/1.1', 'Host: a') },
  { name: 'PROPFIND', raw: head('PROPFIND /dav HTTP/1.1', 'Host: a', 'Depth: 1', 'Content-Length: 0') },
  { name: 'MKCOL', raw: head('MKCOL /dav/new HTTP/1.1', 'Host: a') },
  { name: 'M-SEARCH *', raw: head('M-SEARCH * HTTP/1.1', 'Host: 239.255.255.250:1900', 'MAN: "ssdp:discover"') },
  { name: 'REPORT', raw: head('REPORT /r HTTP/1.1', 'Host: a') },
  { name: 'LOCK', raw: head('LOCK /l HTTP/1.1', 'Host: a') },
  { name: 'QUERY with a body', raw: head('QUERY /q HTTP/1.1', 'Host: a', 'Content-Length: 4') + 'x=1&' },
  { name: 'TRACE', raw: head('TRACE /t HTTP/1.1', 'Host: a') },
  { name: 'field names in odd case', raw: head('GET / HTTP/1.1', 'hOsT: a', 'x-lower: 1', 'X-UPPER: 2') },
  { name: 'a field repeated', raw: head('GET / HTTP/1.1', 'Host: a', 'X-Dup: 1', 'X-Dup: 2') },
  { name: 'Cookie of 4 KB', raw: head('GET / HTTP/1.1', 'Host: a', 'Cookie: ' + 'k=v; '.repeat(800) + 'end=1') },
  { name: 'Host with a port', raw: head('GET / HTTP/1.1', 'Host: a.example:8080') },
  { name: 'Host as an IPv6 literal', raw: head('GET / HTTP/1.1', 'Host: [::1]:8080') },
  { name: 'Host empty', raw: head('GET / HTTP/1.1', 'Host:') },
  { name: 'percent-encoding and dots in the path', raw: head('GET /a/../b/%2e%2e/%00?x=%zz HTTP/1.1', 'Host: a') },
  { name: 'target "/?"', raw: head('GET /? HTTP/1.1', 'Host: a') },
  { name: 'target with every allowed punctuation', raw: head("GET /!$&'()*+,;=:@-._~[]{}|\\^`\"<> HTTP/1.1", 'Host: a') },
  { name: 'tchar punctuation in a field name', raw: head('GET / HTTP/1.1', 'Host: a', "X-!#$%&'*+-.^_`|~: 1") },
  { name: 'absolute-form on HTTP/1.0 without Host', raw: head('GET http://a.example/x HTTP/1.0') },
  { name: 'absolute-form with only a query', raw: head('GET http://a.example?x=1 HTTP/1.1', 'Host: a.example') },
  { name: 'Connection: close, X-Hop', raw: head('GET / HTTP/1.1', 'Host: a', 'X-Hop: 1', 'Connection: close, x-hop', 'X-Kept: 2') },
  { name: 'POST of 200 KB', raw: head('POST /big HTTP/1.1', 'Host: a', 'Content-Length: 204800') + 'b'.repeat(204_800) },
  { name: 'chunked, one chunk of 100 KB', raw: head('POST /big HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + chunked('c'.repeat(102_400)) },
  { name: 'ten pipelined requests', raw: many(10, (k) => head(`GET /${k} HTTP/1.1`, 'Host: a')).join('') },
  { name: 'pipelined with bodies of both framings', raw: head('PUT /1 HTTP/1.1', 'Host: a', 'Content-Length: 3') + 'one' + head('PUT /2 HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + chunked('two') + head('GET /3 HTTP/1.1', 'Host: a') },
  { name: 'Host with a trailing dot', raw: head('GET / HTTP/1.1', 'Host: a.example.') },
  { name: 'obs-text at the start of a value', raw: head('GET / HTTP/1.1', 'Host: a', 'X-Obs: \xffv') },
  { name: '100 empty lines before the request line', raw: '\r\n'.repeat(100) + head('GET / HTTP/1.1', 'Host: a') },

  // --- request line (RFC 9112 3) ---
  { name: 'HTTP/0.9 (no version)', raw: 'GET /\r\n\r\n', ours: 400, stricter: 'llhttp reads a request line without a version as HTTP/0.9 and node answers it; http-rules.md: no HTTP/0.9 (400)' },
  { name: 'two spaces after the method', raw: head('GET  / HTTP/1.1', 'Host: a'), ours: 400, stricter: 'RFC 9112 3: exactly one SP between the parts; llhttp skips extra spaces' },
  { name: 'two spaces before the version', raw: head('GET /  HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'HTAB between method and target', raw: head('GET\t/ HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'HTAB between target and version', raw: head('GET /\tHTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'space after the version', raw: head('GET / HTTP/1.1 ', 'Host: a'), ours: 400 },
  { name: 'space before the method', raw: head(' GET / HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'version in lower case', raw: head('GET / http/1.1', 'Host: a'), ours: 400 },
  { name: 'HTTP/2.0', raw: head('GET / HTTP/2.0', 'Host: a'), ours: 505, stricter: 'a major version other than 1 is 505 (http-rules.md); node reads HTTP/2.0 as a request' },
  { name: 'HTTP/3.0', raw: head('GET / HTTP/3.0', 'Host: a'), ours: 505 },
  { name: 'HTTP/1.2', raw: head('GET / HTTP/1.2', 'Host: a') },
  { name: 'HTTP/1.10', raw: head('GET / HTTP/1.10', 'Host: a'), ours: 400 },
  { name: 'HTTP/11', raw: head('GET / HTTP/11', 'Host: a'), ours: 400 },
  { name: 'HTTP/1.', raw: head('GET / HTTP/1.', 'Host: a'), ours: 400 },
  { name: 'HTTP/ 1.1', raw: head('GET / HTTP/ 1.1', 'Host: a'), ours: 400 },
  { name: 'space inside the target', raw: head('GET /a b HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'NUL in the target', raw: head('GET /a\0b HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'DEL in the target', raw: head('GET /a\x7fb HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'obs-text in the target', raw: head('GET /caf\xe9 HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'a fragment in the target', raw: head('GET /a#frag HTTP/1.1', 'Host: a'), ours: 400, stricter: 'RFC 9112 3.2: a request-target has no fragment' },
  { name: 'empty target', raw: head('GET  HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'CONNECT authority-form', raw: head('CONNECT example.com:443 HTTP/1.1', 'Host: example.com:443'), ours: 501 },
  { name: 'asterisk-form with GET', raw: head('GET * HTTP/1.1', 'Host: a'), ours: 400, stricter: 'RFC 9112 3.2.4: asterisk-form is for OPTIONS only' },
  { name: 'target neither origin nor absolute', raw: head('GET a/b HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'method with "("', raw: head('GE(T / HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'method with "@"', raw: head('GET@ / HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'method with NUL', raw: head('G\0T / HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'unknown method token FOO', raw: head('FOO / HTTP/1.1', 'Host: a') },
  { name: 'method in lower case', raw: head('get / HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'method in mixed case', raw: head('Post / HTTP/1.1', 'Host: a', 'Content-Length: 0'), ours: 400 },
  { name: 'request line of 9000 bytes', raw: head(`GET /${'t'.repeat(9000)} HTTP/1.1`, 'Host: a'), ours: 414, stricter: 'our limit of 8 KiB per request line (limits.max_request_line)' },
  { name: 'request line without anything else', raw: 'GET / HTTP/1.1\r\n' },
  { name: 'HTTP/2 preface', raw: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', ours: 505 },
  { name: 'garbage', raw: 'hello world\r\n\r\n', ours: 400 },
  { name: 'TLS ClientHello', raw: '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03' + 'r'.repeat(32) + '\r\n\r\n', ours: 400 },

  // --- lines (RFC 9112 2.2) ---
  { name: 'bare LF line ends', raw: 'GET / HTTP/1.1\nHost: a\n\n', ours: 400 },
  { name: 'bare LF after the request line', raw: 'GET / HTTP/1.1\nHost: a\r\n\r\n', ours: 400 },
  { name: 'bare LF after a field', raw: 'GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n', ours: 400 },
  { name: 'bare LF ending the head', raw: 'GET / HTTP/1.1\r\nHost: a\r\n\n', ours: 400 },
  { name: 'bare CR inside a value', raw: 'GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n', ours: 400 },
  { name: 'bare CR ending a line', raw: 'GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n', ours: 400 },
  { name: 'CR CR LF', raw: 'GET / HTTP/1.1\r\r\nHost: a\r\n\r\n', ours: 400 },
  { name: 'bare LF empty line before the request line', raw: '\n' + head('GET / HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'whitespace line between the request line and the fields', raw: 'GET / HTTP/1.1\r\n \r\nHost: a\r\n\r\n', ours: 400 },
  { name: 'first field line starts with SP', raw: 'GET / HTTP/1.1\r\n Host: a\r\n\r\n', ours: 400 },
  { name: 'obs-fold with SP', raw: head('GET / HTTP/1.1', 'Host: a', 'X-Fold: a', ' b'), ours: 400 },
  { name: 'obs-fold with HTAB', raw: head('GET / HTTP/1.1', 'Host: a', 'X-Fold: a', '\tb'), ours: 400 },
  { name: 'NUL in a value', raw: head('GET / HTTP/1.1', 'Host: a', 'X: a\0b'), ours: 400 },
  { name: 'NUL in a name', raw: head('GET / HTTP/1.1', 'Host: a', 'X\0Y: 1'), ours: 400 },
  { name: 'SOH in a value', raw: head('GET / HTTP/1.1', 'Host: a', 'X: a\x01b'), ours: 400 },
  { name: 'DEL in a value', raw: head('GET / HTTP/1.1', 'Host: a', 'X: a\x7fb'), ours: 400 },
  { name: 'VT in a value', raw: head('GET / HTTP/1.1', 'Host: a', 'X: a\x0bb'), ours: 400 },
  { name: 'FF in a value', raw: head('GET / HTTP/1.1', 'Host: a', 'X: a\x0cb'), ours: 400 },
  { name: 'ESC in a value', raw: head('GET / HTTP/1.1', 'Host: a', 'X: a\x1bb'), ours: 400 },

  // --- field lines (RFC 9112 5) ---
  { name: 'space before the colon', raw: head('GET / HTTP/1.1', 'Host : a'), ours: 400 },
  { name: 'HTAB before the colon', raw: head('GET / HTTP/1.1', 'Host: a', 'X-A\t: 1'), ours: 400 },
  { name: 'a field line without a colon', raw: head('GET / HTTP/1.1', 'Host: a', 'NoColon'), ours: 400 },
  { name: 'a field line with an empty name', raw: head('GET / HTTP/1.1', 'Host: a', ': v'), ours: 400 },
  { name: '"(" in a name', raw: head('GET / HTTP/1.1', 'Host: a', 'X(y): 1'), ours: 400 },
  { name: '"@" in a name', raw: head('GET / HTTP/1.1', 'Host: a', 'X@y: 1'), ours: 400 },
  { name: '"/" in a name', raw: head('GET / HTTP/1.1', 'Host: a', 'X/y: 1'), ours: 400 },
  { name: 'quote in a name', raw: head('GET / HTTP/1.1', 'Host: a', 'X"y: 1'), ours: 400 },
  { name: 'obs-text in a name', raw: head('GET / HTTP/1.1', 'Host: a', 'X\xe9: 1'), ours: 400 },
  { name: 'a head of 20 KB', raw: head('GET / HTTP/1.1', 'Host: a', `X-Big: ${'v'.repeat(20_000)}`), ours: 431 },
  { name: '150 fields', raw: head('GET / HTTP/1.1', 'Host: a', ...many(149, (k) => `X-F${k}: ${k}`)), ours: 431, stricter: 'our limit of 100 field lines (limits.max_fields)' },

  // --- Host (RFC 9112 3.2) ---
  { name: 'HTTP/1.1 without Host', raw: head('GET / HTTP/1.1', 'X: y'), ours: 400 },
  { name: 'two Host fields', raw: head('GET / HTTP/1.1', 'Host: a', 'Host: b'), ours: 400, stricter: 'RFC 9112 3.2: more than one Host is 400; node keeps the first' },
  { name: 'two identical Host fields', raw: head('GET / HTTP/1.1', 'Host: a', 'Host: a'), ours: 400 },
  { name: 'Host with a space inside', raw: head('GET / HTTP/1.1', 'Host: a b'), ours: 400 },
  { name: 'Host with userinfo', raw: head('GET / HTTP/1.1', 'Host: user@a'), ours: 400 },
  { name: 'Host with a port that is not digits', raw: head('GET / HTTP/1.1', 'Host: a:b'), ours: 400 },
  { name: 'Host with an unclosed IPv6 literal', raw: head('GET / HTTP/1.1', 'Host: [::1'), ours: 400 },
  { name: 'Host as a list', raw: head('GET / HTTP/1.1', 'Host: a, b'), ours: 400 },
  { name: 'absolute-form with userinfo', raw: head('GET http://user@a/ HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'absolute-form with an empty host', raw: head('GET http:///x HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'absolute-form, scheme ftp', raw: head('GET ftp://a/x HTTP/1.1', 'Host: a'), ours: 400 },
  { name: 'absolute-form without Host', raw: head('GET http://a/x HTTP/1.1'), ours: 400 },

  // --- framing (RFC 9112 6) and the smuggling classics ---
  { name: 'CL.TE: Content-Length then Transfer-Encoding', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 13', 'Transfer-Encoding: chunked') + '0\r\n\r\nSMUGGLED', ours: 400 },
  { name: 'TE.CL: Transfer-Encoding then Content-Length', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked', 'Content-Length: 3') + '8\r\nSMUGGLED\r\n0\r\n\r\n', ours: 400 },
  { name: 'Transfer-Encoding with Content-Length: 0', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked', 'Content-Length: 0') + '0\r\n\r\n', ours: 400 },
  { name: 'TE.TE: Transfer-Encoding : chunked (space before colon)', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding : chunked', 'Content-Length: 5') + '0\r\n\r\n', ours: 400 },
  { name: 'TE.TE: Transfer-Encoding: xchunked', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: xchunked') + '0\r\n\r\n', ours: 501 },
  { name: 'TE.TE: Transfer-Encoding: xchunked with Content-Length', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: xchunked', 'Content-Length: 5') + '0\r\n\r\n' },
  { name: 'TE.TE: chunked, then xchunked on a second line', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked', 'Transfer-Encoding: x') + '0\r\n\r\n', ours: 501 },
  { name: 'TE.TE: chunked twice', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked, chunked') + chunked('hi'), ours: 400 },
  { name: 'TE.TE: chunked on two lines', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked') + chunked('hi'), ours: 400 },
  { name: 'TE.TE: chunked, gzip (chunked not last)', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked, gzip') + chunked('hi'), ours: 400 },
  { name: 'TE.TE: chunked, identity', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked, identity') + chunked('hi'), ours: 501 },
  { name: 'TE.TE: identity', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: identity') + chunked('hi'), ours: 501 },
  { name: 'TE.TE: gzip only', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: gzip') + chunked('hi'), ours: 400 },
  { name: 'TE.TE: "chunked" in quotes', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: "chunked"') + chunked('hi'), ours: 400 },
  { name: 'TE.TE: chunked;q=1', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked;q=1') + chunked('hi'), ours: 400 },
  { name: 'TE.TE: CHUNKED', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: CHUNKED') + chunked('hi') },
  { name: 'TE.TE: chunk', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunk') + chunked('hi'), ours: 501 },
  { name: 'TE.TE: chunked followed by HTAB', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked\t') + chunked('hi') },
  { name: 'TE.TE: chunked followed by a comma', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked ,') + chunked('hi') },
  { name: 'TE.TE: a comma before chunked', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: , chunked') + chunked('hi') },
  { name: 'TE.TE: VT before chunked', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: \x0bchunked') + chunked('hi'), ours: 400 },
  { name: 'TE.TE: NUL after chunked', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked\0') + chunked('hi'), ours: 400 },
  { name: 'TE.TE: Transfer_Encoding (underscore)', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer_Encoding: chunked') + chunked('hi') },
  { name: 'TE.TE: empty Transfer-Encoding', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding:') + chunked('hi'), ours: 400 },
  { name: 'TE.TE: Transfer-Encoding hidden in an obs-fold', raw: head('POST / HTTP/1.1', 'Host: a', 'X: y', ' Transfer-Encoding: chunked') + chunked('hi'), ours: 400 },
  { name: 'TE.TE: Transfer-Encoding first, after a space', raw: 'POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: a\r\n\r\n' + chunked('hi'), ours: 400 },
  { name: 'Transfer-Encoding on HTTP/1.0', raw: head('POST / HTTP/1.0', 'Transfer-Encoding: chunked') + chunked('hi'), ours: 400, stricter: 'RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing; llhttp reads it as chunked' },
  { name: 'two Content-Length, same value', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5', 'Content-Length: 5') + 'hello', ours: 400 },
  { name: 'two Content-Length, different values', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5', 'Content-Length: 6') + 'hello!', ours: 400 },
  { name: 'Content-Length: 5, 5', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5, 5') + 'hello', ours: 400 },
  { name: 'Content-Length: 5,6', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5,6') + 'hello!', ours: 400 },
  { name: 'Content-Length: +5', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: +5') + 'hello', ours: 400 },
  { name: 'Content-Length: -1', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: -1') + 'hello', ours: 400 },
  { name: 'Content-Length: 0x5', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 0x5') + 'hello', ours: 400 },
  { name: 'Content-Length: 5 5', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5 5') + 'hello', ours: 400 },
  { name: 'Content-Length: 5a', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5a') + 'hello', ours: 400 },
  { name: 'Content-Length: 1e3', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 1e3') + 'hello', ours: 400 },
  { name: 'Content-Length empty', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length:') + 'hello', ours: 400 },
  { name: 'Content-Length of 20 digits', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 99999999999999999999') + 'hello', ours: 400 },
  { name: 'Content-Length 2^53', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 9007199254740992') + 'hello', ours: 400 },
  { name: 'Content-Length followed by HTAB', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5\t') + 'hello' },
  { name: 'two Content-Length, differently cased names', raw: head('POST / HTTP/1.1', 'Host: a', 'content-length: 5', 'Content-Length: 5') + 'hello', ours: 400 },
  { name: 'Transfer-Encoding and Content-Length on HTTP/1.0', raw: head('POST / HTTP/1.0', 'Transfer-Encoding: chunked', 'Content-Length: 2') + chunked('hi'), ours: 400 },
  { name: 'Content-Length : 5 (space before colon)', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length : 5') + 'hello', ours: 400 },
  { name: 'Content-Length with obs-fold', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 5', ' 5') + 'hello', ours: 400 },
  { name: 'Content-Length shorter than the body: the rest is a bad request', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 2') + 'hello\r\n\r\n' },
  { name: 'Content-Length longer than the body (waits)', raw: head('POST / HTTP/1.1', 'Host: a', 'Content-Length: 50') + 'hello' },

  // --- chunked bodies (RFC 9112 7.1) ---
  { name: 'chunk size 18 hex digits', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + 'ffffffffffffffffff\r\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk size 2^64', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '10000000000000000\r\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk size 2^64 + 1 wrapping to 1', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '10000000000000001\r\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk size -1', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '-1\r\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk size +1', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '+1\r\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk size 0x1', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '0x1\r\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk size with a space before', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + ' 1\r\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk size with a space after', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1 \r\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk size with HTAB after', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1\t\r\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk size empty', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '\r\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk size not hex', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + 'g\r\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk extension after a space', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1 ;a=b\r\nx\r\n0\r\n\r\n' },
  { name: 'chunk extension with NUL', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1;a=\0\r\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk extension with a bare LF', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1;a\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk extension of 5000 bytes', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + `1;${'e'.repeat(5000)}\r\nx\r\n0\r\n\r\n`, ours: 400 },
  { name: 'chunk extension ";" alone', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1;\r\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk extension with a space after ";"', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1; a=b\r\nx\r\n0\r\n\r\n' },
  { name: 'chunk data longer than its size', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1\r\nxy\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk data shorter than its size', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '3\r\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk data not followed by CRLF', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1\r\nx0\r\n\r\n', ours: 400 },
  { name: 'chunk data followed by a bare LF', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1\r\nx\n0\r\n\r\n', ours: 400 },
  { name: 'chunk size line ended by a bare LF', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1\nx\r\n0\r\n\r\n', ours: 400 },
  { name: 'chunk size line ended by a bare CR', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1\rx\r\n0\r\n\r\n', ours: 400 },
  { name: 'last chunk ended by a bare LF', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '0\n\r\n', ours: 400 },
  { name: 'final CRLF replaced by a bare LF', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '0\r\n\n', ours: 400 },
  { name: 'trailer with a space before the colon', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '0\r\nT : 1\r\n\r\n', ours: 400 },
  { name: 'trailer without a colon', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '0\r\nTrailer\r\n\r\n', ours: 400 },
  { name: 'trailer with obs-fold', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '0\r\nT: 1\r\n 2\r\n\r\n', ours: 400 },
  { name: 'trailer with NUL', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '0\r\nT: \0\r\n\r\n', ours: 400 },
  { name: 'trailer with a bare LF', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '0\r\nT: 1\n\r\n', ours: 400 },
  { name: 'trailers of 20 KB', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + `0\r\nT: ${'t'.repeat(20_000)}\r\n\r\n`, ours: 400 },
  { name: 'Content-Length in the trailer section', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1\r\nx\r\n0\r\nContent-Length: 5\r\n\r\n' },
  { name: 'Transfer-Encoding in the trailer section', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1\r\nx\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n' },
  { name: 'Host in the trailer section', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '1\r\nx\r\n0\r\nHost: b\r\n\r\n' },
  { name: 'chunked body cut short (waits)', raw: head('POST / HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') + '5\r\nhel' },

  // --- connections (RFC 9112 9) ---
  { name: 'a request after Connection: close', raw: head('GET /1 HTTP/1.1', 'Host: a', 'Connection: close') + head('GET /2 HTTP/1.1', 'Host: a') },
  { name: 'a request after an HTTP/1.0 one', raw: head('GET /1 HTTP/1.0') + head('GET /2 HTTP/1.1', 'Host: a') },
  { name: 'pipelined, the second one bad', raw: head('GET /1 HTTP/1.1', 'Host: a') + head('GET /2 HTTP/1.1', 'Host : a'), ours: 400 },
  { name: 'pipelined, the second one smuggled by CL.TE', raw: head('GET /1 HTTP/1.1', 'Host: a') + head('POST /2 HTTP/1.1', 'Host: a', 'Content-Length: 6', 'Transfer-Encoding: chunked') + '0\r\n\r\nX' },
  { name: 'only empty lines', raw: '\r\n\r\n' },
];

// ---------------------------------------------------------------------------------------------
// Known disagreements: cases where node rejects and we do not, each with the reason it is right
// (or at least deliberate). The test fails on a disagreement not listed here, and on a listed one
// that no longer happens (so that the list stays true).

const KNOWN: Record<string, string> = {
  'a request after Connection: close':
    'RFC 9112 9.6: after "close" the server processes nothing more on the connection; we answer the first ' +
    'request and ignore the rest. llhttp (strict) sees bytes after a closing message and answers 400 ' +
    '(HPE_CLOSED_CONNECTION) in place of the first answer; the second request reaches neither backend.',
  'a request after an HTTP/1.0 one': 'The same, for an HTTP/1.0 request (not persistent): the rest is ignored, not rejected.',
  'HTTP/1.2':
    'RFC 9110 2.5 and http-rules.md: a 1.x version with x > 1 is read as HTTP/1.1, and an intermediary sends its own ' +
    'version: the backend gets HTTP/1.1. llhttp (strict) rejects HTTP/1.2.',
  'unknown method token FOO':
    'RFC 9110 9.1: method = token, and the set of methods is extensible; llhttp only knows a fixed list. ' +
    'We forward it; a backend on llhttp answers 400 itself. The framing is not in question.',
  'chunk extension after a space':
    'RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), and RFC 9110 5.6.3: ' +
    'a recipient MUST parse BWS. We pass the size line on as it came; llhttp (strict) rejects whitespace after the ' +
    'size, so a backend on llhttp answers 400 itself. The chunk size, hence the framing, is the same.',
  'chunk extension with a space after ";"': 'The same (BWS after ";").',
};

// ---------------------------------------------------------------------------------------------
// The two recording servers.

/** One request as a server saw it. */
interface Seen {
  method: string;
  url: string;
  version: string;
  headers: [string, string][];
  trailers: [string, string][];
  bodySha256: string;
  bodyLength: number;
}

/** The server-side request of each record: whether llhttp read the message to its end is `req.complete`. */
const requestOf = new WeakMap<Seen, IncomingMessage>();

/**
 * The requests a server took: those llhttp read to their end. A request whose head was read but
 * whose body was rejected (a bad chunk, say) was not taken: the handler saw it start and abort.
 */
function taken(list: Seen[] | undefined): Seen[] {
  return (list ?? []).filter((record) => requestOf.get(record)?.complete === true);
}

/** The body hash of a request whose body never ended (node dropped the connection). */
const UNENDED = '(the request did not end)';

function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

/**
 * A plain node:http server (default options: strict llhttp) that records every request under a
 * key the caller derives from it, and answers 204 (a status without a body, whatever the method).
 */
async function recordingServer(keyOf: (req: IncomingMessage) => string): Promise<{ server: http.Server; port: number; seen: Map<string, Seen[]>; rejected: Map<string, string[]>; close: () => Promise<void> }> {
  const seen = new Map<string, Seen[]>();
  const rejected = new Map<string, string[]>();
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/healthcheck') {
      res.end('OK');
      return;
    }
    // Recorded as soon as the request is there: when a later request in the same packet is
    // rejected, node destroys the connection and this one never ends (its body is then unknown).
    const record: Seen = {
      method: req.method ?? '',
      url: req.url ?? '',
      version: req.httpVersion,
      headers: pairs(req.rawHeaders),
      trailers: [],
      bodySha256: UNENDED,
      bodyLength: 0,
    };
    const key = keyOf(req);
    seen.set(key, [...(seen.get(key) ?? []), record]);
    requestOf.set(record, req);
    const hash = createHash('sha256');
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      record.bodyLength += chunk.length;
    });
    req.on('end', () => {
      record.bodySha256 = hash.digest('hex');
      record.trailers = pairs(req.rawTrailers);
      res.writeHead(204).end();
    });
  });
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    server,
    port: (server.address() as net.AddressInfo).port,
    seen,
    rejected,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The client: one connection from a given local address, the raw bytes, then whatever comes back.

/** What came back on a connection. */
interface Answer {
  /** Final statuses, in order (1xx left out). */
  statuses: number[];
  /** The connection was closed by the server. */
  closed: boolean;
  /** The first bytes received, for messages. */
  text: string;
}

/**
 * How long a connection is given to answer everything it will: cases run side by side, so one
 * generous wait costs the whole run no more than itself, and test files run side by side too, so
 * a loaded machine may take seconds to answer the last of them. A connection the server closes
 * ends sooner. What has not come by then is taken as the server waiting for more bytes.
 */
const ANSWER_MS = 6000;

function send(port: number, localAddress: string, raw: string): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port, localAddress });
    const chunks: Buffer[] = [];
    const timer = setTimeout(finish, ANSWER_MS);
    let closed = false;
    let done = false;
    function finish() {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const bytes = Buffer.concat(chunks);
      resolve({ statuses: statusesOf(bytes), closed, text: bytes.toString('latin1', 0, 300) });
    }
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.write(Buffer.from(raw, 'latin1'));
  });
}

/** The final statuses in a byte stream of responses (lenient: only what the test needs). */
function statusesOf(bytes: Buffer): number[] {
  const statuses: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const end = bytes.indexOf('\r\n\r\n', i);
    if (end < 0) break;
    const lines = bytes.toString('latin1', i, end).split('\r\n');
    const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(lines[0]!)?.[1] ?? NaN);
    if (Number.isNaN(status)) break;
    i = end + 4;
    const field = (name: string) => lines.find((l) => l.toLowerCase().startsWith(name + ':'))?.slice(name.length + 1).trim();
    if (status >= 100 && status < 200) continue;
    statuses.push(status);
    if (status === 204 || status === 304) continue;
    if (field('transfer-encoding')?.toLowerCase().endsWith('chunked')) {
      for (;;) {
        const lineEnd = bytes.indexOf('\r\n', i);
        if (lineEnd < 0) return statuses;
        const size = parseInt(bytes.toString('latin1', i, lineEnd), 16);
        i = lineEnd + 2;
        if (size === 0) {
          const trailerEnd = bytes.indexOf('\r\n', i);
          i = trailerEnd < 0 ? bytes.length : trailerEnd + 2;
          break;
        }
        i += size + 2;
      }
    } else {
      const length = field('content-length');
      i = length === undefined ? bytes.length : i + Number(length);
    }
  }
  return statuses;
}

// ---------------------------------------------------------------------------------------------
// Comparing.

/** Hop-by-hop fields (RFC 9110 7.6.1) and the ones the balancer sets: not compared. */
const NOT_END_TO_END = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-request-id']);

/** What a backend behind the balancer should see for a request node saw as `seen`. */
function forwarded(seen: Seen): Seen {
  const listed = new Set<string>();
  for (const [name, value] of seen.headers) {
    if (name.toLowerCase() === 'connection') for (const option of value.split(',')) listed.add(option.trim().toLowerCase());
  }
  let headers = seen.headers.filter(([name]) => !NOT_END_TO_END.has(name.toLowerCase()) && !listed.has(name.toLowerCase()));
  let url = seen.url;
  // RFC 9112 3.2.2: an absolute-form target goes on in origin form, Host taking its authority.
  const absolute = /^https?:\/\/([^/?#]*)(.*)$/i.exec(seen.url);
  if (absolute !== null) {
    const rest = absolute[2]!;
    url = rest === '' ? '/' : rest.startsWith('/') ? rest : '/' + rest;
    headers = [['Host', absolute[1]!], ...headers.filter(([name]) => name.toLowerCase() !== 'host')];
  }
  return { ...seen, url, headers };
}

function endToEnd(seen: Seen): Seen {
  const headers = seen.headers.filter(([name]) => !NOT_END_TO_END.has(name.toLowerCase()));
  // The balancer writes Host first for an absolute-form target; compare Host apart from order.
  const host = headers.filter(([name]) => name.toLowerCase() === 'host');
  return { ...seen, headers: [...host, ...headers.filter(([name]) => name.toLowerCase() !== 'host')] };
}

/** Node's or our verdict on a whole case. */
interface Verdict {
  seen: Seen[];
  answer: Answer;
  /** A 4xx/5xx came back, or the connection closed without any answer. */
  rejected: boolean;
  /** Neither an answer to everything nor a rejection: the server waits for more bytes. */
  waiting: boolean;
}

function verdict(seen: Seen[] | undefined, answer: Answer): Verdict {
  const rejected = answer.statuses.some((s) => s >= 400) || (answer.closed && answer.statuses.length === 0);
  return { seen: seen ?? [], answer, rejected, waiting: !rejected && !answer.closed && answer.statuses.length < (seen?.length ?? 0) + 1 };
}

type Outcome = 'agree' | 'ours stricter' | 'disagree';

function compare(node: Verdict, ours: Verdict, backendRejects: string[]): { outcome: Outcome; why: string } {
  if (backendRejects.length > 0) {
    return { outcome: 'disagree', why: `we forwarded what the backend's llhttp rejects (${backendRejects.join(', ')}); the client got ${JSON.stringify(ours.answer.statuses)}` };
  }
  if (ours.seen.length > node.seen.length) return { outcome: 'disagree', why: `the backend saw ${ours.seen.length} request(s), node only ${node.seen.length}` };
  for (let k = 0; k < ours.seen.length; k++) {
    const want = endToEnd(forwarded(node.seen[k]!));
    const got = endToEnd(ours.seen[k]!);
    if (want.bodySha256 === UNENDED) {
      // Node dropped the connection before this request ended: compare its head only.
      want.bodySha256 = got.bodySha256;
      want.bodyLength = got.bodyLength;
      want.trailers = got.trailers;
    }
    if (!isDeepStrictEqual(got, want)) return { outcome: 'disagree', why: `request ${k + 1} reached the backend as ${JSON.stringify(got)}\n  node saw it as ${JSON.stringify(want)}` };
  }
  if (node.rejected && !ours.rejected) {
    return { outcome: 'disagree', why: `node rejects (${JSON.stringify(node.answer.text)}), we ${ours.waiting ? 'wait for more' : `answer ${JSON.stringify(ours.answer.statuses)}`}` };
  }
  if (ours.seen.length < node.seen.length || (ours.rejected && !node.rejected)) {
    return { outcome: 'ours stricter', why: `node took ${node.seen.length} request(s) (${JSON.stringify(node.answer.statuses)}), we forwarded ${ours.seen.length} and answered ${JSON.stringify(ours.answer.statuses)}` };
  }
  return { outcome: 'agree', why: '' };
}

// ---------------------------------------------------------------------------------------------
// The run.

/** The loopback address of case `k`: 127.0.x.y, never 127.0.0.1 (the balancer's own). */
function addressOf(k: number): string {
  return `127.0.${1 + Math.floor(k / 250)}.${1 + (k % 250)}`;
}

/** Whether this machine routes the whole of 127.0.0.0/8 to loopback (Linux does; macOS has 127.0.0.1 only). */
async function loopbackAliases(): Promise<boolean> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as net.AddressInfo).port;
  server.on('connection', (socket: net.Socket) => socket.destroy());
  const ok = await new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: HOST, port, localAddress: addressOf(0) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  await new Promise((resolve) => server.close(resolve));
  return ok;
}

t.test('differential: node:http (llhttp, strict) and the balancer on the same bytes', async (t) => {
  if (!(await loopbackAliases())) {
    t.plan(0, `cannot connect from ${addressOf(0)}: this check needs the loopback aliases 127.0.x.y (as on Linux)`);
    return;
  }
  t.ok(CASES.length >= 150, `the corpus has ${CASES.length} cases`);
  const names = new Set<string>();
  for (const c of CASES) {
    if (names.has(c.name)) t.fail(`two cases named ${c.name}`);
    names.add(c.name);
  }

  const node = await recordingServer((req) => req.socket.remoteAddress ?? '');
  const backend = await recordingServer((req) => String(req.headers['x-forwarded-for'] ?? ''));
  // A request the balancer forwarded and the backend's llhttp rejected: found in the raw packet.
  backend.server.on('clientError', (err: Error & { code?: string; rawPacket?: Buffer }, socket: net.Socket) => {
    const from = /x-forwarded-for: *([^\r\n]*)/i.exec(err.rawPacket?.toString('latin1') ?? '')?.[1];
    if (from !== undefined) backend.rejected.set(from, [...(backend.rejected.get(from) ?? []), err.code ?? err.message]);
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  t.teardown(() => node.close());
  t.teardown(() => backend.close());

  const h = new Harness(t);
  const proxy = await h.proxy(`
healthcheck: { interval: 1m }
servers: [${q(backend.port)}]
`);

  const answers = await within(
    Promise.all(CASES.map((c, k) => Promise.all([send(node.port, addressOf(k), c.raw), send(proxy.port, addressOf(k), c.raw)]))),
    'every case to be answered',
    30_000,
  );

  const tally: Record<Outcome | 'known', string[]> = { agree: [], 'ours stricter': [], disagree: [], known: [] };
  CASES.forEach((c, k) => {
    const address = addressOf(k);
    const [nodeAnswer, ourAnswer] = answers[k]!;
    const n = verdict(taken(node.seen.get(address)), nodeAnswer);
    const o = verdict(taken(backend.seen.get(address)), ourAnswer);
    const { outcome, why } = compare(n, o, backend.rejected.get(address) ?? []);
    if (c.ours !== undefined) t.equal(ourAnswer.statuses[ourAnswer.statuses.length - 1], c.ours, `${c.name}: we answer ${c.ours}`);
    const known = KNOWN[c.name];
    if (outcome === 'disagree' && known !== undefined) {
      tally.known.push(c.name);
      t.comment(`known: ${c.name}: ${why}\n  (${known})`);
      return;
    }
    if (known !== undefined) t.fail(`${c.name} is listed as a known disagreement but is now: ${outcome}`);
    tally[outcome].push(c.name);
    if (outcome === 'disagree') t.fail(`${c.name}: ${why}\n  bytes: ${JSON.stringify(c.raw.slice(0, 300))}`);
    else if (outcome === 'ours stricter' && (c.stricter !== undefined || process.env.DIFF_VERBOSE)) {
      t.comment(`stricter: ${c.name}: ${c.stricter ?? why}`);
    }
  });

  t.comment(
    `${CASES.length} cases: ${tally.agree.length} agree, ${tally['ours stricter'].length} where we are stricter, ` +
      `${tally.known.length} known disagreements, ${tally.disagree.length} disagreements`,
  );
  t.comment(`we are stricter on: ${tally['ours stricter'].join('; ')}`);
  if (tally.disagree.length > 0) t.comment(`disagreements: ${tally.disagree.join('; ')}`);
});
