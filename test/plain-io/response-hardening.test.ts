// test/response-hardening.test.ts again, on the plain I/O path: LB_IO=plain turns off every use of Node's
// internals (src/io/internals.ts), so sockets read through 'data' events and write through
// their streams, as a TLS socket always does.

import t from 'tap';

process.env['LB_IO'] = 'plain';
const { streamWrap, kBuffer } = await import('../../src/io/internals.js');
t.equal(streamWrap, null, 'no stream binding on the plain path');
t.equal(kBuffer, null, 'no onread buffer symbol on the plain path');
await import('../response-hardening.test.js');
