// The README walks one request through the parser with exact offsets, and shows lb.yaml in
// examples; this keeps the offsets true and the examples valid.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { parseConfig } from '../../src/config/load.js';
import { Body, RequestParser, type RequestHead } from '../../src/http/request-parser.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

t.test('"Reading the parser": the request, its pieces and the numbers the text gives', async (t) => {
  const bytes = Buffer.from('GET /mango?x=1 HTTP/1.1\r\nHost: www.Mango.com\r\nContent-Length: 5\r\n\r\nhello', 'latin1');
  const cut = bytes.indexOf('Ma') + 2; // piece 1 ends in "...www.Ma"
  t.match(readme, `follow this request, ${bytes.length} bytes that arrive in two pieces`);

  const parser = new RequestParser();
  t.equal(parser.execute(bytes.subarray(0, cut), 0), null, 'piece 1: need more bytes');
  const head = parser.execute(bytes.subarray(cut), 0) as RequestHead;
  t.equal(head.requestLineEnd, bytes.indexOf('\r\n'));
  t.match(readme, `here the CR at offset ${head.requestLineEnd}`);
  t.match(readme, `line 0 is recorded as offsets \`[0, ${head.requestLineEnd})\``);
  t.equal(head.end, bytes.indexOf('\r\n\r\n') + 4);
  t.match(readme, `returns the offset after its LF, ${head.end}`);
  t.equal(parser.consumed, head.end - cut);
  t.match(readme, `Of piece 2, ${parser.consumed} bytes belonged to the head`);
  t.match(readme, `\`consumed = ${parser.consumed}\``);
  t.same([head.method, head.host, head.body, head.contentLength], ['GET', 'www.mango.com', Body.LENGTH, 5]);
  t.equal(bytes.subarray(cut).subarray(parser.consumed).toString(), 'hello', 'the body is what is left');
});

t.test('every YAML example is a valid config (one without a pool given a default pool)', async (t) => {
  const examples = [...readme.matchAll(/```yaml\n([^]*?)```/g)].map((m) => m[1]!);
  t.ok(examples.length >= 4, 'the examples are found');
  // A token_file the example names (/etc/lb/admin.token) is one this machine does not have: a real one stands in.
  const dir = mkdtempSync(join(tmpdir(), 'lb-readme-'));
  const token = join(dir, 'admin.token');
  writeFileSync(token, `${'x'.repeat(32)}\n`);
  // So is a backend_tls `ca` (/etc/lb/internal-ca.pem): any PEM certificate will do.
  const ca = join(dir, 'ca.pem');
  writeFileSync(ca, tls.rootCertificates[0]!);
  for (const example of examples) {
    const text = example.replace(/token_file: \S+/g, `token_file: ${token}`).replace(/\bca: \S+/g, `ca: ${ca}`);
    const whole = /^(hosts|paths|servers):/m.test(text) ? text : `${text}servers: [localhost:8081]\n`;
    t.doesNotThrow(() => parseConfig(whole, 'README.md'), text.split('\n', 1)[0]);
  }
});
