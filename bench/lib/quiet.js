// Other people's work on a shared machine: waits (bounded) until processes outside the
// benchmark are quiet before a measurement, says whether a measurement was disturbed by them,
// and allows repeating disturbed ones, all within one time budget per run, so that a busy
// machine still finishes in about the same time. On a machine of its own nothing waits here.

import { setTimeout as sleep } from 'node:timers/promises';
import { startCpuMeter } from './system.js';

/** CPU of other processes, in % of one core, from which a measurement counts as disturbed. */
export const DISTURBED_CPU = 25;
/** Longest wait for quiet before one measurement. */
const WAIT_MS = 5_000;
/** All the waiting and repeating one run may add. */
const BUDGET_MS = 120_000;
const SAMPLE_MS = 500;

let budgetMs = BUDGET_MS;

/**
 * Waits until, over half a second, processes other than the backend's and this one's used
 * less than DISTURBED_CPU (the target, idle between measurements, counts as other: it uses
 * next to nothing), at most WAIT_MS or what is left of the budget. Resolves with the CPU
 * others used in the last sample.
 * @param {number} backendPgid
 * @returns {Promise<number | null>}
 */
export async function waitForQuiet(backendPgid) {
  const began = Date.now();
  const deadline = began + Math.min(WAIT_MS, budgetMs);
  let others = null;
  do {
    const meter = startCpuMeter(null, backendPgid);
    await sleep(SAMPLE_MS);
    others = meter.read().others;
  } while (others !== null && others >= DISTURBED_CPU && Date.now() < deadline);
  budgetMs -= Math.max(0, Date.now() - began - SAMPLE_MS);
  return others;
}

/** Whether a measurement's CPU reading shows that other processes disturbed it. */
export function isDisturbed(/** @type {import('./system.js').CpuReading | undefined} */ cpu) {
  return cpu?.others != null && cpu.others >= DISTURBED_CPU;
}

/** Whether a measurement of `ms` may be repeated; takes the time from the budget if so. */
export function mayRepeat(/** @type {number} */ ms) {
  if (budgetMs < ms) return false;
  budgetMs -= ms;
  return true;
}
