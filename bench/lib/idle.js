// Mostly idle keep-alive connections: opens N sockets to a target, sends one GET on each, reads
// its whole response, and keeps every socket open, silent, until closed. Used to measure what
// 1,000 idle clients cost a proxy while 64 others are busy.

import net from 'node:net';

/** Sockets connecting at once; more would only fill the listen queue. */
const CONCURRENCY = 100;
/** Bound on opening all of them, and on each one's exchange. */
const OPEN_TIMEOUT_MS = 30_000;
const EXCHANGE_TIMEOUT_MS = 10_000;

/**
 * @typedef {object} IdleSet
 * @property {number} opened       sockets that got a complete response
 * @property {number} failed       sockets that did not (error, close, timeout)
 * @property {() => number} stillOpen  how many of the opened ones the target has not closed
 * @property {() => void} close
 */

/**
 * @param {number} port
 * @param {number} count
 * @param {string} path
 * @returns {Promise<IdleSet>}
 */
export async function openIdleConnections(port, count, path) {
  /** @type {net.Socket[]} */
  const open = [];
  let failed = 0;
  let next = 0;
  const deadline = Date.now() + OPEN_TIMEOUT_MS;
  const worker = async () => {
    while (next < count && Date.now() < deadline) {
      next++;
      const socket = await exchangeOnce(port, path);
      if (socket) open.push(socket);
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
  failed += count - next;
  return {
    opened: open.length,
    failed,
    stillOpen: () => open.filter((s) => !s.destroyed && !s.readableEnded).length,
    close: () => {
      for (const s of open) s.destroy();
    },
  };
}

/**
 * Connects, sends one keep-alive GET, and resolves with the socket once the response (framed
 * by Content-Length) is complete; resolves null, having destroyed it, on anything else.
 * @param {number} port
 * @param {string} path
 * @returns {Promise<net.Socket | null>}
 */
function exchangeOnce(port, path) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    const finish = (/** @type {boolean} */ ok) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (ok) {
        // From now on nothing is expected; note a close, never throw.
        socket.on('error', () => socket.destroy());
        socket.on('end', () => socket.destroy());
        resolve(socket);
      } else {
        socket.destroy();
        resolve(null);
      }
    };
    const timer = setTimeout(() => finish(false), EXCHANGE_TIMEOUT_MS);
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
    socket.once('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      const headEnd = received.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = received.toString('latin1', 0, headEnd);
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!head.startsWith('HTTP/1.1 200') || !length) return finish(false);
      if (received.length >= headEnd + 4 + Number(length[1])) {
        socket.removeAllListeners('close');
        finish(true);
      }
    });
  });
}
