// Preloaded (node --require) into the balancer that servers/demo.js starts. Its stdin is a pipe
// from the demo that nothing is written to: when the demo goes away, however it goes (Ctrl-C, a
// crash, kill -9), the pipe ends, and this sends the balancer SIGTERM, so that it drains, exits
// and does not keep holding its port with nobody left to stop it. CommonJS, so that --require
// takes it on every Node.js the project supports.

const { isMainThread } = require('node:worker_threads');

// A worker thread (the health checker) is preloaded with it too, and has no stdin of its own.
if (isMainThread) {
  process.stdin.on('end', () => {
    // Its output went to the demo, which is gone: a write now fails (EPIPE), and must not end the
    // drain before it is done.
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
    process.kill(process.pid, 'SIGTERM');
  });
  process.stdin.resume();
  // Watching the pipe must not keep the balancer alive by itself (one that failed to start exits).
  process.stdin.unref();
}
