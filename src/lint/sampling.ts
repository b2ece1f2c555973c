/**
 * Representative connections for one rule: which (subject, peer, port) triples the rule itself
 * matches, found by asking an engine that holds that rule alone. Checks then ask the real engine
 * what happens to those connections with every other policy in place.
 */
import { compareText } from '../manifest/syntax.js';
import { endpointAt, type Endpoint } from '../cluster/endpoint.js';
import type { Pod } from '../cluster/model.js';
import type { ClusterState } from '../cluster/state.js';
import { formatIp, makeCidr, type Cidr } from '../policy/address.js';
import type { EngineFactory, PolicyEngine } from '../policy/engine.js';
import { labelsKey } from '../policy/identity-labels.js';
import { ruleKey, type CiliumPeerRule, type CiliumPolicy, type CiliumRule, type Direction, type NetworkPolicy, type NetworkPolicyRule, type Policy, type RuleRef, type TieredPolicy, type TierRule } from '../policy/model.js';
import type { PortMatch, Protocol } from '../policy/ports.js';
import { createCompiledEngine } from '../policy/compiled/engine.js';
import { selects as selectsLabels } from '../policy/selector.js';
import type { Connection, DirectionVerdict } from '../policy/verdict.js';

/** One allowing rule, with the policy reduced to just that rule (for asking "does it match?"). */
export interface AllowRule {
  readonly policy: Policy;
  readonly ref: RuleRef;
  readonly direction: Direction;
  /** Port entries of the rule; undefined: every port. */
  readonly ports: readonly PortMatch[] | undefined;
  readonly cidrs: readonly { cidr: Cidr; except: readonly Cidr[] }[];
  readonly alone: Policy;
  /** `alone` with the rule's ports removed: which peers it names, whatever the port. */
  readonly anyPort: Policy;
  /** Present for Cilium rules: the peer rule itself (L7, authentication). */
  readonly cilium?: CiliumPeerRule;
  /** Present for Cilium rules: whether the subject is nodes (host policy). */
  readonly nodeSubject?: boolean;
}

/** Every allowing rule of the valid policies: NetworkPolicy rules, Cilium allow rules, tier Accept rules. */
export function allowRules(policies: readonly Policy[]): AllowRule[] {
  const out: AllowRule[] = [];
  for (const policy of policies) {
    if (policy.quarantined) continue;
    for (const direction of ['ingress', 'egress'] as const) {
      if (policy.type === 'NetworkPolicy') for (const rule of policy[direction]) out.push(networkPolicyRule(policy, rule, direction));
      else if (policy.type === 'Cilium') {
        for (const rule of policy.rules) for (const peerRule of rule.allow[direction]) out.push(ciliumRule({ policy, rule, peerRule, direction }));
      } else for (const rule of policy[direction]) if (rule.action === 'Accept') out.push(tierRule(policy, rule, direction));
    }
  }
  return out;
}

function networkPolicyRule(policy: NetworkPolicy, rule: NetworkPolicyRule, direction: Direction): AllowRule {
  const alone: NetworkPolicy = {
    ...policy,
    isolates: { ingress: direction === 'ingress', egress: direction === 'egress' },
    ingress: direction === 'ingress' ? [rule] : [],
    egress: direction === 'egress' ? [rule] : [],
  };
  const { ports: _ports, ...portless } = rule;
  const anyPort: NetworkPolicy = { ...alone, ingress: direction === 'ingress' ? [portless] : [], egress: direction === 'egress' ? [portless] : [] };
  const cidrs = (rule.peers ?? []).flatMap((peer) => (peer.type === 'ipBlock' ? [{ cidr: peer.cidr, except: peer.except }] : []));
  return { policy, ref: rule.ref, direction, ports: rule.ports, cidrs, alone, anyPort };
}

function ciliumRule(options: { policy: CiliumPolicy; rule: CiliumRule; peerRule: CiliumPeerRule; direction: Direction }): AllowRule {
  const { policy, rule, peerRule, direction } = options;
  // Default deny on both sides, so a selected subject is told apart from one the rule does not select.
  const only: CiliumRule = {
    ...rule,
    defaultDeny: { ingress: true, egress: true },
    allow: { ingress: direction === 'ingress' ? [peerRule] : [], egress: direction === 'egress' ? [peerRule] : [] },
    deny: { ingress: [], egress: [] },
  };
  const alone: CiliumPolicy = { ...policy, rules: [only] };
  const { ports: _ports, ...portless } = peerRule;
  const anyPort: CiliumPolicy = { ...policy, rules: [{ ...only, allow: { ingress: direction === 'ingress' ? [portless] : [], egress: direction === 'egress' ? [portless] : [] } }] };
  const ports = peerRule.ports?.flatMap((portRule) => portRule.ports);
  return { policy, ref: peerRule.ref, direction, ports, cidrs: peerRule.peers?.cidrs ?? [], alone, anyPort, cilium: peerRule, nodeSubject: rule.subject.type === 'nodes' };
}

function tierRule(policy: TieredPolicy, rule: TierRule, direction: Direction): AllowRule {
  const alone: TieredPolicy = { ...policy, ingress: direction === 'ingress' ? [rule] : [], egress: direction === 'egress' ? [rule] : [] };
  const { ports: _ports, ...portless } = rule;
  const anyPort: TieredPolicy = { ...policy, ingress: direction === 'ingress' ? [portless] : [], egress: direction === 'egress' ? [portless] : [] };
  const cidrs = rule.peers.flatMap((peer) => (peer.type === 'networks' ? peer.cidrs.map((cidr) => ({ cidr, except: [] })) : []));
  return { policy, ref: rule.ref, direction, ports: rule.ports, cidrs, alone, anyPort };
}

export interface MatchedConnection {
  readonly connection: Connection;
  /** The subject of the rule: the source for egress, the destination for ingress. */
  readonly subject: Endpoint;
  readonly peer: Endpoint;
}

const WORLD: Endpoint = { kind: 'external', peerClass: 'world', name: 'world' };

/** Beyond this many candidate connections per rule the rest are not examined (deterministically). */
const MAX_CANDIDATES = 50_000;
/** A port no rule is likely to name: stands for "any other port" when a rule allows every port. */
const OTHER_PORT = 65_535;

/**
 * Builds candidates once per cluster: one pod per distinct identity (namespace, labels, service
 * account, container ports), every node, and the entities a rule can name.
 */
export class ConnectionSampler {
  private readonly matcher: PolicyEngine;
  readonly pods: readonly Pod[];
  private readonly others: readonly Endpoint[];
  private readonly memo = new Map<string, MatchedConnection[]>();
  /** The matcher's own copy of the cluster. */
  private readonly cluster: ClusterState;

  /**
   * `target` is the checking engine's cluster: matched connections name its pods, so that engine
   * can evaluate them. The matcher (compiled by default; it holds one rule at a time) keeps a copy.
   */
  constructor(
    private readonly target: ClusterState,
    matcherFactory: EngineFactory = createCompiledEngine,
  ) {
    this.matcher = matcherFactory({ cluster: target, policies: [] });
    this.cluster = this.matcher.cluster;
    this.pods = representativePods(this.cluster.pods);
    const nodes = new Map<string, Endpoint>();
    for (const node of this.cluster.nodes) {
      const key = labelsKey(node.labels);
      if (!nodes.has(key)) nodes.set(key, { kind: 'node', node });
    }
    this.others = [
      ...nodes.values(),
      { kind: 'node', role: 'host', name: 'host' },
      { kind: 'node', role: 'remote-node', name: 'remote-node' },
      { kind: 'external', peerClass: 'kube-apiserver', name: 'kube-apiserver' },
      { kind: 'external', peerClass: 'world', name: 'world' },
    ];
  }

  /**
   * The connections `rule` matches on its own. `ports` narrows the port entries tried (for example
   * to the ones carrying HTTP rules).
   */
  matched(rule: AllowRule, options: { ports?: readonly PortMatch[] } = {}): MatchedConnection[] {
    const memoKey = `${ruleKey(rule.ref)}\u0000${options.ports === undefined ? '' : JSON.stringify(options.ports)}`;
    const known = this.memo.get(memoKey);
    if (known) return known;
    const found = this.findMatched(rule, options.ports ?? rule.ports);
    this.memo.set(memoKey, found);
    return found;
  }

  /**
   * Two passes: which peers the rule names at all (ports removed, one selected subject: peer
   * selection does not depend on the subject), then every selected subject against those peers on
   * the rule's ports. Nodes and outside addresses are always tried (host / remote-node depend on
   * where the subject runs).
   */
  private findMatched(rule: AllowRule, ports: readonly PortMatch[] | undefined): MatchedConnection[] {
    const key = ruleKey(rule.ref);
    const extra = [...this.others, ...rule.cidrs.flatMap((entry) => representativeAddresses(entry).map((ip) => endpointAt(this.cluster, ip)))];
    let selected: Endpoint[];
    let peers: Endpoint[];
    this.matcher.apply({ type: 'upsert-policy', policy: rule.anyPort });
    try {
      selected = this.subjects(rule).filter((subject) => this.selects(rule, subject));
      const [first] = selected;
      if (first === undefined) return [];
      const namedPods = this.pods.map((pod): Endpoint => ({ kind: 'pod', pod })).filter((peer) => this.matches({ rule, key, subject: first, peer, protocol: 'TCP', port: OTHER_PORT }));
      peers = [...namedPods, ...extra];
    } finally {
      this.matcher.apply({ type: 'delete-policy', ref: rule.policy.ref });
    }
    const out: MatchedConnection[] = [];
    this.matcher.apply({ type: 'upsert-policy', policy: rule.alone });
    try {
      let candidates = 0;
      for (const subject of selected) {
        for (const peer of peers) {
          const dst = rule.direction === 'egress' ? peer : subject;
          for (const { protocol, port } of samplePorts(ports, dst)) {
            if (++candidates > MAX_CANDIDATES) return out;
            if (!this.matches({ rule, key, subject, peer, protocol, port })) continue;
            const [mappedSubject, mappedPeer] = [this.toTarget(subject), this.toTarget(peer)];
            const [src, mappedDst] = rule.direction === 'egress' ? [mappedSubject, mappedPeer] : [mappedPeer, mappedSubject];
            out.push({ connection: { src, dst: mappedDst, protocol, port }, subject: mappedSubject, peer: mappedPeer });
          }
        }
      }
      return out;
    } finally {
      this.matcher.apply({ type: 'delete-policy', ref: rule.policy.ref });
    }
  }

  private matches(options: { rule: AllowRule; key: string; subject: Endpoint; peer: Endpoint; protocol: Protocol; port: number }): boolean {
    const { rule, subject, peer } = options;
    const [src, dst] = rule.direction === 'egress' ? [subject, peer] : [peer, subject];
    const verdict = this.matcher.evaluateDirection({ src, dst, protocol: options.protocol, port: options.port }, rule.direction);
    return verdict.allowed && verdict.rules.some((candidate) => ruleKey(candidate) === options.key);
  }

  /**
   * Whether the rule's policy selects `subject`: the reduced policy isolates what it selects, so
   * anything but "not isolated" towards an outside peer means selected. Tier policies do not
   * isolate: their subject selector is read directly.
   */
  private selects(rule: AllowRule, subject: Endpoint): boolean {
    const policy = rule.alone;
    if (policy.type === 'Tiered') {
      if (subject.kind !== 'pod') return false;
      const namespaceLabels = this.cluster.namespace(subject.pod.namespace).labels;
      return selectsLabels(policy.subject.namespaceSelector, namespaceLabels) && (policy.subject.type === 'namespaces' || selectsLabels(policy.subject.podSelector, subject.pod.labels));
    }
    const [src, dst] = rule.direction === 'egress' ? [subject, WORLD] : [WORLD, subject];
    return this.matcher.evaluateDirection({ src, dst, protocol: 'TCP', port: OTHER_PORT }, rule.direction).reason !== 'not-isolated';
  }

  /** The same endpoint in the target cluster (pods are per-engine objects). */
  private toTarget(endpoint: Endpoint): Endpoint {
    if (endpoint.kind !== 'pod') return endpoint;
    const pod = this.target.pod(endpoint.pod.namespace, endpoint.pod.name);
    return pod ? { kind: 'pod', pod } : endpoint;
  }

  private subjects(rule: AllowRule): Endpoint[] {
    if (rule.nodeSubject) return this.cluster.nodes.map((node): Endpoint => ({ kind: 'node', node }));
    const namespace = rule.policy.type === 'NetworkPolicy' ? rule.policy.namespace : rule.policy.type === 'Cilium' ? rule.policy.namespace : undefined;
    return this.pods.filter((pod) => namespace === undefined || pod.namespace === namespace).map((pod): Endpoint => ({ kind: 'pod', pod }));
  }
}

/** Pods with equal identity behave alike under every policy: keep the first of each. */
export function representativePods(pods: readonly Pod[]): Pod[] {
  const seen = new Map<string, Pod>();
  const sorted = [...pods].filter((pod) => !pod.hostNetwork).sort((a, b) => (a.namespace === b.namespace ? compareText(a.name, b.name) : compareText(a.namespace, b.namespace)));
  for (const pod of sorted) {
    const ports = pod.containerPorts.map((port) => `${port.name ?? ''}:${port.port}/${port.protocol}`).join(',');
    const key = `${pod.namespace}\u0000${labelsKey(pod.labels)}\u0000${pod.serviceAccount}\u0000${ports}`;
    if (!seen.has(key)) seen.set(key, pod);
  }
  return [...seen.values()];
}

/** Ports to try on `dst` for these port entries: named ports resolved, "every port" as the declared ports plus one other. */
export function samplePorts(ports: readonly PortMatch[] | undefined, dst: Endpoint): { protocol: Protocol; port: number }[] {
  const declared = dst.kind === 'pod' ? dst.pod.containerPorts : [];
  const out = new Map<string, { protocol: Protocol; port: number }>();
  const add = (protocol: Protocol, port: number): void => void out.set(`${protocol}/${port}`, { protocol, port });
  const everyPort = (protocol: Protocol | undefined): void => {
    for (const port of declared) if (protocol === undefined || port.protocol === protocol) add(port.protocol, port.port);
    add(protocol ?? 'TCP', OTHER_PORT);
  };
  if (ports === undefined) {
    everyPort(undefined);
    return [...out.values()];
  }
  for (const match of ports) {
    if (match.protocol === 'ICMP' || match.protocol === 'ICMPv6') continue;
    const protocol: Protocol | undefined = match.protocol === 'ANY' ? undefined : match.protocol;
    if (match.name !== undefined) {
      for (const port of declared) if (port.name === match.name && (protocol === undefined || port.protocol === protocol)) add(port.protocol, port.port);
    } else if (match.port === undefined) everyPort(protocol);
    else {
      add(protocol ?? 'TCP', match.port);
      if (match.endPort !== undefined && match.endPort !== match.port) add(protocol ?? 'TCP', match.endPort);
    }
  }
  return [...out.values()];
}

/** One address inside the block and outside its exceptions (the block itself when it is one host). */
export function representativeAddresses(entry: { cidr: Cidr; except: readonly Cidr[] }): ReturnType<typeof endpointAddress>[] {
  const { cidr } = entry;
  const bits = cidr.family === 4 ? 32 : 128;
  const last = cidr.network | (((1n << BigInt(bits)) - 1n) & ~cidr.mask);
  const afterExceptions = entry.except.map((except) => (except.network | (((1n << BigInt(bits)) - 1n) & ~except.mask)) + 1n);
  const candidates = [cidr.network + (cidr.prefix < bits - 1 ? 1n : 0n), cidr.network, ...afterExceptions, last];
  for (const value of candidates) {
    if (value < cidr.network || value > last) continue;
    const host = makeCidr(cidr.family, value, bits);
    if (entry.except.some((except) => (host.network & except.mask) === except.network)) continue;
    return [endpointAddress(cidr.family, value)];
  }
  return [];
}

function endpointAddress(family: 4 | 6, value: bigint): { family: 4 | 6; value: bigint; text: string } {
  return { family, value, text: formatIp(family, value) };
}

export function hasRule(verdict: DirectionVerdict, rule: RuleRef): boolean {
  const key = ruleKey(rule);
  return verdict.rules.some((candidate) => ruleKey(candidate) === key);
}
