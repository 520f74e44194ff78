// What `npm test` runs before tap: the type check of the sources and the tests (tsc, as
// test/tsconfig.json says), and the build every test process runs from (compiled.mjs), made
// here once. Without it the first files tap starts, four at once, would each find no build and
// each make it.
// The type check is skipped when nothing it reads has changed since it last passed: a stamp in
// .lb-build/ is named after the content of src/, test/, servers/, the tsconfigs and the
// lockfile. The two run side by side: tsc in a child process, the build in this one.
// Plain JavaScript, like compiled.mjs.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { compiledRoot, ROOT } from './compiled.mjs';

/**
 * Every file under `dir`, sorted.
 * @param {string} dir
 * @returns {string[]}
 */
function filesUnder(dir) {
  /** @type {string[]} */
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out.sort();
}

/** The stamp of a passed type check of what is on disk now. */
function stampPath() {
  const hash = createHash('sha256');
  const inputs = [
    ...['src', 'test', 'servers'].flatMap((folder) => filesUnder(join(ROOT, folder))),
    ...['tsconfig.json', 'package.json', 'package-lock.json'].map((name) => join(ROOT, name)).filter((path) => existsSync(path)),
  ];
  for (const file of inputs) hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  return join(ROOT, '.lb-build', `type-checked-${hash.digest('hex').slice(0, 20)}`);
}

/**
 * tsc on test/tsconfig.json, its messages on this process's output; resolves with its exit code.
 * @returns {Promise<number>}
 */
function typeCheck() {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const child = spawn(process.execPath, [tsc, '-p', join(ROOT, 'test', 'tsconfig.json')], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
}

const stamp = stampPath();
const checked = existsSync(stamp) ? Promise.resolve(0) : typeCheck();
compiledRoot();
const code = await checked;
if (code === 0 && !existsSync(stamp)) {
  mkdirSync(join(ROOT, '.lb-build'), { recursive: true });
  writeFileSync(stamp, '');
}
process.exitCode = code;
