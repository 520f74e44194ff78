// What `npm test` runs: the build every test process runs from (compiled.mjs), made here once,
// then tap over it, with the type check of the sources and the tests (tsc, as
// test/tsconfig.json says) beside tap at the lowest CPU priority, so that it takes only what
// the tests leave idle. The run fails if either fails; tsc's messages come after tap's report.
// Arguments go on to tap (`npm test -- test/cli.test.ts`).
// The build is made before tap starts: otherwise the first files tap starts, four at once, would
// each find no build and each make it. The type check is skipped when nothing it reads has
// changed since it last passed: a stamp in .lb-build/ is named after the content of src/,
// test/, servers/, the tsconfigs and the lockfile.
// Plain JavaScript, like compiled.mjs.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { compiledRoot, filesUnder, hashFiles, ROOT } from './compiled.mjs';

/** The stamp of a passed type check of what is on disk now. */
function stampPath() {
  const inputs = [
    ...['src', 'test', 'servers'].flatMap((folder) => filesUnder(join(ROOT, folder))),
    ...['tsconfig.json', 'package.json', 'package-lock.json'].map((name) => join(ROOT, name)).filter((path) => existsSync(path)),
  ];
  return join(ROOT, '.lb-build', `type-checked-${hashFiles(createHash('sha256'), inputs).digest('hex').slice(0, 20)}`);
}

/**
 * `node FILE ARGS`; resolves with its exit code and, when `quiet`, what it wrote (else it writes
 * to this process's output).
 * @param {string} file
 * @param {string[]} args
 * @param {{ quiet: boolean, priority: number, env?: NodeJS.ProcessEnv }} how
 * @returns {Promise<{ code: number, output: string }>}
 */
function run(file, args, { quiet, priority, env = process.env }) {
  const child = spawn(process.execPath, [file, ...args], { env, stdio: ['ignore', quiet ? 'pipe' : 'inherit', quiet ? 'pipe' : 'inherit'] });
  // A priority is a request: where it may not be set, the child runs at ours.
  if (priority !== 0 && child.pid !== undefined) {
    try {
      setPriority(child.pid, priority);
    } catch {}
  }
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (text) => (output += text));
  child.stderr?.setEncoding('utf8').on('data', (text) => (output += text));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, output })));
}

const stamp = stampPath();
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
// Incremental: after a change, tsc checks again only what that change can affect, from what the
// last check left in .lb-build/.
const incremental = ['--incremental', '--tsBuildInfoFile', join(ROOT, '.lb-build', 'type-check.tsbuildinfo')];
const types = existsSync(stamp) ? null : run(tsc, ['-p', join(ROOT, 'test', 'tsconfig.json'), ...incremental], { quiet: true, priority: 19 });
// Named in the environment, the build is not looked for again (by hashing src/ and test/) in
// every test process.
const env = { ...process.env, LB_TEST_BUILD: compiledRoot() };
const tests = await run(join(ROOT, 'node_modules', '.bin', 'tap'), process.argv.slice(2), { quiet: false, priority: 0, env });
const checked = (await types) ?? { code: 0, output: '' };
if (checked.code !== 0) process.stderr.write(`\ntsc -p test/tsconfig.json failed:\n${checked.output}`);
else if (types !== null) writeFileSync(stamp, '');
process.exitCode = tests.code !== 0 ? tests.code : checked.code;
