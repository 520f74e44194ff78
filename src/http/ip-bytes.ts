// IP addresses between text and bytes, as the PROXY protocol carries them: a v1 header writes
// them as text, a v2 header as 4 or 16 bytes. Text is written the one way RFC 5952 recommends for
// IPv6 (lower case, the longest run of zero groups as "::"), so that an address reads the same in
// X-Forwarded-For, the access log and trusted_proxies whichever version brought it.

/** "a.b.c.d" as 4 bytes, or null unless it is exactly four decimal octets 0..255 without leading zeros. */
export function ipv4Bytes(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const n = decimal(parts[i]!, 3);
    if (n < 0 || n > 255) return null;
    out[i] = n;
  }
  return out;
}

/**
 * An IPv6 address (RFC 4291 2.2: eight groups of 1-4 hex digits, "::" for one run of zero groups,
 * the last 32 bits possibly as a.b.c.d) as 16 bytes, or null.
 */
export function ipv6Bytes(text: string): Uint8Array | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = ipv4Bytes(item);
        if (v4 === null) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return null;
        out.push(parseInt(item, 16));
      }
    }
    return out;
  };
  const front = groups(halves[0]!);
  const back = halves.length === 2 ? groups(halves[1]!) : [];
  if (front === null || back === null) return null;
  const missing = 8 - front.length - back.length;
  // Without "::" there must be eight groups; with it, "::" stands for at least one.
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...front, ...new Array<number>(missing).fill(0), ...back];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** 4 bytes at buf[at] as "a.b.c.d". */
export function ipv4Text(buf: Uint8Array, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

/**
 * 16 bytes at buf[at] as RFC 5952 text ("2001:db8::1"). An IPv4-mapped address (::ffff:a.b.c.d)
 * is written as the IPv4 address alone, as the balancer writes a dual-stack socket's peer.
 */
export function ipv6Text(buf: Uint8Array, at: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((buf[at + 2 * i]! << 8) | buf[at + 2 * i + 1]!);
  if (g[5] === 0xffff && g.slice(0, 5).every((x) => x === 0)) return ipv4Text(buf, at + 12);
  // RFC 5952 4.2: the longest run of two or more zero groups (the first of equal ones) becomes "::".
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (from: number, to: number): string => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(0, 8);
  return `${hex(0, best)}::${hex(best + bestLength, 8)}`;
}

/** A decimal number of 1..`digits` digits without a leading zero ("0" itself is fine); -1 if it is not one. */
export function decimal(text: string, digits: number): number {
  if (text.length === 0 || text.length > digits || !/^\d+$/.test(text)) return -1;
  if (text.length > 1 && text[0] === '0') return -1;
  return Number(text);
}
