// Routing (src/router.ts): Host first (exact, else the longest wildcard; a host's own paths before
// its own pool), then the longest path prefix on a segment boundary, then the default pool, else
// null (404). Pure: pools are plain strings here.

import t from 'tap';
import { Router, matchesPrefix, type HostRoutes } from '../../src/router.js';

/** A host that routes everything to `pool`. */
const only = (pool: string): HostRoutes<string> => ({ paths: [], pool });

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
      ['www.mango.com', only('hosts:mango')],
      ['[::1]', only('hosts:v6')],
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
  const withDefault = new Router<string>([['a.com', only('a')]], paths, 'default');
  t.equal(withDefault.route('b.com', '/apple'), 'default');
  t.equal(withDefault.route('a.com:80', '/apple'), 'default', 'the router takes the routing key as given: the parser strips the port');

  const without = new Router<string>([['a.com', only('a')]], paths, null);
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

t.test('Router: wildcard hosts: one label or more; exact beats wildcard; the longer wildcard wins', async (t) => {
  const router = new Router<string>(
    [
      ['*.mango.com', only('any mango')],
      ['*.green.mango.com', only('green')],
      ['www.mango.com', only('www')],
      ['*.com', only('any com')],
    ],
    [{ prefix: '/p', pool: 'path' }],
    'default',
  );
  t.equal(router.route('www.mango.com', '/'), 'www', 'exact beats wildcard');
  t.equal(router.route('shop.mango.com', '/'), 'any mango');
  t.equal(router.route('a.b.mango.com', '/'), 'any mango', 'more than one label');
  t.equal(router.route('x.green.mango.com', '/'), 'green', 'the longer wildcard wins');
  t.equal(router.route('green.mango.com', '/'), 'any mango', 'a wildcard never covers its bare name');
  t.equal(router.route('mango.com', '/'), 'any com');
  t.equal(router.route('com', '/p'), 'path', 'nothing covers a single label');
  t.equal(router.route('', '/'), 'default');
  t.equal(router.route('10.0.0.1', '/'), 'default', 'an address');
});

t.test('Router: a host with its own paths: those first, then its own pool; with no pool, on as if the host had not matched', async (t) => {
  const router = new Router<string>(
    [
      ['shop.test', { paths: [{ prefix: '/', pool: 'shop /' }, { prefix: '/api', pool: 'shop api' }], pool: 'shop' }],
      ['api.test', { paths: [{ prefix: '/v1', pool: 'api v1' }], pool: null }],
      ['*.api.test', { paths: [{ prefix: '/v2', pool: 'any api v2' }], pool: null }],
      ['*.test', only('any test')],
      ['bare.test', { paths: [{ prefix: '/x', pool: 'bare x' }], pool: 'bare' }],
    ],
    [{ prefix: '/v1', pool: 'top v1' }],
    'default',
  );
  t.equal(router.route('shop.test', '/api/x'), 'shop api', 'the longest of the host\'s paths');
  t.equal(router.route('shop.test', '/x'), 'shop /');
  t.equal(router.route('api.test', '/v1/x'), 'api v1');
  t.equal(router.route('api.test', '/v1x'), 'any test', 'none of its paths, no pool: as if the host had not matched (a wildcard may then)');
  t.equal(router.route('a.api.test', '/v2'), 'any api v2');
  t.equal(router.route('a.api.test', '/v1/x'), 'any test', 'a wildcard host with no pool: on to a shorter wildcard');
  const noShorter = new Router<string>([['*.api.test', { paths: [{ prefix: '/v2', pool: 'v2' }], pool: null }]], [{ prefix: '/v1', pool: 'top v1' }], null);
  t.equal(noShorter.route('a.api.test', '/v1/x'), 'top v1', 'then to the top-level paths');
  t.equal(router.route('bare.test', '/y'), 'bare', 'its own pool for the rest');
});
