// A fault-injecting TCP relay between the balancer and a backend, after Toxiproxy's "toxics":
// the balancer connects to the relay as if it were the server, and the relay passes bytes on
// with the faults set now: latency and jitter, a bandwidth limit, a stall (connections accepted,
// nothing passed), a reset after N bytes of response, responses written one byte at a time, and
// a half-close (the response side ended after N bytes while the request side stays open).

import net from 'node:net';
import { HOST } from './net.js';

export interface Toxics {
  /** ms added before each piece is passed on, both ways (with `jitter`: +- up to that many ms). */
  latency?: number;
  jitter?: number;
  /** Bytes per second, each way. */
  bandwidth?: number;
  /** Accept connections but pass nothing either way. */
  stall?: boolean;
  /** Pass this many bytes of response on a connection, then reset both sides. */
  resetAfter?: number;
  /** Write the response one byte per write. */
  slice?: boolean;
  /** Pass this many bytes of response on a connection, then end that side (FIN); the request side stays open. */
  halfCloseAfter?: number;
}

export class FaultRelay {
  readonly server: net.Server;
  port = 0;
  toxics: Toxics = {};
  /** Connections accepted so far. */
  accepted = 0;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly target: number) {
    this.server = net.createServer((client) => this.relay(client));
  }

  /** A relay to `127.0.0.1:targetPort`, listening on a port of its own. */
  static async start(targetPort: number): Promise<FaultRelay> {
    const relay = new FaultRelay(targetPort);
    await new Promise<void>((resolve) => relay.server.listen(0, HOST, resolve));
    relay.port = (relay.server.address() as net.AddressInfo).port;
    return relay;
  }

  /** "127.0.0.1:port", as a config lists the server. */
  get address(): string {
    return `${HOST}:${this.port}`;
  }

  /** Connections open now, both sides counted once. */
  get open(): number {
    return [...this.sockets].filter((s) => !s.destroyed).length / 2;
  }

  /** Stops listening and cuts every connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: net.Socket): void {
    this.accepted++;
    const upstream = net.connect(this.target, HOST);
    this.sockets.add(client).add(upstream);
    const forget = (s: net.Socket) => s.on('close', () => this.sockets.delete(s));
    forget(client);
    forget(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    this.pass(client, upstream, false);
    this.pass(upstream, client, true);
  }

  /** Passes `from`'s bytes to `to` with the toxics in force as each piece comes; `response`: the backend's side. */
  private pass(from: net.Socket, to: net.Socket, response: boolean): void {
    let passed = 0;
    // Pieces leave in order: each waits for the one before it.
    let queue = Promise.resolve();
    const later = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
    from.on('data', (chunk: Buffer) => {
      const toxics = this.toxics;
      if (toxics.stall) return;
      queue = queue.then(async () => {
        if (to.destroyed) return;
        let piece = chunk;
        if (toxics.latency !== undefined) await later(toxics.latency + (toxics.jitter ?? 0) * (2 * Math.random() - 1));
        if (toxics.bandwidth !== undefined) await later((piece.length / toxics.bandwidth) * 1000);
        if (response && toxics.resetAfter !== undefined && passed + piece.length >= toxics.resetAfter) {
          to.write(piece.subarray(0, toxics.resetAfter - passed));
          passed = toxics.resetAfter;
          // The bytes written go out before the reset.
          await later(20);
          to.resetAndDestroy();
          from.resetAndDestroy();
          return;
        }
        if (response && toxics.halfCloseAfter !== undefined && passed >= toxics.halfCloseAfter) return; // ended already
        if (response && toxics.halfCloseAfter !== undefined && passed + piece.length >= toxics.halfCloseAfter) {
          piece = piece.subarray(0, toxics.halfCloseAfter - passed);
          passed = toxics.halfCloseAfter;
          to.end(piece);
          return;
        }
        passed += piece.length;
        if (response && toxics.slice) {
          for (const byte of piece) {
            if (to.destroyed) return;
            to.write(Buffer.of(byte));
            await new Promise((resolve) => setImmediate(resolve));
          }
        } else to.write(piece);
      });
    });
    from.on('end', () => void queue.then(() => to.end()));
  }
}
