// test/tls-tickets.test.ts again, on the plain I/O path: LB_IO=plain leaves session tickets to
// Node's own code (src/io/internals.ts offers no ticket callback), which a resumed TLS 1.3
// handshake does not renew.

process.env['LB_IO'] = 'plain';
await import('../tls-tickets.test.js');
