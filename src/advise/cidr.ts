/**
 * Aggregating observed addresses into CIDR blocks for ipBlock / toCIDRSet rules.
 *
 * The rule, conservative on purpose:
 * - Private, shared, link-local, loopback and other special-use addresses (RFC 1918, 100.64.0.0/10,
 *   169.254.0.0/16, 127.0.0.0/8, 0.0.0.0/8, 224.0.0.0/4 and up, fc00::/7, fe80::/10, ::1, ...) are
 *   kept exact: a block is only used when every address in it was observed.
 * - Public addresses are widened to the smallest prefix covering the observed addresses of the same
 *   /24 (IPv6: the same /64), and never past it: one provider's neighbouring addresses, not the Internet.
 * - Then sibling blocks are merged while the merge adds no address (lossless), and blocks inside
 *   other blocks are dropped.
 * So the result never covers an unobserved private address, and is the same for the same set of
 * addresses in any order.
 */
import { makeCidr, parseCidr, type Cidr, type IpAddress } from '../policy/address.js';

const SPECIAL_RANGES: readonly Cidr[] = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
  '192.0.0.0/24', '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/3',
  '::/127', '::ffff:0:0/96', '64:ff9b::/96', '100::/64', 'fc00::/7', 'fe80::/10', 'ff00::/8',
].map((text) => parseCidr(text).cidr!);

/** Addresses that must never be covered unless observed one by one. */
export function isSpecialUse(ip: IpAddress): boolean {
  return SPECIAL_RANGES.some((range) => range.family === ip.family && (ip.value & range.mask) === range.network);
}

/** Public addresses are widened within a block of this prefix. */
const WIDEN_WITHIN: Readonly<Record<4 | 6, number>> = { 4: 24, 6: 64 };

export function aggregateAddresses(addresses: Iterable<IpAddress>): Cidr[] {
  const exact = new Map<string, Cidr>();
  const publicGroups = new Map<string, IpAddress[]>();
  for (const ip of addresses) {
    if (isSpecialUse(ip)) {
      const host = makeCidr(ip.family, ip.value, ip.family === 4 ? 32 : 128);
      exact.set(host.text, host);
      continue;
    }
    const group = makeCidr(ip.family, ip.value, WIDEN_WITHIN[ip.family]);
    const members = publicGroups.get(group.text);
    if (members) members.push(ip);
    else publicGroups.set(group.text, [ip]);
  }
  const blocks = [...exact.values()];
  for (const members of publicGroups.values()) blocks.push(coveringPrefix(members));
  return mergeCidrs(blocks);
}

/** The smallest single prefix covering every address given (all of one family). */
function coveringPrefix(addresses: readonly IpAddress[]): Cidr {
  const first = addresses[0]!;
  const bits = first.family === 4 ? 32 : 128;
  let low = first.value;
  let high = first.value;
  for (const ip of addresses) {
    if (ip.value < low) low = ip.value;
    if (ip.value > high) high = ip.value;
  }
  let prefix = bits;
  while (prefix > 0 && (low >> BigInt(bits - prefix)) !== (high >> BigInt(bits - prefix))) prefix--;
  return makeCidr(first.family, low, prefix);
}

/** Removes blocks inside others and merges siblings (a lossless union), sorted by family and address. */
export function mergeCidrs(blocks: readonly Cidr[]): Cidr[] {
  const sorted = [...blocks].sort(compareCidrs);
  let current: Cidr[] = [];
  for (const block of sorted) {
    const last = current[current.length - 1];
    if (last && last.family === block.family && block.prefix >= last.prefix && (block.network & last.mask) === last.network) continue;
    current.push(block);
  }
  // Merge siblings until nothing changes; each pass is linear over sorted blocks.
  for (let changed = true; changed; ) {
    changed = false;
    const next: Cidr[] = [];
    for (const block of current) {
      const last = next[next.length - 1];
      if (last && siblings(last, block)) {
        next[next.length - 1] = makeCidr(last.family, last.network, last.prefix - 1);
        changed = true;
        // The merged block may now absorb or pair with the one before it.
        while (next.length >= 2 && siblings(next[next.length - 2]!, next[next.length - 1]!)) {
          const right = next.pop()!;
          const left = next.pop()!;
          next.push(makeCidr(left.family, left.network, right.prefix - 1));
        }
      } else next.push(block);
    }
    current = next;
  }
  return current;
}

function siblings(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family || a.prefix !== b.prefix || a.prefix === 0) return false;
  const parent = makeCidr(a.family, a.network, a.prefix - 1);
  return parent.network === a.network && (b.network & parent.mask) === parent.network && b.network !== a.network;
}

export function compareCidrs(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.network !== b.network) return a.network < b.network ? -1 : 1;
  return a.prefix - b.prefix;
}
