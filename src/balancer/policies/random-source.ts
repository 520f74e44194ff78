// The random numbers the policies draw in production: xoshiro128** (Blackman and Vigna), its
// state in a typed array, so that a draw allocates nothing. Math.random and generators with
// their state in closure variables box every draw (a heap number) on Node 20.

import type { Random } from './policy.js';

/**
 * A generator of numbers in [0, 1) from a 32-bit `seed` (spread over the state by SplitMix32, so
 * nearby seeds give unrelated streams). Production seeds it once per process at random; the
 * balancing needs no secrecy, only draws that do not repeat across processes.
 */
export function xoshiro128(seed: number): Random {
  const s = new Uint32Array(4);
  let z = seed >>> 0;
  for (let i = 0; i < 4; i++) {
    z = (z + 0x9e3779b9) >>> 0;
    let x = z;
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
    s[i] = x ^ (x >>> 16);
  }
  return () => {
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result / 4294967296;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
