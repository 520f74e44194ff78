// The primary's part in the SO_REUSEPORT way (accept-mode.ts): before the workers bind sockets of
// their own, it settles each listener's port. A port 0 listener would otherwise get a different
// port in each worker: the primary binds it first, with reusePort so that the workers can join,
// and keeps that socket until they listen (the port cannot go to anyone else meanwhile). A fixed
// port is bound once without reusePort and let go at once: a port another process holds is then
// refused as in use, as it is without workers, even when that process is a balancer listening
// with SO_REUSEPORT, whose group the workers would otherwise join without a word.

import net from 'node:net';
import { bindError } from '../bind-error.js';
import type { Listener } from '../config/schema.js';

export interface Reserved {
  /** The listeners, each with the port the workers are to bind. */
  listen: Listener[];
  /** Closes the sockets kept for port 0 listeners; once every worker listens there. */
  release(): Promise<void>;
}

/**
 * On the SO_REUSEPORT way (`reusePort`), settles the port of every listener of `listeners`, in
 * order; rejects with the reason of the first one that cannot be bound (as the workers would say
 * it), holding nothing then. On node:cluster's way the listeners stay as they are: the primary
 * binds each once, when the first worker asks for it.
 */
export async function reservePorts(listeners: Listener[], reusePort: boolean): Promise<Reserved> {
  const held: net.Server[] = [];
  const release = async (): Promise<void> => {
    await Promise.all(held.splice(0).map(close));
  };
  if (!reusePort) return { listen: listeners, release };
  const listen: Listener[] = [];
  try {
    for (const listener of listeners) {
      const ephemeral = listener.port === 0;
      // Nobody knows a port 0 listener's number before lb logs it, so no client should come here;
      // one that does anyway is closed rather than left waiting on a socket nobody reads.
      const server = net.createServer((socket) => socket.destroy());
      const port = await bind(server, listener, ephemeral);
      if (ephemeral) held.push(server);
      else await close(server);
      listen.push({ ...listener, port });
    }
  } catch (err) {
    await release();
    throw err;
  }
  return { listen, release };
}

/** Binds `server` to `listener`'s address; resolves with the port it got. */
function bind(server: net.Server, listener: Listener, reusePort: boolean): Promise<number> {
  const { host, port } = listener;
  // @types/node of the oldest line we support does not know reusePort yet.
  const options: net.ListenOptions & { reusePort?: boolean } = host === '' ? { port } : { host, port };
  if (reusePort) options.reusePort = true;
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(bindError('listen', listener, err)));
    server.listen(options, () => resolve((server.address() as net.AddressInfo).port));
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
