// servers/demo.js --with-balancer (`npm start`) as real processes: the demo, its stub backend and
// its balancer (src/lb.ts here, through --lb). It prints the balancer's pid, passes SIGHUP on,
// stops the balancer with itself, never leaves it running when it dies, and says so when the
// balancer does not start.

import t, { type Test } from 'tap';
import { get } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { alive, LB, lb } from './helpers/lb-process.js';
import { freePort, HOST, waitFor, within } from './helpers/net.js';

const DEMO = fileURLToPath(new URL('../servers/demo.js', import.meta.url));

/** The demo and the balancer compile src/ on the fly: a start may take seconds on a busy machine. */
const STARTUP_MS = 30_000;

/** The body of GET `path` on `port`. */
function fetchText(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: HOST, port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** Starts the demo on a config whose one server is a free port; resolves once its balancer listens. */
async function demo(t: Test, listen = `${HOST}:0`) {
  const backend = await freePort();
  const dir = t.testdir({ 'lb.yaml': `listen: ${listen}\nhealthcheck: { interval: 1m }\nservers: ["${HOST}:${backend}"]\n` });
  const proc = lb([DEMO, 'lb.yaml', '--with-balancer', '--lb', LB], dir);
  let balancerPid = 0;
  t.teardown(() => {
    proc.child.kill('SIGKILL');
    if (balancerPid !== 0 && alive(balancerPid)) process.kill(balancerPid, 'SIGKILL');
  });
  balancerPid = Number((await within(proc.until(/balancer pid (\d+): kill -HUP \d+ reloads lb\.yaml/), 'the pid line', STARTUP_MS))[1]);
  return { proc, backend, balancerPid };
}

t.test('the demo prints its balancer\'s pid, passes SIGHUP on as a reload, and SIGTERM stops both', async (t) => {
  const { proc, backend, balancerPid } = await demo(t);
  const port = Number((await within(proc.until(/INFO listening on http:\/\/127\.0\.0\.1:(\d+)/), 'the balancer to listen', STARTUP_MS))[1]);
  await within(proc.until(new RegExp(`try:\\n {2}curl http://127\\.0\\.0\\.1:${port}/anything\\n`)), 'the lines to try, with the port it listens on');
  t.match(JSON.parse(await fetchText(port, '/')), { message: `This is the server-${backend} application.` }, 'a request through the balancer');

  proc.child.kill('SIGHUP');
  await within(proc.until(/INFO SIGHUP: reloaded lb\.yaml/), 'the reload');
  t.equal(proc.child.exitCode, null, 'the demo is still running');

  proc.child.kill('SIGTERM');
  const { code, stderr } = await within(proc.exit, 'the demo to exit', STARTUP_MS);
  t.equal(code, 0);
  // Operational lines are on stderr (interface.md, "Logs an operator relies on"); the demo passes them on.
  t.match(stderr, /INFO SIGTERM: closing\n(.*\n)*.*INFO closed\n/, 'the balancer drained');
  t.notOk(alive(balancerPid), 'and is gone');
});

t.test('the demo killed outright: its balancer stops by itself and frees its port', async (t) => {
  const { proc, balancerPid } = await demo(t);
  const port = Number((await within(proc.until(/INFO listening on http:\/\/127\.0\.0\.1:(\d+)/), 'the balancer to listen', STARTUP_MS))[1]);
  proc.child.kill('SIGKILL');
  await waitFor('the balancer to exit', () => !alive(balancerPid), STARTUP_MS);
  const refused = await new Promise((resolve) => net.connect(port, HOST).on('connect', function (this: net.Socket) {
    this.destroy();
    resolve(false);
  }).on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED')));
  t.ok(refused, `nothing listens on ${port} any more`);
});

t.test('a balancer that does not start: its own line, the demo exits non-zero, no lines to try', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, HOST, resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const { port } = taken.address() as AddressInfo;
  const { proc } = await demo(t, `${HOST}:${port}`);
  const { code, stdout, stderr } = await within(proc.exit, 'the demo to exit', STARTUP_MS);
  t.equal(code, 1);
  t.match(stderr, `lb: listen address 127.0.0.1:${port} is in use (EADDRINUSE)\ndemo: the balancer did not start (exit code 1); stopping the backends\n`);
  t.notMatch(stdout, 'try:');
});
