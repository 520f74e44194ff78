// `lb ctl` (src/ctl.ts) against a running balancer's admin API: the table of `servers`, each
// change, --pool, the address and token from the config or from --admin / --token-file, and a
// one-line reason with exit 1 for everything that goes wrong. Once as a real process.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runCtl, table } from '../src/ctl.js';
import { refusedPort, proxyTest, q, within, type Proxy } from './helpers/net.js';
import { LB, lb } from './helpers/lb-process.js';

const TOKEN = 'ctl-test-token-0123456789abcdef012345';
const dir = mkdtempSync(join(tmpdir(), 'lb-ctl-'));
const TOKEN_FILE = join(dir, 'token');
writeFileSync(TOKEN_FILE, `${TOKEN}\n`);

/** Runs `lb ctl ARGS` in this process: the exit code and what it printed. */
async function ctl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return ctlWithin(undefined, ...args);
}

/** As ctl(), with the admin API given `timeoutMs` to answer (undefined: ctl's own). */
async function ctlWithin(timeoutMs: number | undefined, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCtl(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } }, timeoutMs);
  return { code, out, err };
}

async function adminPort(proxy: Proxy): Promise<number> {
  await proxy.log.waitFor('status page on http://');
  return Number(/status page on http:\/\/127\.0\.0\.1:(\d+)\//.exec(proxy.log.matching('status page on')[0]!)![1]);
}

t.test('servers, drain, maint, ready, weight, --pool; from the config file or --admin and --token-file', (t) =>
  proxyTest(t, 'ctl', async (t, h) => {
    const [a, b] = await h.backends('a', 'b');
    const yaml = `healthcheck: { interval: 1m }\nadmin: { address: 127.0.0.1:0, token_file: "${TOKEN_FILE}" }\nservers: [${q(a!)}, ${q(b!)}]\npaths:\n  - { path: /p, servers: [${q(a!)}] }\n`;
    const proxy = await h.proxy(yaml);
    const port = await adminPort(proxy);
    const file = join(dir, 'lb.yaml');
    writeFileSync(file, yaml.replace('127.0.0.1:0', `127.0.0.1:${port}`));

    const list = await ctl('servers', '--config', file);
    t.equal(list.code, 0, list.err);
    t.equal(
      list.out,
      [
        'POOL     SERVER           HEALTH  ADMIN  WEIGHT  IN FLIGHT',
        `/p       ${a!.address}  up      ready  1       0`,
        `default  ${a!.address}  up      ready  1       0`,
        `default  ${b!.address}  up      ready  1       0`,
        '',
      ].join('\n'),
    );
    const drained = await ctl('drain', a!.address, '--pool', 'default', '--config', file);
    t.equal(drained.code, 0, drained.err);
    t.match(drained.out, new RegExp(`default  ${a!.address}  up      drain  1       0          drained`));
    t.notMatch(drained.out, '/p', 'one pool only');
    const weight = await ctl('weight', b!.address, '5', '--admin', `127.0.0.1:${port}`, '--token-file', TOKEN_FILE);
    t.equal(weight.code, 0, weight.err);
    t.match(weight.out, new RegExp(`default  ${b!.address}  up      ready  5`));
    t.equal((await ctl('maint', a!.address, '--config', file)).code, 0);
    t.equal((await ctl('ready', a!.address, '--config', file)).code, 0);
    t.match((await ctl('servers', '--admin', String(port))).out, `/p       ${a!.address}  up      ready`, 'a bare port: 127.0.0.1');
    t.match((await ctl('servers', '--admin', `*:${port}`)).out, `/p       ${a!.address}`, 'all interfaces: asked on 127.0.0.1');
    t.equal((await ctl('ready', b!.address, '--config', file, '--token-file', TOKEN_FILE)).code, 0, 'a token file besides the config');

    const noToken = await ctl('drain', a!.address, '--admin', `127.0.0.1:${port}`);
    t.same([noToken.code, noToken.err], [1, 'lb ctl: 401 Unauthorized: a bearer token is required\n']);
    t.same((await ctl('drain', 'nosuch:1', '--config', file)).err, 'lb ctl: 404 Not Found: no server "nosuch:1"\n');
    t.same((await ctl('weight', a!.address, 'lots', '--config', file)).err, 'lb ctl: 400 Bad Request: expected a weight from 0 to 256, not "lots"\n');
  }),
);

t.test('usage and every early error: one line, exit 1', async (t) => {
  const help = await ctl('--help');
  t.same([help.code, help.out.startsWith('Usage: lb ctl COMMAND')], [0, true]);
  t.equal((await ctl()).code, 1, 'no command: the usage, exit 1');
  const cases: [string[], string][] = [
    [['servers', '--bogus'], 'lb ctl: unknown option --bogus'],
    [['frobnicate', '--admin', '9'], 'lb ctl: unknown command "frobnicate"; expected servers, drain, maint, ready or weight'],
    [['servers', 'x', '--admin', '9'], 'lb ctl: servers takes no argument'],
    [['drain', '--admin', '9'], 'lb ctl: drain needs a server NAME'],
    [['drain', 'a:1', 'b', '--admin', '9'], 'lb ctl: too many arguments for drain'],
    [['weight', 'a:1', '--admin', '9'], 'lb ctl: weight needs NAME and a weight N (0..256)'],
    [['weight', 'a:1', '2', '3', '--admin', '9'], 'lb ctl: too many arguments for weight'],
    [['servers', '--admin', 'x:y:z'], 'lb ctl: --admin: expected "host:port" or a port, not "x:y:z"'],
    [['servers', '--admin', '9', '--config', 'x.yaml'], 'lb ctl: give --config or --admin, not both'],
    [['servers', '--admin', '9', '--token-file', join(dir, 'nosuch')], `lb ctl: --token-file: cannot read ${join(dir, 'nosuch')}: ENOENT`],
  ];
  for (const [args, line] of cases) t.same(await ctl(...args), { code: 1, out: '', err: `${line}\n` }, args.join(' '));
  const noAdmin = join(dir, 'no-admin.yaml');
  writeFileSync(noAdmin, 'servers: [a:1]\n');
  t.equal((await ctl('servers', '--config', noAdmin)).err, `lb ctl: ${noAdmin} has no admin listener: set admin, or give --admin HOST:PORT\n`);
  const closed = await refusedPort();
  t.equal((await ctl('servers', '--admin', `127.0.0.1:${closed}`)).err, `lb ctl: cannot reach the admin API at 127.0.0.1:${closed} (ECONNREFUSED)\n`);
  t.equal(table([]), 'POOL  SERVER  HEALTH  ADMIN  WEIGHT  IN FLIGHT\n', 'no servers: the header alone');
  const ejected = { pool: 'p', server: 'a:1', health: 'up' as const, admin: 'drain' as const, weight: 1, in_flight: 0, drained: true, ejected: true };
  t.match(table([ejected]), /a:1 +up +drain +1 +0 +drained, ejected\n$/);
});

t.test('an admin API that does not answer in time', async (t) => {
  const net = await import('node:net');
  const silent = net.createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => silent.close());
  const port = (silent.address() as { port: number }).port;
  // A short timeout: the real one is ctl's constant, and waiting it out would only cost time.
  const result = await within(ctlWithin(200, 'servers', '--admin', `127.0.0.1:${port}`), 'lb ctl to give up');
  t.equal(result.err, `lb ctl: no answer from the admin API at 127.0.0.1:${port} within 0.2 s\n`);
});

t.test('as a real process: lb ctl servers, with ./lb.yaml by default', async (t) => {
  const cwd = t.testdir({ 'lb.yaml': 'servers: [localhost:8081]\n' });
  const proc = lb([LB, 'ctl', 'servers'], cwd);
  const exit = await within(proc.exit, 'lb ctl to exit', 60_000);
  t.equal(exit.code, 1);
  t.equal(exit.stderr, 'lb ctl: lb.yaml has no admin listener: set admin, or give --admin HOST:PORT\n');
});
