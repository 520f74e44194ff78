// A stub backend for demos and integration tests: one small node:http server
// whose endpoints exercise framing (length, chunked, close-delimited), bodies
// (streamed sha256 and echo), status codes, slowness and a switchable health check.
//
//   node servers/app.js --name mango --port 8081 [--host 127.0.0.1]
//
// Endpoints (every response carries `x-server: <name>`):
//   GET  /healthcheck         200 "OK", or 500 "unhealthy" after POST /admin/unhealthy or SIGUSR1
//   POST /admin/unhealthy     switch the health check to failing  (CLI: SIGUSR1)
//   POST /admin/healthy       switch it back to passing           (CLI: SIGUSR2)
//   POST /sha256              {"sha256": "<hex>", "bytes": n} of the request body, hashed as it streams
//   *    /echo                the request body streamed back, same Content-Type (and Content-Length if sent)
//   GET  /bytes?n=N           N deterministic bytes seeded from N, header x-sha256;
//                             &chunked=1 for chunked framing, &close=1 for close-delimited
//   GET  /status/N            status N with a short body (none for 204 and 304)
//   GET  /slow?ms=N           the default answer after N ms
//   GET  /headers             {"rawHeaders": [...]}: the request head's fields as received
//   *    anything else        200 {"message": "This is the <name> application.", "server": "<url>", "path": "<target>"}
//                             where path is the request target as received, query included

import { createCipheriv, createHash } from 'node:crypto';
import { createServer, STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

/**
 * @typedef {object} AppOptions
 * @property {string} name          shown in the default answer and in `x-server`
 * @property {number} [port]        0 (the default) picks a free port
 * @property {string} [host]        address to listen on; default 127.0.0.1
 * @property {number} [keepAliveTimeout]  ms an idle keep-alive connection is kept; default 5000
 * @property {(line: string) => void} [log]  told when the health state changes; default silent
 */

/**
 * @typedef {object} App
 * @property {string} name
 * @property {number} port          the port actually listened on
 * @property {string} url           `http://<host>:<port>/`
 * @property {import('node:http').Server} server
 * @property {() => Promise<void>} close   stops listening and drops every open connection
 * @property {(ok: boolean) => void} setHealthy
 * @property {boolean} healthy      what /healthcheck currently answers
 * @property {number} requests      requests served, not counting /healthcheck
 */

/** Size of the blocks /bytes generates and writes. */
const BLOCK_SIZE = 64 * 1024;

/**
 * Starts one stub backend and resolves once it is listening.
 * @param {AppOptions} options
 * @returns {Promise<App>}
 */
export async function startApp({ name, port = 0, host = '127.0.0.1', keepAliveTimeout = 5000, log = () => {} }) {
  /** @type {Set<NodeJS.Timeout>} */
  const timers = new Set();
  const state = { healthy: true, requests: 0, url: '' };

  const server = createServer((req, res) => {
    res.setHeader('x-server', name);
    const url = URL.canParse(req.url ?? '/', 'http://stub.invalid')
      ? new URL(req.url ?? '/', 'http://stub.invalid')
      : new URL('http://stub.invalid/');
    if (url.pathname !== '/healthcheck') state.requests++;
    route(req, res, url);
  });
  server.keepAliveTimeout = keepAliveTimeout;

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {URL} url
   */
  function route(req, res, url) {
    const path = url.pathname;
    const statusMatch = /^\/status\/(\d{3})$/.exec(path);

    if (path === '/healthcheck') {
      if (state.healthy) return sendText(res, 200, 'OK');
      return sendText(res, 500, 'unhealthy');
    }
    if (req.method === 'POST' && (path === '/admin/healthy' || path === '/admin/unhealthy')) {
      setHealthy(path === '/admin/healthy');
      return sendText(res, 200, state.healthy ? 'healthy' : 'unhealthy');
    }
    if (path === '/sha256') return hashBody(req, res);
    if (path === '/echo') return echoBody(req, res);
    if (path === '/bytes') return sendBytes(req, res, url.searchParams);
    if (statusMatch) return sendStatus(res, Number(statusMatch[1]));
    if (path === '/headers') return sendJson(res, 200, { rawHeaders: req.rawHeaders });
    if (path === '/slow') {
      const ms = Number(url.searchParams.get('ms') ?? 0);
      const timer = setTimeout(() => {
        timers.delete(timer);
        sendDefault(res, req.url ?? '/');
      }, ms);
      timers.add(timer);
      // A client that gives up must not leave a timer behind.
      res.on('close', () => {
        clearTimeout(timer);
        timers.delete(timer);
      });
      return;
    }
    return sendDefault(res, req.url ?? '/');
  }

  /**
   * @param {import('node:http').ServerResponse} res
   * @param {string} path
   */
  function sendDefault(res, path) {
    sendJson(res, 200, { message: `This is the ${name} application.`, server: state.url, path });
  }

  /** @param {boolean} ok */
  function setHealthy(ok) {
    if (state.healthy !== ok) log(`${name} ${state.url} is now ${ok ? 'healthy' : 'unhealthy'}`);
    state.healthy = ok;
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });

  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  state.url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/`;

  return {
    name,
    port: address.port,
    url: state.url,
    server,
    setHealthy,
    get healthy() {
      return state.healthy;
    },
    get requests() {
      return state.requests;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/**
 * Answers with a small text/plain body.
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {string} text
 */
function sendText(res, status, text) {
  const body = Buffer.from(text);
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
}

/**
 * Answers with a JSON body and its Content-Length.
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {unknown} value
 */
function sendJson(res, status, value) {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

/**
 * Answers status N; 204 and 304 carry no body (RFC 9110 §15.3.5, §15.4.5).
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 */
function sendStatus(res, status) {
  if (status < 200 || status > 599) return sendText(res, 400, 'status must be 200-599');
  if (status === 204 || status === 304) {
    res.writeHead(status);
    return res.end();
  }
  sendText(res, status, `${status} ${STATUS_CODES[status] ?? 'Unknown'}`);
}

/**
 * Hashes the request body chunk by chunk, never holding all of it.
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 */
function hashBody(req, res) {
  const hash = createHash('sha256');
  let bytes = 0;
  req.on('data', (/** @type {Buffer} */ chunk) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  req.on('end', () => sendJson(res, 200, { sha256: hash.digest('hex'), bytes }));
}

/**
 * Streams the request body back. Keeps the request's Content-Length when it had
 * one, otherwise the answer is chunked.
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 */
function echoBody(req, res) {
  /** @type {Record<string, string>} */
  const headers = { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' };
  if (req.headers['content-length'] !== undefined) headers['content-length'] = req.headers['content-length'];
  res.writeHead(200, headers);
  req.pipe(res);
}

/**
 * Streams N deterministic bytes with their sha256 in `x-sha256`. Framing:
 * Content-Length by default, `chunked=1` for Transfer-Encoding: chunked, or
 * `close=1` for a body delimited by closing the connection (RFC 9112 §6.3 rule 8).
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 * @param {URLSearchParams} query
 */
function sendBytes(req, res, query) {
  const n = Number(query.get('n') ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) return sendText(res, 400, 'n must be a whole number of bytes');

  res.setHeader('content-type', 'application/octet-stream');
  res.setHeader('x-sha256', sha256Of(n));

  if (query.get('close') === '1') {
    // With neither header Node falls back to close-delimited framing and
    // closes the connection after the body.
    res.removeHeader('content-length');
    res.removeHeader('transfer-encoding');
    res.setHeader('connection', 'close');
  } else if (query.get('chunked') !== '1') {
    res.setHeader('content-length', n);
  }
  res.writeHead(200);
  if (req.method === 'HEAD') return res.end();
  Readable.from(deterministicBlocks(n), { objectMode: false }).pipe(res);
}

/** Hashes of large bodies already made: the same n is the same bytes. */
const hashes = new Map();
/** Bodies from this size on have their hash kept (at most HASHES_KEPT of them). */
const HASH_KEPT_FROM = 1024 * 1024;
const HASHES_KEPT = 64;

/**
 * The sha256 of the `n` bytes /bytes sends, in hex. It has to be known before the head goes out,
 * so the bytes are made twice; a large body's hash is kept, so that many requests for it (a test
 * of clients that never read) do not each block the event loop making it again.
 * @param {number} n
 */
function sha256Of(n) {
  const kept = hashes.get(n);
  if (kept !== undefined) return kept;
  const hash = createHash('sha256');
  for (const block of deterministicBlocks(n)) hash.update(block);
  const hex = hash.digest('hex');
  if (n >= HASH_KEPT_FROM) {
    if (hashes.size === HASHES_KEPT) hashes.clear();
    hashes.set(n, hex);
  }
  return hex;
}

/**
 * Yields `n` pseudo-random bytes in blocks of at most 64 KiB; the same `n` always gives the same
 * bytes: the keystream of AES-128-CTR under a key made of `n`, which native code makes at memory
 * speed (a byte-by-byte generator in JavaScript took seconds of a test run's CPU).
 * @param {number} n
 * @returns {Generator<Buffer>}
 */
export function* deterministicBlocks(n) {
  const key = Buffer.alloc(16);
  key.writeDoubleBE(n);
  const keystream = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(Math.min(n, BLOCK_SIZE));
  for (let left = n; left > 0; left -= BLOCK_SIZE) {
    yield keystream.update(left >= BLOCK_SIZE ? zeros : zeros.subarray(0, left));
  }
}

/** Runs one app from the command line until SIGINT or SIGTERM. */
async function main() {
  const { default: mri } = await import('mri');
  const args = mri(process.argv.slice(2), {
    string: ['name', 'host'],
    alias: { n: 'name', p: 'port', H: 'host' },
  });
  const port = Number(args.port ?? 0);
  const name = args.name ?? `server-${port}`;
  const host = args.host ?? '127.0.0.1';

  let app;
  try {
    app = await startApp({ name, port, host, log: console.log });
  } catch (err) {
    console.error(`${name}: cannot listen on ${host}:${port}: ${/** @type {Error} */ (err).message}`);
    process.exit(1);
  }
  console.log(`${app.name} listening on ${app.url}`);

  const running = app;
  process.on('SIGUSR1', () => running.setHealthy(false));
  process.on('SIGUSR2', () => running.setHealthy(true));
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.once(signal, () => running.close().then(() => process.exit(0)));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
