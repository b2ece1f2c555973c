/**
 * Structural checks on selectors: selectors that select nothing in the given manifests, and
 * peers that open a tenant namespace to every namespace or to the whole internet.
 */
import type { Pod } from '../cluster/model.js';
import type { ClusterState } from '../cluster/state.js';
import { NAMESPACE_LABEL, NAMESPACE_LABELS_PREFIX, podIdentityLabels } from '../policy/identity-labels.js';
import type { CiliumPeerRule, CiliumPolicy, Direction, NetworkPolicy, Policy, PolicyRef, TieredPolicy, TierPeer } from '../policy/model.js';
import { formatPortMatch, type PortMatch } from '../policy/ports.js';
import { formatSelector, isEverything, selects, type Selector } from '../policy/selector.js';
import type { Finding } from './findings.js';

/** Namespaces that belong to the cluster, not to a tenant. */
export const SYSTEM_NAMESPACES: ReadonlySet<string> = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

interface Where {
  readonly policy: PolicyRef;
  readonly path: string;
}

interface EmptySelector {
  readonly where: Where;
  /** The field, as the message names it: `podSelector`, `fromEndpoints`. */
  readonly field: string;
  readonly selector: Selector;
  /** What it should have selected: `pod in namespace shop` (default `pod`). */
  readonly scope?: string;
}

type Empty = (found: EmptySelector) => void;

interface OpenPeer {
  readonly where: Where;
  readonly direction: Direction;
  readonly tenant: string;
  /** Who the rule lets in (or out to): `every pod of every namespace`. */
  readonly peer: string;
  readonly ports: readonly PortMatch[] | undefined;
}

type Open = (found: OpenPeer) => void;

// ---- Selection, as each kind defines it ----

function namespacesSelected(cluster: ClusterState, selector: Selector): string[] {
  return cluster.namespaces.filter((namespace) => selects(selector, namespace.labels)).map((namespace) => namespace.name);
}

function podsIn(cluster: ClusterState, namespaces: readonly string[], selector: Selector | undefined): Pod[] {
  const wanted = new Set(namespaces);
  return cluster.pods.filter((pod) => wanted.has(pod.namespace) && (selector === undefined || selects(selector, pod.labels)));
}

function ciliumLabels(cluster: ClusterState, pod: Pod): Map<string, string> {
  return podIdentityLabels({ podLabels: pod.labels, namespace: pod.namespace, namespaceLabels: cluster.namespace(pod.namespace).labels, serviceAccount: pod.serviceAccount });
}

/** Selectors naming reserved identities (`reserved:host`, `cidr:...`) select entities, not pods. */
function namesEntities(selector: Selector): boolean {
  return selector.requirements.some((requirement) => requirement.key.startsWith('reserved:') || requirement.key.startsWith('cidr:') || requirement.key.startsWith('fqdn:'));
}

/** Cilium's implicit namespace: a namespaced policy's peer selector stays in its namespace unless it names one. */
function ciliumPeerPods(cluster: ClusterState, policyNamespace: string | undefined, selector: Selector): Pod[] {
  const keys = selector.requirements.map((requirement) => requirement.key);
  const anyNamespace = policyNamespace === undefined || keys.includes(NAMESPACE_LABEL) || keys.some((key) => key.startsWith(NAMESPACE_LABELS_PREFIX));
  return cluster.pods.filter((pod) => (anyNamespace || pod.namespace === policyNamespace) && selects(selector, ciliumLabels(cluster, pod)));
}

function ciliumSubjectPods(cluster: ClusterState, policy: CiliumPolicy, selector: Selector): Pod[] {
  return cluster.pods.filter((pod) => (policy.namespace === undefined || pod.namespace === policy.namespace) && selects(selector, ciliumLabels(cluster, pod)));
}

// ---- Selectors that select nothing ----

/** Only run when the manifests hold pods or workloads: otherwise every selector would select nothing. */
export function emptySelectorFindings(cluster: ClusterState, policies: readonly Policy[]): Finding[] {
  if (cluster.pods.length === 0) return [];
  const findings: Finding[] = [];
  const empty: Empty = ({ where, field, selector, scope }) => {
    findings.push({
      code: 'PODGATE_W_LINT_EMPTY_SELECTOR',
      message: `${field} ${formatSelector(selector)} selects no ${scope ?? 'pod'} in the given manifests`,
      hint: 'check the labels and namespace names for typos; if the workloads live elsewhere, pass their manifests with -f too',
      at: where,
    });
  };
  const hasNodes = cluster.nodes.length > 0;
  // A namespace without any pod in the manifests was not passed in: its selectors cannot be judged.
  const populated = new Set(cluster.pods.map((pod) => pod.namespace));
  for (const policy of policies) {
    if (policy.quarantined) continue;
    const ref = policy.ref;
    const namespace = policy.type === 'NetworkPolicy' ? policy.namespace : policy.type === 'Cilium' ? policy.namespace : undefined;
    if (namespace !== undefined && !populated.has(namespace)) continue;
    if (policy.type === 'NetworkPolicy') {
      if (podsIn(cluster, [policy.namespace], policy.podSelector).length === 0) empty({ where: { policy: ref, path: 'spec.podSelector' }, field: 'podSelector', selector: policy.podSelector, scope: `pod in namespace ${policy.namespace}` });
      for (const direction of ['ingress', 'egress'] as const) {
        for (const rule of policy[direction]) {
          (rule.peers ?? []).forEach((peer, index) => {
            if (peer.type !== 'pods') return;
            const base = `${rule.ref.path}.${direction === 'ingress' ? 'from' : 'to'}[${index}]`;
            if (peer.namespaceSelector === undefined) {
              const selector = peer.podSelector ?? { requirements: [] };
              if (podsIn(cluster, [policy.namespace], selector).length === 0) empty({ where: { policy: ref, path: `${base}.podSelector` }, field: 'podSelector', selector, scope: `pod in namespace ${policy.namespace}` });
              return;
            }
            const namespaces = namespacesSelected(cluster, peer.namespaceSelector);
            if (namespaces.length === 0) empty({ where: { policy: ref, path: `${base}.namespaceSelector` }, field: 'namespaceSelector', selector: peer.namespaceSelector, scope: 'namespace' });
            else if (peer.podSelector !== undefined && namespaces.some((name) => populated.has(name)) && podsIn(cluster, namespaces, peer.podSelector).length === 0) {
              empty({ where: { policy: ref, path: `${base}.podSelector` }, field: 'podSelector', selector: peer.podSelector, scope: `pod in the namespaces selected (${namespaces.join(', ')})` });
            }
          });
        }
      }
    } else if (policy.type === 'Cilium') {
      for (const rule of policy.rules) {
        const subjectPath = `${rule.path}.${rule.subject.type === 'nodes' ? 'nodeSelector' : 'endpointSelector'}`;
        if (rule.subject.type === 'endpoints') {
          if (!namesEntities(rule.subject.selector) && ciliumSubjectPods(cluster, policy, rule.subject.selector).length === 0) {
            empty({ where: { policy: ref, path: subjectPath }, field: 'endpointSelector', selector: rule.subject.selector, scope: policy.namespace === undefined ? 'pod' : `pod in namespace ${policy.namespace}` });
          }
        } else if (hasNodes && !cluster.nodes.some((node) => selects(rule.subject.selector, node.labels))) empty({ where: { policy: ref, path: subjectPath }, field: 'nodeSelector', selector: rule.subject.selector, scope: 'node' });
        for (const kind of ['allow', 'deny'] as const) {
          for (const direction of ['ingress', 'egress'] as const) {
            for (const peerRule of rule[kind][direction]) ciliumPeerEmpty({ cluster, policy, peerRule, direction, hasNodes, empty });
          }
        }
      }
    } else tierEmpty(cluster, policy, empty);
  }
  return findings;
}

function ciliumPeerEmpty(options: {
  cluster: ClusterState;
  policy: CiliumPolicy;
  peerRule: CiliumPeerRule;
  direction: Direction;
  hasNodes: boolean;
  empty: Empty;
}): void {
  const { cluster, policy, peerRule, direction, empty } = options;
  const prefix = direction === 'ingress' ? 'from' : 'to';
  const peers = peerRule.peers;
  if (!peers) return;
  peers.endpoints.forEach((selector, index) => {
    if (namesEntities(selector) || ciliumPeerPods(cluster, policy.namespace, selector).length > 0) return;
    empty({ where: { policy: policy.ref, path: `${peerRule.ref.path}.${prefix}Endpoints[${index}]` }, field: `${prefix}Endpoints`, selector, scope: policy.namespace === undefined ? 'pod' : `pod (in namespace ${policy.namespace} unless the selector names one)` });
  });
  if (options.hasNodes) {
    peers.nodes.forEach((selector, index) => {
      if (!cluster.nodes.some((node) => selects(selector, node.labels))) empty({ where: { policy: policy.ref, path: `${peerRule.ref.path}.${prefix}Nodes[${index}]` }, field: `${prefix}Nodes`, selector, scope: 'node' });
    });
  }
}

function tierEmpty(cluster: ClusterState, policy: TieredPolicy, empty: Empty): void {
  const ref = policy.ref;
  const subject = policy.subject;
  const subjectNamespaces = namespacesSelected(cluster, subject.namespaceSelector);
  if (subject.type === 'namespaces') {
    if (subjectNamespaces.length === 0) empty({ where: { policy: ref, path: 'spec.subject.namespaces' }, field: 'subject namespaces', selector: subject.namespaceSelector, scope: 'namespace' });
  } else if (subjectNamespaces.length === 0) empty({ where: { policy: ref, path: 'spec.subject.pods.namespaceSelector' }, field: 'subject namespaceSelector', selector: subject.namespaceSelector, scope: 'namespace' });
  else if (podsIn(cluster, subjectNamespaces, subject.podSelector).length === 0) empty({ where: { policy: ref, path: 'spec.subject.pods.podSelector' }, field: 'subject podSelector', selector: subject.podSelector });
  for (const direction of ['ingress', 'egress'] as const) {
    for (const rule of policy[direction]) {
      rule.peers.forEach((peer: TierPeer, index) => {
        const base = `${rule.ref.path}.${direction === 'ingress' ? 'from' : 'to'}[${index}]`;
        if (peer.type === 'namespaces') {
          if (namespacesSelected(cluster, peer.namespaceSelector).length === 0) empty({ where: { policy: ref, path: `${base}.namespaces` }, field: 'namespaces', selector: peer.namespaceSelector, scope: 'namespace' });
        } else if (peer.type === 'pods') {
          const namespaces = namespacesSelected(cluster, peer.namespaceSelector);
          if (namespaces.length === 0) empty({ where: { policy: ref, path: `${base}.pods.namespaceSelector` }, field: 'namespaceSelector', selector: peer.namespaceSelector, scope: 'namespace' });
          else if (podsIn(cluster, namespaces, peer.podSelector).length === 0) empty({ where: { policy: ref, path: `${base}.pods.podSelector` }, field: 'podSelector', selector: peer.podSelector });
        } else if (peer.type === 'nodes' && cluster.nodes.length > 0 && !cluster.nodes.some((node) => selects(peer.nodeSelector, node.labels))) {
          empty({ where: { policy: ref, path: `${base}.nodes` }, field: 'nodes', selector: peer.nodeSelector, scope: 'node' });
        }
      });
    }
  }
}

// ---- Rules that open a tenant namespace to everything ----

const NARROW_HINT = 'name the namespaces (namespaceSelector matchLabels kubernetes.io/metadata.name: NS) and pods (podSelector) that need access, and the ports';

function portsText(ports: readonly PortMatch[] | undefined): string {
  return ports === undefined ? 'on every port' : `on ${ports.map(formatPortMatch).join(', ')}`;
}

/**
 * Allow rules whose peer is every pod of every namespace (any port), or the whole internet on every
 * port, towards pods of a tenant (non-system) namespace. Deny rules only close, so they are skipped.
 */
export function openTenantFindings(cluster: ClusterState, policies: readonly Policy[]): Finding[] {
  const findings: Finding[] = [];
  const open: Open = ({ where, direction, tenant, peer, ports }) => {
    const message = direction === 'ingress' ? `opens ${tenant} to ${peer} ${portsText(ports)}` : `lets ${tenant} reach ${peer} ${portsText(ports)}`;
    findings.push({ code: 'PODGATE_W_LINT_OPEN_TENANT', message, hint: NARROW_HINT, at: where });
  };
  for (const policy of policies) {
    if (policy.quarantined) continue;
    if (policy.type === 'NetworkPolicy') networkPolicyOpen(policy, open);
    else if (policy.type === 'Cilium') ciliumOpen(cluster, policy, open);
    else tierOpen(cluster, policy, open);
  }
  return findings;
}


const ALL_PODS = 'every pod of every namespace';
const EVERYONE = 'every source (inside the cluster or outside)';

function isWholeInternet(cidr: { prefix: number }): boolean {
  return cidr.prefix === 0;
}

function networkPolicyOpen(policy: NetworkPolicy, open: Open): void {
  if (SYSTEM_NAMESPACES.has(policy.namespace)) return;
  const tenant = `namespace ${policy.namespace}`;
  for (const direction of ['ingress', 'egress'] as const) {
    for (const rule of policy[direction]) {
      const key = direction === 'ingress' ? 'from' : 'to';
      if (rule.peers === undefined) {
        if (direction === 'ingress' && rule.ports === undefined) open({ where: { policy: policy.ref, path: rule.ref.path }, direction, tenant, peer: EVERYONE, ports: rule.ports });
        continue;
      }
      rule.peers.forEach((peer, index) => {
        const where = { policy: policy.ref, path: `${rule.ref.path}.${key}[${index}]` };
        if (peer.type === 'pods') {
          if (peer.namespaceSelector !== undefined && isEverything(peer.namespaceSelector) && (peer.podSelector === undefined || isEverything(peer.podSelector))) {
            open({ where: { ...where, path: `${where.path}.namespaceSelector` }, direction, tenant, peer: ALL_PODS, ports: rule.ports });
          }
        } else if (direction === 'ingress' && isWholeInternet(peer.cidr) && peer.except.length === 0 && rule.ports === undefined) open({ where: { ...where, path: `${where.path}.ipBlock` }, direction, tenant, peer: `every address (${peer.cidr.text})`, ports: rule.ports });
      });
    }
  }
}

/** Which tenant namespaces a Cilium rule's subject covers ('' when none). */
function ciliumTenant(cluster: ClusterState, policy: CiliumPolicy, selector: Selector): string {
  if (policy.namespace !== undefined) return SYSTEM_NAMESPACES.has(policy.namespace) ? '' : `namespace ${policy.namespace}`;
  const namespaces = [...new Set(ciliumSubjectPods(cluster, policy, selector).map((pod) => pod.namespace))].filter((namespace) => !SYSTEM_NAMESPACES.has(namespace)).sort();
  return namespaces.length === 0 ? '' : `namespace${namespaces.length === 1 ? '' : 's'} ${namespaces.join(', ')}`;
}

/** Selectors that, for a peer, mean "any pod of any namespace". */
function ciliumAllPods(policy: CiliumPolicy, selector: Selector): boolean {
  if (isEverything(selector)) return policy.namespace === undefined;
  return selector.requirements.every((requirement) => requirement.key === NAMESPACE_LABEL && requirement.operator === 'Exists');
}

function ciliumOpen(cluster: ClusterState, policy: CiliumPolicy, open: Open): void {
  for (const rule of policy.rules) {
    if (rule.subject.type !== 'endpoints') continue;
    const tenant = ciliumTenant(cluster, policy, rule.subject.selector);
    if (tenant === '') continue;
    for (const direction of ['ingress', 'egress'] as const) {
      const prefix = direction === 'ingress' ? 'from' : 'to';
      for (const peerRule of rule.allow[direction]) {
        const ports = peerRule.ports?.flatMap((portRule) => portRule.ports);
        const path = peerRule.ref.path;
        const peers = peerRule.peers;
        if (!peers) {
          if (direction === 'ingress' && ports === undefined) open({ where: { policy: policy.ref, path }, direction, tenant, peer: EVERYONE, ports });
          continue;
        }
        peers.endpoints.forEach((selector, index) => {
          if (ciliumAllPods(policy, selector)) open({ where: { policy: policy.ref, path: `${path}.${prefix}Endpoints[${index}]` }, direction, tenant, peer: ALL_PODS, ports });
        });
        peers.entities.forEach((entity, index) => {
          const where = { policy: policy.ref, path: `${path}.${prefix}Entities[${index}]` };
          if (entity === 'cluster') open({ where, direction, tenant, peer: `the cluster entity (${ALL_PODS} and every node)`, ports });
          else if (entity === 'all') open({ where, direction, tenant, peer: 'the all entity (every pod, node and address)', ports });
          else if (direction === 'ingress' && (entity === 'world' || entity === 'world-ipv4' || entity === 'world-ipv6') && ports === undefined) open({ where, direction, tenant, peer: `the ${entity} entity (the whole internet)`, ports });
        });
        if (direction === 'ingress' && ports === undefined && peers.cidrs.some((entry) => isWholeInternet(entry.cidr) && entry.except.length === 0)) {
          open({ where: { policy: policy.ref, path }, direction, tenant, peer: 'every address outside the cluster (/0)', ports });
        }
      }
    }
  }
}

function tierOpen(cluster: ClusterState, policy: TieredPolicy, open: Open): void {
  const namespaces = cluster.namespaces.filter((namespace) => selects(policy.subject.namespaceSelector, namespace.labels) && !SYSTEM_NAMESPACES.has(namespace.name)).map((namespace) => namespace.name);
  if (namespaces.length === 0) return;
  const tenant = `namespace${namespaces.length === 1 ? '' : 's'} ${namespaces.sort().join(', ')}`;
  for (const direction of ['ingress', 'egress'] as const) {
    for (const rule of policy[direction]) {
      if (rule.action !== 'Accept') continue;
      rule.peers.forEach((peer, index) => {
        const base = `${rule.ref.path}.${direction === 'ingress' ? 'from' : 'to'}[${index}]`;
        if (peer.type === 'namespaces' && isEverything(peer.namespaceSelector)) open({ where: { policy: policy.ref, path: `${base}.namespaces` }, direction, tenant, peer: ALL_PODS, ports: rule.ports });
        else if (peer.type === 'pods' && isEverything(peer.namespaceSelector) && isEverything(peer.podSelector)) open({ where: { policy: policy.ref, path: `${base}.pods` }, direction, tenant, peer: ALL_PODS, ports: rule.ports });
      });
    }
  }
}
