// Several listeners under `lb --workers 2`, on the real program: every worker binds each
// listener (node:cluster shares them, or each worker binds its own with SO_REUSEPORT), both
// `listening on` lines are logged, and connections to either listener, a proxy_protocol one
// included, are served whichever worker takes them.
// In its own file: cluster.test.ts is long already.

import net from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import t from 'tap';
import { startApp } from '../servers/app.js';
import { HOST, request, within } from './helpers/net.js';
import { alive, LB, lb } from './helpers/lb-process.js';

/** Starting the program is a process start and its modules: slow on a busy machine (test files run side by side). */
const STARTUP_MS = 60_000;

/** One request on a fresh connection (so that node:cluster may hand it to any worker), `first` sent before it; the response text. */
async function ask(port: number, first: string, target: string): Promise<string> {
  const socket = net.connect(port, HOST);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(Buffer.concat([Buffer.from(first, 'latin1'), request('GET', target, { headers: [['Connection', 'close']] })]));
  await within(new Promise((resolve) => socket.once('close', resolve)), `the response on ${port}`);
  return Buffer.concat(chunks).toString('latin1');
}

t.test('several listeners: every worker serves each of them, a proxy_protocol one too', async (t) => {
  const app = await startApp({ name: 'a' });
  t.teardown(() => app.close());
  const dir = t.testdir({});
  const file = join(dir, 'lb.yaml');
  writeFileSync(file, `listen:\n  - 127.0.0.1:0\n  - { address: 127.0.0.1:0, proxy_protocol: true }\nhealthcheck: { interval: 1m }\nservers: ["${HOST}:${app.port}"]\n`);
  const proc = lb([LB, file, '--workers', '2']);
  t.teardown(() => {
    // A worker left behind would keep its ports.
    for (const m of proc.output().matchAll(/worker processes: ([\d, ]+)/g)) {
      for (const pid of m[1]!.split(', ').map(Number)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    proc.child.kill('SIGKILL');
  });
  await within(proc.until(/listening on http:\/\/127\.0\.0\.1:\d+\n(?:.*\n)?.*listening on http:\/\/127\.0\.0\.1:\d+/), 'a line per listener', STARTUP_MS);
  const [plain, proxied] = [...proc.output().matchAll(/listening on http:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
  t.not(plain, proxied, 'two listeners, two ports');
  for (let i = 0; i < 4; i++) {
    t.match(await ask(plain!, '', '/'), /^HTTP\/1\.1 200 /, `request ${i} on the plain listener`);
    const text = await ask(proxied!, `PROXY TCP4 192.0.2.${i} 127.0.0.1 1000 80\r\n`, '/headers');
    t.match(text, new RegExp(`"x-forwarded-for","192\\.0\\.2\\.${i}"`, 'i'), `request ${i} through the PROXY listener`);
  }
  proc.child.kill('SIGTERM');
  t.equal((await within(proc.exit, 'the exit', 15_000)).code, 0);
});
