#!/usr/bin/env node
// `npm run soak -- --minutes N`: the balancer (dist/lb.js) under mixed traffic for N minutes (10
// by default), with a backend killed and restarted every minute and a SIGHUP every 2 minutes.
// Every 10 s it samples the balancer's RSS and open file descriptors (from /proc), its heap and
// event-loop delay (bench/lib/soak-probe.js, loaded into it), and what the clients saw. At the
// end: a table and a verdict (exit 1 when any check fails):
//   - RSS grows less than 1 MB a minute after the first two minutes (least-squares slope);
//   - open descriptors come back to the baseline once the load stops;
//   - the event loop's p99 delay over the run is under 20 ms;
//   - no body lost or corrupted (every sha256 checked), no unexpected client error (errors of
//     requests in flight to a backend as it was killed are counted apart, as expected).
//
//   node bench/soak.js [--minutes N] [--sample S]

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mri from 'mri';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const args = mri(process.argv.slice(2), { string: ['minutes', 'sample'], alias: { m: 'minutes', h: 'help' }, boolean: ['help'] });
if (args.help) {
  console.log('Usage: node bench/soak.js [--minutes N] [--sample SECONDS]   (npm run soak builds first)');
  process.exit(0);
}
const MINUTES = Number(args.minutes ?? 10);
const SAMPLE_MS = Number(args.sample ?? 10) * 1000;
const HOST = '127.0.0.1';
/** How long after a backend is killed an error may be blamed on the kill. */
const KILL_WINDOW_MS = 3000;

// --- processes --------------------------------------------------------------------------------

/** A free port (the kernel's choice, given back at once). */
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** servers/app.js named `name` on `port`, as a child process; resolves once it listens. */
function startApp(name, port) {
  const child = spawn(process.execPath, [path.join(root, 'servers/app.js'), '--name', name, '--port', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it listened`)));
  });
}

/** A raw WebSocket-style backend: answers an Upgrade with 101, then echoes every byte. */
function startEcho(port) {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let head = '';
    const onData = (chunk) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      if (head.startsWith('GET /healthcheck')) {
        socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK');
        return;
      }
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      const rest = head.slice(end + 4);
      if (rest.length > 0) socket.write(Buffer.from(rest, 'latin1'));
      socket.pipe(socket);
    };
    socket.on('data', onData);
  });
  return new Promise((resolve) => server.listen(port, HOST, () => resolve(server)));
}

// --- what the clients saw ---------------------------------------------------------------------

const stats = { ok: 0, bodiesChecked: 0, corrupted: 0, expectedErrors: 0, unexpected: [], byKind: {} };
let lastKill = -Infinity;
let running = true;

function done(kind) {
  stats.ok++;
  stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;
}

/** An error seen by a client: expected when a backend was killed just before, else unexpected. */
function failed(kind, why) {
  if (Date.now() - lastKill < KILL_WINDOW_MS) stats.expectedErrors++;
  else if (stats.unexpected.length < 50) stats.unexpected.push(`${new Date().toISOString()} ${kind}: ${why}`);
  else stats.unexpected.length++;
}

/** One request with node:http; resolves with status, headers and the body. */
function request(port, options, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port, ...options }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    if (body === undefined) req.end();
    else if (Array.isArray(body)) {
      // Chunked: written in pieces, no Content-Length.
      for (const piece of body) req.write(piece);
      req.end();
    } else req.end(body);
  });
}

/** Runs `once` over and over until the soak ends. */
async function loop(kind, once) {
  while (running) {
    try {
      await once();
    } catch (err) {
      failed(kind, err.message);
    }
  }
}

const sha = (b) => createHash('sha256').update(b).digest('hex');

function traffic(port) {
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const loops = [];
  // Keep-alive GETs.
  for (let i = 0; i < 4; i++) {
    loops.push(loop('keep-alive GET', async () => {
      const res = await request(port, { path: '/', agent: keepAlive, headers: { host: 'app.test' } });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      done('keep-alive GET');
    }));
  }
  // A new connection per request.
  for (let i = 0; i < 2; i++) {
    loops.push(loop('new-connection GET', async () => {
      const res = await request(port, { path: '/', agent: false, headers: { host: 'app.test', connection: 'close' } });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      done('new-connection GET');
    }));
  }
  // Uploads, with Content-Length and chunked, hashed at the backend.
  loops.push(loop('POST body', async () => {
    const body = randomBytes(64 * 1024 + Math.floor(Math.random() * 512 * 1024));
    const chunkedUpload = Math.random() < 0.5;
    const pieces = chunkedUpload ? [body.subarray(0, 1000), body.subarray(1000, 70_000), body.subarray(70_000)] : body;
    const res = await request(port, { path: '/sha256', method: 'POST', agent: keepAlive, headers: { host: 'app.test' } }, pieces);
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    stats.bodiesChecked++;
    if (JSON.parse(res.body.toString()).sha256 !== sha(body)) stats.corrupted++;
    done(chunkedUpload ? 'POST chunked' : 'POST length');
  }));
  // Downloads, chunked and with a length, checked against the backend's hash.
  loops.push(loop('download', async () => {
    const n = 10_000 + Math.floor(Math.random() * 2_000_000);
    const chunkedDownload = Math.random() < 0.5;
    const res = await request(port, { path: `/bytes?n=${n}${chunkedDownload ? '&chunked=1' : ''}`, agent: keepAlive, headers: { host: 'app.test' } });
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    stats.bodiesChecked++;
    if (res.body.length !== n || sha(res.body) !== res.headers['x-sha256']) stats.corrupted++;
    done(chunkedDownload ? 'download chunked' : 'download length');
  }));
  // A slow client: the head a few bytes at a time, the answer read slowly.
  loops.push(loop('slow client', () => rawExchange(port, 'GET /bytes?n=200000 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n', { slow: true, expect: 200, kind: 'slow client' })));
  // Pipelining: three requests in one write.
  loops.push(loop('pipelined', () => rawExchange(port, 'GET /a HTTP/1.1\r\nHost: app.test\r\n\r\n'.repeat(2) + 'GET /c HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n', { responses: 3, expect: 200, kind: 'pipelined' })));
  // WebSocket: upgrade, echo, close.
  loops.push(loop('websocket', async () => {
    const payload = randomBytes(1 + Math.floor(Math.random() * 64 * 1024));
    const socket = net.connect(port, HOST);
    const got = await new Promise((resolve, reject) => {
      const chunks = [];
      socket.on('error', reject);
      socket.on('close', () => resolve(Buffer.concat(chunks)));
      socket.on('data', (c) => {
        chunks.push(c);
        const all = Buffer.concat(chunks);
        const end = all.indexOf('\r\n\r\n');
        if (end >= 0 && all.length - end - 4 >= payload.length) socket.end();
      });
      socket.write('GET /ws/chat HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
      socket.write(payload);
    });
    const end = got.indexOf('\r\n\r\n');
    if (!got.subarray(0, 12).equals(Buffer.from('HTTP/1.1 101'))) throw new Error(`no 101: ${got.subarray(0, 40).toString('latin1')}`);
    stats.bodiesChecked++;
    if (!got.subarray(end + 4).equals(payload)) stats.corrupted++;
    done('websocket');
  }));
  // Malformed: the balancer answers 400 and closes.
  // Malformed, now and then (a few percent of the requests): the balancer answers 400 and closes.
  loops.push(loop('malformed', async () => {
    await new Promise((r) => setTimeout(r, 20));
    await rawExchange(port, 'POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', { expect: 400, kind: 'malformed' });
  }));
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      keepAlive.destroy();
    },
  };
}

/**
 * Sends `text` on a new connection and reads until it closes: `responses` status lines expected,
 * each `expect`. `slow`: the request a few bytes at a time, the answer read with pauses.
 */
function rawExchange(port, text, { slow = false, responses = 1, expect, kind }) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    let got = '';
    socket.setTimeout(30_000, () => socket.destroy(new Error('no end within 30 s')));
    socket.on('error', reject);
    socket.on('data', (c) => {
      got += c.toString('latin1');
      if (slow) {
        socket.pause();
        setTimeout(() => socket.resume(), 5);
      }
    });
    socket.on('close', () => {
      const statuses = [...got.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      // A body may hold bytes that look like a status line; the first `responses` are the answers.
      if (statuses.length < responses || statuses.slice(0, responses).some((s) => s !== expect)) {
        reject(new Error(`expected ${responses} x ${expect}, got ${statuses.slice(0, responses).join(', ') || 'nothing'}`));
      } else {
        done(kind);
        resolve();
      }
    });
    if (!slow) socket.write(text);
    else {
      let i = 0;
      const step = () => {
        if (socket.destroyed) return;
        socket.write(text.slice(i, i + 7));
        i += 7;
        if (i < text.length) setTimeout(step, 2);
      };
      step();
    }
  });
}

// --- the run ----------------------------------------------------------------------------------

/** VmRSS of `pid`, in bytes. */
function rssOf(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

function fdsOf(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  const num = points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0);
  const den = points.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const MB = 1024 * 1024;

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'lb-soak-'));
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  const [lbPort, adminPort, echoPort, ...appPorts] = ports;
  const apps = [];
  for (let i = 0; i < appPorts.length; i++) apps.push(await startApp(`app${i}`, appPorts[i]));
  const echo = await startEcho(echoPort);
  const file = path.join(dir, 'lb.yaml');
  writeFileSync(
    file,
    [
      `listen: ${HOST}:${lbPort}`,
      `admin: ${HOST}:${adminPort}`,
      'healthcheck: { interval: 1s, timeout: 500ms, rise: 2, fall: 1 }',
      'timeouts: { server: 20s }',
      'paths:',
      '  - path: /ws',
      `    servers: ["${HOST}:${echoPort}"]`,
      `servers: [${appPorts.map((p) => `"${HOST}:${p}"`).join(', ')}]`,
      'log: { format: json }',
      '',
    ].join('\n'),
  );
  const lb = spawn(process.execPath, ['--import', path.join(here, 'lib/soak-probe.js'), path.join(root, 'dist/lb.js'), file, '-l', 'warn'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let stderr = '';
  lb.stderr.setEncoding('utf8').on('data', (c) => (stderr = (stderr + c).slice(-20_000)));
  let probe = { heap: 0, p99: 0, max: 0, p99All: 0 };
  let probeBuffer = '';
  lb.stdio[3].setEncoding('utf8').on('data', (c) => {
    probeBuffer += c;
    const lines = probeBuffer.split('\n');
    probeBuffer = lines.pop();
    if (lines.length > 0) probe = JSON.parse(lines[lines.length - 1]);
  });
  // Listening once the admin port answers.
  for (let i = 0; i < 200; i++) {
    try {
      await request(adminPort, { path: '/status', agent: false });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await new Promise((r) => setTimeout(r, 1500)); // the probe's first line, and the health checker's first round
  const baselineFds = fdsOf(lb.pid);
  const started = Date.now();
  const samples = [];
  console.log(`soak: ${MINUTES} min, balancer pid ${lb.pid} on ${HOST}:${lbPort}, baseline ${baselineFds} fds, ${(rssOf(lb.pid) / MB).toFixed(1)} MB RSS`);
  console.log('| min | RSS MB | heap MB | fds | loop p99 ms | loop max ms | requests | bodies checked | corrupted | expected errors | unexpected |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const load = traffic(lbPort);
  let minute = 0;
  const chaos = setInterval(async () => {
    minute++;
    // A backend killed, and started again on its port (SIGKILL: no goodbye to its connections).
    const i = minute % apps.length;
    lastKill = Date.now();
    apps[i].kill('SIGKILL');
    await new Promise((r) => apps[i].once('exit', r));
    apps[i] = await startApp(`app${i}`, appPorts[i]);
    if (minute % 2 === 0) lb.kill('SIGHUP');
  }, 60_000);
  const sampler = setInterval(() => {
    const s = {
      min: (Date.now() - started) / 60_000,
      rss: rssOf(lb.pid),
      heap: probe.heap,
      fds: fdsOf(lb.pid),
      p99: probe.p99 / 1e6,
      max: probe.max / 1e6,
      ok: stats.ok,
    };
    samples.push(s);
    console.log(
      `| ${s.min.toFixed(1)} | ${(s.rss / MB).toFixed(1)} | ${(s.heap / MB).toFixed(1)} | ${s.fds} | ${s.p99.toFixed(1)} | ${s.max.toFixed(1)} | ${s.ok} | ${stats.bodiesChecked} | ${stats.corrupted} | ${stats.expectedErrors} | ${stats.unexpected.length} |`,
    );
  }, SAMPLE_MS);
  await new Promise((r) => setTimeout(r, MINUTES * 60_000));
  clearInterval(chaos);
  clearInterval(sampler);
  await load.stop();
  // Pooled backend connections close after their idle time; wait for the count to settle (at most 20 s).
  let fdsAfter = fdsOf(lb.pid);
  for (let i = 0; i < 40 && fdsAfter > baselineFds; i++) {
    await new Promise((r) => setTimeout(r, 500));
    fdsAfter = fdsOf(lb.pid);
  }
  const loopP99 = probe.p99All / 1e6;
  const late = samples.filter((s) => s.min >= 2).map((s) => [s.min, s.rss / MB]);
  const rssSlope = late.length >= 2 ? slope(late) : NaN;
  const checks = [
    [`RSS slope after 2 min: ${rssSlope.toFixed(2)} MB/min (< 1)`, late.length >= 2 && rssSlope < 1],
    [`descriptors after the load: ${fdsAfter} (baseline ${baselineFds})`, fdsAfter <= baselineFds],
    [`event-loop delay p99 over the run: ${loopP99.toFixed(1)} ms (< 20)`, loopP99 < 20],
    [`bodies: ${stats.bodiesChecked} checked, ${stats.corrupted} lost or corrupted`, stats.corrupted === 0],
    [`client errors: ${stats.unexpected.length} unexpected, ${stats.expectedErrors} while a backend was being killed`, stats.unexpected.length === 0],
  ];
  console.log(`\n${stats.ok} requests: ${Object.entries(stats.byKind).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  for (const line of stats.unexpected.slice(0, 10)) console.log(`  unexpected: ${line}`);
  console.log('\nverdict:');
  for (const [what, ok] of checks) console.log(`  ${ok ? 'pass' : 'FAIL'}  ${what}`);
  const pass = checks.every(([, ok]) => ok);
  console.log(pass ? 'PASS' : 'FAIL');
  lb.kill('SIGTERM');
  await new Promise((r) => lb.once('exit', r));
  if (!pass && stderr !== '') console.log(`\nthe balancer's last stderr lines:\n${stderr.split('\n').slice(-20).join('\n')}`);
  for (const app of apps) app.kill('SIGKILL');
  echo.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(pass ? 0 : 1);
}

await main();
