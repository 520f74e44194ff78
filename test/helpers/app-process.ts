// A stub backend (servers/app.js) in a process of its own, so that a test can kill it, or freeze
// it with SIGSTOP and let it go on with SIGCONT.

import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnNode } from './child-coverage.js';
import { HOST, waitEvent } from './net.js';

const APP = fileURLToPath(new URL('../../servers/app.js', import.meta.url));

/** servers/app.js named `name` on 127.0.0.1:`port` (0: any); resolves once it listens, with its port. */
export async function spawnApp(name: string, port: number): Promise<ChildProcess & { port: number }> {
  const child = spawnNode([APP, '--name', name, '--port', String(port), '--host', HOST], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = String(await waitEvent<Buffer>(child.stdout!, 'data', `${name} to listen`));
  const listening = /:(\d+)\//.exec(line);
  return Object.assign(child, { port: listening === null ? port : Number(listening[1]) });
}
