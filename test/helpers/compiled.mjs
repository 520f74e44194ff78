// The project's TypeScript (src/ and test/) compiled to JavaScript once, for every process of a
// test run: the test files, the balancer processes they start and the health checker's worker
// threads. src-from-build-hooks.mjs serves each .ts file from here; nothing else compiles
// TypeScript during a run, and no process loads the compiler unless a file changed after the
// build was made (the hooks then compile that one file themselves).
// The build lives in .lb-build/ under a name made of the sources' content, so it is made once
// and shared by every test file of a run (and the next run, if nothing changed). Its inline
// source maps name the files in src/ and test/, so stack traces and coverage point there. It
// lies inside the project, and not under .tap/ or test/: coverage leaves out whatever ran from
// those or from outside the project.
// Plain JavaScript, so that it runs before anything can load TypeScript.

import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root (package.json, src/, test/, .lb-build/). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The folders whose .ts files are compiled. */
const FOLDERS = ['src', 'test'];

/**
 * Every file under `dir`, sorted (so that a hash of them does not depend on the order read).
 * @param {string} dir
 * @returns {string[]}
 */
export function filesUnder(dir) {
  /** @type {string[]} */
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out.sort();
}

/**
 * Every .ts file under `dir` but declarations, sorted.
 * @param {string} dir
 */
const sourcesUnder = (dir) => filesUnder(dir).filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'));

/**
 * `hash` updated with each file's path under the root and its content: what a name made of it
 * stands for.
 * @param {import('node:crypto').Hash} hash
 * @param {string[]} files
 */
export function hashFiles(hash, files) {
  for (const file of files) hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  return hash;
}

/**
 * The sha256 of a source's text, as the manifest holds it.
 * @param {Buffer | string} text
 */
export function sourceHash(text) {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The folder of the build: `<it>/src/lb.js` and so on, with package.json beside.
 * @param {string[]} files
 */
function buildFolder(files) {
  // This file too: how the build is made is part of what it is.
  const inputs = [...files, join(ROOT, 'tsconfig.json'), join(ROOT, 'package.json'), fileURLToPath(import.meta.url)];
  return join(ROOT, '.lb-build', hashFiles(createHash('sha256').update(ROOT).update(process.version), inputs).digest('hex').slice(0, 20));
}

/** @type {((text: string, file: string) => string) | undefined} */
let transpiler;

/**
 * `text`, the TypeScript of `file`, as JavaScript with an inline source map naming `file`.
 * @param {string} text
 * @param {string} file
 */
export function transpile(text, file) {
  if (transpiler === undefined) {
    // Loaded only when something is compiled: loading the compiler is most of the cost of a build.
    /** @type {typeof import('typescript')} */
    const ts = createRequire(import.meta.url)('typescript');
    const tsconfig = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (path) => ts.sys.readFile(path));
    const { options } = ts.parseJsonConfigFileContent(tsconfig.config, ts.sys, ROOT);
    // ES modules, as package.json's "type" makes them (transpileModule cannot read it: it would
    // emit CommonJS for nodenext).
    const compilerOptions = { ...options, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, sourceMap: false, inlineSourceMap: true, inlineSources: false, declaration: false };
    transpiler = (source, fileName) => {
      const { outputText } = ts.transpileModule(source, { compilerOptions, fileName });
      const marker = '//# sourceMappingURL=data:application/json;base64,';
      const at = outputText.lastIndexOf(marker);
      /** @type {Record<string, unknown>} */
      const map = JSON.parse(Buffer.from(outputText.slice(at + marker.length).trim(), 'base64').toString('utf8'));
      // Coverage and stack traces read the map: the source is the .ts file, wherever the build lies.
      map['sources'] = [fileName];
      delete map['sourceRoot'];
      return `${outputText.slice(0, at)}${marker}${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
    };
  }
  return transpiler(text, file);
}

/**
 * How a source's JavaScript is made, besides its own text: the compiler's options and version, and
 * this file. A build made the same way can lend a new one the JavaScript of every source that has
 * not changed.
 */
const recipe = () =>
  hashFiles(createHash('sha256'), [join(ROOT, 'tsconfig.json'), join(ROOT, 'node_modules', 'typescript', 'package.json'), fileURLToPath(import.meta.url)]).digest('hex');

/**
 * The build beside `folder` made by the same recipe and used last, with its manifest; null when
 * there is none.
 * @param {string} folder
 * @param {string} made  the recipe
 * @returns {{ folder: string, manifest: Record<string, string> } | null}
 */
function lastBuild(folder, made) {
  /** @type {{ folder: string, manifest: Record<string, string> } | null} */
  let last = null;
  let lastUsed = -Infinity;
  for (const name of readdirSync(dirname(folder))) {
    const other = join(dirname(folder), name);
    const used = statSync(other, { throwIfNoEntry: false })?.mtimeMs;
    if (used === undefined || used <= lastUsed) continue;
    try {
      if (readFileSync(join(other, 'recipe'), 'utf8') !== made) continue;
      last = { folder: other, manifest: JSON.parse(readFileSync(join(other, 'manifest.json'), 'utf8')) };
      lastUsed = used;
    } catch {
      // Not a finished build: a stamp, a scratch folder, one made before recipes, one just pruned.
    }
  }
  return last;
}

/**
 * Copies `from` to `to`; false when it cannot (another run pruned that build meanwhile).
 * @param {string} from
 * @param {string} to
 */
function copied(from, to) {
  try {
    copyFileSync(from, to);
    return true;
  } catch {
    return false;
  }
}

/**
 * Compiles `files` into `out` (`src/x.ts` as `out/src/x.js`) and writes `out/manifest.json`: each
 * source's path under the root and the sha256 of its text. A source whose text `last` compiled
 * too is copied from there: a change to one file compiles one file.
 * @param {string[]} files
 * @param {string} out
 * @param {string} made  the recipe
 * @param {{ folder: string, manifest: Record<string, string> } | null} last
 */
function compile(files, out, made, last) {
  /** @type {Record<string, string>} */
  const manifest = {};
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const name = relative(ROOT, file);
    manifest[name] = sourceHash(text);
    const js = name.replace(/\.ts$/, '.js');
    const target = join(out, js);
    mkdirSync(dirname(target), { recursive: true });
    if (last?.manifest[name] !== manifest[name] || !copied(join(last.folder, js), target)) writeFileSync(target, transpile(text, file));
  }
  // package.json says the files are ES modules, and lb --version reads it; the packages the
  // sources import are found in the project's node_modules, a few folders up.
  writeFileSync(join(out, 'package.json'), readFileSync(join(ROOT, 'package.json')));
  writeFileSync(join(out, 'recipe'), made);
  writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
}

/**
 * The build's folder, made if missing. Two test files may make it at once: each builds in a
 * folder of its own and renames it into place; the rename that comes second fails, and that
 * file uses the one already there (the same sources give the same build).
 */
export function compiledRoot() {
  const files = FOLDERS.flatMap((folder) => sourcesUnder(join(ROOT, folder)));
  const folder = buildFolder(files);
  if (!existsSync(join(folder, 'manifest.json'))) {
    mkdirSync(dirname(folder), { recursive: true });
    const scratch = mkdtempSync(`${folder}.tmp-`);
    try {
      const made = recipe();
      compile(files, scratch, made, lastBuild(folder, made));
      renameSync(scratch, folder);
    } catch (err) {
      rmSync(scratch, { recursive: true, force: true });
      if (!existsSync(join(folder, 'manifest.json'))) throw err;
    }
    pruneOthers(folder);
  } else {
    // Used now: another run's pruning goes by this time.
    const now = new Date();
    utimesSync(folder, now, now);
  }
  return folder;
}

/** How long since another build was made or last used before it is removed: a run takes minutes. */
const PRUNE_AFTER_MS = 60 * 60 * 1000;

/**
 * Removes the builds beside `keep` not made or used for an hour (every change of a source makes a
 * new one), scratch folders left by a build that did not finish, and old type-check stamps.
 * @param {string} keep
 */
function pruneOthers(keep) {
  const parent = dirname(keep);
  for (const name of readdirSync(parent)) {
    const path = join(parent, name);
    // Another test process may be pruning too: what it removed first is simply gone.
    const made = statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Infinity;
    if (path !== keep && made < Date.now() - PRUNE_AFTER_MS) rmSync(path, { recursive: true, force: true });
  }
}
