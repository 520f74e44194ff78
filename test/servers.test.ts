// The stub backends in servers/: each endpoint of app.js over real loopback
// sockets (framing checked on the wire where the client library would hide it),
// the app.js command line, and demo.js's reading of lb.yaml.

import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { deterministicBlocks, startApp } from '../servers/app.js';
import { serversOf } from '../servers/demo.js';
import { spawnNode } from './helpers/child-coverage.js';

const root = new URL('../', import.meta.url);

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface RequestOptions {
  method?: string;
  headers?: Record<string, string | number>;
  /** Several chunks without a content-length header go out chunked. */
  body?: Buffer | Buffer[];
  agent?: Agent | false;
}

/** One request through node:http; resolves with the whole answer. */
function request(port: number, path: string, options: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    for (const chunk of [options.body ?? []].flat()) req.write(chunk);
    req.end();
  });
}

/** Writes raw bytes on a new connection and resolves with everything read until the server closes it. */
async function rawExchange(port: number, text: string): Promise<{ head: string; body: Buffer }> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.end(text);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'end');
  socket.destroy();
  const all = Buffer.concat(chunks);
  const split = all.indexOf('\r\n\r\n');
  return { head: all.subarray(0, split).toString('latin1'), body: all.subarray(split + 4) };
}

const sha256 = (...chunks: Buffer[]) => {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
};

const mango = await startApp({ name: 'mango' });
const apple = await startApp({ name: 'apple' });
t.teardown(() => Promise.all([mango.close(), apple.close()]));

t.test('the default answer names the app, its address and the path that arrived', async (t) => {
  const reply = await request(mango.port, '/mango/x?y=1');
  t.equal(reply.status, 200);
  t.equal(reply.headers['content-type'], 'application/json');
  t.equal(reply.headers['content-length'], String(reply.body.length));
  t.equal(reply.headers['x-server'], 'mango');
  t.same(JSON.parse(reply.body.toString()), {
    message: 'This is the mango application.',
    server: `http://127.0.0.1:${mango.port}/`,
    path: '/mango/x?y=1',
  });
  t.equal(mango.url, `http://127.0.0.1:${mango.port}/`);
  t.equal(mango.name, 'mango');

  const other = JSON.parse((await request(apple.port, '/')).body.toString());
  t.equal(other.message, 'This is the apple application.');
});

t.test('every answer carries x-server', async (t) => {
  for (const path of ['/', '/healthcheck', '/status/404', '/status/204', '/bytes?n=3', '/headers', '/sha256', '/echo']) {
    const reply = await request(apple.port, path);
    t.equal(reply.headers['x-server'], 'apple', path);
  }
});

t.test('the health check follows setHealthy and the admin endpoints', async (t) => {
  const app = await startApp({ name: 'kiwi' });
  t.teardown(() => app.close());
  const check = async () => {
    const reply = await request(app.port, '/healthcheck');
    return `${reply.status} ${reply.headers['content-type']} ${reply.body}`;
  };

  t.equal(await check(), '200 text/plain OK');
  t.equal((await request(app.port, '/admin/unhealthy', { method: 'POST' })).status, 200);
  t.equal(app.healthy, false);
  t.equal(await check(), '500 text/plain unhealthy');
  await request(app.port, '/admin/healthy', { method: 'POST' });
  t.equal(await check(), '200 text/plain OK');
  app.setHealthy(false);
  t.equal(await check(), '500 text/plain unhealthy');
  app.setHealthy(true);
  t.equal(await check(), '200 text/plain OK');
  t.equal(app.requests, 2, 'counts the two admin requests, not the health checks');
});

t.test('requests counts everything but health checks', async (t) => {
  const app = await startApp({ name: 'fig' });
  t.teardown(() => app.close());
  await request(app.port, '/');
  await request(app.port, '/healthcheck');
  await request(app.port, '/status/503');
  t.equal(app.requests, 2);
});

t.test('POST /sha256 hashes the body whatever its framing', async (t) => {
  const chunks = [randomBytes(100_000), randomBytes(1), randomBytes(300_000)];
  const expected = { sha256: sha256(...chunks), bytes: 400_001 };

  const chunked = await request(mango.port, '/sha256', { method: 'POST', body: chunks });
  t.same(JSON.parse(chunked.body.toString()), expected, 'chunked request body');

  const whole = Buffer.concat(chunks);
  const sized = await request(mango.port, '/sha256', { method: 'POST', body: whole, headers: { 'content-length': whole.length } });
  t.same(JSON.parse(sized.body.toString()), expected, 'content-length request body');

  const empty = await request(mango.port, '/sha256', { method: 'POST' });
  t.same(JSON.parse(empty.body.toString()), { sha256: sha256(), bytes: 0 }, 'no body');
});

t.test('/echo streams the body back with its content type', async (t) => {
  const chunks = [randomBytes(70_000), randomBytes(5)];
  const chunked = await request(mango.port, '/echo', { method: 'POST', body: chunks, headers: { 'content-type': 'image/png' } });
  t.equal(chunked.headers['content-type'], 'image/png');
  t.equal(chunked.headers['transfer-encoding'], 'chunked');
  t.equal(sha256(chunked.body), sha256(...chunks));

  const whole = Buffer.concat(chunks);
  const sized = await request(mango.port, '/echo', { method: 'PUT', body: whole, headers: { 'content-length': whole.length } });
  t.equal(sized.headers['content-length'], String(whole.length));
  t.equal(sized.headers['transfer-encoding'], undefined);
  t.equal(sha256(sized.body), sha256(whole));
});

t.test('/bytes frames its body as asked and says its sha256', async (t) => {
  const n = 1_000_003;
  const expected = sha256(...deterministicBlocks(n));

  t.test('Content-Length by default, on a connection kept alive', async (t) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.teardown(() => agent.destroy());
    const first = await request(mango.port, `/bytes?n=${n}`, { agent });
    t.equal(first.headers['content-length'], String(n));
    t.equal(first.headers['transfer-encoding'], undefined);
    t.equal(first.headers['x-sha256'], expected);
    t.equal(first.body.length, n);
    t.equal(sha256(first.body), expected);

    const reused = await new Promise<boolean>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: mango.port, path: '/bytes?n=10', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(req.reusedSocket));
      });
      req.on('error', reject);
      req.end();
    });
    t.ok(reused, 'the second request went on the same connection');
  });

  t.test('chunked with chunked=1', async (t) => {
    const reply = await request(mango.port, `/bytes?n=${n}&chunked=1`);
    t.equal(reply.headers['transfer-encoding'], 'chunked');
    t.equal(reply.headers['content-length'], undefined);
    t.equal(reply.headers['x-sha256'], expected);
    t.equal(sha256(reply.body), expected);
  });

  t.test('close-delimited with close=1', async (t) => {
    const { head, body } = await rawExchange(mango.port, `GET /bytes?n=${n}&close=1 HTTP/1.1\r\nHost: x\r\n\r\n`);
    t.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    t.notMatch(head, /^content-length:/im);
    t.notMatch(head, /^transfer-encoding:/im);
    t.match(head, /^connection: close$/im);
    t.match(head, new RegExp(`^x-sha256: ${expected}$`, 'im'));
    t.equal(body.length, n, 'the body ends where the server closed');
    t.equal(sha256(body), expected);
  });

  t.test('the bytes depend only on n', async (t) => {
    const again = await request(apple.port, `/bytes?n=${n}`);
    t.equal(sha256(again.body), expected, 'another app sends the same bytes');
    const other = await request(apple.port, `/bytes?n=${n - 1}`);
    t.not(sha256(other.body), expected);
    const blocks = [...deterministicBlocks(200_000)];
    t.same(blocks.map((b) => b.length), [65536, 65536, 65536, 3392]);
  });

  t.test('n=0 and HEAD send no body', async (t) => {
    const zero = await request(mango.port, '/bytes?n=0');
    t.equal(zero.headers['content-length'], '0');
    t.equal(zero.headers['x-sha256'], sha256());
    t.equal(zero.body.length, 0);
    const head = await request(mango.port, '/bytes?n=5000', { method: 'HEAD' });
    t.equal(head.headers['content-length'], '5000');
    t.equal(head.body.length, 0);
  });

  t.test('a bad n is a 400', async (t) => {
    t.equal((await request(mango.port, '/bytes?n=-1')).status, 400);
    t.equal((await request(mango.port, '/bytes?n=lots')).status, 400);
  });
});

t.test('/status/N answers N', async (t) => {
  for (const status of [200, 301, 404, 500, 503]) {
    const reply = await request(mango.port, `/status/${status}`);
    t.equal(reply.status, status);
    t.ok(reply.body.length > 0, `${status} has a short body`);
    t.equal(reply.headers['content-length'], String(reply.body.length));
  }
  t.equal((await request(mango.port, '/status/42')).status, 200, 'not three digits: the default answer');
  t.equal((await request(mango.port, '/status/999')).status, 400);
});

t.test('204 and 304 have no body and no body framing on the wire', async (t) => {
  for (const status of [204, 304]) {
    const { head, body } = await rawExchange(mango.port, `GET /status/${status} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    t.match(head, new RegExp(`^HTTP/1\\.1 ${status} `));
    t.notMatch(head, /^content-length:/im);
    t.notMatch(head, /^transfer-encoding:/im);
    t.equal(body.length, 0, `${status}: nothing after the head`);
  }
});

t.test('/slow answers after the delay', async (t) => {
  const ms = 150;
  const start = performance.now();
  const reply = await request(mango.port, `/slow?ms=${ms}`);
  const elapsed = performance.now() - start;
  t.equal(reply.status, 200);
  t.equal(JSON.parse(reply.body.toString()).path, `/slow?ms=${ms}`);
  // Timers run on a millisecond clock that may lag the real one by under 1 ms.
  t.ok(elapsed >= ms - 1, `took ${elapsed.toFixed(1)} ms`);
});

t.test('/headers returns the request head as received', async (t) => {
  const reply = await request(mango.port, '/headers', { headers: { 'X-Forwarded-For': '10.0.0.1' } });
  const { rawHeaders } = JSON.parse(reply.body.toString());
  t.equal(rawHeaders[rawHeaders.indexOf('X-Forwarded-For') + 1], '10.0.0.1');
});

t.test('close() drops idle keep-alive connections and pending slow requests', async (t) => {
  const app = await startApp({ name: 'plum' });
  const agent = new Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  await request(app.port, '/', { agent });
  const arrived = once(app.server, 'request');
  const pending = request(app.port, '/slow?ms=60000').then(
    () => 'answered',
    () => 'dropped',
  );
  await arrived;
  await app.close();
  t.equal(await pending, 'dropped');
  t.notOk(app.server.listening);
});

t.test('the command line: prints its address, SIGUSR1/SIGUSR2 switch health, SIGTERM stops it', async (t) => {
  const child = spawnNode([fileURLToPath(new URL('servers/app.js', root)), '--name', 'cherry', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  const waiters: Array<[RegExp, (line: string) => void]> = [];
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    buffered += text;
    let end;
    while ((end = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      lines.push(line);
      for (const [i, [pattern, resolve]] of waiters.entries()) {
        if (pattern.test(line)) {
          waiters.splice(i, 1);
          resolve(line);
          break;
        }
      }
    }
  });
  const nextLine = (pattern: RegExp) => new Promise<string>((resolve) => waiters.push([pattern, resolve]));

  const listening = await nextLine(/listening/);
  const match = /^cherry listening on http:\/\/127\.0\.0\.1:(\d+)\/$/.exec(listening);
  t.ok(match, listening);
  const port = Number(match?.[1]);
  t.equal(JSON.parse((await request(port, '/')).body.toString()).message, 'This is the cherry application.');

  const down = nextLine(/now unhealthy/);
  child.kill('SIGUSR1');
  await down;
  t.equal((await request(port, '/healthcheck')).status, 500);
  const up = nextLine(/now healthy/);
  child.kill('SIGUSR2');
  await up;
  t.equal((await request(port, '/healthcheck')).status, 200);

  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  t.equal(code, 0);
});

t.test('serversOf lists each server of lb.yaml once, named by its first pool', async (t) => {
  const text = readFileSync(new URL('lb.yaml', root), 'utf8');
  t.same(serversOf(text), [
    { host: 'localhost', port: 8081, name: 'mango' },
    { host: 'localhost', port: 8082, name: 'mango' },
    { host: 'localhost', port: 8083, name: 'apple' },
    { host: 'localhost', port: 8084, name: 'apple' },
    { host: 'localhost', port: 8089, name: 'banana' },
  ]);
});

t.test('serversOf: paths, the default pool, IPv6 and bad entries', async (t) => {
  const text = [
    'listen: 8080',
    'paths:',
    '  - path: /api/v1',
    '    servers: ["[::1]:9001", "127.0.0.1:9002"]',
    '  - path: /',
    '    servers: [127.0.0.1:9003]',
    'servers: [127.0.0.1:9002, 127.0.0.1:9004]',
  ].join('\n');
  t.same(serversOf(text), [
    { host: '::1', port: 9001, name: 'api' },
    { host: '127.0.0.1', port: 9002, name: 'api' },
    { host: '127.0.0.1', port: 9003, name: 'server-9003' },
    { host: '127.0.0.1', port: 9004, name: 'server-9004' },
  ]);
  t.throws(() => serversOf('servers: [localhost]'), /not a "host:port" server/);
  t.throws(() => serversOf('servers: [localhost:70000]'), /not a "host:port" server/);
});
