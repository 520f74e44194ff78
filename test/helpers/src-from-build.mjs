// Preloaded into every test process (package.json, tap's node-arg): registers module hooks
// (src-from-build-hooks.mjs) that serve every .ts file of src/ and test/ from the build
// compiled.mjs made, so that no process compiles TypeScript or loads the compiler. A test process
// makes the build if it is missing and names it in LB_TEST_BUILD. What runs without hooks finds
// the build's JavaScript there: the balancer processes a test starts (lb-process.ts), the
// fuzzer's worker (fuzz-run.ts), and the health checkers (LB_HEALTH_WORKER, read by
// src/health/monitor.ts).

import { register } from 'node:module';
import { join } from 'node:path';

const build = process.env['LB_TEST_BUILD'] || (await import('./compiled.mjs')).compiledRoot();
process.env['LB_TEST_BUILD'] = build;
process.env['LB_HEALTH_WORKER'] ??= join(build, 'src', 'health', 'worker.js');
register('./src-from-build-hooks.mjs', import.meta.url, { data: { build } });
