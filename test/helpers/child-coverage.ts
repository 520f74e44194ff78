// Node processes a test starts, without tap's coverage machinery in them, and the balancer's
// coverage handed to tap all the same.
// tap measures coverage with @tapjs/processinfo: module hooks on a thread of their own and an
// inspector session in every Node process it sees, which costs each 0.2 s of CPU or more before
// it does anything (and again in every cluster worker). It sees a child because it wraps
// ChildProcess.spawn and puts its hooks into the child's NODE_OPTIONS. So a child here is
// started through env(1), which sets NODE_OPTIONS after that; the balancer runs the build's
// JavaScript (compiled.mjs) and Node's own coverage (NODE_V8_COVERAGE, into a folder of this test
// process) records it. collect() turns what it recorded into the files tap reads,
// .tap/coverage/<uuid>.json: a script of the build named by its source (src/x.ts, as when a test
// process runs it through the hooks), where tap's coverage map lets it count (the list tap gives
// every process).

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The build this run's processes run (src-from-build.mjs names it); '' outside a test run. */
const BUILD = process.env['LB_TEST_BUILD'] ?? '';
/** Whether tap measures coverage in this run. */
const MEASURED = process.env['_TAPJS_PROCESSINFO_COVERAGE_'] === '1' && BUILD !== '';
/** Where tap reads coverage from. */
const TAP_COVERAGE = join(process.env['_TAPJS_PROCESSINFO_CWD_'] ?? process.cwd(), '.tap', 'coverage');
/** The sources tap's coverage map gives this test file (all of them when the list is empty). */
const COVERED = new Set((process.env['_TAPJS_PROCESSINFO_COV_FILES_'] ?? '').split('\n').filter((f) => f !== ''));
/** file:///…/.lb-build/<hash>/src/, and the project's file:///…/src/ it stands for. */
const BUILD_SRC = pathToFileURL(join(BUILD, 'src', '/')).href;
const PROJECT_SRC = new URL('../../src/', import.meta.url).href;

/** NODE_V8_COVERAGE's folder for this test process's children, made when first asked for. */
let folder = '';

/** The folder children record their coverage into, made on first use and emptied at exit. */
function coverageFolder(): string {
  if (folder === '') {
    folder = mkdtempSync(join(tmpdir(), 'lb-coverage-'));
    process.once('exit', () => {
      collect();
      rmSync(folder, { recursive: true, force: true });
    });
  }
  return folder;
}

/**
 * Starts `node ARGS` as a plain Node process: `env`'s NODE_OPTIONS without tap's hooks; with
 * `coverage`, Node's coverage recorded for collect() when tap measures it (the balancer's
 * children, cluster workers among them, inherit it).
 */
export function spawnNode(args: readonly string[], options: SpawnOptions & { coverage?: boolean } = {}): ChildProcess {
  const { coverage = false, ...rest } = options;
  const env: NodeJS.ProcessEnv = { ...(rest.env ?? process.env) };
  const nodeOptions = (env['NODE_OPTIONS'] ?? '').replace(/"?--import=\S*@tapjs\/processinfo\S*?"?(?=\s|$)/g, '').trim();
  if (coverage && MEASURED) env['NODE_V8_COVERAGE'] = coverageFolder();
  return spawn('env', [`NODE_OPTIONS=${nodeOptions}`, process.execPath, ...args], { ...rest, env });
}

interface ScriptCoverage {
  url: string;
}
interface Recorded {
  result: ScriptCoverage[];
  'source-map-cache'?: Record<string, unknown>;
}

/** The project source a script of the build stands for, as a file URL; null for any other script. */
function sourceOf(url: string): string | null {
  if (!url.startsWith(BUILD_SRC) || !url.endsWith('.js')) return null;
  const source = `${PROJECT_SRC}${url.slice(BUILD_SRC.length, -3)}.ts`;
  return COVERED.size === 0 || COVERED.has(fileURLToPath(source)) ? source : null;
}

/**
 * Moves what the children recorded so far into tap's coverage folder: runs when a child has
 * ended, and when this process exits (a cluster worker may end after its primary).
 */
export function collect(): void {
  if (folder === '') return;
  for (const name of readdirSync(folder)) {
    const file = join(folder, name);
    let recorded: Recorded;
    try {
      recorded = JSON.parse(readFileSync(file, 'utf8')) as Recorded;
    } catch {
      // Another child is still writing it: the next collect takes it.
      continue;
    }
    const maps = recorded['source-map-cache'] ?? {};
    const result: ScriptCoverage[] = [];
    const cache: Record<string, unknown> = {};
    for (const script of recorded.result) {
      const source = sourceOf(script.url);
      if (source === null) continue;
      result.push({ ...script, url: source });
      if (maps[script.url] !== undefined) cache[source] = maps[script.url];
    }
    if (result.length > 0) {
      mkdirSync(TAP_COVERAGE, { recursive: true });
      writeFileSync(join(TAP_COVERAGE, `${randomUUID()}.json`), JSON.stringify({ result, 'source-map-cache': cache }));
    }
    rmSync(file);
  }
}
