// The fast backend when nginx is not installed: a minimal HTTP/1.1 responder on `node:net`, run
// as its own process, listening on one or more ports. It answers every request with
// `200 Hello, world!`, except GET /1mib, answered with 1 MiB. Request bodies (Content-Length
// only) are read and dropped; `Connection: close` is honoured; pipelined requests are answered
// in order. Not a general server: just enough to cost the proxies in front of it little.
//
//   node bench/lib/fast-responder.js 8081 8082

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

/** One client connection: finds each head, skips its body, answers. */
function onConnection(/** @type {net.Socket} */ socket) {
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
      const big = head.startsWith('GET /1mib');
      socket.write(big ? (close ? BIG_CLOSE : BIG) : close ? HELLO_CLOSE : HELLO);
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

const ports = process.argv.slice(2).map(Number);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0)) {
  console.error('usage: node bench/lib/fast-responder.js PORT [PORT...]');
  process.exit(2);
}
for (const port of ports) {
  const server = net.createServer({ noDelay: true }, onConnection);
  server.listen({ host: '127.0.0.1', port, backlog: 4096 });
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
