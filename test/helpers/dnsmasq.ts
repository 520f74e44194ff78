// A real DNS server for discovery tests: dnsmasq on a free loopback port, answering only from
// files this helper writes: an `addn-hosts` file of A/AAAA records (edited, then dnsmasq is sent
// SIGHUP and re-reads it) and `srv-host` lines (read at start only: a new set restarts it).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitEvent, waitFor } from './net.js';

/** Why dnsmasq cannot run here, or null when it can. */
export function dnsmasqMissing(): string | null {
  const probe = spawnSync('dnsmasq', ['--version'], { encoding: 'utf8' });
  return probe.error === undefined ? null : 'dnsmasq is not installed (Debian: apt-get install dnsmasq; .ci/run installs it)';
}

/** An SRV record: `srv-host=NAME,TARGET,PORT,PRIORITY,WEIGHT`. */
export interface Srv {
  name: string;
  target: string;
  port: number;
  priority: number;
  weight: number;
}

export class Dnsmasq {
  private child: ChildProcess | null = null;
  private output = '';
  private readonly dir = mkdtempSync(join(tmpdir(), 'lb-dnsmasq-'));
  private readonly hostsFile = join(this.dir, 'hosts');

  private constructor(
    /** The UDP and TCP port it answers on, at 127.0.0.1. */
    readonly port: number,
    /** The TTL of every answer, in seconds. */
    private readonly ttl: number,
  ) {}

  /** "127.0.0.1:PORT", as `resolvers` lists it. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts dnsmasq with `hosts` ("ADDRESS NAME" lines) and `srv` records, answering with `ttl`. */
  static async start(hosts: string[], srv: Srv[] = [], ttl = 1): Promise<Dnsmasq> {
    const dns = new Dnsmasq(await freePort(), ttl);
    writeFileSync(dns.hostsFile, hosts.map((l) => `${l}\n`).join(''));
    await dns.run(srv);
    return dns;
  }

  /** Replaces the A/AAAA records and waits until dnsmasq has read them. */
  async setHosts(hosts: string[]): Promise<void> {
    const reads = this.reads();
    writeFileSync(this.hostsFile, hosts.map((l) => `${l}\n`).join(''));
    this.child!.kill('SIGHUP');
    await waitFor('dnsmasq to read its hosts file again', () => this.reads() > reads);
  }

  /** Stops it (its port then refuses: a lookup fails with ECONNREFUSED). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    this.child = null;
    const exited = waitEvent(child, 'exit', 'dnsmasq to exit');
    child.kill('SIGTERM');
    await exited;
  }

  /** Starts it again on the same port, with `srv` records (the hosts file as it is). */
  async restart(srv: Srv[] = []): Promise<void> {
    await this.stop();
    await this.run(srv);
  }

  /** Stops it and removes its files. */
  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private reads(): number {
    return this.output.split(`read ${this.hostsFile}`).length - 1;
  }

  private async run(srv: Srv[]): Promise<void> {
    const args = [
      '--keep-in-foreground',
      '--log-facility=-',
      `--port=${this.port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--no-resolv',
      '--no-hosts',
      `--addn-hosts=${this.hostsFile}`,
      `--local-ttl=${this.ttl}`,
      // Authoritative for the test's names: a name not in the files is NXDOMAIN, never forwarded.
      '--local=/test/',
      '--pid-file=',
      ...srv.map((s) => `--srv-host=${s.name},${s.target},${s.port},${s.priority},${s.weight}`),
    ];
    // As root, dnsmasq would drop to "nobody", who cannot read the test's private directory.
    if (process.getuid?.() === 0) args.push('--user=root');
    const child = spawn('dnsmasq', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.output = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    await waitFor('dnsmasq to start', () => this.reads() > 0 || child.exitCode !== null);
    if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${this.output}`);
  }
}

/** A port free at 127.0.0.1 a moment ago for both UDP and TCP (dnsmasq answers on both). */
async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const tcp = net.createServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const { port } = tcp.address() as net.AddressInfo;
    const udp = dgram.createSocket('udp4');
    const free = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    if (free) await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (free || attempt === 20) return port;
  }
}
