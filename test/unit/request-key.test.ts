// What balancing keys on (src/http/request-key.ts): a field's value, a cookie, a query
// parameter, the path, the client's address; read from a parsed head.

import t from 'tap';
import { cookieValue, fieldValue, hashKeyOf, pathOnly, queryValue } from '../../src/http/request-key.js';
import { RequestParser, type RequestHead } from '../../src/http/request-parser.js';

function head(...lines: string[]): RequestHead {
  const parsed = new RequestParser().execute(Buffer.from([...lines, '', ''].join('\r\n'), 'latin1'), 0);
  if (parsed === null || parsed instanceof Error) throw new Error(`not a head: ${String(parsed)}`);
  return parsed;
}

t.test('fieldValue: the first field of that name, in any letter case, OWS trimmed', async (t) => {
  const h = head('GET / HTTP/1.1', 'Host: a', 'X-User:  alice ', 'x-user: bob');
  t.equal(fieldValue(h, 'x-user'), 'alice');
  t.equal(fieldValue(h, 'host'), 'a');
  t.equal(fieldValue(h, 'x-other'), null);
  t.equal(fieldValue(h, 'x-use'), null, 'a prefix of a name is not the name');
});

t.test('cookieValue: a pair of any Cookie field; quotes removed; the first wins', async (t) => {
  const h = head('GET / HTTP/1.1', 'Host: a', 'Cookie: a=1; lb_server=abc ;b=2', 'cookie: lb_server=zzz; q="x y"');
  t.equal(cookieValue(h, 'lb_server'), 'abc');
  t.equal(cookieValue(h, 'b'), '2');
  t.equal(cookieValue(h, 'q'), 'x y', 'a quoted value, unquoted');
  t.equal(cookieValue(h, 'lb'), null);
  t.equal(cookieValue(head('GET / HTTP/1.1', 'Host: a', 'Cookie: novalue; c='), 'c'), '', 'an empty value is a value');
  t.equal(cookieValue(head('GET / HTTP/1.1', 'Host: a'), 'c'), null, 'no Cookie field');
  t.equal(cookieValue(head('GET / HTTP/1.1', 'Host: a', 'Cookie: c="'), 'c'), '"', 'a lone quote stays');
});

t.test('queryValue and pathOnly', async (t) => {
  t.equal(queryValue('/p?a=1&user=alice&b', 'user'), 'alice');
  t.equal(queryValue('/p?a=1', 'user'), null);
  t.equal(queryValue('/p', 'user'), null, 'no query');
  t.equal(queryValue('/p?user=%41', 'user'), '%41', 'as sent, not decoded');
  t.equal(pathOnly('/a/b?x=1'), '/a/b');
  t.equal(pathOnly('/a/b'), '/a/b');
});

t.test('hashKeyOf: each hash_key form', async (t) => {
  const h = head('GET /cart?user=q HTTP/1.1', 'Host: a', 'X-User: h', 'Cookie: user=c');
  t.equal(hashKeyOf({ from: 'header', name: 'x-user' }, h, '10.0.0.1'), 'h');
  t.equal(hashKeyOf({ from: 'cookie', name: 'user' }, h, '10.0.0.1'), 'c');
  t.equal(hashKeyOf({ from: 'query', name: 'user' }, h, '10.0.0.1'), 'q');
  t.equal(hashKeyOf({ from: 'path', name: '' }, h, '10.0.0.1'), '/cart');
  t.equal(hashKeyOf({ from: 'source', name: '' }, h, '10.0.0.1'), '10.0.0.1');
  t.equal(hashKeyOf({ from: 'header', name: 'x-none' }, h, '10.0.0.1'), null, 'a request without the key');
});
