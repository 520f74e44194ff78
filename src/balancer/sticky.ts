// Sticky sessions (interface.md, `sticky`): the cookie that names a client's server. Its value is
// an opaque id made from the server's name alone, so every process with the same config gives and
// accepts the same ids (several balancers, workers, restarts) and the id does not show the
// server's address. Pure: the pool asks it, the exchange sends its lines.

import type { Sticky } from '../config/schema.js';
import { stableHash } from './policies/stable-hash.js';

/** Seeds of the two hashes that make a 64-bit id (any two fixed values; fixed forever). */
const SEED_HIGH = 0x2545f491;
const SEED_LOW = 0x6c078965;

export class StickyCookies {
  /** The id of each position. */
  readonly ids: readonly string[];
  private readonly positions: ReadonlyMap<string, number>;
  /** The Set-Cookie line of each position: [plain, secure]. */
  private readonly lines: readonly (readonly [Buffer, Buffer])[];

  /** @param names each position's server name as the config writes it ("host:port"); distinct */
  constructor(
    readonly settings: Sticky,
    names: readonly string[],
  ) {
    this.ids = names.map(stickyId);
    this.positions = new Map(this.ids.map((id, i) => [id, i]));
    const attributes = `; Path=/; HttpOnly; SameSite=Lax${settings.maxAge > 0 ? `; Max-Age=${settings.maxAge}` : ''}`;
    this.lines = this.ids.map((id) => {
      const line = `Set-Cookie: ${settings.cookie}=${id}${attributes}`;
      return [Buffer.from(`${line}\r\n`, 'latin1'), Buffer.from(`${line}; Secure\r\n`, 'latin1')] as const;
    });
  }

  /** The position a cookie value names, or -1 for a value that names none of this pool's servers. */
  positionOf(id: string): number {
    return this.positions.get(id) ?? -1;
  }

  /** The `Set-Cookie` field line (CRLF included) that sends a client to position `i`; `secure` on a TLS listener. */
  line(i: number, secure: boolean): Buffer {
    return this.lines[i]![secure ? 1 : 0];
  }
}

/** A server's id: 16 hex digits, from two independent hashes of its name. */
export function stickyId(name: string): string {
  return hex8(stableHash(name, SEED_HIGH)) + hex8(stableHash(name, SEED_LOW));
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}
