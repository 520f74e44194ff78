// The balancer as a real process: `node lb ARGS`, with its output collected and a way to wait
// for a line, and whether a process (a worker, a child's child) is alive. A child runs the
// build's JavaScript of src/lb.ts (compiled.mjs) as plain Node, without module hooks, its coverage
// recorded by Node and handed to tap (child-coverage.ts).

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collect, spawnNode } from './child-coverage.js';

/** src/lb.ts, the program. */
export const LB = fileURLToPath(new URL('../../src/lb.ts', import.meta.url));

/** The build's JavaScript of src/lb.ts, which a child runs for LB (src-from-build.mjs names the build in every test process). */
export const LB_BUILT = join(process.env['LB_TEST_BUILD'] ?? '', 'src', 'lb.js');

/** A child's node options: this process's, without tap's hooks or ours (--enable-source-maps stays, for stack traces and coverage). */
const CHILD_EXEC_ARGV = process.execArgv.filter((arg) => !arg.includes('src-from-build') && !arg.includes('@tapjs/processinfo'));

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

/**
 * Starts node with `args` (LB among them stands for the build's lb.js) and `env`; `until` resolves
 * with the match once the output matches a pattern.
 */
export function lb(args: string[], cwd?: string, env: NodeJS.ProcessEnv = process.env) {
  const built = args.map((arg) => (arg === LB ? LB_BUILT : arg));
  const child = spawnNode([...CHILD_EXEC_ARGV, ...built], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], coverage: true });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const check = () => {
    for (const w of waiters) {
      const m = (stdout + stderr).match(w.pattern);
      if (m) w.resolve(m);
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    check();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    check();
  });
  const exit = new Promise<Exit>((resolve) =>
    child.on('close', (code) => {
      collect();
      resolve({ code, stdout, stderr });
    }),
  );
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
