// Preloaded into every test process (package.json, tap's node-arg) and into the balancer
// processes they start (lb-process.ts): registers module hooks (src-from-build-hooks.mjs) that
// serve src/*.ts from the build compiled.ts made, so that no process compiles the sources again
// through tap's TypeScript loader. A test process makes the build if it is missing (compiled.ts,
// loaded through that loader) and names it in LB_TEST_BUILD; the processes it starts find it
// there and run without the TypeScript loader. Registered after it, the hooks are asked first;
// what they do not serve goes on to it.

import { register } from 'node:module';

const build = process.env['LB_TEST_BUILD'] || (await import('./compiled.js')).compiledRoot();
register('./src-from-build-hooks.mjs', import.meta.url, { data: { build } });
