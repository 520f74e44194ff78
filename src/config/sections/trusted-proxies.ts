// The `trusted_proxies` section: addresses and CIDRs, kept as written once each one parses.

import type { Node } from 'yaml';
import { parseCidr } from '../address.js';
import { readSeq, readText, type Source } from '../yaml.js';

export function readTrustedProxies(src: Source, node: Node | undefined): string[] {
  if (node === undefined) return [];
  return readSeq(src, node, 'trusted_proxies', 'addresses or CIDRs').map((item, i) => {
    const hint = 'expected an IP address or CIDR, e.g. "10.0.0.0/8" or "::1"';
    const text = readText(src, item, `trusted_proxies[${i}]`, hint);
    if (parseCidr(text) === null) src.fail(item, `trusted_proxies[${i}]`, hint);
    return text;
  });
}
