// The scenarios: what load each one drives, against which backend, and what it measures.
// Every scenario keeps 64 connections busy, one request at a time on each.

/**
 * @typedef {object} Scenario
 * @property {string} name          for --scenario
 * @property {string} title         one line for the report
 * @property {'fast' | 'app'} backend
 * @property {'GET' | 'POST'} method
 * @property {string} path
 * @property {number} bodyBytes     POST body size
 * @property {boolean} closeEach    a new connection per request
 * @property {number} idle          idle keep-alive connections held open while measuring
 * @property {string} measures      what the figure says, for the README
 */

/** Connections the load uses in every scenario. */
export const CONNECTIONS = 64;

/** @type {Scenario[]} */
export const SCENARIOS = [
  {
    name: 'keepalive',
    title: 'keep-alive GET, fast backend',
    backend: 'fast',
    method: 'GET',
    path: '/',
    bodyBytes: 0,
    closeEach: false,
    idle: 0,
    measures: 'the cost of proxying a small request: parse, route, forward, relay; the backend costs almost nothing',
  },
  {
    name: 'app',
    title: 'keep-alive GET, servers/app.js backend',
    backend: 'app',
    method: 'GET',
    path: '/',
    bodyBytes: 0,
    closeEach: false,
    idle: 0,
    measures: 'the same in front of a Node.js application, which is slower than the proxies: how much a proxy takes from a realistic backend on a shared machine',
  },
  {
    name: 'close',
    title: 'new connection per request',
    backend: 'fast',
    method: 'GET',
    path: '/',
    bodyBytes: 0,
    closeEach: true,
    idle: 0,
    measures: 'accepting and closing a client connection per request (Connection: close); backend connections may still be reused',
  },
  {
    name: 'post16k',
    title: '16 KiB POST bodies',
    backend: 'fast',
    method: 'POST',
    path: '/',
    bodyBytes: 16 * 1024,
    closeEach: false,
    idle: 0,
    measures: 'streaming request bodies (Content-Length) through to the backend',
  },
  {
    name: 'big',
    title: '1 MiB responses',
    backend: 'fast',
    method: 'GET',
    path: '/1mib',
    bodyBytes: 0,
    closeEach: false,
    idle: 0,
    measures: 'relaying large response bodies, with backpressure: mostly bytes copied per second',
  },
  {
    name: 'idle1000',
    title: 'keep-alive GET with 1,000 idle connections open',
    backend: 'fast',
    method: 'GET',
    path: '/',
    bodyBytes: 0,
    closeEach: false,
    idle: 1000,
    measures: 'what 1,000 open, mostly idle client connections cost: req/s on 64 others, and the memory (RSS) they take',
  },
];
