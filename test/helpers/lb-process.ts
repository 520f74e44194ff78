// The balancer as a real process: `node src/lb.ts ARGS`, with its output collected and a way to
// wait for a line, and whether a process (a worker, a child's child) is alive. A child keeps tap's
// node options (its coverage), and src-from-build.mjs serves it the sources compiled once
// (compiled.mjs), so that no child compiles them again.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** src/lb.ts, the program. */
export const LB = fileURLToPath(new URL('../../src/lb.ts', import.meta.url));

/**
 * The node options of a child: this process's (tap's coverage), with src-from-build.mjs by its
 * full path (a child may run in another folder).
 */
export const CHILD_EXEC_ARGV = [
  ...process.execArgv.filter((arg) => !arg.includes('src-from-build')),
  `--import=${new URL('./src-from-build.mjs', import.meta.url).href}`,
];

export interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * NODE_OPTIONS without --no-warnings, which tap sets on some Node lines: for a child whose own
 * warnings a test wants to see (the balancer honours --no-warnings as Node's handler does).
 */
export function withWarnings(): NodeJS.ProcessEnv {
  return { ...process.env, NODE_OPTIONS: (process.env['NODE_OPTIONS'] ?? '').replace(/"?--no-warnings"?/g, '') };
}

/** Starts `lb` with `args` (and `env`); `until` resolves with the match once the output matches a pattern. */
export function lb(args: string[], cwd?: string, env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, [...CHILD_EXEC_ARGV, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const check = () => {
    for (const w of waiters) {
      const m = (stdout + stderr).match(w.pattern);
      if (m) w.resolve(m);
    }
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    check();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    check();
  });
  const exit = new Promise<Exit>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  /** The first match of `pattern` in the output (stdout and stderr) so far or to come. */
  const until = (pattern: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      waiters.push({ pattern, resolve });
      check();
      void exit.then((e) => reject(new Error(`lb exited (${e.code}) before ${pattern}: ${e.stdout}${e.stderr}`)));
    });
  return { child, exit, until, output: () => stdout + stderr };
}

/** Whether process `pid` exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
