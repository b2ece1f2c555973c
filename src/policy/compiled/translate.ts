/**
 * Translates each policy kind into one form: bindings of a subject selector to entries (peer
 * matcher, ports, effect, provenance), all expressed over identity labels. This is where the
 * Kubernetes, Cilium and tier semantics meet; the policy map and lookup know none of them.
 */
import type { Service } from '../../cluster/model.js';
import type { Cidr } from '../address.js';
import { entitiesOf, reservedLabelsOf, type PeerClass } from '../entity.js';
import { NAMESPACE_LABEL, NAMESPACE_LABELS_PREFIX } from '../identity-labels.js';
import { ruleKey, type AuthMode, type CidrRule, type CiliumPeerRule, type CiliumPolicy, type CiliumPortRule, type Direction, type NetworkPolicy, type NetworkPolicyRule, type Policy, type PolicyRef, type RuleRef, type ServiceSelector, type TierAction, type TieredPolicy, type TierPeer, type TierRule, type TierSubject } from '../model.js';
import type { PortMatch, Protocol } from '../ports.js';
import { EVERYTHING, selects, withRequirement, type Requirement, type Selector } from '../selector.js';
import type { DirectionVerdict } from '../verdict.js';
import type { CachedSelector, SelectorCache } from './selector-cache.js';

/** Non-pod peers by what they are (and, for the world, the address family). */
export const PEER_VARIANTS: readonly { readonly peerClass: PeerClass; readonly family: 4 | 6 | undefined }[] = [
  { peerClass: 'host', family: undefined },
  { peerClass: 'remote-node', family: undefined },
  { peerClass: 'world', family: 4 },
  { peerClass: 'world', family: 6 },
  { peerClass: 'world', family: undefined },
  { peerClass: 'kube-apiserver', family: undefined },
  { peerClass: 'init', family: undefined },
  { peerClass: 'health', family: undefined },
  { peerClass: 'unmanaged', family: undefined },
  { peerClass: 'ingress', family: undefined },
];

export function peerVariant(peerClass: PeerClass, family: 4 | 6 | undefined): number {
  if (peerClass === 'world') return family === 4 ? 2 : family === 6 ? 3 : 4;
  return PEER_VARIANTS.findIndex((variant) => variant.peerClass === peerClass);
}

export interface PeerMatcher {
  readonly any: boolean;
  /** Every pod (entities `all` and `cluster`). */
  readonly anyPod: boolean;
  readonly podSelectors: readonly CachedSelector[];
  /** The slots of podSelectors, tested against the peer identity's selector bits. */
  readonly podSlots: readonly number[];
  /** Non-pod peers matched by entity or by a reserved-label selector, one bit per PEER_VARIANTS entry. */
  readonly classMask: number;
  /** Blocks that match any peer by address (NetworkPolicy ipBlock, tier networks). */
  readonly ipCidrs: readonly CidrRule[];
  /** Blocks that match only addresses outside the cluster (Cilium CIDR rules). */
  readonly worldCidrs: readonly CidrRule[];
  readonly nodeSelectors: readonly Selector[];
}

export type Layer = 'guardrail' | 'admin' | 'deny' | 'allow' | 'isolate' | 'baseline';

/** A port entry in the shape the lookup loop wants: a protocol bitmask and a range or a name. */
export interface PortSpec {
  readonly protocols: number;
  readonly from: number;
  readonly to: number;
  readonly name: string | undefined;
}

export const PROTOCOL_BITS: Readonly<Record<Protocol, number>> = { TCP: 1, UDP: 2, SCTP: 4, ICMP: 8, ICMPv6: 16 };

function portSpec(match: PortMatch): PortSpec {
  const protocols = match.protocol === 'ANY' ? PROTOCOL_BITS.TCP | PROTOCOL_BITS.UDP | PROTOCOL_BITS.SCTP : PROTOCOL_BITS[match.protocol];
  return { protocols, from: match.port ?? 0, to: match.port === undefined ? 65535 : (match.endPort ?? match.port), name: match.name };
}

/** Every entry has every field (undefined when unused): one object shape keeps the lookup loop fast. */
export interface Entry {
  readonly rule: RuleRef;
  readonly key: string;
  /** `[rule]`, allocated once for the common single-match verdict. */
  readonly single: readonly RuleRef[];
  readonly peer: PeerMatcher;
  /** Undefined: every port. */
  readonly portSpecs: readonly PortSpec[] | undefined;
  /** Cilium allow rules: the port rules, for L7 grants. */
  readonly portRules: readonly CiliumPortRule[] | undefined;
  readonly hasL7: boolean;
  readonly auth: AuthMode | undefined;
  readonly action: TierAction | undefined;
  /** Tier entries: position in evaluation order (policy order, then rule index). */
  readonly tier: { readonly policy: TieredPolicy; readonly index: number } | undefined;
  /**
   * The verdict when this entry alone decides, built with the first policy map that holds it (see
   * `singleVerdict`). An entry sits in one direction and one layer, so that verdict never changes.
   */
  verdict: DirectionVerdict | undefined;
}

interface EntryOptions {
  readonly ports?: readonly PortMatch[] | undefined;
  readonly portRules?: readonly CiliumPortRule[] | undefined;
  readonly auth?: AuthMode | undefined;
  readonly action?: TierAction | undefined;
  readonly tier?: Entry['tier'];
}

export interface Contribution {
  readonly direction: Direction;
  readonly layer: Layer;
  readonly entry: Entry;
}

export type Subject = { readonly type: 'pods'; readonly selector: CachedSelector } | { readonly type: 'nodes'; readonly selector: Selector };

export interface Binding {
  readonly subject: Subject;
  readonly contributions: readonly Contribution[];
}

export interface CompiledPolicy {
  readonly policy: Policy;
  readonly bindings: readonly Binding[];
  /** Every selector interned for this policy, released when it goes. */
  readonly selectors: readonly CachedSelector[];
  /** Depends on Services (toServices): recompiled when they change. */
  readonly usesServices: boolean;
}

interface Context {
  readonly cache: SelectorCache;
  readonly services: () => readonly Service[];
  readonly interned: CachedSelector[];
}

export function compilePolicy(policy: Policy, options: { cache: SelectorCache; services: () => readonly Service[] }): CompiledPolicy {
  const context: Context = { ...options, interned: [] };
  let bindings: Binding[];
  let usesServices = false;
  switch (policy.type) {
    case 'NetworkPolicy':
      bindings = [networkPolicyBinding(policy, context)];
      break;
    case 'Cilium':
      bindings = policy.rules.map((rule) => ciliumBinding(policy, rule, context));
      usesServices = policy.rules.some((rule) => [...rule.allow.egress, ...rule.deny.egress].some((peerRule) => (peerRule.peers?.services.length ?? 0) > 0));
      break;
    case 'Tiered':
      bindings = [tieredBinding(policy, context)];
      break;
  }
  return { policy, bindings, selectors: context.interned, usesServices };
}

function intern(context: Context, selector: Selector): CachedSelector {
  const cached = context.cache.intern(selector);
  context.interned.push(cached);
  return cached;
}

function inNamespace(selector: Selector, namespace: string): Selector {
  return withRequirement(selector, { key: NAMESPACE_LABEL, operator: 'In', values: [namespace] });
}

/** A namespace selector, as requirements on the namespace labels every pod identity carries. */
function namespaceRequirements(selector: Selector): Requirement[] {
  return [
    { key: NAMESPACE_LABEL, operator: 'Exists', values: [] },
    ...selector.requirements.map((requirement) => ({ ...requirement, key: NAMESPACE_LABELS_PREFIX + requirement.key })),
  ];
}

function entry(rule: RuleRef, peer: PeerMatcher, options: EntryOptions = {}): Entry {
  return {
    rule,
    key: ruleKey(rule),
    single: [rule],
    peer,
    portSpecs: options.ports?.map(portSpec),
    portRules: options.portRules,
    hasL7: (options.portRules ?? []).some((portRule) => portRule.http !== undefined || portRule.dns !== undefined),
    auth: options.auth,
    action: options.action,
    tier: options.tier,
    verdict: undefined,
  };
}

/** Always a literal with every field in this order (never a spread): one fast object shape for the lookup. */
function peerMatcher(fields: Partial<PeerMatcher>): PeerMatcher {
  return {
    any: fields.any ?? false,
    anyPod: fields.anyPod ?? false,
    podSelectors: fields.podSelectors ?? [],
    podSlots: (fields.podSelectors ?? []).map((selector) => selector.slot),
    classMask: fields.classMask ?? 0,
    ipCidrs: fields.ipCidrs ?? [],
    worldCidrs: fields.worldCidrs ?? [],
    nodeSelectors: fields.nodeSelectors ?? [],
  };
}

const NO_PEER = peerMatcher({});
const ANY_PEER = peerMatcher({ any: true });

function isolation(policy: PolicyRef, path: string, direction: Direction): Contribution {
  return { direction, layer: 'isolate', entry: entry({ policy, path }, NO_PEER) };
}

// ---- Kubernetes NetworkPolicy ----

function networkPolicyBinding(policy: NetworkPolicy, context: Context): Binding {
  const contributions: Contribution[] = [];
  for (const direction of ['ingress', 'egress'] as const) {
    if (!policy.isolates[direction]) continue;
    contributions.push(isolation(policy.ref, 'spec', direction));
    for (const rule of policy[direction]) {
      contributions.push({ direction, layer: 'allow', entry: entry(rule.ref, networkPolicyPeers(policy, rule, context), { ports: rule.ports }) });
    }
  }
  return { subject: { type: 'pods', selector: intern(context, inNamespace(policy.podSelector, policy.namespace)) }, contributions };
}

function networkPolicyPeers(policy: NetworkPolicy, rule: NetworkPolicyRule, context: Context): PeerMatcher {
  if (rule.peers === undefined) return ANY_PEER;
  const podSelectors: CachedSelector[] = [];
  const ipCidrs: CidrRule[] = [];
  for (const peer of rule.peers) {
    if (peer.type === 'ipBlock') ipCidrs.push({ cidr: peer.cidr, except: peer.except });
    else if (peer.namespaceSelector === undefined) podSelectors.push(intern(context, inNamespace(peer.podSelector ?? EVERYTHING, policy.namespace)));
    else podSelectors.push(intern(context, { requirements: [...namespaceRequirements(peer.namespaceSelector), ...(peer.podSelector?.requirements ?? [])] }));
  }
  return peerMatcher({ podSelectors, ipCidrs });
}

// ---- Cilium ----

function ciliumBinding(policy: CiliumPolicy, rule: CiliumPolicy['rules'][number], context: Context): Binding {
  const subject: Subject =
    rule.subject.type === 'nodes'
      ? { type: 'nodes', selector: rule.subject.selector }
      : { type: 'pods', selector: intern(context, policy.namespace === undefined ? rule.subject.selector : inNamespace(rule.subject.selector, policy.namespace)) };
  const contributions: Contribution[] = [];
  const clusterwide = policy.namespace === undefined;
  for (const direction of ['ingress', 'egress'] as const) {
    if (rule.defaultDeny[direction]) contributions.push(isolation(policy.ref, rule.path, direction));
    for (const peerRule of rule.deny[direction]) {
      contributions.push({ direction, layer: clusterwide ? 'guardrail' : 'deny', entry: ciliumEntry(policy, peerRule, context) });
    }
    for (const peerRule of rule.allow[direction]) contributions.push({ direction, layer: 'allow', entry: ciliumEntry(policy, peerRule, context) });
  }
  return { subject, contributions };
}

function ciliumEntry(policy: CiliumPolicy, rule: CiliumPeerRule, context: Context): Entry {
  const ports = rule.ports?.flatMap((portRule) => portRule.ports);
  return entry(rule.ref, ciliumPeers(policy, rule, context), { ports, portRules: rule.ports, auth: rule.auth });
}

function ciliumPeers(policy: CiliumPolicy, rule: CiliumPeerRule, context: Context): PeerMatcher {
  const peers = rule.peers;
  if (peers === undefined) return ANY_PEER;
  const podSelectors: CachedSelector[] = [];
  const scoped = peers.endpoints.map((selector) => ciliumEndpointSelector(selector, policy.namespace));
  for (const selector of scoped) podSelectors.push(intern(context, selector));
  for (const service of peers.services) for (const selector of serviceSelectors(service, context.services())) podSelectors.push(intern(context, selector));
  const entities = new Set(peers.entities);
  let classMask = 0;
  PEER_VARIANTS.forEach((variant, index) => {
    const memberOf = entitiesOf(variant.peerClass, variant.family);
    const reserved = reservedLabelsOf(variant.peerClass, variant.family);
    if ([...entities].some((entity) => memberOf.has(entity)) || scoped.some((selector) => selects(selector, reserved))) classMask |= 1 << index;
  });
  return peerMatcher({ anyPod: entities.has('all') || entities.has('cluster'), podSelectors, classMask, worldCidrs: peers.cidrs, nodeSelectors: peers.nodes });
}

/** Cilium's implicit namespace for fromEndpoints/toEndpoints (pkg/k8s/apis/cilium.io/utils getEndpointSelector). */
function ciliumEndpointSelector(selector: Selector, namespace: string | undefined): Selector {
  const keys = selector.requirements.map((requirement) => requirement.key);
  if (keys.some((key) => key.startsWith('reserved:')) || keys.includes(NAMESPACE_LABEL)) return selector;
  if (namespace === undefined) return withRequirement(selector, { key: NAMESPACE_LABEL, operator: 'Exists', values: [] });
  if (keys.some((key) => key.startsWith(NAMESPACE_LABELS_PREFIX))) return selector;
  return inNamespace(selector, namespace);
}

function serviceSelectors(service: ServiceSelector, services: readonly Service[]): Selector[] {
  const matching =
    service.type === 'name'
      ? services.filter((candidate) => candidate.namespace === service.namespace && candidate.name === service.name)
      : services.filter((candidate) => (service.namespace === undefined || candidate.namespace === service.namespace) && selects(service.selector, candidate.labels));
  return matching.flatMap((candidate) =>
    candidate.selector === undefined
      ? []
      : [inNamespace({ requirements: [...candidate.selector].map(([key, value]) => ({ key, operator: 'In' as const, values: [value] })) }, candidate.namespace)],
  );
}

// ---- Tiers ----

function tieredBinding(policy: TieredPolicy, context: Context): Binding {
  const subject: Subject = { type: 'pods', selector: intern(context, tierSubjectSelector(policy.subject)) };
  if (policy.quarantined) {
    return { subject, contributions: [isolation(policy.ref, 'spec', 'ingress'), isolation(policy.ref, 'spec', 'egress')] };
  }
  const layer: Layer = policy.tier === 'Admin' ? 'admin' : 'baseline';
  const contributions: Contribution[] = [];
  for (const direction of ['ingress', 'egress'] as const) {
    policy[direction].forEach((rule, index) => {
      contributions.push({ direction, layer, entry: entry(rule.ref, tierPeers(rule, context), { action: rule.action, tier: { policy, index }, ports: rule.ports }) });
    });
  }
  return { subject, contributions };
}

function tierSubjectSelector(subject: TierSubject): Selector {
  const requirements = namespaceRequirements(subject.namespaceSelector);
  return { requirements: subject.type === 'pods' ? [...requirements, ...subject.podSelector.requirements] : requirements };
}

function tierPeers(rule: TierRule, context: Context): PeerMatcher {
  const podSelectors: CachedSelector[] = [];
  const ipCidrs: CidrRule[] = [];
  const nodeSelectors: Selector[] = [];
  for (const peer of rule.peers as readonly TierPeer[]) {
    switch (peer.type) {
      case 'namespaces':
        podSelectors.push(intern(context, { requirements: namespaceRequirements(peer.namespaceSelector) }));
        break;
      case 'pods':
        podSelectors.push(intern(context, { requirements: [...namespaceRequirements(peer.namespaceSelector), ...peer.podSelector.requirements] }));
        break;
      case 'nodes':
        nodeSelectors.push(peer.nodeSelector);
        break;
      case 'networks':
        ipCidrs.push(...peer.cidrs.map((cidr: Cidr) => ({ cidr, except: [] })));
        break;
      case 'domainNames':
        break;
    }
  }
  return peerMatcher({ podSelectors, ipCidrs, nodeSelectors });
}
