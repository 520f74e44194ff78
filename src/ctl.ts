// `lb ctl`: the admin API from the command line (interface.md, "Command line" and "Runtime
// control"). `servers` prints every pool's servers as a table; `drain`, `maint`, `ready` and
// `weight` change one server (in every pool, or `--pool P`). The admin address and token come from
// the config file unless `--admin` and `--token-file` say otherwise.

import http from 'node:http';
import { readFileSync } from 'node:fs';
import mri from 'mri';
import type { ServerEntry } from './admin/control.js';
import { formatListen } from './config/address.js';
import { loadConfig } from './config/load.js';
import { DEFAULTS, type ListenAddress } from './config/schema.js';
import { parseListen } from './config/values.js';
import type { LogOutput } from './log.js';
import { reason, UsageError } from './reason.js';

export const CTL_USAGE = `Usage: lb ctl COMMAND [ARGS] [--config FILE | --admin HOST:PORT --token-file FILE] [--pool P]

Talks to a running balancer's admin API.

Commands:
  servers          every pool's servers: health, admin state, weight, in flight
  drain NAME       no new requests to NAME; those in flight finish
  maint NAME       no requests at all to NAME
  ready NAME       NAME back to normal
  weight NAME N    NAME's weight, 0..256

NAME is a server as the config writes it ("localhost:8081"). A change applies to every pool that
lists NAME, or to pool P with --pool P.
`;

/** How long the admin API may take to answer (a cluster answers once every worker has the change). */
const TIMEOUT_MS = 10_000;

interface Target {
  address: ListenAddress;
  token: string | null;
}

/**
 * Runs `lb ctl ARGS`: resolves with the exit code, having printed the answer or one `lb ctl: <reason>`
 * line. `timeoutMs`: how long the admin API may take (a test of the timeout need not wait the real one).
 */
export async function runCtl(argv: string[], io: { stdout: LogOutput; stderr: LogOutput }, timeoutMs = TIMEOUT_MS): Promise<number> {
  try {
    const args = mri(argv, {
      string: ['config', 'admin', 'token-file', 'pool'],
      boolean: ['help'],
      // mri checks flags against the alias table only: every long option is listed there.
      alias: { h: 'help', config: [], admin: [], 'token-file': [], pool: [] },
      unknown: (flag) => {
        throw new UsageError(`unknown option ${flag}`);
      },
    });
    const [command, name, value, ...rest] = args._.map(String);
    if (args.help === true || command === undefined) {
      io.stdout.write(CTL_USAGE);
      return command === undefined && args.help !== true ? 1 : 0;
    }
    const target = targetOf(args.config as string | undefined, args.admin as string | undefined, args['token-file'] as string | undefined);
    const pool = args.pool as string | undefined;
    if (command === 'servers') {
      if (name !== undefined) throw new UsageError('servers takes no argument');
      const reply = await call(target, 'GET', '/servers', '', timeoutMs);
      io.stdout.write(table((JSON.parse(reply) as { servers: ServerEntry[] }).servers));
      return 0;
    }
    const state = ['drain', 'maint', 'ready'].includes(command);
    if (!state && command !== 'weight') throw new UsageError(`unknown command ${JSON.stringify(command)}; expected servers, drain, maint, ready or weight`);
    if (name === undefined) throw new UsageError(`${command} needs a server NAME`);
    if (command === 'weight' && value === undefined) throw new UsageError('weight needs NAME and a weight N (0..256)');
    if ((state ? value : rest[0]) !== undefined) throw new UsageError(`too many arguments for ${command}`);
    const path = `/servers/${encodeURIComponent(name)}/${state ? 'state' : 'weight'}${pool === undefined ? '' : `?pool=${encodeURIComponent(pool)}`}`;
    const reply = await call(target, 'POST', path, state ? command : value!, timeoutMs);
    io.stdout.write(table((JSON.parse(reply) as { servers: ServerEntry[] }).servers));
    return 0;
  } catch (err) {
    io.stderr.write(`lb ctl: ${reason(err)}\n`);
    return 1;
  }
}

/** Where the admin API is and its token: from --admin and --token-file, else from the config file. */
function targetOf(configFile: string | undefined, admin: string | undefined, tokenFile: string | undefined): Target {
  if (admin !== undefined) {
    if (configFile !== undefined) throw new UsageError('give --config or --admin, not both');
    const address = parseListen(admin, DEFAULTS.adminHost);
    if (address === null) throw new UsageError(`--admin: expected "host:port" or a port, not ${JSON.stringify(admin)}`);
    return { address, token: tokenFile === undefined ? null : readToken(tokenFile) };
  }
  const { config } = loadConfig(configFile ?? 'lb.yaml');
  if (config.admin === null) throw new UsageError(`${configFile ?? 'lb.yaml'} has no admin listener: set admin, or give --admin HOST:PORT`);
  return { address: config.admin, token: tokenFile === undefined ? config.admin.token : readToken(tokenFile) };
}

function readToken(file: string): string {
  try {
    return readFileSync(file, 'utf8').split(/\r?\n/, 1)[0]!.trim();
  } catch (err) {
    throw new UsageError(`--token-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`);
  }
}

/** One request to the admin API; resolves with a 200's body, rejects with the API's own reason otherwise. */
function call(target: Target, method: string, path: string, body: string, timeoutMs: number): Promise<string> {
  const { host, port } = target.address;
  const headers: Record<string, string> = target.token === null ? {} : { authorization: `Bearer ${target.token}` };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: host === '' ? '127.0.0.1' : host, port, path, method, headers, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode} ${text.trim().split('\n', 1)[0]}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from the admin API at ${formatListen(target.address)} within ${timeoutMs / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === undefined ? err : new Error(`cannot reach the admin API at ${formatListen(target.address)} (${err.code})`)),
    );
    req.end(body);
  });
}

/** The entries as an aligned table, one server of one pool per line. */
export function table(entries: ServerEntry[]): string {
  const rows = [
    ['POOL', 'SERVER', 'HEALTH', 'ADMIN', 'WEIGHT', 'IN FLIGHT', ''],
    ...entries.map((e) => [
      e.pool,
      e.server,
      e.health,
      e.admin,
      String(e.weight),
      String(e.in_flight),
      [e.drained ? 'drained' : '', e.ejected ? 'ejected' : ''].filter((x) => x !== '').join(', '),
    ]),
  ];
  const widths = rows[0]!.map((_, k) => Math.max(...rows.map((r) => r[k]!.length)));
  return rows.map((r) => r.map((cell, k) => cell.padEnd(widths[k]!)).join('  ').trimEnd()).join('\n') + '\n';
}
