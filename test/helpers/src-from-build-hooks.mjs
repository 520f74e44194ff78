// Module hooks (src-from-build.mjs registers them): a file of src/ is served as its JavaScript from
// the build compiled.ts made, when the build was made from the same text (its manifest holds each
// source's hash), and an import of "./x.js" within src/ finds x.ts, as TypeScript writes it;
// anything else, a file changed since or a mocked module, goes on to the next loader (tap's
// TypeScript one, where there is one), as without these hooks.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** file:///.../src/ */
let srcUrl = '';
/** The build's folder and its manifest: source path under src/ to the sha256 of its text. */
let build = '';
let manifest = {};

/** @param {{ build: string }} data */
export function initialize(data) {
  build = data.build;
  manifest = JSON.parse(readFileSync(join(build, 'manifest.json'), 'utf8'));
  srcUrl = pathToFileURL(join(fileURLToPath(new URL('../../src/', import.meta.url)), sep)).href;
}

/**
 * @param {string} specifier
 * @param {{ parentURL?: string }} context
 * @param {(specifier: string, context: object) => Promise<object>} next
 */
export async function resolve(specifier, context, next) {
  const parent = context.parentURL;
  // A mocked module's imports carry a query: those are tap's to resolve.
  if (parent !== undefined && parent.startsWith(srcUrl) && !parent.includes('?') && specifier.startsWith('.') && specifier.endsWith('.js')) {
    const url = new URL(specifier.replace(/\.js$/, '.ts'), parent);
    if (url.href.startsWith(srcUrl) && relative(fileURLToPath(srcUrl), fileURLToPath(url)) in manifest) {
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
  if (url.startsWith(srcUrl) && url.endsWith('.ts')) {
    const path = fileURLToPath(url);
    const name = relative(fileURLToPath(srcUrl), path);
    const text = readFileSync(path);
    if (manifest[name] === createHash('sha256').update(text).digest('hex')) {
      return { format: 'module', source: readFileSync(join(build, 'src', name.replace(/\.ts$/, '.js'))), shortCircuit: true };
    }
  }
  return next(url, context);
}
