// The fast backend when nginx is not installed, and the slow and fast backends of the policies
// scenario: a minimal HTTP/1.1 responder on `node:net`, run as its own process, listening on one
// or more ports. It answers every request with `200 Hello, world!`, except GET /1mib, answered
// with 1 MiB. Request bodies (Content-Length only) are read and dropped; `Connection: close` is
// honoured; pipelined requests are answered in order. Not a general server: just enough to cost
// the proxies in front of it little.
//
//   node bench/lib/fast-responder.js 8081 8082
//   node bench/lib/fast-responder.js 8081 8082:50    # 8082 answers each request 50 ms late
//
// A port written PORT:MS delays every response on it by MS milliseconds (one timer per request;
// the delay is the same for every request on the port, so timers fire, and pipelined responses
// go out, in arrival order). Every port counts the requests it got, and answers GET /counts at
// once, uncounted, with all ports' counts as JSON ({"8081":123,"8082":45}): the policies scenario
// reads them before and after a measurement to see how a policy spread the load. GET
// /healthcheck (the balancer's health checks) is answered but not counted either.

import net from 'node:net';

const BIG_SIZE = 1024 * 1024;

/**
 * A whole response; with `close`, it says `Connection: close` (RFC 9112 9.6: a server closing
 * after a request that asked for it SHOULD say so, or a client may reuse the connection).
 * @param {string} type
 * @param {Buffer} body
 * @param {boolean} close
 */
function response(type, body, close) {
  const head = `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
const HELLO = response('text/plain', Buffer.from('Hello, world!'), false);
const HELLO_CLOSE = response('text/plain', Buffer.from('Hello, world!'), true);
const BIG = response('application/octet-stream', Buffer.alloc(BIG_SIZE, 'x'), false);
const BIG_CLOSE = response('application/octet-stream', Buffer.alloc(BIG_SIZE, 'x'), true);
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
/** Larger heads are answered with 431 and a close. */
const MAX_HEAD = 64 * 1024;

/** Requests counted per port (not /counts, not /healthcheck), in the order the ports were given. */
const counts = new Map();

/** The answer to GET /counts: every port's count so far. */
function countsResponse(/** @type {boolean} */ close) {
  return response('application/json', Buffer.from(JSON.stringify(Object.fromEntries(counts))), close);
}

/**
 * One client connection: finds each head, skips its body, answers (`delayMs` late).
 * @param {number} port  the port it came on, for its count
 * @param {number} delayMs
 * @param {net.Socket} socket
 */
function onConnection(port, delayMs, socket) {
  socket.setNoDelay(true);
  let pending = Buffer.alloc(0);
  /** Body bytes of the current request still to drop. */
  let skip = 0;

  socket.on('data', (chunk) => {
    let buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    let at = 0;
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, buf.length - at);
        skip -= n;
        at += n;
        if (skip > 0) break;
      }
      const end = buf.indexOf(HEAD_END, at);
      if (end < 0) break;
      const head = buf.toString('latin1', at, end);
      at = end + 4;
      const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
      skip = length ? Number(length[1]) : 0;
      const close = /\r\nconnection:[^\r]*\bclose\b/i.test(head) || head.includes(' HTTP/1.0\r\n');
      if (head.startsWith('GET /counts ')) {
        // Not delayed: the benchmark asks between measurements and should not wait. (So on a
        // delayed port it would overtake responses still pending on the same connection: ask on
        // a connection of its own, as the benchmark does.)
        socket.write(countsResponse(close));
        if (close) {
          socket.end();
          return;
        }
        continue;
      }
      if (!head.startsWith('GET /healthcheck')) counts.set(port, counts.get(port) + 1);
      const big = head.startsWith('GET /1mib');
      const answer = big ? (close ? BIG_CLOSE : BIG) : close ? HELLO_CLOSE : HELLO;
      if (delayMs > 0) {
        setTimeout(() => {
          if (socket.destroyed) return;
          socket.write(answer);
          if (close) socket.end();
        }, delayMs);
        // After a close, the client sends nothing more worth reading.
        if (close) return;
        continue;
      }
      socket.write(answer);
      if (close) {
        socket.end();
        return;
      }
    }
    pending = buf.subarray(at);
    if (pending.length > MAX_HEAD) {
      socket.end('HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    } else if (pending.length > 0) {
      pending = Buffer.from(pending); // do not pin the whole socket buffer
    }
  });
  socket.on('error', () => socket.destroy());
}

/** `PORT` or `PORT:DELAY_MS`, one per argument. */
const listeners = process.argv.slice(2).map((arg) => {
  const [port, delayMs = 0] = arg.split(':').map(Number);
  return { port, delayMs };
});
if (listeners.length === 0 || listeners.some(({ port, delayMs }) => !Number.isInteger(port) || port <= 0 || !Number.isInteger(delayMs) || delayMs < 0)) {
  console.error('usage: node bench/lib/fast-responder.js PORT[:DELAY_MS] [PORT[:DELAY_MS]...]');
  process.exit(2);
}
for (const { port, delayMs } of listeners) {
  counts.set(port, 0);
  const server = net.createServer({ noDelay: true }, (socket) => onConnection(port, delayMs, socket));
  server.listen({ host: '127.0.0.1', port, backlog: 4096 });
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
