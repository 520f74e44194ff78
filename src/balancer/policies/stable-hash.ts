// A string hash that is the same in every process, on every machine and after every restart
// (no per-process seed), so that balancers sharing a config agree on where a key goes.

/** FNV-1a's 32-bit offset basis: the default seed. */
export const FNV_OFFSET = 0x811c9dc5;

/**
 * FNV-1a (32 bits) over the string's UTF-16 code units, then MurmurHash3's finalizer (fmix32):
 * FNV-1a alone leaves keys that differ in their last character ("user1", "user2") close in the
 * low bits, which a modulo would keep close. An unsigned 32-bit integer. A `seed` other than the
 * default gives an independent hash of the same string (Maglev needs two per name).
 */
export function stableHash(text: string, seed: number = FNV_OFFSET): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
