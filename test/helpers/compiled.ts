// The balancer's sources (src/) compiled to JavaScript once, for the test processes and the
// balancer processes they start (served as src/*.ts by src-from-build.mjs), and for the health
// checker's worker thread (LB_HEALTH_WORKER, set here).
// Without it every process and every worker compiles the sources again through tap's TypeScript
// loader, which was most of the suite's time. The build lives in .lb-build/ under a name made of
// the sources' content, so it is made once and shared by every test file of a run (and the next
// run, if nothing changed). Its inline source maps name the files in src/, so coverage is counted
// there. It lies inside the project, and not under .tap/ or test/: coverage leaves out whatever
// ran from those or from outside the project.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root (package.json, src/, .lb-build/). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

/** Every .ts file under `dir`, sorted (so that the build's name does not depend on the order read). */
function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourcesUnder(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out.sort();
}

/** The folder of the build: `<it>/src/lb.js` and so on, with package.json beside. */
function buildFolder(files: string[]): string {
  const hash = createHash('sha256').update(ROOT).update(process.version);
  // This file too: how the build is made is part of what it is.
  for (const file of [...files, join(ROOT, 'tsconfig.json'), join(ROOT, 'package.json'), fileURLToPath(import.meta.url)]) {
    hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return join(ROOT, '.lb-build', hash.digest('hex').slice(0, 20));
}

/**
 * Compiles `files` into `out`, each with an inline source map naming its source by absolute path,
 * and writes `out/manifest.json`: each source's path under src/ and the sha256 of its text.
 */
function compile(files: string[], out: string): void {
  const manifest: Record<string, string> = {};
  // Loaded only when the build is missing: loading the compiler is most of the cost of a build.
  const ts = createRequire(import.meta.url)('typescript') as typeof import('typescript');
  const tsconfig = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  const { options } = ts.parseJsonConfigFileContent(tsconfig.config, ts.sys, ROOT);
  // ES modules, as package.json's "type" makes them (transpileModule cannot read it: it would
  // emit CommonJS for nodenext).
  const compilerOptions = { ...options, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, sourceMap: false, inlineSourceMap: true, inlineSources: true, declaration: false };
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    manifest[relative(SRC, file)] = createHash('sha256').update(text).digest('hex');
    const { outputText } = ts.transpileModule(text, { compilerOptions, fileName: file });
    const marker = '//# sourceMappingURL=data:application/json;base64,';
    const at = outputText.lastIndexOf(marker);
    const map = JSON.parse(Buffer.from(outputText.slice(at + marker.length).trim(), 'base64').toString('utf8')) as Record<string, unknown>;
    // Coverage reads the map: the source is the file in src/, wherever the build lies.
    map['sources'] = [file];
    delete map['sourceRoot'];
    const target = join(out, 'src', relative(SRC, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, `${outputText.slice(0, at)}${marker}${Buffer.from(JSON.stringify(map)).toString('base64')}\n`);
  }
  // package.json says the files are ES modules, and lb --version reads it; the packages the
  // sources import are found in the project's node_modules, a few folders up.
  writeFileSync(join(out, 'package.json'), readFileSync(join(ROOT, 'package.json')));
  writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
}

let built: string | undefined;

/**
 * The build's folder, made if missing. Two test files may make it at once: each builds in a
 * folder of its own and renames it into place; the rename that comes second fails, and that
 * file uses the one already there (the same sources give the same build).
 */
export function compiledRoot(): string {
  if (built !== undefined) return built;
  const files = sourcesUnder(SRC);
  const folder = buildFolder(files);
  if (!existsSync(join(folder, 'manifest.json'))) {
    mkdirSync(dirname(folder), { recursive: true });
    const scratch = mkdtempSync(`${folder}.tmp-`);
    try {
      compile(files, scratch);
      renameSync(scratch, folder);
    } catch (err) {
      rmSync(scratch, { recursive: true, force: true });
      if (!existsSync(join(folder, 'manifest.json'))) throw err;
    }
  }
  built = folder;
  return folder;
}

/** A compiled source file: `compiled('lb.js')` is src/lb.ts as JavaScript. */
export function compiled(path: string): string {
  return join(compiledRoot(), 'src', path);
}

// The processes a test starts serve src/ from this build (src-from-build.mjs), and every health
// checker a test starts, in this process or in a child, runs the build of its worker.
process.env['LB_TEST_BUILD'] = compiledRoot();
process.env['LB_HEALTH_WORKER'] = compiled('health/worker.js');
