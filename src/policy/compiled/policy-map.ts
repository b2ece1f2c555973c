/**
 * The per-identity policy map: for one subject identity and direction, the entries of every rule
 * that selects it, split by tier and effect, ready for lookup without consulting any policy.
 */
import type { Node } from '../../cluster/model.js';
import { cidrContains, type IpAddress } from '../address.js';
import { httpRuleMatches, type HttpRequest } from '../l7.js';
import type { Direction, RuleRef } from '../model.js';
import { portMatches, type NamedPort, type Protocol } from '../ports.js';
import { selects } from '../selector.js';
import { tierOrder } from '../tier-order.js';
import { judgeHttp, sortRules, strongerAuth, type DirectionVerdict, type L7Grant } from '../verdict.js';
import type { Identity } from './identities.js';
import type { Binding, Entry, PeerMatcher, PortSpec } from './translate.js';

export interface DirectionMap {
  readonly guardrails: readonly Entry[];
  readonly admin: readonly Entry[];
  readonly deny: readonly Entry[];
  readonly allow: readonly Entry[];
  readonly isolatedBy: readonly RuleRef[];
  readonly baseline: readonly Entry[];
  /** Whether some policy isolates the subject in this direction (isolatedBy is not empty). */
  readonly isolated: boolean;
  /** The default-deny verdict, built once: most denials are this one. */
  readonly defaultDeny: DirectionVerdict;
}

export type PolicyMap = Readonly<Record<Direction, DirectionMap>>;

const NOT_ISOLATED: Readonly<Record<Direction, DirectionVerdict>> = {
  ingress: Object.freeze({ direction: 'ingress', allowed: true, reason: 'not-isolated', tier: 'default', rules: [] }),
  egress: Object.freeze({ direction: 'egress', allowed: true, reason: 'not-isolated', tier: 'default', rules: [] }),
};
const HOST_ALLOWED: DirectionVerdict = Object.freeze({ direction: 'ingress', allowed: true, reason: 'host-allowed', tier: 'namespaced', rules: [] });

/** Verdicts that depend only on one entry and the layer it sits in, built once per entry. */
const verdictCache = new WeakMap<Entry, DirectionVerdict>();

function remember(entry: Entry, verdict: DirectionVerdict): DirectionVerdict {
  verdictCache.set(entry, Object.freeze(verdict));
  return verdict;
}

function entryVerdict(entry: Entry, direction: Direction, reason: DirectionVerdict['reason'], allowed: boolean): DirectionVerdict {
  const tier = reason === 'admin-accept' || reason === 'admin-deny' ? 'admin' : reason === 'baseline-accept' || reason === 'baseline-deny' ? 'baseline' : 'namespaced';
  return verdictCache.get(entry) ?? remember(entry, { direction, allowed, reason, tier, rules: entry.single });
}

const NO_ENTRIES: readonly Entry[] = Object.freeze([]);

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
    // A literal, not a spread: the lookup reads these fields first and a spread object keeps them out of
    // line. Empty layers share one array, which stays in cache.
    return {
      guardrails: shared(map.guardrails),
      admin: shared(map.admin),
      deny: shared(map.deny),
      allow: shared(map.allow),
      isolatedBy,
      baseline: shared(map.baseline),
      isolated: isolatedBy.length > 0,
      defaultDeny: Object.freeze({ direction, allowed: false, reason: 'default-deny', tier: 'namespaced', rules: isolatedBy }),
    };
  };
  return { ingress: finish('ingress'), egress: finish('egress') };
}

export const EMPTY_MAP: PolicyMap = buildPolicyMap([]);

/** The peer as one side sees it. */
export interface PeerView {
  readonly isPod: boolean;
  /** Identity of a pod peer. */
  readonly identity: Identity | undefined;
  readonly ip: IpAddress | undefined;
  /** PEER_VARIANTS index of a non-pod peer; -1 for pods. */
  readonly variant: number;
  readonly isWorld: boolean;
  readonly isLocalHost: boolean;
  readonly node: Node | undefined;
}

export interface Traffic {
  readonly protocol: Protocol;
  /** PROTOCOL_BITS of the protocol. */
  readonly protocolBit: number;
  readonly port: number;
  readonly namedPorts: readonly NamedPort[];
  readonly http: HttpRequest | undefined;
}

function peerMatches(matcher: PeerMatcher, peer: PeerView): boolean {
  if (matcher.any) return true;
  if (peer.isPod) {
    if (matcher.anyPod) return true;
    const slots = matcher.podSlots;
    const member = peer.identity!.selectors;
    for (let index = 0; index < slots.length; index++) {
      const slot = slots[index]!;
      if (((member[slot >>> 5] ?? 0) & (1 << (slot & 31))) !== 0) return true;
    }
  } else {
    if ((matcher.classMask & (1 << peer.variant)) !== 0) return true;
    if (peer.isWorld && peer.ip !== undefined) {
      for (const rule of matcher.worldCidrs) if (cidrContains(rule.cidr, peer.ip) && !rule.except.some((except) => cidrContains(except, peer.ip!))) return true;
    }
    if (peer.node !== undefined) for (const selector of matcher.nodeSelectors) if (selects(selector, peer.node.labels)) return true;
  }
  if (matcher.ipCidrs.length > 0 && peer.ip !== undefined) {
    for (const rule of matcher.ipCidrs) if (cidrContains(rule.cidr, peer.ip) && !rule.except.some((except) => cidrContains(except, peer.ip!))) return true;
  }
  return false;
}

function portsMatch(specs: readonly PortSpec[], traffic: Traffic): boolean {
  for (let index = 0; index < specs.length; index++) {
    const spec = specs[index]!;
    if ((spec.protocols & traffic.protocolBit) === 0) continue;
    if (spec.name === undefined) {
      if (traffic.port >= spec.from && traffic.port <= spec.to) return true;
    } else {
      for (const named of traffic.namedPorts) if (named.name === spec.name && named.port === traffic.port && named.protocol === traffic.protocol) return true;
    }
  }
  return false;
}

function entryMatches(entry: Entry, peer: PeerView, traffic: Traffic): boolean {
  if (entry.portSpecs !== undefined && !portsMatch(entry.portSpecs, traffic)) return false;
  return peerMatches(entry.peer, peer);
}

/** The matching entries: one entry (the common case, no allocation), several, or none. */
function matching(entries: readonly Entry[], peer: PeerView, traffic: Traffic): Entry | Entry[] | undefined {
  let first: Entry | undefined;
  let more: Entry[] | undefined;
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index]!;
    if (!entryMatches(entry, peer, traffic)) continue;
    if (first === undefined) first = entry;
    else (more ??= [first]).push(entry);
  }
  return more ?? first;
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
  const guardrails = matching(map.guardrails, peer, traffic);
  if (guardrails !== undefined) {
    if (!Array.isArray(guardrails)) return entryVerdict(guardrails, direction, 'admin-deny', false);
    return { direction, allowed: false, reason: 'admin-deny', tier: 'admin', rules: provenance(guardrails) };
  }
  let passedBy: RuleRef | undefined;
  const admin = map.admin;
  for (let index = 0; index < admin.length; index++) {
    const entry = admin[index]!;
    if (!entryMatches(entry, peer, traffic)) continue;
    if (entry.action === 'Pass') {
      passedBy = entry.rule;
      break;
    }
    return entry.action === 'Accept' ? entryVerdict(entry, direction, 'admin-accept', true) : entryVerdict(entry, direction, 'admin-deny', false);
  }
  const denies = matching(map.deny, peer, traffic);
  if (denies !== undefined) {
    const verdict = Array.isArray(denies) ? { direction, allowed: false, reason: 'denied' as const, tier: 'namespaced' as const, rules: provenance(denies) } : entryVerdict(denies, direction, 'denied', false);
    return withPass(verdict, passedBy);
  }
  const allows = matching(map.allow, peer, traffic);
  if (allows !== undefined) {
    if (!Array.isArray(allows) && !allows.hasL7 && traffic.http === undefined) {
      return withPass(verdictCache.get(allows) ?? remember(allows, allowVerdict(direction, [allows], traffic)), passedBy);
    }
    return withPass(allowVerdict(direction, Array.isArray(allows) ? allows : [allows], traffic), passedBy);
  }
  if (direction === 'ingress' && peer.isLocalHost) return withPass(HOST_ALLOWED, passedBy);
  if (map.isolated) return withPass(map.defaultDeny, passedBy);
  const baseline = map.baseline;
  for (let index = 0; index < baseline.length; index++) {
    const entry = baseline[index]!;
    if (!entryMatches(entry, peer, traffic)) continue;
    if (entry.action === 'Pass') break;
    return withPass(entry.action === 'Accept' ? entryVerdict(entry, direction, 'baseline-accept', true) : entryVerdict(entry, direction, 'baseline-deny', false), passedBy);
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
    ...(traffic.http ? { http: judgeHttp(l7, traffic.http, httpRuleMatches) } : {}),
  };
}
