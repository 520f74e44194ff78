#!/usr/bin/env node
// `npm run bench:router`: the router's cost per request (dist/router.js) as the number of exact
// hosts and of wildcard hosts grows: exact hosts are one map lookup whatever their number; a
// host that no exact name matches costs one lookup per dot in its name when wildcards exist.
//
//   node bench/router.js [--ms M]

import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mri from 'mri';
import { median } from './lib/report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { Router } = await import(pathToFileURL(path.join(here, '../dist/router.js')).href);
const args = mri(process.argv.slice(2), { string: ['ms'], alias: { m: 'ms' } });
const ms = Number(args.ms ?? 200);

/** ns per route() call over the `hosts` asked in turn, the median of 7 rounds of about `ms`. */
function time(router, hosts) {
  const rounds = [];
  let sink = 0;
  for (let r = 0; r < 8; r++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    const until = start + BigInt(ms * 1e6);
    let now = start;
    while (now < until) {
      for (let i = 0; i < 1000; i++) sink += router.route(hosts[i % hosts.length], '/api/users?id=7') === null ? 0 : 1;
      calls += 1000;
      now = process.hrtime.bigint();
    }
    // The first round warms the JIT up and is not counted.
    if (r > 0) rounds.push(Number(now - start) / calls);
  }
  if (sink < 0) console.log(sink);
  return median(rounds);
}

const pool = (name) => ({ paths: [], pool: name });
const rows = [];
for (const n of [1, 100, 10_000]) {
  const hosts = Array.from({ length: n }, (_, i) => `www${i}.mango.test`);
  const router = new Router(hosts.map((h) => [h, pool(h)]), [{ prefix: '/api', pool: 'api' }], 'default');
  rows.push([`${n} exact hosts, Host matches one`, time(router, hosts.slice(0, 64))]);
  rows.push([`${n} exact hosts, Host matches none`, time(router, ['other.example.com'])]);
}
for (const n of [1, 100]) {
  const wild = Array.from({ length: n }, (_, i) => [`*.shop${i}.test`, pool(`shop${i}`)]);
  const router = new Router([['www.mango.test', pool('www')], ...wild], [{ prefix: '/api', pool: 'api' }], 'default');
  rows.push([`${n} wildcards, Host a.shop0.test (covered)`, time(router, ['a.shop0.test'])]);
  rows.push([`${n} wildcards, Host a.b.c.example.com (none)`, time(router, ['a.b.c.example.com'])]);
  rows.push([`${n} wildcards, Host www.mango.test (exact)`, time(router, ['www.mango.test'])]);
}
console.log(`Router.route(), ns per call (median of 7 rounds of ~${ms} ms)\n`);
console.log('| case | ns |\n|---|---:|');
for (const [name, ns] of rows) console.log(`| ${name} | ${ns.toFixed(1)} |`);
