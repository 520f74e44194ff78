// Memory under load: 1 GiB up and 1 GiB down through the balancer, each way with Content-Length
// and chunked framing, while the balancer's resident memory is sampled. The bodies stream
// through; nothing may hold them. Passes when the balancer's peak RSS (VmHWM) stays under
// the limit, and every body arrives intact (sha256 both ways).
//
//   npm run bench:memory                    builds, then runs this
//   node bench/memory.js [--size-mib 1024] [--limit-mib 150]
//
// Three processes: this one (the client, which generates and checks the bytes), a backend
// (this file again with --backend: a node:http server that hashes uploads and generates
// downloads), and the balancer (`node dist/lb.js <tmp yaml> --log-level warn`). Linux only: RSS
// is read from /proc/<pid>/status every 100 ms.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const HOST = '127.0.0.1';
const MiB = 1024 * 1024;
const BLOCK = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// The bytes: a deterministic stream, cheap to make (a copy of one of 16 random blocks, stamped
// with its index), so that the figures measure the balancer and not the generator.

const BASES = (() => {
  const bases = [];
  let x = 0x2545f491;
  for (let k = 0; k < 16; k++) {
    const block = Buffer.allocUnsafe(BLOCK);
    for (let i = 0; i < BLOCK; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      block.writeUInt32LE(x >>> 0, i);
    }
    bases.push(block);
  }
  return bases;
})();

/** `total` bytes in fresh blocks of 64 KiB (each one handed off, never reused). */
function* blocks(total) {
  for (let i = 0, left = total; left > 0; i++, left -= BLOCK) {
    const size = Math.min(BLOCK, left);
    const block = Buffer.allocUnsafe(size);
    BASES[i % BASES.length].copy(block, 0, 0, size);
    if (size >= 4) block.writeUInt32LE(i, 0);
    yield block;
  }
}

/** The sha256 of `blocks(total)`, computed without keeping them. */
function expectedSha256(total) {
  const hash = createHash('sha256');
  for (const block of blocks(total)) hash.update(block);
  return hash.digest('hex');
}

// ---------------------------------------------------------------------------------------------
// The backend (child process).

function runBackend() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://backend.invalid');
    if (url.pathname === '/healthcheck') {
      res.writeHead(200, { 'content-length': 2 }).end('OK');
    } else if (req.method === 'POST' && url.pathname === '/upload') {
      // Hash the body as it streams: {"sha256", "bytes"}.
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
      });
      req.on('end', () => {
        const body = JSON.stringify({ sha256: hash.digest('hex'), bytes });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      });
    } else if (url.pathname === '/download') {
      // Generate n bytes; Content-Length unless ?chunked=1. pipe() keeps to the socket's pace.
      const n = Number(url.searchParams.get('n'));
      const headers = { 'content-type': 'application/octet-stream' };
      if (url.searchParams.get('chunked') !== '1') headers['content-length'] = n;
      res.writeHead(200, headers);
      Readable.from(blocks(n), { objectMode: false }).pipe(res);
    } else {
      res.writeHead(404, { 'content-length': 0 }).end();
    }
  });
  server.listen(0, HOST, () => process.stdout.write(`${server.address().port}\n`));
  process.on('SIGTERM', () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// The client side.

/** Children to kill however this process ends. */
const children = new Set();

function killChildren() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}

function startChild(args, name) {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let err = '';
  child.stderr.on('data', (chunk) => {
    err += chunk;
    process.stderr.write(`[${name}] ${chunk}`);
  });
  child.on('exit', (code, signal) => {
    if (children.has(child)) {
      children.delete(child);
      if (!stopping) fail(`${name} exited early (${signal ?? code})${err ? `: ${err.trim()}` : ''}`);
    }
  });
  return child;
}

let stopping = false;

function fail(message) {
  console.error(`memory bench: ${message}`);
  stopping = true;
  killChildren();
  process.exit(1);
}

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect({ host: HOST, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${HOST}:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** VmRSS and VmHWM of a process, in bytes. */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/** Samples a process's RSS every 100 ms; `phase()` starts a new phase and returns the last one's peak. */
function sampler(pid) {
  let peak = 0;
  let phasePeak = 0;
  const sample = () => {
    try {
      const { rss } = memoryOf(pid);
      peak = Math.max(peak, rss);
      phasePeak = Math.max(phasePeak, rss);
    } catch {
      // The process is gone: its exit is reported elsewhere.
    }
  };
  const timer = setInterval(sample, 100);
  sample();
  return {
    phase() {
      sample();
      const p = phasePeak;
      phasePeak = 0;
      return p;
    },
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/** One request through the balancer; the response body is hashed as it streams. */
function exchange(port, { method, path, headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port, method, path, headers, agent: false }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      const small = [];
      res.on('data', (chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
        if (bytes <= 4096) small.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes, sha256: hash.digest('hex'), text: Buffer.concat(small).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined) req.end();
    else {
      body.on('error', reject);
      body.pipe(req);
    }
  });
}

const mib = (bytes) => (bytes / MiB).toFixed(1);

async function main() {
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const size = option('--size-mib', 1024) * MiB;
  const limit = option('--limit-mib', 150) * MiB;
  const root = fileURLToPath(new URL('..', import.meta.url));
  const self = fileURLToPath(import.meta.url);

  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => fail(`stopped by ${signal}`));
  process.once('exit', killChildren);

  // The expected hash, computed once: every transfer carries the same bytes.
  const expected = expectedSha256(size);

  const backend = startChild([self, '--backend'], 'backend');
  const backendPort = await new Promise((resolve, reject) => {
    backend.stdout.once('data', (chunk) => resolve(Number(String(chunk).trim())));
    backend.once('error', reject);
  });

  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lb-memory-'));
  const config = join(dir, 'lb.yaml');
  writeFileSync(
    config,
    [`listen: ${HOST}:${port}`, 'healthcheck: { interval: 1m }', 'timeouts: { server: 120s, idle: 120s }', 'servers:', `  - ${HOST}:${backendPort}`, ''].join('\n'),
  );
  const lb = startChild([join(root, 'dist/lb.js'), config, '--log-level', 'warn'], 'balancer');
  lb.stdout.on('data', (chunk) => process.stdout.write(`[balancer] ${chunk}`));
  await waitForPort(port, 10_000);
  // A first request, so that start-up (config, health worker) is behind us.
  const warm = await exchange(port, { method: 'GET', path: '/healthcheck' });
  if (warm.status !== 200) fail(`GET /healthcheck through the balancer answered ${warm.status}`);

  const idle = memoryOf(lb.pid);
  const samples = sampler(lb.pid);
  console.log(`balancer pid ${lb.pid}, backend pid ${backend.pid}; ${mib(size)} MiB each way; limit ${mib(limit)} MiB`);
  console.log(`balancer after start: RSS ${mib(idle.rss)} MiB`);

  const transfers = [
    { name: 'upload, Content-Length', method: 'POST', path: '/upload', headers: { 'content-length': String(size) }, upload: true },
    { name: 'upload, chunked', method: 'POST', path: '/upload', headers: { 'transfer-encoding': 'chunked' }, upload: true },
    { name: 'download, Content-Length', method: 'GET', path: `/download?n=${size}`, upload: false },
    { name: 'download, chunked', method: 'GET', path: `/download?n=${size}&chunked=1`, upload: false },
  ];
  const problems = [];
  for (const transfer of transfers) {
    const started = process.hrtime.bigint();
    const body = transfer.upload ? Readable.from(blocks(size), { objectMode: false }) : undefined;
    const res = await exchange(port, { method: transfer.method, path: transfer.path, headers: transfer.headers, body });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const peak = samples.phase();
    let ok;
    let detail;
    if (transfer.upload) {
      const answer = res.status === 200 ? JSON.parse(res.text) : null;
      ok = answer !== null && answer.sha256 === expected && answer.bytes === size;
      detail = answer === null ? `status ${res.status}` : `backend hashed ${answer.bytes} bytes, sha256 ${ok ? 'matches' : `${answer.sha256} != ${expected}`}`;
    } else {
      ok = res.status === 200 && res.sha256 === expected && res.bytes === size;
      detail = `status ${res.status}, received ${res.bytes} bytes, sha256 ${res.sha256 === expected ? 'matches' : `${res.sha256} != ${expected}`}`;
    }
    console.log(`${transfer.name.padEnd(25)} ${(size / MiB / seconds).toFixed(0).padStart(5)} MiB/s  ${seconds.toFixed(2).padStart(6)} s  peak RSS ${mib(peak)} MiB  ${detail}`);
    if (!ok) problems.push(`${transfer.name}: ${detail}`);
  }

  const peak = samples.stop();
  const end = memoryOf(lb.pid);
  console.log(`balancer peak RSS: ${mib(peak)} MiB sampled every 100 ms, VmHWM ${mib(end.hwm)} MiB (limit ${mib(limit)} MiB); RSS now ${mib(end.rss)} MiB`);

  stopping = true;
  killChildren();
  rmSync(dir, { recursive: true, force: true });
  if (Math.max(peak, end.hwm) >= limit) problems.push(`the balancer's peak RSS ${mib(Math.max(peak, end.hwm))} MiB is over the ${mib(limit)} MiB limit`);
  if (problems.length > 0) fail(problems.join('; '));
  console.log('ok');
}

if (process.argv[2] === '--backend') runBackend();
else
  main().catch((err) => {
    fail(err instanceof Error ? (err.stack ?? err.message) : String(err));
  });
