// Steady client load for tests that change things under traffic (a backend killed, DNS records
// changed): keep-alive GETs from a few concurrent clients until stopped, every outcome counted
// by status and by the server that answered (its `x-server` header). Paced: each client pauses
// a moment between requests, so that the load is steady and never-ending for as long as the
// test needs, without taking both cores from the test files that run beside it.

import http from 'node:http';
import { HOST, within } from './net.js';

/** Keep-alive GETs from `clients` concurrent clients, each `pauseMs` apart, until `stop()`; every outcome counted. */
export function load(port: number, host: string, clients: number, path = '/', pauseMs = 2) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const stats = { ok: 0, failed: [] as string[], byServer: new Map<string, number>(), running: true };
  const loops: Promise<void>[] = [];
  for (let c = 0; c < clients; c++) {
    loops.push(
      (async () => {
        // Bounded: at most 20,000 requests per client.
        for (let i = 0; i < 20_000 && stats.running; i++) {
          await new Promise<void>((resolve) => {
            const req = http.get({ host: HOST, port, path, agent, headers: { host } }, (res) => {
              res.resume();
              res.on('end', () => {
                const server = String(res.headers['x-server']);
                if (res.statusCode === 200) {
                  stats.ok++;
                  stats.byServer.set(server, (stats.byServer.get(server) ?? 0) + 1);
                } else stats.failed.push(`status ${res.statusCode}`);
                resolve();
              });
            });
            req.on('error', (err) => {
              stats.failed.push(err.message);
              resolve();
            });
          });
          await new Promise((resolve) => setTimeout(resolve, pauseMs));
        }
      })(),
    );
  }
  return {
    stats,
    count: (server: string) => stats.byServer.get(server) ?? 0,
    async stop() {
      stats.running = false;
      await within(Promise.all(loops), 'the load to stop', 10_000);
      agent.destroy();
    },
  };
}
