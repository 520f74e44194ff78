// GET /: the status page. One HTML document with its CSS and script inline, no build step. The
// server renders the first view (readable without JavaScript); the script then polls /status every
// 2 s and redraws with the same renderer, whose source it carries.

import { createHash } from 'node:crypto';
import type { Status } from './status.js';

/** How often the page asks for /status, in ms. */
export const REFRESH_MS = 2000;

/**
 * The dashboard for `status`: a header (uptime, connections, servers up) and one card per pool,
 * a row per server. req/s is measured against `previous`, the report polled before this one
 * (null on the first view: "–" until the next poll). "Ago" and rates use the reports' own `time`,
 * so the browser's clock does not matter.
 *
 * It runs in two places: here, for the first view, and in the browser, whose script holds this
 * function's source text (Function.prototype.toString) and calls it on every refresh. So it must
 * stay self-contained: nothing from outside its body, syntax both Node 20 and browsers run (the
 * compiler only erases the types). Every value that goes into the markup goes through `esc`.
 */
export function renderDashboard(status: Status, previous: Status | null): string {
  const esc = (value: string | number): string => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const elapsed = previous === null ? 0 : (Date.parse(status.time) - Date.parse(previous.time)) / 1000;
  const rate = (requests: number, before: number | undefined): string => {
    if (before === undefined || elapsed <= 0) return '–';
    const perSecond = Math.max(0, requests - before) / elapsed;
    return perSecond < 10 ? perSecond.toFixed(1) : String(Math.round(perSecond));
  };
  const span = (seconds: number): string => {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  };
  const now = Date.parse(status.time);
  const byName = new Map(status.servers.map((s) => [s.name, s]));
  const poolsBefore = new Map((previous?.pools ?? []).map((p) => [p.name, p.requests]));
  const serversBefore = new Map((previous?.servers ?? []).map((s) => [s.name, s.requests]));
  const upCount = status.servers.filter((s) => s.up).length;
  const requests = status.pools.reduce((n, p) => n + p.requests, 0);
  const totalBefore = previous === null ? undefined : previous.pools.reduce((n, p) => n + p.requests, 0);

  const serverRow = (m: Status['pools'][number]['members'][number]): string => {
    const s = byName.get(m.server)!;
    // Health first (a down server takes nothing whatever its admin state), then what keeps an up one out.
    const admin = m.admin === 'drain' && s.inFlight === 0 ? 'drained' : m.admin;
    const state = !s.up ? 'down' : m.ejected ? 'ejected' : admin !== 'ready' ? admin : 'up';
    const role = m.backup ? ' <span class="role">backup</span>' : '';
    const limit = m.maxConnections > 0 ? ` <span class="limit">max ${m.maxConnections}</span>` : '';
    const check =
      s.lastCheck === null
        ? '<td class="check none" data-check="none">not checked yet</td>'
        : `<td class="check ${s.lastCheck.ok ? 'ok' : 'failed'}" data-check="${s.lastCheck.ok ? 'ok' : 'failed'}">` +
          `${esc(s.lastCheck.reason)} <span class="ago">${esc(span((now - Date.parse(s.lastCheck.at)) / 1000))} ago</span></td>`;
    const label = s.label === s.name ? '' : `<span class="label">${esc(s.label)}</span>`;
    return (
      `<tr class="server" data-server="${esc(s.name)}" data-state="${state}">` +
      `<td class="name">${esc(s.name)}${label}</td>` +
      `<td><span class="badge ${state}">${state.toUpperCase()}</span>${role}</td>` +
      check +
      `<td class="num weight">${m.weight}${limit}</td>` +
      `<td class="num requests">${s.requests}</td>` +
      `<td class="num errors${s.responses['5xx'] > 0 ? ' nonzero' : ''}">${s.responses['5xx']}</td>` +
      `<td class="num failures${s.failures > 0 ? ' nonzero' : ''}">${s.failures}</td>` +
      `<td class="num in-flight">${s.inFlight}</td>` +
      `<td class="num rate">${rate(s.requests, serversBefore.get(s.name))}</td></tr>`
    );
  };

  const poolCard = (p: Status['pools'][number]): string => {
    const up = p.servers.filter((name) => byName.get(name)!.up).length;
    const health = up === 0 ? 'down' : up < p.servers.length ? 'degraded' : 'up';
    return (
      `<section class="pool ${health}" data-pool="${esc(p.name)}" data-health="${health}">` +
      `<div class="pool-head"><h2>${esc(p.name)}</h2><span class="pool-up">${up} of ${p.servers.length} up</span>` +
      `<span class="pool-stats">${esc(p.balance)} · requests <b>${p.requests}</b> · 5xx <b>${p.responses['5xx']}</b> · ` +
      `in flight <b>${p.inFlight}</b> · waiting <b class="waiting">${p.waiting}</b> · ` +
      `req/s <b>${rate(p.requests, poolsBefore.get(p.name))}</b></span></div>` +
      '<table><thead><tr><th class="name">server</th><th class="state">state</th><th class="check">last check</th><th class="num">weight</th><th class="num">requests</th>' +
      '<th class="num">5xx</th><th class="num">failed</th><th class="num">in flight</th><th class="num">req/s</th></tr></thead>' +
      `<tbody>${p.members.map(serverRow).join('')}</tbody></table></section>`
    );
  };

  return (
    '<header class="top"><h1>mango-lb <span>status</span></h1><dl class="summary">' +
    `<div><dt>uptime</dt><dd id="uptime">${span(status.uptimeSeconds)}</dd></div>` +
    `<div><dt>client connections</dt><dd id="connections">${status.connections}</dd></div>` +
    `<div><dt>servers up</dt><dd id="servers-up">${upCount} / ${status.servers.length}</dd></div>` +
    `<div><dt>requests</dt><dd id="requests">${requests}</dd></div>` +
    `<div><dt>req/s</dt><dd id="rate">${rate(requests, totalBefore)}</dd></div>` +
    (status.workers === undefined ? '' : `<div><dt>workers</dt><dd id="workers">${status.workers.length}</dd></div>`) +
    '</dl></header>' +
    `<main>${status.pools.map(poolCard).join('')}</main>`
  );
}

const STYLE = `
:root {
  --bg: #f4f5f7; --card: #fff; --text: #1c2230; --muted: #6a7285; --line: #e2e5eb; --accent: #e38b06;
  --up: #17753a; --up-bg: #d9f3e1; --down: #c42b2b; --down-bg: #fde1df; --warn: #9a6700; --warn-bg: #fff3c4;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #101318; --card: #181c23; --text: #e5e8ee; --muted: #97a0b2; --line: #29303a;
    --up: #4cc26e; --up-bg: #143a22; --down: #ff6b6b; --down-bg: #461919; --warn: #e3b341; --warn-bg: #3d3011;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.top { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 12px 40px;
  padding: 18px 32px; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { margin: 0; font-size: 20px; letter-spacing: -0.01em; }
h1 span { color: var(--accent); font-weight: 500; }
.summary { display: flex; flex-wrap: wrap; gap: 8px 32px; margin: 0; }
.summary div { display: flex; flex-direction: column; }
dt, th { color: var(--muted); font-size: 11px; font-weight: 600; text-transform: uppercase; letter-spacing: 0.05em; }
dd { margin: 0; font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
main { display: grid; gap: 20px; padding: 24px 32px; max-width: 1280px; }
.pool { background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--up); border-radius: 8px; overflow: hidden; }
.pool.degraded { border-left-color: var(--warn); }
.pool.down { border-left-color: var(--down); }
.pool-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 16px; padding: 14px 18px 10px; }
.pool-head h2 { margin: 0; font-size: 16px; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.pool-up { color: var(--muted); }
.pool.down .pool-up { color: var(--down); font-weight: 600; }
.pool-stats { margin-left: auto; color: var(--muted); font-variant-numeric: tabular-nums; }
.pool-stats b { color: var(--text); font-weight: 600; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
th { text-align: left; padding: 6px 18px; white-space: nowrap; }
/* The same column widths in every pool's table, so that the cards line up. */
th.name { width: 22%; } th.state { width: 10%; } th.check { width: 22%; } th.num { width: 7.6%; }
td { padding: 9px 18px; border-top: 1px solid var(--line); vertical-align: middle; overflow-wrap: anywhere; }
.num { text-align: right; font-variant-numeric: tabular-nums; padding-left: 6px; }
td.name { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.label { display: block; color: var(--muted); font-size: 12px; }
.badge { display: inline-block; min-width: 60px; padding: 2px 10px; border-radius: 999px; text-align: center;
  font-size: 12px; font-weight: 700; letter-spacing: 0.06em; }
.badge.up { background: var(--up-bg); color: var(--up); }
.badge.down { background: var(--down-bg); color: var(--down); }
.badge.ejected, .badge.drain, .badge.drained, .badge.maint { background: var(--warn-bg); color: var(--warn); }
.role, .limit { color: var(--muted); font-size: 12px; }
.check.ok::before { content: "\\2713  "; color: var(--up); font-weight: 700; }
.check.failed::before { content: "\\2717  "; color: var(--down); font-weight: 700; }
.check.none, .ago { color: var(--muted); }
.nonzero { color: var(--down); font-weight: 600; }
footer { padding: 0 32px 28px; color: var(--muted); font-size: 12px; max-width: 1280px; }
footer a { color: inherit; }
body[data-live="false"] #live { color: var(--down); font-weight: 600; }
`;

/** The page's script: redraws #app from /status every REFRESH_MS, without reloading the page. */
const SCRIPT = `
'use strict';
const renderDashboard = ${renderDashboard.toString()};
const app = document.getElementById('app');
const live = document.getElementById('live');
let last = JSON.parse(document.getElementById('initial-status').textContent);
let refreshes = 0;
async function refresh() {
  try {
    const response = await fetch('status', { cache: 'no-store', headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error('HTTP ' + response.status);
    const status = await response.json();
    app.innerHTML = renderDashboard(status, last);
    last = status;
    document.body.dataset.live = 'true';
    document.body.dataset.refreshes = String(++refreshes);
    live.textContent = 'Updated ' + new Date(status.time).toLocaleTimeString() + '; refreshes every ${REFRESH_MS / 1000} s.';
  } catch (err) {
    document.body.dataset.live = 'false';
    live.textContent = 'Cannot reach the balancer (' + err.message + '); showing the report of ' +
      new Date(last.time).toLocaleTimeString() + '. Retrying every ${REFRESH_MS / 1000} s.';
  }
  setTimeout(refresh, ${REFRESH_MS});
}
setTimeout(refresh, ${REFRESH_MS});
`;

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * The Content-Security-Policy the page is served with: its own inline style and script (by hash)
 * and fetches to its own origin, nothing else. Markup that escaped escaping still could not run.
 */
export const PAGE_CSP =
  `default-src 'none'; script-src ${hash(SCRIPT)}; style-src ${hash(STYLE)}; connect-src 'self'; ` +
  "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The whole page for `status`. The report is also embedded as JSON (with "<" escaped, so it cannot
 * end its script element) for the script's first req/s measurement. Without JavaScript, the page
 * reloads itself every 5 s instead.
 */
export function renderPage(status: Status): string {
  const json = JSON.stringify(status).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mango-lb status</title>
<link rel="icon" href="data:,">
<noscript><meta http-equiv="refresh" content="5"></noscript>
<style>${STYLE}</style>
</head>
<body data-live="true" data-refreshes="0">
<div id="app">${renderDashboard(status, null)}</div>
<footer>
<p id="live">Refreshes every ${REFRESH_MS / 1000} s.</p>
<p>req/s is measured by this page between two successive polls of <a href="status">/status</a>.
Server rows count all of a server's requests, over every pool that lists it.
Failed: connections that failed before a response. Also: <a href="metrics">/metrics</a> for Prometheus.</p>
</footer>
<script type="application/json" id="initial-status">${json}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
