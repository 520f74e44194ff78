// The door of a `proxy_protocol: true` listener: every connection must open with a PROXY header
// (http/proxy-protocol.ts). The gate reads it from the raw socket, before TLS (an L4 balancer
// sends it in clear, ahead of the client's own bytes), puts back what followed it, and hands the
// socket on with the header. A connection without a valid header is closed without an answer:
// at once when its bytes cannot be one, else when `timeoutMs` (timeouts.header) runs out.

import type net from 'node:net';
import { ProxyHeaderParser, ProxyProtocolError, type ProxyHeader } from '../http/proxy-protocol.js';

/**
 * Reads `socket`'s PROXY header; then calls `onHeader` with it, the socket paused with the bytes
 * that followed the header unread. On anything else, destroys the socket and tells `onRefused` why.
 */
export function readProxyHeader(
  socket: net.Socket,
  timeoutMs: number,
  onHeader: (header: ProxyHeader) => void,
  onRefused: (why: string) => void,
): void {
  const parser = new ProxyHeaderParser();
  const refuse = (why: string): void => {
    stop();
    socket.destroy();
    onRefused(why);
  };
  const timer = setTimeout(() => refuse(`no complete PROXY header within timeouts.header (${timeoutMs} ms)`), timeoutMs);
  const onData = (chunk: Buffer): void => {
    const result = parser.execute(chunk, 0);
    if (result === null) return;
    if (result instanceof ProxyProtocolError) {
      refuse(`not a PROXY header: ${result.code} at byte ${result.offset} (${result.message})`);
      return;
    }
    stop();
    socket.pause();
    // What came after the header is the client's: read again by whoever takes the socket.
    if (parser.consumed < chunk.length) socket.unshift(chunk.subarray(parser.consumed));
    onHeader(result);
  };
  // Gone before its header (an end included: a listener without TLS allows half-open
  // connections, which would stay open until the timeout): nothing to say.
  const onGone = (): void => {
    stop();
    socket.destroy();
  };
  function stop(): void {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onGone);
    socket.off('error', onGone);
    socket.off('close', onGone);
  }
  socket.on('data', onData);
  socket.on('end', onGone);
  socket.on('error', onGone);
  socket.on('close', onGone);
}
