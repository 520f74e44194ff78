// Loaded into the balancer by the soak (`node --import bench/lib/soak-probe.js dist/lb.js ...`):
// what only the process itself can see — its heap and its event loop's delay — written as one
// JSON line to file descriptor 3 (a pipe the soak opened) every second. The balancer's own code
// knows nothing of it.

import { writeSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

// One histogram for the last second, one for the whole run.
const recent = monitorEventLoopDelay({ resolution: 10 });
const whole = monitorEventLoopDelay({ resolution: 10 });
recent.enable();
whole.enable();
const timer = setInterval(() => {
  // Delays in nanoseconds.
  const line = JSON.stringify({
    heap: process.memoryUsage().heapUsed,
    p99: recent.percentile(99),
    max: recent.max,
    p99All: whole.percentile(99),
  });
  recent.reset();
  try {
    writeSync(3, `${line}\n`);
  } catch {
    clearInterval(timer); // the soak is gone
  }
}, 1000);
timer.unref();
