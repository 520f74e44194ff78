// ParserPool (src/proxy/parser-pool.ts): parsers of closed client connections serve new ones,
// without anything of the request the old connection was in, and only under the limits they
// were made with.

import t from 'tap';
import { RequestParser } from '../src/http/request-parser.js';
import { ParserPool } from '../src/proxy/parser-pool.js';
import { proxyTest, request, waitFor } from './helpers/net.js';

const LIMITS = { maxRequestLine: 8192, maxHead: 16384, maxFields: 100, maxConnections: 0, maxBody: 0 };

t.test('a parser given back serves the next connection, with no partial head left in it', async (t) => {
  const pool = new ParserPool();
  const parser = pool.take(LIMITS);
  t.type(parser, RequestParser);
  // A connection that closed in the middle of a head.
  t.equal(parser.execute(Buffer.from('GET /half-way HTTP/1.1\r\nHo'), 0), null);
  pool.give(parser, LIMITS);
  const again = pool.take(LIMITS);
  t.equal(again, parser, 'the same parser');
  const head = again.execute(Buffer.from('GET /next HTTP/1.1\r\nHost: a.test\r\n\r\n'), 0);
  t.notOk(head instanceof Error);
  t.equal(head && !(head instanceof Error) ? head.path : null, '/next', 'parsed from its first byte');
  t.not(pool.take(LIMITS), parser, 'the pool is empty again: a new parser');
});

t.test('new limits (a reload) empty the pool; parsers made under the old ones are not kept', async (t) => {
  const pool = new ParserPool();
  const old = pool.take(LIMITS);
  const kept = pool.take(LIMITS);
  pool.give(kept, LIMITS);
  const limits = { ...LIMITS, maxFields: 10 };
  const fresh = pool.take(limits);
  t.not(fresh, kept, 'not one made under the old limits');
  pool.give(old, LIMITS);
  t.not(pool.take(limits), old, 'a parser of the old limits is dropped when given back');
});

t.test('at most 64 parsers wait', async (t) => {
  const pool = new ParserPool();
  const parsers = Array.from({ length: 70 }, () => pool.take(LIMITS));
  for (const p of parsers) pool.give(p, LIMITS);
  const again = new Set(Array.from({ length: 70 }, () => pool.take(LIMITS)));
  t.equal(parsers.filter((p) => again.has(p)).length, 64);
});

proxyTest(t, 'a connection closed in the middle of a head leaves nothing behind for the next one', async (t, h) => {
  const [a] = await h.backends('a');
  const proxy = await h.proxy(`
healthcheck: { interval: 1m }
servers: ["${a!.address}"]
`);
  for (let i = 0; i < 3; i++) {
    const open = proxy.server.connections;
    const cut = await h.client(proxy);
    await cut.write('GET /cut-short HTTP/1.1\r\nHost: x.test\r\nX-Half: ');
    cut.socket.destroy();
    await waitFor('the proxy to close the cut connection', () => proxy.server.connections === open);
    const client = await h.client(proxy);
    const res = await client.send(request('GET', `/whole-${i}`, { host: 'x.test' }));
    t.equal(res.status, 200);
    t.equal(res.json<{ path: string }>().path, `/whole-${i}`);
  }
});
