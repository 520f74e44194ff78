// The Node.js lines the I/O fast paths were proven on (io/internals.ts): which versions take them,
// and a real process on a line they were not proven on, which takes the plain path, says so once
// at start, and serves.

import http from 'node:http';
import t from 'tap';
import { IO_FALLBACK, kBuffer, PLAIN_IO, PROVEN_NODE_LINES, streamWrap, unprovenLine } from '../src/io/internals.js';
import { Harness, q, within } from './helpers/net.js';
import { LB, lb } from './helpers/lb-process.js';

t.test('the proven lines take the fast paths; any other line is named with the reason', async (t) => {
  t.same(PROVEN_NODE_LINES, [20, 22, 24, 26]);
  for (const version of ['20.0.0', '20.20.2', '22.4.1', '24.0.0', '26.1.0']) t.equal(unprovenLine(version), null, version);
  for (const version of ['18.19.0', '21.7.3', '23.11.0', '25.0.0', '27.0.0']) {
    t.equal(unprovenLine(version), `Node.js ${version} is not a line the I/O fast paths were proven on (20, 22, 24, 26): sockets are read and written through their streams`, version);
  }
});

t.test('this process: on a proven line, the fast paths are found (unless LB_IO=plain asks for the plain path)', async (t) => {
  t.equal(unprovenLine(process.versions.node), null, `Node.js ${process.versions.node} is a proven line`);
  t.equal(IO_FALLBACK, null);
  t.equal(streamWrap !== null, !PLAIN_IO);
  t.equal(kBuffer !== null, !PLAIN_IO);
});

t.test('a process on another line: the plain path, one WARN line at start saying why, and it serves', async (t) => {
  const h = new Harness(t);
  const app = await h.backend('a');
  const dir = t.testdir({ 'lb.yaml': `listen: 127.0.0.1:0\nhealthcheck: { interval: 1m }\nservers: [${q(app)}]\n` });
  // Node's version, as the process sees it, made one that no fast path was proven on.
  const later = 'Object.defineProperty(process, "versions", { value: { ...process.versions, node: "27.0.0" } })';
  const proc = lb([`--import=data:text/javascript,${encodeURIComponent(later)}`, LB, 'lb.yaml'], dir);
  t.teardown(() => proc.child.kill('SIGKILL'));
  const port = Number((await within(proc.until(/listening on http:\/\/127\.0\.0\.1:(\d+)/), 'the listening line', 30_000))[1]);
  const status = await new Promise<number>((resolve, reject) =>
    http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => res.resume().on('end', () => resolve(res.statusCode!))).on('error', reject),
  );
  t.equal(status, 200);
  proc.child.kill('SIGTERM');
  const { code, stderr } = await within(proc.exit, 'the exit', 15_000);
  t.equal(code, 0);
  const warnings = stderr.split('\n').filter((l) => l.includes(' WARN '));
  t.same(warnings.map((l) => l.replace(/^\S+ WARN /, '')), [unprovenLine('27.0.0')], 'said once, before it listens');
});
