// Routing (src/router.ts): Host first, then the longest path prefix on a segment boundary, then
// the default pool, else null (404). Pure: pools are plain strings here.

import t from 'tap';
import { Router, matchesPrefix } from '../src/router.js';

t.test('matchesPrefix: a prefix matches only on a segment boundary', async (t) => {
  const cases: [path: string, prefix: string, matches: boolean][] = [
    ['/mango', '/mango', true],
    ['/mango/', '/mango', true],
    ['/mango/x', '/mango', true],
    ['/mango/x?y=1', '/mango', true],
    ['/mango?x=1', '/mango', true],
    ['/mangoes', '/mango', false],
    ['/mango-x', '/mango', false],
    ['/mang', '/mango', false],
    ['/Mango', '/mango', false], // paths are case-sensitive (RFC 3986 6.2.2.1)
    ['/', '/', true],
    ['/anything/at/all', '/', true],
    ['/a/b', '/a/', true], // a prefix that ends in "/" is its own boundary
    ['/a', '/a/', false],
    ['/apple/mango', '/mango', false], // a prefix, not a substring
  ];
  for (const [path, prefix, matches] of cases) {
    t.equal(matchesPrefix(path, prefix), matches, `${JSON.stringify(prefix)} ${matches ? 'matches' : 'does not match'} ${JSON.stringify(path)}`);
  }
});

t.test('Router: Host first, then the longest path prefix, then the default pool', async (t) => {
  const router = new Router<string>(
    [
      ['www.mango.com', 'hosts:mango'],
      ['[::1]', 'hosts:v6'],
    ],
    // Written shortest first: the router must still try the longest first.
    [
      { prefix: '/', pool: 'paths:/' },
      { prefix: '/mango', pool: 'paths:/mango' },
      { prefix: '/mango/green', pool: 'paths:/mango/green' },
      { prefix: '/apple', pool: 'paths:/apple' },
    ],
    'default',
  );
  t.equal(router.route('www.mango.com', '/apple'), 'hosts:mango', 'a matching Host wins over a matching path');
  t.equal(router.route('[::1]', '/'), 'hosts:v6', 'an IPv6 literal host');
  t.equal(router.route('other.com', '/mango'), 'paths:/mango');
  t.equal(router.route('other.com', '/mango/green/x'), 'paths:/mango/green', 'the longest prefix wins');
  t.equal(router.route('other.com', '/mango/greenish'), 'paths:/mango', 'the longest prefix on a segment boundary');
  t.equal(router.route('other.com', '/mangoes'), 'paths:/', '/mangoes is not under /mango');
  t.equal(router.route('', '/apple?x=1'), 'paths:/apple', 'no Host (HTTP/1.0): paths still route');
});

t.test('Router: the default pool takes what nothing else matched; without one, null (404)', async (t) => {
  const paths = [{ prefix: '/mango', pool: 'mango' }];
  const withDefault = new Router<string>([['a.com', 'a']], paths, 'default');
  t.equal(withDefault.route('b.com', '/apple'), 'default');
  t.equal(withDefault.route('a.com:80', '/apple'), 'default', 'the router takes the routing key as given: the parser strips the port');

  const without = new Router<string>([['a.com', 'a']], paths, null);
  t.equal(without.route('b.com', '/apple'), null);
  t.equal(without.route('b.com', '/mangoes'), null);
  t.equal(without.route('b.com', '/mango'), 'mango');

  const empty = new Router<string>([], [], null);
  t.equal(empty.route('a.com', '/'), null, 'no routes at all: everything is 404');
});

t.test('Router: does not reorder the caller’s list of paths', async (t) => {
  const paths = [
    { prefix: '/a', pool: 'a' },
    { prefix: '/a/b', pool: 'ab' },
  ];
  const router = new Router<string>([], paths, null);
  t.equal(router.route('', '/a/b/c'), 'ab');
  t.same(
    paths.map((p) => p.prefix),
    ['/a', '/a/b'],
  );
});
