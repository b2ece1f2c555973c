/**
 * The reference evaluator: slow and plain. For every connection it walks every policy and applies
 * each project's rules as documented, with no caches and no precomputation. The compiled engine
 * must agree with it on every connection (see engine.differential.test.ts).
 */
import { endpointIp, namedPortsOf, peerClassOf, type Endpoint } from '../../cluster/endpoint.js';
import type { Pod } from '../../cluster/model.js';
import type { ClusterState } from '../../cluster/state.js';
import { cidrContains } from '../address.js';
import { applyToCluster, type Change, type EngineInput, type PolicyEngine } from '../engine.js';
import { entitiesOf, reservedLabelsOf } from '../entity.js';
import { NAMESPACE_LABEL, NAMESPACE_LABELS_PREFIX, podIdentityLabels } from '../identity-labels.js';
import { policyKey, type CiliumPeerRule, type CiliumPolicy, type CiliumRule, type Direction, type NetworkPolicy, type NetworkPolicyRule, type Policy, type RuleRef, type ServiceSelector, type Tier, type TieredPolicy, type TierPeer, type TierRule, type TierSubject } from '../model.js';
import { portMatches, type PortMatch } from '../ports.js';
import { selects, type Selector } from '../selector.js';
import { combine, failClosed, judgeHttp, sortRules, strongerAuth, type Connection, type DirectionVerdict, type L7Grant, type Verdict } from '../verdict.js';
import { tierOrder } from '../tier-order.js';

export function createReferenceEngine(input: EngineInput): PolicyEngine {
  return new ReferenceEngine(input.cluster.clone(), [...input.policies]);
}

/** Everything one side of a connection needs: who is evaluated, against whom, on what. */
interface Side {
  readonly direction: Direction;
  readonly subject: Endpoint;
  readonly peer: Endpoint;
  readonly connection: Connection;
}

class ReferenceEngine implements PolicyEngine {
  readonly name = 'reference';
  revision = 0;

  constructor(
    readonly cluster: ClusterState,
    public policies: Policy[],
  ) {}

  apply(change: Change): void {
    applyToCluster(this.cluster, change);
    if (change.type === 'upsert-policy') {
      const key = policyKey(change.policy.ref);
      this.policies = [...this.policies.filter((policy) => policyKey(policy.ref) !== key), change.policy];
    } else if (change.type === 'delete-policy') {
      const key = policyKey(change.ref);
      this.policies = this.policies.filter((policy) => policyKey(policy.ref) !== key);
    }
    this.revision++;
  }

  evaluate(connection: Connection): Verdict {
    return combine(this.evaluateDirection(connection, 'egress'), this.evaluateDirection(connection, 'ingress'), this.revision);
  }

  evaluateDirection(connection: Connection, direction: Direction): DirectionVerdict {
    const [subject, peer] = direction === 'egress' ? [connection.src, connection.dst] : [connection.dst, connection.src];
    try {
      return this.side({ direction, subject, peer, connection });
    } catch (error) {
      return failClosed(direction, 'error', String(error));
    }
  }

  private side(side: Side): DirectionVerdict {
    const { direction, subject } = side;
    if (subject.kind === 'external' || (subject.kind === 'node' && subject.node === undefined)) {
      return { direction, allowed: true, reason: 'not-enforced', tier: 'default', rules: [] };
    }

    // Admin tier: clusterwide Cilium deny rules (guardrails) first, then Admin tier rules by priority.
    const guardrails = this.ciliumMatches(side, 'deny', (policy) => policy.namespace === undefined);
    if (guardrails.length > 0) return { direction, allowed: false, reason: 'admin-deny', tier: 'admin', rules: sortRules(guardrails.map((match) => match.rule.ref)) };
    const admin = this.tierDecision(side, 'Admin');
    if (admin.decided) return admin.decided;

    // Namespaced tier: deny beats allow; an isolated endpoint denies what nothing allows.
    const passedBy = admin.passedBy;
    const pass = passedBy ? { passedBy } : {};
    const denies = this.ciliumMatches(side, 'deny', (policy) => policy.namespace !== undefined);
    if (denies.length > 0) return { direction, allowed: false, reason: 'denied', tier: 'namespaced', rules: sortRules(denies.map((match) => match.rule.ref)), ...pass };
    const allowed = this.allowMatches(side);
    if (allowed) return { ...allowed, ...pass };
    if (direction === 'ingress' && peerClassOf(side.peer, subject) === 'host') {
      return { direction, allowed: true, reason: 'host-allowed', tier: 'namespaced', rules: [], ...pass };
    }
    const isolating = this.isolatingRules(side);
    if (isolating.length > 0) return { direction, allowed: false, reason: 'default-deny', tier: 'namespaced', rules: sortRules(isolating), ...pass };

    // Baseline tier, only for endpoints no namespaced policy isolates; then the default: allow.
    const baseline = this.tierDecision(side, 'Baseline');
    if (baseline.decided) return { ...baseline.decided, ...pass };
    return { direction, allowed: true, reason: 'not-isolated', tier: 'default', rules: [], ...pass };
  }

  // ---- Tiers ----

  private tierDecision(side: Side, tier: Tier): { decided?: DirectionVerdict; passedBy?: RuleRef } {
    const policies = this.policies.filter((policy): policy is TieredPolicy => policy.type === 'Tiered' && policy.tier === tier && !policy.quarantined).sort(tierOrder);
    for (const policy of policies) {
      if (!this.tierSubjectSelects(policy.subject, side.subject)) continue;
      for (const rule of policy[side.direction]) {
        if (!rule.peers.some((peer) => this.tierPeerMatches(peer, side))) continue;
        if (!this.portsMatch(rule.ports, side)) continue;
        return this.tierVerdict(side, tier, rule);
      }
    }
    return {};
  }

  private tierVerdict(side: Side, tier: Tier, rule: TierRule): { decided?: DirectionVerdict; passedBy?: RuleRef } {
    if (rule.action === 'Pass') return { passedBy: rule.ref };
    const accept = rule.action === 'Accept';
    const reason = tier === 'Admin' ? (accept ? 'admin-accept' : 'admin-deny') : accept ? 'baseline-accept' : 'baseline-deny';
    return { decided: { direction: side.direction, allowed: accept, reason, tier: tier === 'Admin' ? 'admin' : 'baseline', rules: [rule.ref] } };
  }

  private tierSubjectSelects(subject: TierSubject, endpoint: Endpoint): boolean {
    if (endpoint.kind !== 'pod') return false;
    const pod = endpoint.pod;
    if (!selects(subject.namespaceSelector, this.cluster.namespace(pod.namespace).labels)) return false;
    return subject.type === 'namespaces' || selects(subject.podSelector, pod.labels);
  }

  private tierPeerMatches(peer: TierPeer, side: Side): boolean {
    const endpoint = side.peer;
    switch (peer.type) {
      case 'namespaces':
        return endpoint.kind === 'pod' && selects(peer.namespaceSelector, this.cluster.namespace(endpoint.pod.namespace).labels);
      case 'pods':
        return endpoint.kind === 'pod' && selects(peer.namespaceSelector, this.cluster.namespace(endpoint.pod.namespace).labels) && selects(peer.podSelector, endpoint.pod.labels);
      case 'nodes':
        return endpoint.kind === 'node' && endpoint.node !== undefined && selects(peer.nodeSelector, endpoint.node.labels);
      case 'networks': {
        const ip = endpointIp(endpoint);
        return ip !== undefined && peer.cidrs.some((cidr) => cidrContains(cidr, ip));
      }
      case 'domainNames':
        return false;
    }
  }

  // ---- Namespaced tier ----

  private allowMatches(side: Side): DirectionVerdict | undefined {
    const rules: RuleRef[] = [];
    let unrestricted = false;
    const grants: L7Grant[] = [];
    let auth: DirectionVerdict['auth'];
    for (const policy of this.policies) {
      if (policy.type !== 'NetworkPolicy' || !policy.isolates[side.direction] || !this.networkPolicySelects(policy, side.subject)) continue;
      for (const rule of policy[side.direction]) {
        if (this.networkPolicyRuleMatches(policy, rule, side)) {
          rules.push(rule.ref);
          unrestricted = true;
        }
      }
    }
    for (const match of this.ciliumMatches(side, 'allow', () => true)) {
      rules.push(match.rule.ref);
      auth = strongerAuth(auth, match.rule.auth);
      if (match.rule.ports === undefined) unrestricted = true;
      (match.rule.ports ?? []).forEach((portRule, index) => {
        if (!portRule.ports.some((port) => this.portMatches(port, side))) return;
        if (portRule.http === undefined && portRule.dns === undefined) unrestricted = true;
        else grants.push({ rule: match.rule.ref, portRule: index, ...(portRule.http ? { http: portRule.http } : {}), ...(portRule.dns ? { dns: portRule.dns } : {}) });
      });
    }
    if (rules.length === 0) return undefined;
    const l7 = unrestricted ? undefined : grants;
    const request = side.connection.http;
    return {
      direction: side.direction,
      allowed: true,
      reason: 'allowed',
      tier: 'namespaced',
      rules: sortRules(rules),
      ...(auth ? { auth } : {}),
      ...(l7 ? { l7 } : {}),
      ...(request ? { http: judgeHttp(l7, request) } : {}),
    };
  }

  private isolatingRules(side: Side): RuleRef[] {
    const out: RuleRef[] = [];
    for (const policy of this.policies) {
      if (policy.type === 'NetworkPolicy') {
        if (policy.isolates[side.direction] && this.networkPolicySelects(policy, side.subject)) out.push({ policy: policy.ref, path: 'spec' });
      } else if (policy.type === 'Cilium') {
        for (const rule of policy.rules) {
          if (rule.defaultDeny[side.direction] && this.ciliumRuleSelects(policy, rule, side.subject)) out.push({ policy: policy.ref, path: rule.path });
        }
      } else if (policy.quarantined && this.tierSubjectSelects(policy.subject, side.subject)) {
        out.push({ policy: policy.ref, path: 'spec' });
      }
    }
    return out;
  }

  // ---- Kubernetes NetworkPolicy ----

  private networkPolicySelects(policy: NetworkPolicy, endpoint: Endpoint): boolean {
    return endpoint.kind === 'pod' && endpoint.pod.namespace === policy.namespace && selects(policy.podSelector, endpoint.pod.labels);
  }

  private networkPolicyRuleMatches(policy: NetworkPolicy, rule: NetworkPolicyRule, side: Side): boolean {
    if (!this.portsMatch(rule.ports, side)) return false;
    if (rule.peers === undefined) return true;
    const peer = side.peer;
    return rule.peers.some((candidate) => {
      if (candidate.type === 'ipBlock') {
        const ip = endpointIp(peer);
        return ip !== undefined && cidrContains(candidate.cidr, ip) && !candidate.except.some((except) => cidrContains(except, ip));
      }
      if (peer.kind !== 'pod') return false;
      const pod = peer.pod;
      if (candidate.namespaceSelector === undefined) {
        // podSelector alone: pods of the policy's own namespace.
        return pod.namespace === policy.namespace && selects(candidate.podSelector ?? { requirements: [] }, pod.labels);
      }
      return selects(candidate.namespaceSelector, this.cluster.namespace(pod.namespace).labels) && (candidate.podSelector === undefined || selects(candidate.podSelector, pod.labels));
    });
  }

  // ---- Cilium ----

  private ciliumMatches(side: Side, kind: 'allow' | 'deny', which: (policy: CiliumPolicy) => boolean): { policy: CiliumPolicy; rule: CiliumPeerRule }[] {
    const out: { policy: CiliumPolicy; rule: CiliumPeerRule }[] = [];
    for (const policy of this.policies) {
      if (policy.type !== 'Cilium' || !which(policy)) continue;
      for (const rule of policy.rules) {
        if (!this.ciliumRuleSelects(policy, rule, side.subject)) continue;
        for (const peerRule of rule[kind][side.direction]) {
          if (this.ciliumPeerRuleMatches(policy, peerRule, side)) out.push({ policy, rule: peerRule });
        }
      }
    }
    return out;
  }

  private ciliumRuleSelects(policy: CiliumPolicy, rule: CiliumRule, endpoint: Endpoint): boolean {
    if (rule.subject.type === 'nodes') return endpoint.kind === 'node' && endpoint.node !== undefined && selects(rule.subject.selector, endpoint.node.labels);
    if (endpoint.kind !== 'pod') return false;
    // A namespaced policy only ever selects pods of its own namespace.
    if (policy.namespace !== undefined && endpoint.pod.namespace !== policy.namespace) return false;
    return selects(rule.subject.selector, this.ciliumLabels(endpoint.pod));
  }

  private ciliumPeerRuleMatches(policy: CiliumPolicy, rule: CiliumPeerRule, side: Side): boolean {
    if (rule.ports !== undefined && !rule.ports.some((portRule) => portRule.ports.some((port) => this.portMatches(port, side)))) return false;
    if (rule.peers === undefined) return true;
    const peer = side.peer;
    const peerClass = peerClassOf(peer, side.subject);
    const ip = endpointIp(peer);
    const peers = rule.peers;
    if (peers.endpoints.some((selector) => this.ciliumEndpointSelectorMatches(policy.namespace, selector, peer, side.subject))) return true;
    const entities = entitiesOf(peerClass, ip?.family);
    if (peers.entities.some((entity) => entities.has(entity))) return true;
    // CIDR rules only ever match addresses outside the cluster (Cilium: not pods, not nodes).
    if (peerClass === 'world' && ip !== undefined && peers.cidrs.some((rule) => cidrContains(rule.cidr, ip) && !rule.except.some((except) => cidrContains(except, ip)))) return true;
    if (peer.kind === 'node' && peer.node !== undefined && peers.nodes.some((selector) => selects(selector, peer.node!.labels))) return true;
    if (peer.kind === 'pod' && peers.services.some((service) => this.serviceSelectsPod(service, peer.pod))) return true;
    return false;
  }

  /** fromEndpoints/toEndpoints with Cilium's implicit namespace (pkg/k8s/apis/cilium.io/utils). */
  private ciliumEndpointSelectorMatches(policyNamespace: string | undefined, selector: Selector, peer: Endpoint, subject: Endpoint): boolean {
    const labels = peer.kind === 'pod' ? this.ciliumLabels(peer.pod) : reservedLabelsOf(peerClassOf(peer, subject), endpointIp(peer)?.family);
    if (!selects(selector, labels)) return false;
    const keys = selector.requirements.map((requirement) => requirement.key);
    if (keys.some((key) => key.startsWith('reserved:'))) return true;
    if (keys.includes(NAMESPACE_LABEL)) return true;
    if (policyNamespace === undefined) return labels.has(NAMESPACE_LABEL);
    if (keys.some((key) => key.startsWith(NAMESPACE_LABELS_PREFIX))) return true;
    return labels.get(NAMESPACE_LABEL) === policyNamespace;
  }

  private serviceSelectsPod(service: ServiceSelector, pod: Pod): boolean {
    const candidates =
      service.type === 'name'
        ? [this.cluster.service(service.namespace, service.name)].filter((found) => found !== undefined)
        : this.cluster.services.filter((found) => (service.namespace === undefined || found.namespace === service.namespace) && selects(service.selector, found.labels));
    return candidates.some((found) => found!.selector !== undefined && found!.namespace === pod.namespace && [...found!.selector].every(([key, value]) => pod.labels.get(key) === value));
  }

  private ciliumLabels(pod: Pod): Map<string, string> {
    const namespace = this.cluster.namespace(pod.namespace);
    return podIdentityLabels({ podLabels: pod.labels, namespace: pod.namespace, namespaceLabels: namespace.labels, serviceAccount: pod.serviceAccount });
  }

  // ---- Ports ----

  private portsMatch(ports: readonly PortMatch[] | undefined, side: Side): boolean {
    return ports === undefined || ports.some((port) => this.portMatches(port, side));
  }

  /** Named ports always resolve against the destination of the connection. */
  private portMatches(port: PortMatch, side: Side): boolean {
    return portMatches(port, side.connection.protocol, side.connection.port, namedPortsOf(side.connection.dst));
  }
}
