/**
 * The per-identity policy map: for one subject identity and direction, the entries of every rule
 * that selects it, split by tier and effect, ready for lookup without consulting any policy.
 */
import type { Node } from '../../cluster/model.js';
import { cidrContains, type IpAddress } from '../address.js';
import type { HttpRequest } from '../l7.js';
import type { Direction, RuleRef } from '../model.js';
import { portMatches, type NamedPort, type Protocol } from '../ports.js';
import { selects } from '../selector.js';
import { tierOrder } from '../tier-order.js';
import { judgeHttp, sortRules, strongerAuth, type DirectionVerdict, type L7Grant } from '../verdict.js';
import type { MembershipMatrix } from './selector-cache.js';
import { PROTOCOL_BITS, type Binding, type Entry, type PeerMatcher } from './translate.js';

export interface DirectionMap {
  readonly guardrails: readonly Entry[];
  readonly admin: readonly Entry[];
  readonly deny: readonly Entry[];
  readonly allow: readonly Entry[];
  readonly isolatedBy: readonly RuleRef[];
  readonly baseline: readonly Entry[];
  /** Whether some policy isolates the subject in this direction (isolatedBy is not empty). */
  readonly isolated: boolean;
  /** The entries that can match a pod peer, layer after layer, packed for the lookup loop (see `packed`). */
  readonly podProgram: readonly number[];
  /** The entries that can match any other peer (an entity, an address, a node), packed the same way. */
  readonly otherProgram: readonly number[];
  /** Every entry: the programs refer to them by index. */
  readonly order: readonly Entry[];
  /** The default-deny verdict, built once: most denials are this one. */
  readonly defaultDeny: DirectionVerdict;
}

export type PolicyMap = Readonly<Record<Direction, DirectionMap>>;

const NOT_ISOLATED: Readonly<Record<Direction, DirectionVerdict>> = {
  ingress: Object.freeze({ direction: 'ingress', allowed: true, reason: 'not-isolated', tier: 'default', rules: [] }),
  egress: Object.freeze({ direction: 'egress', allowed: true, reason: 'not-isolated', tier: 'default', rules: [] }),
};
const HOST_ALLOWED: DirectionVerdict = Object.freeze({ direction: 'ingress', allowed: true, reason: 'host-allowed', tier: 'namespaced', rules: [] });

/** Keeps a verdict that depends only on one entry and the layer it sits in. */
function remember(entry: Entry, verdict: DirectionVerdict): DirectionVerdict {
  return (entry.verdict = Object.freeze(verdict));
}

function entryVerdict(entry: Entry, direction: Direction, reason: DirectionVerdict['reason'], allowed: boolean): DirectionVerdict {
  const tier = reason === 'admin-accept' || reason === 'admin-deny' ? 'admin' : reason === 'baseline-accept' || reason === 'baseline-deny' ? 'baseline' : 'namespaced';
  return entry.verdict ?? remember(entry, { direction, allowed, reason, tier, rules: entry.single });
}

const NO_ENTRIES: readonly Entry[] = Object.freeze([]);

// ---- The packed program ----
// Header: the start offset of each layer (guardrails, admin, deny, allow, baseline) and the end.
// Record: [entry index, flags, class mask, port count, slot count, ports (protocol mask, from, to,
// name id) ..., selector slots ...]. One array of small integers per direction map keeps a lookup's
// reads in a few cache lines instead of a walk over entry, port and matcher objects. A plain array
// of small integers, not an Int32Array: V8 keeps its elements inline in the heap, where an
// Int32Array of this size points to a separate backing store, one more cache miss per lookup.
const LAYERS = 5;
const HEADER = LAYERS + 1;
const FLAG_ANY = 1;
const FLAG_ANY_POD = 2;
/** The entry also matches by address or node labels: consult its PeerMatcher. */
const FLAG_SLOW = 4;
const FLAG_ALL_PORTS = 8;
const LAYER_GUARDRAILS = 0;
const LAYER_ADMIN = 1;
const LAYER_DENY = 2;
const LAYER_ALLOW = 3;
const LAYER_BASELINE = 4;

/** Port names are compared as small integers in the program. */
const PORT_NAME_IDS = new Map<string, number>();

function portNameId(name: string | undefined): number {
  if (name === undefined) return -1;
  let id = PORT_NAME_IDS.get(name);
  if (id === undefined) PORT_NAME_IDS.set(name, (id = PORT_NAME_IDS.size));
  return id;
}

/** Whether an entry can match a pod peer: by any peer, every pod, a selector, or an address block. */
function canMatchPod(matcher: PeerMatcher): boolean {
  return matcher.any || matcher.anyPod || matcher.podSlots.length > 0 || matcher.ipCidrs.length > 0;
}

/** Whether an entry can match a peer that is not a pod: by any peer, an entity, an address or node labels. */
function canMatchOther(matcher: PeerMatcher): boolean {
  return matcher.any || matcher.classMask !== 0 || matcher.ipCidrs.length > 0 || matcher.worldCidrs.length > 0 || matcher.nodeSelectors.length > 0;
}

/**
 * The layers' entries in one order, and two programs over them: a pod peer's lookup walks only the
 * entries that can match a pod (a guardrail on world CIDRs is not among them), any other peer's only
 * the rest. Which entries can match which kind of peer is fixed when the map is built.
 */
function packed(...layers: Entry[][]): { podProgram: readonly number[]; otherProgram: readonly number[]; order: readonly Entry[] } {
  const order = layers.flat();
  const index = new Map(order.map((entry, at) => [entry, at]));
  return { podProgram: program(layers, index, canMatchPod), otherProgram: program(layers, index, canMatchOther), order };
}

function program(layers: Entry[][], index: ReadonlyMap<Entry, number>, include: (matcher: PeerMatcher) => boolean): number[] {
  const words: number[] = new Array<number>(HEADER).fill(0);
  layers.forEach((layer, layerIndex) => {
    words[layerIndex] = words.length;
    for (const entry of layer) {
      const matcher = entry.peer;
      if (!include(matcher)) continue;
      const flags =
        (matcher.any ? FLAG_ANY : 0) |
        (matcher.anyPod ? FLAG_ANY_POD : 0) |
        (matcher.ipCidrs.length > 0 || matcher.worldCidrs.length > 0 || matcher.nodeSelectors.length > 0 ? FLAG_SLOW : 0) |
        (entry.portSpecs === undefined ? FLAG_ALL_PORTS : 0);
      const ports = entry.portSpecs ?? [];
      words.push(index.get(entry)!, flags, matcher.classMask, ports.length, matcher.podSlots.length);
      for (const port of ports) words.push(port.protocols, port.from, port.to, portNameId(port.name));
      words.push(...matcher.podSlots);
    }
  });
  words[LAYERS] = words.length;
  return words;
}

function recordLength(program: readonly number[], at: number): number {
  return 5 + 4 * program[at + 3]! + program[at + 4]!;
}

function recordMatches(map: DirectionMap, program: readonly number[], at: number, peer: PeerView, traffic: Traffic): boolean {
  const flags = program[at + 1]!;
  const portCount = program[at + 3]!;
  if ((flags & FLAG_ALL_PORTS) === 0) {
    let portOk = false;
    for (let port = at + 5, end = at + 5 + 4 * portCount; port < end; port += 4) {
      if ((program[port]! & traffic.protocolBit) === 0) continue;
      const nameId = program[port + 3]!;
      if (nameId < 0 ? traffic.port >= program[port + 1]! && traffic.port <= program[port + 2]! : namedPortMatches(nameId, traffic)) {
        portOk = true;
        break;
      }
    }
    if (!portOk) return false;
  }
  if ((flags & FLAG_ANY) !== 0) return true;
  if (peer.isPod) {
    if ((flags & FLAG_ANY_POD) !== 0) return true;
    const members = traffic.members;
    const bits = members.bits;
    const row = peer.identityId * members.stride;
    for (let slot = at + 5 + 4 * portCount, end = slot + program[at + 4]!; slot < end; slot++) {
      const value = program[slot]!;
      if (((bits[row + (value >>> 5)] ?? 0) & (1 << (value & 31))) !== 0) return true;
    }
  } else if ((program[at + 2]! & (1 << peer.variant)) !== 0) return true;
  return (flags & FLAG_SLOW) !== 0 && slowPeerMatches(map.order[program[at]!]!.peer, peer);
}

function namedPortMatches(nameId: number, traffic: Traffic): boolean {
  const keys = traffic.namedPortKeys;
  for (let at = 0; at < keys.length; at += 3) {
    if (keys[at] === nameId && keys[at + 1] === traffic.port && (keys[at + 2]! & traffic.protocolBit) !== 0) return true;
  }
  return false;
}

/** A destination's named ports as the program compares them: (name id, port, protocol bit) triples. */
export function namedPortKeys(ports: readonly NamedPort[]): readonly number[] {
  return ports.flatMap((named) => [portNameId(named.name), named.port, PROTOCOL_BITS[named.protocol] ?? 0]);
}

/** The matching entries of one layer: one entry (the common case, no allocation), several, or none. */
function matchLayer(map: DirectionMap, program: readonly number[], layer: number, peer: PeerView, traffic: Traffic): Entry | Entry[] | undefined {
  let first: Entry | undefined;
  let more: Entry[] | undefined;
  for (let at = program[layer]!, end = program[layer + 1]!; at < end; at += recordLength(program, at)) {
    if (!recordMatches(map, program, at, peer, traffic)) continue;
    const entry = map.order[program[at]!]!;
    if (first === undefined) first = entry;
    else (more ??= [first]).push(entry);
  }
  return more ?? first;
}

/** The first matching entry of an ordered layer (tiers: first match decides). */
function firstInLayer(map: DirectionMap, program: readonly number[], layer: number, peer: PeerView, traffic: Traffic): Entry | undefined {
  for (let at = program[layer]!, end = program[layer + 1]!; at < end; at += recordLength(program, at)) {
    if (recordMatches(map, program, at, peer, traffic)) return map.order[program[at]!];
  }
  return undefined;
}

function shared(entries: Entry[]): readonly Entry[] {
  return entries.length === 0 ? NO_ENTRIES : entries;
}

function byTierOrder(a: Entry, b: Entry): number {
  return tierOrder(a.tier!.policy, b.tier!.policy) || a.tier!.index - b.tier!.index;
}

export function buildPolicyMap(bindings: Iterable<Binding>): PolicyMap {
  const maps = {
    ingress: { guardrails: [] as Entry[], admin: [] as Entry[], deny: [] as Entry[], allow: [] as Entry[], isolatedBy: [] as RuleRef[], baseline: [] as Entry[] },
    egress: { guardrails: [] as Entry[], admin: [] as Entry[], deny: [] as Entry[], allow: [] as Entry[], isolatedBy: [] as RuleRef[], baseline: [] as Entry[] },
  };
  for (const binding of bindings) {
    for (const { direction, layer, entry } of binding.contributions) {
      const map = maps[direction];
      if (layer === 'isolate') map.isolatedBy.push(entry.rule);
      else if (layer === 'guardrail') map.guardrails.push(entry);
      else map[layer].push(entry);
    }
  }
  const finish = (direction: Direction): DirectionMap => {
    const map = maps[direction];
    map.admin.sort(byTierOrder);
    map.baseline.sort(byTierOrder);
    const isolatedBy = sortRules(map.isolatedBy);
    // The fields a lookup reads come first, so they share the object's first cache line; the program
    // is allocated just before the object, next to it in memory. Empty layers share one array.
    const { podProgram, otherProgram, order } = packed(map.guardrails, map.admin, map.deny, map.allow, map.baseline);
    const defaultDeny: DirectionVerdict = Object.freeze({ direction, allowed: false, reason: 'default-deny', tier: 'namespaced', rules: isolatedBy });
    return {
      podProgram,
      otherProgram,
      order,
      isolated: isolatedBy.length > 0,
      defaultDeny,
      guardrails: shared(map.guardrails),
      admin: shared(map.admin),
      deny: shared(map.deny),
      allow: shared(map.allow),
      isolatedBy,
      baseline: shared(map.baseline),
    };
  };
  return { ingress: finish('ingress'), egress: finish('egress') };
}

export const EMPTY_MAP: PolicyMap = buildPolicyMap([]);

/** The peer as one side sees it. */
export interface PeerView {
  readonly isPod: boolean;
  /** Identity of a pod peer (its row in the membership matrix); -1 for other peers. */
  readonly identityId: number;
  readonly ip: IpAddress | undefined;
  /** PEER_VARIANTS index of a non-pod peer; -1 for pods. */
  readonly variant: number;
  readonly isWorld: boolean;
  readonly isLocalHost: boolean;
  readonly node: Node | undefined;
}

export interface Traffic {
  /** The engine's selector membership, for pod peers. */
  readonly members: MembershipMatrix;
  readonly protocol: Protocol;
  /** PROTOCOL_BITS of the protocol. */
  readonly protocolBit: number;
  readonly port: number;
  readonly namedPorts: readonly NamedPort[];
  /** `namedPorts` as `namedPortKeys` makes them. */
  readonly namedPortKeys: readonly number[];
  readonly http: HttpRequest | undefined;
}

/** Address and node-label matching, for the entries that need it (flag FLAG_SLOW). */
function slowPeerMatches(matcher: PeerMatcher, peer: PeerView): boolean {
  const ip = peer.ip;
  if (!peer.isPod) {
    if (peer.isWorld && ip !== undefined) {
      for (const rule of matcher.worldCidrs) if (cidrContains(rule.cidr, ip) && !rule.except.some((except) => cidrContains(except, ip))) return true;
    }
    if (peer.node !== undefined) for (const selector of matcher.nodeSelectors) if (selects(selector, peer.node.labels)) return true;
  }
  if (ip !== undefined) {
    for (const rule of matcher.ipCidrs) if (cidrContains(rule.cidr, ip) && !rule.except.some((except) => cidrContains(except, ip))) return true;
  }
  return false;
}

function provenance(entries: readonly Entry[]): readonly RuleRef[] {
  return sortRules(entries.map((entry) => entry.rule));
}

function withPass(verdict: DirectionVerdict, passedBy: RuleRef | undefined): DirectionVerdict {
  return passedBy === undefined ? verdict : { ...verdict, passedBy };
}

/**
 * The same tier walk as the reference evaluator, over precompiled entries. Hot path: index loops
 * and no closures, so nothing is allocated for the common verdicts.
 */
export function decide(map: DirectionMap, direction: Direction, peer: PeerView, traffic: Traffic): DirectionVerdict {
  const program = peer.isPod ? map.podProgram : map.otherProgram;
  const guardrails = matchLayer(map, program, LAYER_GUARDRAILS, peer, traffic);
  if (guardrails !== undefined) {
    if (!Array.isArray(guardrails)) return entryVerdict(guardrails, direction, 'admin-deny', false);
    return { direction, allowed: false, reason: 'admin-deny', tier: 'admin', rules: provenance(guardrails) };
  }
  let passedBy: RuleRef | undefined;
  const admin = firstInLayer(map, program, LAYER_ADMIN, peer, traffic);
  if (admin !== undefined) {
    if (admin.action !== 'Pass') return admin.action === 'Accept' ? entryVerdict(admin, direction, 'admin-accept', true) : entryVerdict(admin, direction, 'admin-deny', false);
    passedBy = admin.rule;
  }
  const denies = matchLayer(map, program, LAYER_DENY, peer, traffic);
  if (denies !== undefined) {
    const verdict = Array.isArray(denies) ? { direction, allowed: false, reason: 'denied' as const, tier: 'namespaced' as const, rules: provenance(denies) } : entryVerdict(denies, direction, 'denied', false);
    return withPass(verdict, passedBy);
  }
  const allows = matchLayer(map, program, LAYER_ALLOW, peer, traffic);
  if (allows !== undefined) {
    if (!Array.isArray(allows) && !allows.hasL7 && traffic.http === undefined) {
      return withPass(allows.verdict ?? remember(allows, allowVerdict(direction, [allows], traffic)), passedBy);
    }
    return withPass(allowVerdict(direction, Array.isArray(allows) ? allows : [allows], traffic), passedBy);
  }
  if (direction === 'ingress' && peer.isLocalHost) return withPass(HOST_ALLOWED, passedBy);
  if (map.isolated) return withPass(map.defaultDeny, passedBy);
  const baseline = firstInLayer(map, program, LAYER_BASELINE, peer, traffic);
  if (baseline !== undefined && baseline.action !== 'Pass') {
    return withPass(baseline.action === 'Accept' ? entryVerdict(baseline, direction, 'baseline-accept', true) : entryVerdict(baseline, direction, 'baseline-deny', false), passedBy);
  }
  return withPass(NOT_ISOLATED[direction], passedBy);
}

function allowVerdict(direction: Direction, allows: readonly Entry[], traffic: Traffic): DirectionVerdict {
  let auth: DirectionVerdict['auth'];
  let unrestricted = false;
  for (const entry of allows) {
    if (entry.auth !== undefined) auth = strongerAuth(auth, entry.auth);
    if (!entry.hasL7) unrestricted = true;
  }
  let l7: L7Grant[] | undefined;
  if (!unrestricted) {
    l7 = [];
    for (const entry of allows) {
      const portRules = entry.portRules ?? [];
      for (let index = 0; index < portRules.length && !unrestricted; index++) {
        const portRule = portRules[index]!;
        if (!portRule.ports.some((port) => portMatches(port, traffic.protocol, traffic.port, traffic.namedPorts))) continue;
        if (portRule.http === undefined && portRule.dns === undefined) unrestricted = true;
        else l7.push({ rule: entry.rule, portRule: index, ...(portRule.http ? { http: portRule.http } : {}), ...(portRule.dns ? { dns: portRule.dns } : {}) });
      }
    }
    if (unrestricted) l7 = undefined;
  }
  return {
    direction,
    allowed: true,
    reason: 'allowed',
    tier: 'namespaced',
    rules: allows.length === 1 ? allows[0]!.single : provenance(allows),
    ...(auth ? { auth } : {}),
    ...(l7 ? { l7 } : {}),
    ...(traffic.http ? { http: judgeHttp(l7, traffic.http) } : {}),
  };
}
