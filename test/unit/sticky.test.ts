// Sticky cookies (src/balancer/sticky.ts): an opaque id per server name, the same in every
// process, and the Set-Cookie line the contract spells out.

import t from 'tap';
import { StickyCookies, stickyId } from '../../src/balancer/sticky.js';

t.test('ids: 16 hex digits, from the name only, distinct, not showing the address', async (t) => {
  const id = stickyId('10.0.0.1:8081');
  t.match(id, /^[0-9a-f]{16}$/);
  t.equal(stickyId('10.0.0.1:8081'), id, 'the same every time (a pure function of the name)');
  t.not(stickyId('10.0.0.1:8082'), id);
  t.notMatch(id, /\./, 'no dotted address in it');
  // Fixed forever: ids handed out by one version must be understood by the next.
  t.equal(stickyId('localhost:8081'), '5a6f3065aa9b80af');
});

t.test('positionOf and the Set-Cookie lines', async (t) => {
  const names = ['a:1', 'b:2', 'c:3'];
  const session = new StickyCookies({ cookie: 'lb_server', maxAge: 0 }, names);
  t.equal(session.positionOf(session.ids[1]!), 1);
  t.equal(session.positionOf('nonsense'), -1);
  t.equal(session.line(2, false).toString(), `Set-Cookie: lb_server=${session.ids[2]}; Path=/; HttpOnly; SameSite=Lax\r\n`);
  t.equal(session.line(2, true).toString(), `Set-Cookie: lb_server=${session.ids[2]}; Path=/; HttpOnly; SameSite=Lax; Secure\r\n`);
  const lasting = new StickyCookies({ cookie: 'S', maxAge: 3600 }, names);
  t.equal(lasting.line(0, false).toString(), `Set-Cookie: S=${lasting.ids[0]}; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600\r\n`);
});
