// The health checker's thread. It runs the schedule (checker.ts) away from the proxy's event
// loop, so a slow or hanging backend never delays a request, and posts only what changed.
//
// Messages to the main thread:  { type: 'flip', index, up, reason }
//                               { type: 'check', index, ok, reason, at }   (only when asked: debug
//                                 logs, or a status page that shows each server's last check)
//                               { type: 'no-page', index }   (it has no health page: TCP checks)
//                               { type: 'resolved', index, address }   (a name resolves at last)
//                               { type: 'ready', threadId }
// Messages from the main thread: { type: 'down', index }   (a passive failure)
//                                { type: 'stop' }

import { parentPort, threadId, workerData } from 'node:worker_threads';
import { resolveHost } from '../balancer/resolve.js';
import { HealthChecker, type CheckTarget } from './checker.js';
import { probeHttp, probeTcp } from './probe.js';

export interface HealthWorkerData {
  /** The servers, each with its check settings. */
  targets: CheckTarget[];
  /** How often a name that does not resolve is looked up again (ms). */
  retry: number;
  /** Each server's state when the worker starts (a restarted worker keeps the last known). */
  up: boolean[];
  /** Whether to post every check, not only flips. */
  reportChecks: boolean;
}

export type ToMain =
  | { type: 'ready'; threadId: number }
  | { type: 'flip'; index: number; up: boolean; reason: string }
  | { type: 'check'; index: number; ok: boolean; reason: string; at: number }
  | { type: 'no-page'; index: number }
  | { type: 'resolved'; index: number; address: string };

export type FromMain = { type: 'down'; index: number } | { type: 'stop' };

/* c8 ignore next 2 -- only false when this file is imported outside a worker, by mistake */
const port = parentPort;
if (port !== null) {
  const data = workerData as HealthWorkerData;
  const post = (message: ToMain): void => port.postMessage(message);
  const checker = new HealthChecker(
    data.targets,
    { http: probeHttp, tcp: probeTcp, lookup: resolveHost },
    {
      flip: (index, up, reason) => post({ type: 'flip', index, up, reason }),
      check: data.reportChecks ? (index, r) => post({ type: 'check', index, ok: r.ok, reason: r.reason, at: Date.now() }) : undefined,
      noHealthPage: (index) => post({ type: 'no-page', index }),
      resolved: (index, address) => post({ type: 'resolved', index, address }),
    },
    data.up,
    data.retry,
  );
  port.on('message', (message: FromMain) => {
    if (message.type === 'down') checker.markDown(message.index);
    else {
      checker.stop();
      port.close();
    }
  });
  post({ type: 'ready', threadId });
  checker.start();
}
