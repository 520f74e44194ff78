// PROXY protocol interop with a real HAProxy, both ways: HAProxy in TCP mode with send-proxy /
// send-proxy-v2 in front of a `proxy_protocol: true` listener, and our send_proxy towards an
// HAProxy frontend with `accept-proxy` that answers with the source it read (%[src]). Clients
// connect from other loopback addresses (127.0.0.2, 127.0.0.3), so that only a PROXY header can
// bring their address to the far end. Skipped where HAProxy is not installed.

import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { freePort, HOST, proxyTest, q, request, waitFor, within } from './helpers/net.js';

const HAPROXY = '/usr/sbin/haproxy';

/** A request from `from` (a loopback address) to 127.0.0.1:`port`, with Connection: close; the raw response text. */
async function ask(from: string, port: number, target: string): Promise<string> {
  const socket = net.connect({ host: HOST, port, localAddress: from });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await within(new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject)), `a connection to ${port}`);
  socket.write(request('GET', target, { headers: [['Connection', 'close']] }));
  await within(new Promise((resolve) => socket.once('close', resolve)), `the response from ${port}`);
  return Buffer.concat(chunks).toString('latin1');
}

if (!existsSync(HAPROXY)) {
  t.plan(0, `skip: HAProxy interop needs ${HAPROXY} (apt-get install haproxy)`);
} else {
  proxyTest(t, 'a real HAProxy: send-proxy and send-proxy-v2 into our proxy_protocol listener, our send_proxy into its accept-proxy', async (t, h) => {
    const backend = await h.backend('app');
    const [v1In, v2In, echo] = [await freePort(), await freePort(), await freePort()];
    const proxy = await h.proxy(
      `listen:\n  - { address: 127.0.0.1:0, proxy_protocol: true }\n  - 127.0.0.1:0\n` +
        `healthcheck: { interval: 100ms, rise: 1, fall: 1, path: / }\n` +
        `paths:\n  - path: /echo\n    send_proxy: v2\n    servers: ["${HOST}:${echo}"]\n` +
        `  - path: /echo1\n    send_proxy: v1\n    servers: ["${HOST}:${echo}"]\n` +
        `servers: [${q(backend)}]\n`,
    );
    const config = join(t.testdir({}), 'haproxy.cfg');
    const lb = `${HOST}:${proxy.port}`;
    writeFileSync(
      config,
      [
        'defaults',
        '  timeout connect 2s',
        '  timeout client 5s',
        '  timeout server 5s',
        `frontend in_v1\n  mode tcp\n  bind ${HOST}:${v1In}\n  default_backend lb_v1`,
        `backend lb_v1\n  mode tcp\n  server lb ${lb} send-proxy`,
        `frontend in_v2\n  mode tcp\n  bind ${HOST}:${v2In}\n  default_backend lb_v2`,
        `backend lb_v2\n  mode tcp\n  server lb ${lb} send-proxy-v2`,
        `frontend echo\n  mode http\n  bind ${HOST}:${echo} accept-proxy`,
        '  http-request return status 200 content-type text/plain lf-string "src=%[src]\\n"',
        '',
      ].join('\n'),
    );
    // Master-worker mode (-W) says "Loading success." once the worker listens: the event to wait for.
    const haproxy = spawn(HAPROXY, ['-W', '-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    haproxy.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    t.teardown(async () => {
      haproxy.kill('SIGTERM');
      if (haproxy.exitCode === null) await within(new Promise((resolve) => haproxy.once('exit', resolve)), 'HAProxy to stop');
    });
    await waitFor('HAProxy to start ("Loading success.")', () => stderr.includes('Loading success.') || haproxy.exitCode !== null, 10_000);
    if (!stderr.includes('Loading success.')) throw new Error(`HAProxy did not start: ${stderr}`);

    // HAProxy in front of us: the client's address comes through its header.
    for (const [port, version] of [[v1In, 'send-proxy'], [v2In, 'send-proxy-v2']] as const) {
      const text = await ask('127.0.0.2', port, '/headers');
      t.match(text, /^HTTP\/1\.1 200/, `through HAProxy ${version}`);
      t.match(text, /"x-forwarded-for","127\.0\.0\.2"/i, `${version}: the client is 127.0.0.2, not HAProxy's 127.0.0.1`);
    }
    await proxy.log.waitFor('127.0.0.2 - - [');

    // Us in front of HAProxy: its %[src] is the client's address, read from our header; its
    // accept-proxy also took the health checks' LOCAL / UNKNOWN headers (the server is up).
    // It was down until HAProxy started (checks began before it); UP means a check passed through accept-proxy.
    await waitFor('the echo server checked and up', () => proxy.log.lines.some((l) => l.includes(`server ${HOST}:${echo}`) && l.includes(' UP')));
    t.match(await ask('127.0.0.3', proxy.ports[1]!, '/echo'), /\r\n\r\nsrc=127\.0\.0\.3\n$/, 'send_proxy v2: HAProxy sees the client');
    t.match(await ask('127.0.0.3', proxy.ports[1]!, '/echo1'), /\r\n\r\nsrc=127\.0\.0\.3\n$/, 'send_proxy v1: the same');
  }, { alive: false });
}

