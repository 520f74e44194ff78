// Headless Chromium (Debian's `chromium` package) for the status page test: the DOM as it stands
// after the page's scripts ran, and a screenshot. Each run gets a fresh profile directory and is
// killed, with every process it started, if it outlives its time limit.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The longest one Chromium run may take before it is killed and the test fails. */
const RUN_MS = 30_000;

/** Flags for a quiet, self-contained run: no sandbox (CI runs as root), no GPU, no network chatter. */
const BASE_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--hide-scrollbars',
];

/**
 * The Chromium binary: $CHROMIUM, else `chromium` on the PATH. Throws (the test fails, it is not
 * skipped) when there is none, saying how to install it; .ci/run installs it before `npm test`.
 */
export function chromiumPath(): string {
  const fromEnv = process.env.CHROMIUM;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const found = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' });
  const file = found.stdout.trim();
  if (found.status !== 0 || file === '') {
    throw new Error('chromium not found: install it (Debian: apt-get install -y chromium; .ci/run does) or set CHROMIUM');
  }
  return file;
}

export interface RunOptions {
  /** Virtual time the page gets before the DOM is taken (timers run, network waits pause it). */
  budgetMs?: number;
  /** Wall-clock limit of the run. */
  timeoutMs?: number;
}

/** Runs Chromium on `url` with `flags`; resolves with its stdout. */
async function run(url: string, flags: string[], options: RunOptions): Promise<string> {
  const profile = await mkdtemp(path.join(tmpdir(), 'lb-chromium-'));
  const args = [...BASE_FLAGS, `--user-data-dir=${profile}`, `--virtual-time-budget=${options.budgetMs ?? 3000}`, ...flags, url];
  // Its own process group, so that a timeout kills the browser's helpers too.
  const child = spawn(chromiumPath(), args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const limit = options.timeoutMs ?? RUN_MS;
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        killGroup(child.pid!);
        reject(new Error(`chromium did not finish within ${limit} ms; stderr: ${stderr.slice(-2000)}`));
      }, limit);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    if (code !== 0) throw new Error(`chromium exited with ${code}; stderr: ${stderr.slice(-2000)}`);
    return stdout;
  } finally {
    killGroup(child.pid!); // helpers left behind by a browser that exited
    await rm(profile, { recursive: true, force: true, maxRetries: 3 });
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** The serialized DOM of `url` once its scripts had `budgetMs` of virtual time. */
export function dumpDom(url: string, options: RunOptions = {}): Promise<string> {
  return run(url, ['--dump-dom'], options);
}

/** A PNG of `url` at `width` x `height` into `file`; resolves with its size in bytes. */
export async function screenshot(url: string, file: string, width = 1200, height = 900, options: RunOptions = {}): Promise<number> {
  await run(url, [`--screenshot=${file}`, `--window-size=${width},${height}`], options);
  return (await stat(file)).size;
}
