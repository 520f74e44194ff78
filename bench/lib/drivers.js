// The load generators, behind one function each that takes a load and returns the same shape of
// result: wrk (C, one thread, run as a child process) and autocannon (its programmatic API, in
// this process). Both keep `connections` connections busy for `duration` seconds, one request
// at a time per connection (no pipelining), and count a request only when its whole response
// has arrived.

import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * @typedef {object} Load
 * @property {number} port
 * @property {string} path            request target, e.g. "/" or "/1mib"
 * @property {number} connections
 * @property {number} duration        seconds
 * @property {'GET' | 'POST'} method
 * @property {number} bodyBytes       POST body size (0: none)
 * @property {boolean} closeEach      a new connection for every request (`Connection: close`)
 * @property {string | null} wrkScript  path of wrk's Lua script for POST bodies, or null
 * @property {boolean} [tls]          HTTPS (the certificate is not checked: it is the bench's own)
 */

/**
 * @typedef {object} Measurement
 * @property {string} driver
 * @property {number} rps             completed requests per second
 * @property {number} requests        completed requests
 * @property {number} seconds         how long the driver ran
 * @property {number} p50             latency in ms
 * @property {number} p99             latency in ms
 * @property {number} errors          socket errors + timeouts + non-2xx/3xx (wrk) or non-2xx (autocannon)
 * @property {Record<string, number>} errorDetail
 * @property {import('./system.js').CpuReading} [cpu]  filled in by run.js: CPU used meanwhile
 * @property {number} [attempts]      filled in by run.js: 2 when a disturbed measurement was repeated
 * @property {boolean} [disturbed]    filled in by run.js: other processes used a lot of CPU meanwhile
 * @property {import('./backends.js').RequestCounts} [backendRequests]  filled in by run.js, policies
 *   scenario: the requests each backend got during the measurement
 */

/** A request without a response within this many seconds counts as a timeout. */
const REQUEST_TIMEOUT_S = 5;

/**
 * Runs wrk with one thread (wrk -t1), leaving the other core of a 2-core machine to the target.
 * @param {string} wrk  path of the executable
 * @param {Load} load
 * @returns {Promise<Measurement>}
 */
export function runWrk(wrk, load) {
  const args = ['-t1', `-c${load.connections}`, `-d${load.duration}s`, '--latency', '--timeout', `${REQUEST_TIMEOUT_S}s`];
  if (load.closeEach) args.push('-H', 'Connection: close');
  if (load.wrkScript) args.push('-s', load.wrkScript);
  // wrk checks no certificate; on a new connection it offers the session of the last one (its
  // ssl_close is SSL_shutdown + SSL_clear), so some handshakes are resumed (README, The TLS scenarios).
  args.push(`${load.tls ? 'https' : 'http'}://127.0.0.1:${load.port}${load.path}`);
  return new Promise((resolve, reject) => {
    execFile(wrk, args, { timeout: (load.duration + 30) * 1000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      try {
        resolve(parseWrk(stdout));
      } catch (parseErr) {
        reject(new Error(`${/** @type {Error} */ (parseErr).message} in wrk output:\n${stdout}${stderr}`));
      }
    });
  });
}

/** A wrk duration ("812.00us", "1.23ms", "2.00s", "1.00m") in milliseconds. */
function wrkMs(/** @type {string} */ text) {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (!match) throw new Error(`cannot read the duration "${text}"`);
  const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2]] ?? NaN;
  return Number(match[1]) * scale;
}

/**
 * Reads wrk's report: `N requests in T`, `Requests/sec`, the --latency distribution, and the
 * `Socket errors` and `Non-2xx or 3xx responses` lines (absent when zero).
 * @param {string} out
 * @returns {Measurement}
 */
export function parseWrk(out) {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)/m.exec(out);
  if (!total || !rps) throw new Error('no request count');
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const errorDetail = {
    connect: Number(socket?.[1] ?? 0),
    read: Number(socket?.[2] ?? 0),
    write: Number(socket?.[3] ?? 0),
    timeout: Number(socket?.[4] ?? 0),
    non2xx3xx: Number(non2xx?.[1] ?? 0),
  };
  const requests = Number(total[1]);
  return {
    driver: 'wrk',
    rps: Number(rps[1]),
    requests,
    seconds: wrkMs(`${total[2]}${total[3]}`) / 1000,
    // With no completed request wrk prints no distribution.
    p50: p50 ? wrkMs(p50[1]) : NaN,
    p99: p99 ? wrkMs(p99[1]) : NaN,
    errors: Object.values(errorDetail).reduce((a, b) => a + b, 0),
    errorDetail,
  };
}

/**
 * Runs autocannon in this process (it then needs a core of its own: on a 2-core machine the
 * target and the backend share the other one).
 * @param {Load} load
 * @returns {Promise<Measurement>}
 */
export async function runAutocannon(load) {
  const autocannon = require('autocannon');
  /** @type {Record<string, string>} */
  const headers = {};
  /** @type {Record<string, unknown>} */
  const options = {
    url: `${load.tls ? 'https' : 'http'}://127.0.0.1:${load.port}${load.path}`,
    // The bench's own certificate; autocannon passes tls options through to tls.connect.
    ...(load.tls ? { rejectUnauthorized: false } : {}),
    connections: load.connections,
    duration: load.duration,
    pipelining: 1,
    timeout: REQUEST_TIMEOUT_S,
    method: load.method,
    headers,
  };
  if (load.bodyBytes > 0) {
    options.body = Buffer.alloc(load.bodyBytes, 'x');
    headers['content-type'] = 'application/octet-stream';
  }
  if (load.closeEach) {
    // A fresh connection per request: autocannon's `reconnectRate: 1` closes the connection
    // after each response and opens a new one; `Connection: close` tells the server the same,
    // as wrk's -H 'Connection: close' does.
    headers.connection = 'close';
    options.reconnectRate = 1;
    options.setupClient = countResponsesBeforeReconnect;
  }
  const result = await autocannon(options);
  const errorDetail = {
    errors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  };
  return {
    driver: 'autocannon',
    rps: result.duration > 0 ? result.requests.total / result.duration : 0,
    requests: result.requests.total,
    seconds: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: errorDetail.errors + errorDetail.timeouts + errorDetail.non2xx,
    errorDetail,
  };
}

/**
 * autocannon 8 with `reconnectRate` reconnects *instead of* reporting the response that
 * completed (lib/httpClient.js returns from its message-complete handler before emitting
 * 'response'), so with `reconnectRate: 1` every run reports 0 requests. This restores the
 * report: it keeps the response the queue just completed, and emits it just before the
 * reconnect, exactly as the keep-alive path would have.
 * @param {any} client  an autocannon Client (lib/httpClient.js)
 */
function countResponsesBeforeReconnect(client) {
  const queue = client.pipelinedRequests;
  const terminate = queue.terminateRequest.bind(queue);
  /** @type {any} */
  let completed;
  queue.terminateRequest = () => (completed = terminate());
  const reconnect = client._resetConnection;
  client._resetConnection = function resetAfterReporting() {
    if (completed && !this.destroyed) {
      this.emit('response', completed.headers.statusCode, completed.bytes, completed.duration, this.rate);
    }
    completed = undefined;
    return reconnect.call(this);
  };
}
