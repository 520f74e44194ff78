// The Node.js peer: node-http-proxy (the `http-proxy` package) in front of the same backends,
// round robin, with a keep-alive agent, as its README suggests for production. Its own process.
//
//   node bench/lib/node-http-proxy.js LISTEN_PORT BACKEND_PORT [BACKEND_PORT...]
//
// What it does per request is node-http-proxy's own behaviour, unchanged: node:http parses the
// request, a new request goes to the backend through the agent's pool, the response is piped
// back. Its one setting beyond the defaults: client keep-alive connections may stay idle 60 s,
// like the balancer's `timeouts.idle` (node:http's default of 5 s would close the 1,000 idle
// connections of the idle scenario before it measured anything).

import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const httpProxy = require('http-proxy');

const [listenPort, ...backendPorts] = process.argv.slice(2).map(Number);
if (!listenPort || backendPorts.length === 0) {
  console.error('usage: node bench/lib/node-http-proxy.js LISTEN_PORT BACKEND_PORT [BACKEND_PORT...]');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });
const targets = backendPorts.map((port) => `http://127.0.0.1:${port}`);
const proxy = httpProxy.createProxyServer({ agent });
let next = 0;

proxy.on('error', (err, _req, res) => {
  // `res` is a ServerResponse for web requests (a socket for upgrades, which we do not use).
  const response = /** @type {http.ServerResponse} */ (res);
  if (!response.headersSent) {
    response.writeHead(502, { 'content-type': 'text/plain', connection: 'close' });
    response.end('Bad Gateway');
  } else {
    response.destroy(err);
  }
});

const server = http.createServer((req, res) => {
  const target = targets[next];
  next = (next + 1) % targets.length;
  proxy.web(req, res, { target });
});
server.keepAliveTimeout = 60_000;
server.listen({ host: '127.0.0.1', port: listenPort, backlog: 4096 });

const stop = () => {
  server.close();
  server.closeAllConnections();
  agent.destroy();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
