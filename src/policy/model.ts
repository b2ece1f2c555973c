/**
 * Normalized policy: what each kind means after its own project's defaults are applied
 * (omitted protocol, policyTypes, implicit sections), but before any engine-specific compilation.
 */
import type { Cidr } from './address.js';
import type { Entity } from './entity.js';
import type { DnsRule, HttpRule } from './l7.js';
import type { PortMatch } from './ports.js';
import type { Selector } from './selector.js';

export type Direction = 'ingress' | 'egress';
export const DIRECTIONS: readonly Direction[] = ['egress', 'ingress'];

export type PolicyKind =
  | 'NetworkPolicy'
  | 'CiliumNetworkPolicy'
  | 'CiliumClusterwideNetworkPolicy'
  | 'ClusterNetworkPolicy'
  | 'AdminNetworkPolicy'
  | 'BaselineAdminNetworkPolicy';

export interface PolicyRef {
  readonly kind: PolicyKind;
  readonly namespace?: string;
  readonly name: string;
}

/** Where a rule sits inside its policy: `spec.ingress[1]`, `specs[0].egressDeny[2]`. */
export interface RuleRef {
  readonly policy: PolicyRef;
  readonly path: string;
}

// ---- Kubernetes NetworkPolicy (networking.k8s.io/v1) ----

export interface NetworkPolicy {
  readonly type: 'NetworkPolicy';
  readonly ref: PolicyRef;
  readonly namespace: string;
  readonly podSelector: Selector;
  /** policyTypes after defaulting: Ingress always, Egress when the egress list is non-empty. */
  readonly isolates: Readonly<Record<Direction, boolean>>;
  readonly ingress: readonly NetworkPolicyRule[];
  readonly egress: readonly NetworkPolicyRule[];
  readonly quarantined?: string;
}

export interface NetworkPolicyRule {
  readonly ref: RuleRef;
  /** Absent or empty `from`/`to`: every peer, inside or outside the cluster. */
  readonly peers?: readonly NetworkPolicyPeer[];
  /** Absent or empty `ports`: every port and protocol. */
  readonly ports?: readonly PortMatch[];
}

export type NetworkPolicyPeer =
  | { readonly type: 'pods'; readonly podSelector?: Selector; readonly namespaceSelector?: Selector }
  | { readonly type: 'ipBlock'; readonly cidr: Cidr; readonly except: readonly Cidr[] };

// ---- Cilium (cilium.io/v2 CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy) ----

export interface CiliumPolicy {
  readonly type: 'Cilium';
  readonly ref: PolicyRef;
  /** Absent for the clusterwide kind. */
  readonly namespace?: string;
  readonly rules: readonly CiliumRule[];
  readonly quarantined?: string;
}

export type CiliumSubject = { readonly type: 'endpoints'; readonly selector: Selector } | { readonly type: 'nodes'; readonly selector: Selector };

export interface CiliumRule {
  /** Path of this rule in its object: `spec` or `specs[2]`. */
  readonly path: string;
  readonly subject: CiliumSubject;
  /** Whether this rule puts its subjects into default deny, per direction. */
  readonly defaultDeny: Readonly<Record<Direction, boolean>>;
  readonly allow: Readonly<Record<Direction, readonly CiliumPeerRule[]>>;
  readonly deny: Readonly<Record<Direction, readonly CiliumPeerRule[]>>;
}

export type AuthMode = 'required' | 'disabled' | 'test-always-fail';

export interface CiliumPeerRule {
  readonly ref: RuleRef;
  /** Absent: no L3 field was given, the rule applies to every peer. */
  readonly peers?: CiliumPeers;
  /** Absent: no toPorts/icmps, every port and protocol. */
  readonly ports?: readonly CiliumPortRule[];
  readonly auth?: AuthMode;
}

export interface CiliumPeers {
  readonly endpoints: readonly Selector[];
  readonly entities: readonly Entity[];
  readonly cidrs: readonly CidrRule[];
  readonly nodes: readonly Selector[];
  readonly services: readonly ServiceSelector[];
  /** Kept for the DNS proxy (a later stage); with no resolution they match no address yet. */
  readonly fqdns: readonly FqdnSelector[];
}

export interface CidrRule {
  readonly cidr: Cidr;
  readonly except: readonly Cidr[];
}

export type ServiceSelector =
  | { readonly type: 'name'; readonly namespace: string; readonly name: string }
  | { readonly type: 'selector'; readonly namespace?: string; readonly selector: Selector };

export interface FqdnSelector {
  readonly matchName?: string;
  readonly matchPattern?: string;
}

export interface CiliumPortRule {
  readonly ports: readonly PortMatch[];
  readonly http?: readonly HttpRule[];
  readonly dns?: readonly DnsRule[];
}

// ---- Tiered cluster policy (ClusterNetworkPolicy v1alpha2; AdminNetworkPolicy / BaselineAdminNetworkPolicy v1alpha1) ----

export type Tier = 'Admin' | 'Baseline';
export type TierAction = 'Accept' | 'Deny' | 'Pass';

export interface TieredPolicy {
  readonly type: 'Tiered';
  readonly ref: PolicyRef;
  readonly tier: Tier;
  /** Lower is evaluated first; Baseline AdminNetworkPolicy has none and counts as 0. */
  readonly priority: number;
  readonly subject: TierSubject;
  readonly ingress: readonly TierRule[];
  readonly egress: readonly TierRule[];
  readonly quarantined?: string;
}

export type TierSubject =
  | { readonly type: 'namespaces'; readonly namespaceSelector: Selector }
  | { readonly type: 'pods'; readonly namespaceSelector: Selector; readonly podSelector: Selector };

export interface TierRule {
  readonly ref: RuleRef;
  readonly name?: string;
  readonly action: TierAction;
  readonly peers: readonly TierPeer[];
  /** Absent: the rule does not look at ports. */
  readonly ports?: readonly PortMatch[];
}

export type TierPeer =
  | { readonly type: 'namespaces'; readonly namespaceSelector: Selector }
  | { readonly type: 'pods'; readonly namespaceSelector: Selector; readonly podSelector: Selector }
  | { readonly type: 'nodes'; readonly nodeSelector: Selector }
  | { readonly type: 'networks'; readonly cidrs: readonly Cidr[] }
  | { readonly type: 'domainNames'; readonly names: readonly string[] };

export type Policy = NetworkPolicy | CiliumPolicy | TieredPolicy;

/**
 * An object with errors is not trusted and not dropped either: it keeps selecting its subjects,
 * isolates them in both directions and allows nothing (fail closed). Its tier rules are gone, so a
 * quarantined ClusterNetworkPolicy isolates its subjects the way a NetworkPolicy would.
 */
export function quarantine(policy: Policy, reason: string): Policy {
  switch (policy.type) {
    case 'NetworkPolicy':
      return { ...policy, isolates: { ingress: true, egress: true }, ingress: [], egress: [], quarantined: reason };
    case 'Tiered':
      return { ...policy, ingress: [], egress: [], quarantined: reason };
    case 'Cilium': {
      const rules: CiliumRule[] =
        policy.rules.length > 0
          ? policy.rules.map((rule) => ({ ...rule, defaultDeny: { ingress: true, egress: true }, allow: { ingress: [], egress: [] }, deny: { ingress: [], egress: [] } }))
          : [{ path: 'spec', subject: { type: 'endpoints', selector: { requirements: [] } }, defaultDeny: { ingress: true, egress: true }, allow: { ingress: [], egress: [] }, deny: { ingress: [], egress: [] } }];
      return { ...policy, rules, quarantined: reason };
    }
  }
}

export function policyKey(ref: PolicyRef): string {
  return ref.namespace === undefined ? `${ref.kind}/${ref.name}` : `${ref.kind}/${ref.namespace}/${ref.name}`;
}

export function ruleKey(rule: RuleRef): string {
  return `${policyKey(rule.policy)}#${rule.path}`;
}

export function formatPolicyRef(ref: PolicyRef): string {
  return ref.namespace === undefined ? `${ref.kind} ${ref.name}` : `${ref.kind} ${ref.namespace}/${ref.name}`;
}
