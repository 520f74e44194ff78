// Hardening, end to end: every rule of http-rules.md sent to the real proxy over a socket, whole
// and one byte per write, must get its status once, with Connection: close, and the connection
// must close; nothing of it (or of what follows it) may reach the backend. And a slowloris client
// is cut off at timeouts.header while other clients are served.

import t from 'tap';
import type net from 'node:net';
import { Harness, RawClient, waitFor, type Proxy, type RawBackend } from './helpers/net.js';

/** A request that must not reach any backend if the one before it was rejected. */
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';

const post = (...fields: string[]) => `POST / HTTP/1.1\r\nHost: a\r\n${fields.map((f) => f + '\r\n').join('')}\r\n`;

/** [rule, bytes, status] — one row per rule of http-rules.md. */
const RULES: [string, string, number][] = [
  // Bytes and lines (M 2.2)
  ['bare LF ending the request line', 'GET / HTTP/1.1\nHost: a\r\n\r\n', 400],
  ['bare LF ending a field line', 'GET / HTTP/1.1\r\nHost: a\n\r\n', 400],
  ['bare CR inside a field value', 'GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n', 400],
  ['whitespace between the start line and the first field', 'GET / HTTP/1.1\r\n Host: a\r\n\r\n', 400],
  // Request line (M 3)
  ['two spaces after the method', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['a method that is not a token', 'GE(T / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['a space inside the target', 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['a control character in the target', 'GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['a lower-case version', 'GET / http/1.1\r\nHost: a\r\n\r\n', 400],
  ['HTTP/0.9: a request line without a version', 'GET /\r\n\r\n', 400],
  ['HTTP/2.0 on an HTTP/1 connection', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
  ['asterisk-form with GET', 'GET * HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['authority-form: CONNECT', 'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n', 501],
  // Field lines (M 5, S 5)
  ['whitespace between name and colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400],
  ['a line without a colon', 'GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n', 400],
  ['an empty field name', 'GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n', 400],
  ['NUL in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n', 400],
  ['DEL in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n', 400],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n', 400],
  // Host (M 3.2)
  ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\n\r\n', 400],
  ['two Host fields', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
  ['an invalid Host', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400],
  // Framing (M 6.3)
  ['Transfer-Encoding with Content-Length (CL.TE)', post('Content-Length: 5', 'Transfer-Encoding: chunked') + '0\r\n\r\n', 400],
  ['Transfer-Encoding with Content-Length (TE.CL)', post('Transfer-Encoding: chunked', 'Content-Length: 5') + '0\r\n\r\n', 400],
  ['gzip without chunked', post('Transfer-Encoding: gzip'), 400],
  ['chunked not last', post('Transfer-Encoding: chunked, gzip'), 400],
  ['chunked twice', post('Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'), 400],
  ['an unknown transfer coding', post('Transfer-Encoding: xchunked'), 501],
  ['Transfer-Encoding on HTTP/1.0', 'POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['differing Content-Lengths', post('Content-Length: 1', 'Content-Length: 2') + 'ab', 400],
  ['a Content-Length list', post('Content-Length: 1, 1') + 'a', 400],
  ['a signed Content-Length', post('Content-Length: +1') + 'a', 400],
  ['a Content-Length past 2^53-1', post('Content-Length: 9007199254740992'), 400],
  // Chunked bodies (M 7.1)
  ['a chunk size that is not hex', post('Transfer-Encoding: chunked') + 'g\r\n', 400],
  ['a chunk size with 17 digits', post('Transfer-Encoding: chunked') + '00000000000000001\r\n', 400],
  ['chunk data not followed by CRLF', post('Transfer-Encoding: chunked') + '2\r\nhiX\r\n0\r\n\r\n', 400],
  ['a bare LF after a chunk size', post('Transfer-Encoding: chunked') + '2\nhi\r\n0\r\n\r\n', 400],
  ['a trailer without a colon', post('Transfer-Encoding: chunked') + '0\r\nNoColon\r\n\r\n', 400],
];

t.test('every rule, sent whole and one byte per write: its status once, then close; nothing reaches the backend', async (t) => {
  const h = new Harness(t);
  const recorder = await recordingBackend(h);
  const proxy = await h.proxy(`
healthcheck: { interval: 1m }
servers: ["${recorder.address}"]
`);
  for (const [rule, bytes, status] of RULES) {
    for (const split of [false, true]) {
      const client = await h.client(proxy);
      const all = Buffer.from(bytes + SMUGGLED, 'latin1');
      if (split) await writeBytewise(client, all);
      else await client.write(all);
      const res = await client.read();
      const rest = await client.waitEnd();
      t.same([res.status, res.header('connection'), rest.length], [status, 'close', 0], `${rule}${split ? ', byte by byte' : ''}`);
    }
  }
  t.equal(recorder.text(), '', 'the backend received nothing: no rejected request and nothing after one');
  await h.expectServing(proxy);
  t.match(recorder.text(), /^GET \/ HTTP\/1\.1\r\n/, 'and the one good request did reach it');
});

t.test('slowloris: a head trickled byte by byte is cut at timeouts.header while others are served', async (t) => {
  const h = new Harness(t);
  const backend = await h.backend('fast');
  const proxy: Proxy = await h.proxy(`
timeouts: { header: 300ms }
healthcheck: { interval: 1m }
servers: ["${backend.address}"]
`);
  const slow = await h.client(proxy);
  const started = Date.now();
  const head = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ' + 'x'.repeat(200));
  let sent = 0;
  // One byte every 20 ms: each keeps the connection active, none completes the head.
  const trickle = setInterval(() => {
    if (slow.ended || sent === head.length) return clearInterval(trickle);
    slow.socket.write(head.subarray(sent, ++sent));
  }, 20);
  t.teardown(() => clearInterval(trickle));

  const other = await h.client(proxy);
  let served = 0;
  while (!slow.ended && served < 1000) {
    const res = await other.get('/', 'a');
    if (res.status === 200) served++;
  }
  const res = await slow.read();
  const elapsed = Date.now() - started;
  t.equal(res.status, 408, 'the slow client gets 408');
  await slow.waitEnd();
  t.ok(elapsed >= 280 && elapsed < 2000, `cut after ${elapsed} ms, at timeouts.header`);
  t.ok(sent < head.length, `${sent} of ${head.length} bytes had arrived`);
  t.ok(served > 10, `another client was served ${served} times meanwhile`);
});

/** A raw backend that answers health checks and records every other byte it receives. */
async function recordingBackend(h: Harness): Promise<RawBackend> {
  const recorded: Buffer[] = [];
  const backend = await h.rawBackend((socket: net.Socket) => {
    socket.once('data', (first: Buffer) => {
      if (first.toString('latin1').startsWith('GET /healthcheck ')) {
        socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      // Anything else is recorded, and answered (the last check sends one good request).
      const record = (chunk: Buffer) => {
        recorded.push(chunk);
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      };
      record(first);
      socket.on('data', record);
    });
  });
  return Object.assign(backend, { text: () => Buffer.concat(recorded).toString('latin1') });
}

/** Writes `bytes` one byte per write, each after the socket took the one before. */
async function writeBytewise(client: RawClient, bytes: Buffer): Promise<void> {
  for (let i = 0; i < bytes.length && !client.ended; i++) {
    await client.write(bytes.subarray(i, i + 1)).catch(() => {});
  }
  // The proxy may answer and close before the last bytes: that is the point.
  await waitFor('the answer or the end', () => client.unread > 0 || client.ended);
}


