// The configuration files of the processes under test, as text: the balancer's YAML, HAProxy's
// and nginx's (as a peer proxy, and as the fast backend). Everything listens on 127.0.0.1 only.
// Settings beyond the defaults are the ones the benchmark's README lists, each with its reason.

import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** How long an idle keep-alive client connection may stay open, everywhere (the balancer's default). */
const CLIENT_IDLE = '60s';

/**
 * A certificate for the TLS scenarios: its PEM files, and both in one file (HAProxy's `crt`).
 * @typedef {{ cert: string, key: string, combined: string }} Certificate
 */

/**
 * The balancer: one default pool over the backends, everything else at its defaults, except
 * `balance` when given (the pool option at the top level: the default of every pool), and TLS
 * on the listener when a certificate is given.
 * @param {number} port
 * @param {number[]} backendPorts
 * @param {string | null} [balance]  e.g. "least_conn"; null: no `balance:` line (round robin)
 * @param {Certificate | null} [tls]
 */
export function balancerYaml(port, backendPorts, balance = null, tls = null) {
  return [
    '# Written by bench/run.js for one benchmark run.',
    tls === null ? `listen: 127.0.0.1:${port}` : `listen: { address: 127.0.0.1:${port}, tls: { cert: "${tls.cert}", key: "${tls.key}" } }`,
    ...(balance === null ? [] : [`balance: ${balance}`]),
    'servers:',
    ...backendPorts.map((p) => `  - 127.0.0.1:${p}`),
    '',
  ].join('\n');
}

/**
 * HAProxy as the issue asks: one thread, keep-alive both sides, backend connections shared by
 * all clients (`http-reuse always`), maxconn 4000 (10000 needs more file descriptors than a
 * default ulimit gives).
 * @param {number} port
 * @param {number[]} backendPorts
 * @param {string} [balance]  HAProxy's `balance` algorithm: roundrobin (the default here), leastconn
 * @param {Certificate | null} [tls]  terminate TLS: `ssl crt` with ALPN http/1.1 (HAProxy's session
 *   cache and tickets stay at their defaults: on)
 */
export function haproxyConfig(port, backendPorts, balance = 'roundrobin', tls = null) {
  return `# Written by bench/run.js for one benchmark run.
global
  nbthread 1
  maxconn 4000

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 3s
  timeout client ${CLIENT_IDLE}
  timeout server ${CLIENT_IDLE}
  timeout http-keep-alive ${CLIENT_IDLE}

frontend bench
  bind 127.0.0.1:${port}${tls === null ? '' : ` ssl crt ${tls.combined} alpn http/1.1`}
  default_backend servers

backend servers
  balance ${balance}
${backendPorts.map((p, i) => `  server s${i + 1} 127.0.0.1:${p}`).join('\n')}
`;
}

/**
 * The lines every nginx here shares: one worker in the foreground, files under `dir`, no
 * access log, and no limit on requests per keep-alive connection (nginx's default of 1,000
 * would make every client reconnect every 1,000 requests, which no other target does).
 * @param {string} dir
 * @param {string} name
 */
function nginxMain(dir, name) {
  return `# Written by bench/run.js for one benchmark run.
worker_processes 1;
daemon off;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}.error.log error;
events {
  worker_connections 8192;
}`;
}

/** @param {string} dir @param {string} name */
function nginxHttpCommon(dir, name) {
  return `  access_log off;
  client_body_temp_path ${dir}/${name}-body;
  proxy_temp_path ${dir}/${name}-proxy;
  fastcgi_temp_path ${dir}/${name}-fastcgi;
  uwsgi_temp_path ${dir}/${name}-uwsgi;
  scgi_temp_path ${dir}/${name}-scgi;
  keepalive_requests 1000000;
  keepalive_timeout ${CLIENT_IDLE};`;
}

/**
 * nginx as the fast backend: two server blocks on two ports, each answering
 * `200 Hello, world!` from the config and /1mib from a 1 MiB file in `dir`/www.
 * @param {string} dir
 * @param {number[]} ports
 */
export function nginxBackendConfig(dir, ports) {
  const servers = ports.map(
    (p) => `  server {
    listen 127.0.0.1:${p} backlog=4096;
    location / {
      default_type text/plain;
      return 200 "Hello, world!";
    }
    location = /1mib {
      root ${dir}/www;
      default_type application/octet-stream;
    }
  }`,
  );
  return `${nginxMain(dir, 'nginx-backend')}
http {
${nginxHttpCommon(dir, 'nginx-backend')}
${servers.join('\n')}
}
`;
}

/**
 * nginx as a peer proxy, as the issue asks: one worker, HTTP/1.1 to the backends with the
 * Connection header cleared, up to 64 idle backend connections kept per worker. Round robin
 * is the upstream default. nginx reads a whole request body before it sends the request on;
 * its default buffer for that is 8 KiB on x86-64, and a larger body goes to a temp file on
 * disk, which made the 16 KiB POST scenario ten times slower: `client_body_buffer_size 32k`
 * keeps those bodies in memory. Response buffering is left at nginx's defaults.
 * @param {string} dir
 * @param {number} port
 * @param {number[]} backendPorts
 * @param {string | null} [balance]  an upstream balancing directive, e.g. "least_conn"; null:
 *   none (round robin)
 * @param {Certificate | null} [tls]  terminate TLS (nginx's session tickets stay at their
 *   default, on; its session cache at its default, off), TLS 1.2 and 1.3 (1.22's default
 *   protocols stop at 1.2, where the balancer and HAProxy speak 1.3: the same handshake for all)
 */
export function nginxProxyConfig(dir, port, backendPorts, balance = null, tls = null) {
  return `${nginxMain(dir, 'nginx-proxy')}
http {
${nginxHttpCommon(dir, 'nginx-proxy')}
  upstream servers {
${backendPorts.map((p) => `    server 127.0.0.1:${p};`).join('\n')}
${
  // nginx's docs for `keepalive`: a balancing method other than round robin must come before it.
  balance === null ? '' : `    ${balance};\n`
}    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port}${tls === null ? '' : ' ssl'} backlog=4096;
${tls === null ? '' : `    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    ssl_protocols TLSv1.2 TLSv1.3;
`}    client_body_buffer_size 32k;
    location / {
      proxy_pass http://servers;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/**
 * The Lua script that makes wrk send `bytes`-byte POST bodies (wrk adds Content-Length).
 * @param {number} bytes
 */
export function wrkPostScript(bytes) {
  return `-- Written by bench/run.js: POST a ${bytes}-byte body on every request.
wrk.method = "POST"
wrk.body = string.rep("x", ${bytes})
wrk.headers["Content-Type"] = "application/octet-stream"
`;
}

/**
 * The TLS scenarios' certificate, made with openssl for this run: ECDSA P-256 (what a public
 * site would serve today), for 127.0.0.1, in `dir` (cert, key, and both in one file for HAProxy).
 * @param {string} dir
 * @returns {Certificate}
 */
export function makeCertificate(dir) {
  const cert = path.join(dir, 'bench-cert.pem');
  const key = path.join(dir, 'bench-key.pem');
  const combined = path.join(dir, 'bench-combined.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  writeFileSync(combined, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  // nginx's worker may run as another user: it must read them.
  for (const file of [cert, key, combined]) chmodSync(file, 0o644);
  return { cert, key, combined };
}
