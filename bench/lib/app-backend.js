// The realistic backend: the stub application of servers/app.js (node:http, a JSON answer per
// request), one instance per port given, all in this one process.
//
//   node bench/lib/app-backend.js 8081 8082

import { startApp } from '../../servers/app.js';

const ports = process.argv.slice(2).map(Number);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0)) {
  console.error('usage: node bench/lib/app-backend.js PORT [PORT...]');
  process.exit(2);
}
// Idle keep-alive connections from the proxies stay open for the whole run, as they do with the
// fast backend (app.js's default of 5 s would close them between measurements).
const apps = await Promise.all(ports.map((port, i) => startApp({ name: `app${i + 1}`, port, keepAliveTimeout: 120_000 })));
const stop = () => Promise.all(apps.map((app) => app.close())).then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
