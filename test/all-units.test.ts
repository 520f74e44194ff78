// The unit tests: the files of test/unit/, imported here one after another in name order, all in
// this one process. A unit test opens no socket and starts no process, thread or timer to wait
// on: it calls a module and looks at what comes back, so these files cannot disturb each other.
// tap gives each test file it finds a process of its own, and loading tap and its module hooks
// into one costs more CPU than most of these files' tests take (README, "Test suite time").
// Their names still end in .test.ts, and one runs alone like any test file:
// `npm test -- --disable-coverage test/unit/router.test.ts`.
// This file's name puts it near the front: tap starts files in name order, and a long one that
// starts last runs alone on one core at the end.

import { readdirSync } from 'node:fs';

const names = readdirSync(new URL('./unit/', import.meta.url)).filter((name) => name.endsWith('.test.ts')).sort();
for (const name of names) await import(`./unit/${name.slice(0, -'.ts'.length)}.js`);
