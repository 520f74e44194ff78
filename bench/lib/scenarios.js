// The scenarios: what load each one drives, against which backend, and what it measures.
// Every scenario keeps 64 connections busy, one request at a time on each. The policies scenario
// also says which balancing policies of each proxy it runs.

/**
 * @typedef {object} Scenario
 * @property {string} name          for --scenario
 * @property {string} title         one line for the report
 * @property {'fast' | 'app' | 'policy'} backend
 * @property {'GET' | 'POST'} method
 * @property {string} path
 * @property {number} bodyBytes     POST body size
 * @property {boolean} closeEach    a new connection per request
 * @property {number} idle          idle keep-alive connections held open while measuring
 * @property {string} measures      what the figure says, for the README
 * @property {boolean} [optIn]      runs only when named with --scenario, not in "all"
 * @property {boolean} [tls]        clients speak HTTPS to the target (TLS terminated there; the
 *                                  backends stay plain HTTP); targets that cannot (direct,
 *                                  node-http-proxy) sit it out
 */

/** Connections the load uses in every scenario. */
export const CONNECTIONS = 64;

/** The scenario that runs each proxy once per balancing policy (its rows have a table of their own). */
export const POLICIES = 'policies';

/**
 * The balancer's policies the policies scenario runs, each as `balance: <policy>` at the top
 * level of its config; the first is the one the others are compared with. `hash` is left out:
 * the load has nothing to hash but one path, so every request would go to one server.
 */
export const BALANCER_POLICIES = ['round_robin', 'least_conn', 'least_request', 'least_latency', 'random'];

/**
 * The peers' policies there: the label of the row, and the policy in the peer's own config
 * words (null: its default, round robin).
 * @type {Record<string, { label: string, balance: string | null }[]>}
 */
export const PEER_POLICIES = {
  haproxy: [
    { label: 'haproxy roundrobin', balance: 'roundrobin' },
    { label: 'haproxy leastconn', balance: 'leastconn' },
  ],
  nginx: [
    { label: 'nginx (round robin)', balance: null },
    { label: 'nginx least_conn', balance: 'least_conn' },
  ],
};

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
    name: 'tls',
    title: 'HTTPS keep-alive GET (TLS at the proxy, ECDSA P-256)',
    backend: 'fast',
    method: 'GET',
    path: '/',
    bodyBytes: 0,
    closeEach: false,
    idle: 0,
    tls: true,
    measures: 'TLS termination on long-lived connections: decrypting requests and encrypting responses, no handshakes once connected',
  },
  {
    name: 'tlsclose',
    title: 'a new TLS connection per request (a handshake each, full or resumed)',
    backend: 'fast',
    method: 'GET',
    path: '/',
    bodyBytes: 0,
    closeEach: true,
    idle: 0,
    tls: true,
    measures: 'a TLS handshake per request: full ECDHE-ECDSA ones, and resumed ones where wrk offers the session of its previous connection and the target takes it',
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
  {
    name: POLICIES,
    title: 'balancing policies, one slow backend',
    backend: 'policy',
    method: 'GET',
    path: '/',
    bodyBytes: 0,
    closeEach: false,
    idle: 0,
    measures:
      'how each balancing policy spreads keep-alive GETs over a fast server and a slow one (every response 50 ms late): ' +
      "req/s, latency and the fast server's share, per policy of the balancer, HAProxy and nginx",
    // Not in "all": it compares policies, not proxies, and adds nine targets' worth of time.
    optIn: true,
  },
];
