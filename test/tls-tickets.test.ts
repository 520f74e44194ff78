// TLS session tickets: a client that uses each TLS 1.3 ticket once (OpenSSL's, and so curl's and
// wrk's) resumes every connection after its first, as with nginx and HAProxy, because a resumed
// handshake hands it a new ticket (src/proxy/tls-contexts.ts, through the ticket callback of
// src/io/internals.ts). test/plain-io/ runs this file again with LB_IO=plain, where Node's own
// ticket code stays and such a client resumes every other connection.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import t from 'tap';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { PLAIN_IO, serverSecureContext, setTicketKeyCallback } from '../src/io/internals.js';
import { renewTickets } from '../src/proxy/tls-contexts.js';
import { selfSigned } from './helpers/certificate.js';
import { proxyTest } from './helpers/net.js';
import { ticketChain } from './helpers/ticket-chain.js';

/** Whether tickets are renewed here: on the fast paths (every line CI tests), not with LB_IO=plain. */
const RENEWING = !PLAIN_IO;

proxyTest(t, 'TLS 1.3: a resumed connection gets a new ticket, so a client that uses each ticket once resumes every time', async (t, h) => {
  const dir = t.testdir({});
  const one = selfSigned(dir, { name: 'one', names: ['one.test'] });
  const backend = await h.backend('app');
  const configure = (c: Config) => (c.listen[0]!.tls = { certs: [one], minVersion: 'TLSv1.2' });
  const proxy = await h.proxy(`healthcheck: { interval: 1m }\nservers: ["${backend.address}"]\n`, { configure });
  const chain = await ticketChain(proxy.port, null, 5);
  if (!RENEWING) {
    t.strictSame(chain.resumed, [false, true, false, true, false], `Node's own ticket code: every other connection resumed (tickets ${chain.tickets.join(', ')})`);
    return;
  }
  t.strictSame(chain.resumed, [false, true, true, true, true], 'every connection after the first resumed');
  t.ok(chain.tickets.every((n) => n >= 1), `every connection was given a ticket: ${chain.tickets.join(', ')}`);

  // A reload makes new ticket keys with the new certificate context: a ticket from before is
  // not taken (a full handshake, and a new ticket), the ones after are.
  const next = parseConfig(`healthcheck: { interval: 1m }\nservers: ["${backend.address}"]\n`, 'lb.yaml');
  configure(next);
  await proxy.server.reload(next);
  const after = await ticketChain(proxy.port, null, 3, chain.last);
  t.strictSame(after.resumed, [false, true, true], 'after a reload: the old ticket is refused, the new ones resume');
  t.ok(after.tickets.every((n) => n >= 1), `tickets: ${after.tickets.join(', ')}`);
}, { alive: false });

proxyTest(t, "a cluster's secret: servers given the same one open each other's tickets, as a cluster's workers must; a new one at a reload refuses the old tickets", async (t, h) => {
  const dir = t.testdir({});
  const one = selfSigned(dir, { name: 'one', names: ['one.test'] });
  const backend = await h.backend('app');
  const yaml = `healthcheck: { interval: 1m }\nservers: ["${backend.address}"]\n`;
  const configure = (c: Config) => (c.listen[0]!.tls = { certs: [one], minVersion: 'TLSv1.2' });
  const secret = randomBytes(32);
  const a = await h.proxy(yaml, { configure, ticketSecret: secret });
  const b = await h.proxy(yaml, { configure, ticketSecret: secret });
  const own = await h.proxy(yaml, { configure });
  // One connection each: a full handshake gives a ticket, the next connection offers it elsewhere.
  const fromA = (await ticketChain(a.port, null, 1)).last;
  t.strictSame((await ticketChain(b.port, null, 1, fromA)).resumed, [true], "A's ticket resumes on B");
  const fromB = (await ticketChain(b.port, null, 1)).last;
  t.strictSame((await ticketChain(a.port, null, 1, fromB)).resumed, [true], "and B's on A");
  t.strictSame((await ticketChain(own.port, null, 1, fromA)).resumed, [false], 'a server with keys of its own: a full handshake');

  const reloaded = parseConfig(yaml, 'lb.yaml');
  configure(reloaded);
  const next = randomBytes(32);
  await a.server.reload(reloaded, undefined, next);
  await b.server.reload(reloaded, undefined, next);
  t.strictSame((await ticketChain(a.port, null, 1, fromA)).resumed, [false], 'after a reload with a new secret: the old ticket is refused');
  const fresh = (await ticketChain(a.port, null, 1)).last;
  t.strictSame((await ticketChain(b.port, null, 1, fresh)).resumed, [true], "and A's new ticket resumes on B");
}, { alive: false });

proxyTest(t, 'TLS 1.3 with several certificates (SNI): every connection after the first resumes, for either name', async (t, h) => {
  const dir = t.testdir({});
  const a = selfSigned(dir, { name: 'a', names: ['a.test'] });
  const b = selfSigned(dir, { name: 'b', names: ['b.test'] });
  const backend = await h.backend('app');
  const proxy = await h.proxy(`healthcheck: { interval: 1m }\nservers: ["${backend.address}"]\n`, { configure: (c) => (c.listen[0]!.tls = { certs: [a, b], minVersion: 'TLSv1.2' }) });
  for (const name of ['a.test', 'b.test', null]) {
    const chain = await ticketChain(proxy.port, name, 4);
    const expected = RENEWING ? [false, true, true, true] : [false, true, false, true];
    t.strictSame(chain.resumed, expected, `${name ?? 'no name'}: ${RENEWING ? 'every connection after the first' : 'every other connection'} resumed (tickets ${chain.tickets.join(', ')})`);
  }
}, { alive: false });

t.test('renewTickets: in place where the I/O seam offers the ticket callback; without it, Node\'s own ticket code stays', async (t) => {
  const { cert, key } = selfSigned(t.testdir({}));
  const keys = Buffer.alloc(48, 7);
  const context = tls.createSecureContext({ cert: readFileSync(cert), key: readFileSync(key) });
  t.equal(renewTickets(context, keys), RENEWING, `Node ${process.version}, ${PLAIN_IO ? 'LB_IO=plain' : 'the fast paths'}`);
  t.equal(renewTickets(null, keys), false, 'no context to renew (a tls.Server whose own context the seam does not give)');
  t.equal(setTicketKeyCallback({ context: {} } as unknown as tls.SecureContext, () => []), false, 'a Node without the callback: left alone');
  t.equal(setTicketKeyCallback({} as unknown as tls.SecureContext, () => []), false, 'a context without its native half: left alone');
  t.equal(serverSecureContext({} as unknown as tls.Server), null, 'a server without its own context: none');
  t.equal(serverSecureContext(tls.createServer({ cert: readFileSync(cert), key: readFileSync(key) })) !== null, RENEWING, 'a tls.Server\'s own context');
});
