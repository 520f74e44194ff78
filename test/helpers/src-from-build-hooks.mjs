// Module hooks (src-from-build.mjs registers them): a .ts file of src/ or test/ is served as its
// JavaScript from the build compiled.mjs made, when the build was made from the same text (its
// manifest holds each source's hash), or else compiled here and then; and an import of "./x.js"
// from one of them finds x.ts, as TypeScript writes it. Anything else goes on to Node's own
// resolution and loading.

import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ROOT, sourceHash, transpile } from './compiled.mjs';

/** file:///.../src/ and file:///.../test/: the folders whose .ts files are served. */
const SERVED = ['src', 'test'].map((folder) => pathToFileURL(join(ROOT, folder, '/')).href);
/** The build's folder and its manifest: source path under the root to the sha256 of its text. */
let build = '';
/** @type {Record<string, string>} */
let manifest = {};

/** @param {{ build: string }} data */
export function initialize(data) {
  build = data.build;
  manifest = JSON.parse(readFileSync(join(build, 'manifest.json'), 'utf8'));
}

/** @param {string} url */
const served = (url) => SERVED.some((folder) => url.startsWith(folder));

/**
 * @param {string} specifier
 * @param {{ parentURL?: string }} context
 * @param {(specifier: string, context: object) => Promise<object>} next
 */
export async function resolve(specifier, context, next) {
  const parent = context.parentURL;
  if (parent !== undefined && served(parent) && specifier.startsWith('.') && specifier.endsWith('.js')) {
    const url = new URL(`${specifier.slice(0, -3)}.ts`, parent);
    if (served(url.href) && (relative(ROOT, fileURLToPath(url)) in manifest || existsSync(url))) {
      return { url: url.href, format: 'module', shortCircuit: true };
    }
  }
  return next(specifier, context);
}

/**
 * @param {string} url
 * @param {object} context
 * @param {(url: string, context: object) => Promise<object>} next
 */
export async function load(url, context, next) {
  if (served(url) && url.endsWith('.ts')) {
    const path = fileURLToPath(url);
    const name = relative(ROOT, path);
    const text = readFileSync(path);
    const source = manifest[name] === sourceHash(text) ? readFileSync(join(build, name.replace(/\.ts$/, '.js'))) : transpile(text.toString('utf8'), path);
    return { format: 'module', source, shortCircuit: true };
  }
  return next(url, context);
}
