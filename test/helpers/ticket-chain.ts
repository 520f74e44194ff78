// A TLS client that uses each session ticket once, as OpenSSL's (and so curl's and wrk's) does
// with TLS 1.3 tickets: for the ticket tests of one listener (tls-tickets.test.ts) and of a
// cluster's workers (cluster.test.ts).

import tls from 'node:tls';
import { HOST, within } from './net.js';

/**
 * `count` connections, one GET each with Connection: close, each offering the session ticket the
 * connection before it received (`first`, or none, for the first). For each: whether it resumed,
 * and how many tickets it was given; and the last ticket.
 */
export async function ticketChain(port: number, servername: string | null, count: number, first?: Buffer): Promise<{ resumed: boolean[]; tickets: number[]; last: Buffer | undefined }> {
  const resumed: boolean[] = [];
  const tickets: number[] = [];
  let session = first;
  for (let i = 0; i < count; i++) {
    const got: Buffer[] = [];
    const socket = tls.connect({ host: HOST, port, rejectUnauthorized: false, minVersion: 'TLSv1.3', ...(servername === null ? {} : { servername }), ...(session === undefined ? {} : { session }) });
    await within(new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject)), 'the TLS handshake');
    socket.on('session', (s: Buffer) => got.push(s));
    resumed.push(socket.isSessionReused());
    socket.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    // The tickets come right after the handshake, before the response: all in by its end.
    await within(new Promise((resolve) => socket.resume().once('end', resolve)), "the response and the server's close");
    socket.destroy();
    tickets.push(got.length);
    session = got.at(-1);
  }
  return { resumed, tickets, last: session };
}
