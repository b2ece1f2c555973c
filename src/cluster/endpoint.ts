/** The two ends of a connection, and how a name on the command line or in a corpus becomes one. */
import { parseIp, type IpAddress } from '../policy/address.js';
import { isEntity, peerClassOfEntity, type PeerClass } from '../policy/entity.js';
import type { NamedPort } from '../policy/ports.js';
import type { External, Node, Pod } from './model.js';
import type { ClusterState } from './state.js';

export type Endpoint =
  /** `handle`: an engine's own reference to the pod (see CompiledEngine.endpointFor); others ignore it. */
  | { readonly kind: 'pod'; readonly pod: Pod; readonly handle?: unknown }
  /** A node; `role` pins host / remote-node when the node itself is unknown (a corpus `host` external). */
  | { readonly kind: 'node'; readonly node?: Node; readonly ip?: IpAddress; readonly role?: 'host' | 'remote-node'; readonly name?: string }
  | { readonly kind: 'external'; readonly peerClass: PeerClass; readonly ip?: IpAddress; readonly name?: string };

export function endpointIp(endpoint: Endpoint): IpAddress | undefined {
  switch (endpoint.kind) {
    case 'pod':
      return endpoint.pod.ip;
    case 'node':
      return endpoint.ip ?? endpoint.node?.addresses[0];
    case 'external':
      return endpoint.ip;
  }
}

/** How `peer` looks from `subject`: a node is the subject's own `host` or a `remote-node`. */
export function peerClassOf(peer: Endpoint, subject: Endpoint): PeerClass {
  switch (peer.kind) {
    case 'pod':
      return 'pod';
    case 'external':
      return peer.peerClass;
    case 'node': {
      if (peer.role) return peer.role;
      const subjectNode = subject.kind === 'pod' ? subject.pod.nodeName : subject.kind === 'node' ? subject.node?.name : undefined;
      if (subjectNode === undefined || peer.node === undefined) return 'host';
      return subjectNode === peer.node.name ? 'host' : 'remote-node';
    }
  }
}

/** Named container ports of the destination, for named-port rules. */
export function namedPortsOf(endpoint: Endpoint): readonly NamedPort[] {
  if (endpoint.kind !== 'pod') return [];
  return endpoint.pod.containerPorts.filter((port): port is NamedPort => port.name !== undefined);
}

export function describeEndpoint(endpoint: Endpoint): string {
  switch (endpoint.kind) {
    case 'pod':
      return `${endpoint.pod.namespace}/${endpoint.pod.name}`;
    case 'node':
      return endpoint.name ?? (endpoint.node ? `node/${endpoint.node.name}` : (endpoint.role ?? 'host'));
    case 'external':
      return endpoint.name ?? endpoint.ip?.text ?? endpoint.peerClass;
  }
}

export function externalEndpoint(external: External): Endpoint {
  const peerClass = peerClassOfEntity(external.entity) ?? 'world';
  const base = { ...(external.ip ? { ip: external.ip } : {}), name: external.name };
  if (peerClass === 'host' || peerClass === 'remote-node') return { kind: 'node', role: peerClass, ...base };
  return { kind: 'external', peerClass, ...base };
}

export interface ResolveError {
  readonly code: string;
  readonly message: string;
  readonly hint: string;
}

/**
 * Resolves `NS/POD`, `NS/WORKLOAD`, an IP address, an entity (`world`, `host`, ...) or the name of a
 * declared external address.
 */
export function resolveEndpoint(cluster: ClusterState, reference: string): Endpoint | ResolveError {
  const text = reference.trim();
  const named = namedEndpoint(cluster, text);
  if (named) return named;
  const ip = parseIp(text);
  if (ip) return endpointAt(cluster, ip);
  if (isEntity(text)) {
    const peerClass = peerClassOfEntity(text);
    if (peerClass === 'host' || peerClass === 'remote-node') {
      const nodes = cluster.nodes;
      return { kind: 'node', role: peerClass, name: text, ...(nodes.length === 1 && peerClass === 'host' ? { node: nodes[0]! } : {}) };
    }
    if (peerClass) return { kind: 'external', peerClass, name: text };
    return { code: 'PODGATE_E_ENDPOINT', message: `entity "${text}" names a group, not one endpoint`, hint: 'use world, host, remote-node or kube-apiserver, a pod (NS/POD) or an IP' };
  }
  const slash = text.indexOf('/');
  if (slash === -1) {
    return { code: 'PODGATE_E_ENDPOINT', message: `"${text}" is not NS/POD, an IP address or an entity`, hint: `write it as namespace/name, for example default/${text}` };
  }
  const namespace = text.slice(0, slash);
  const name = text.slice(slash + 1);
  const owned = cluster.pods
    .filter((candidate) => candidate.namespace === namespace && candidate.owner?.name === name)
    .sort((a, b) => a.name.localeCompare(b.name));
  const [first] = owned;
  if (first) return podEndpoint(cluster, first);
  const workload = cluster.workloads.find((candidate) => candidate.namespace === namespace && candidate.name === name);
  if (workload) {
    return { code: 'PODGATE_E_ENDPOINT', message: `${workload.kind} ${namespace}/${name} has no pods (replicas: ${workload.replicas})`, hint: 'scale it up in the manifest, or name a pod' };
  }
  const known = cluster.pods.filter((candidate) => candidate.namespace === namespace).map((candidate) => candidate.name);
  return {
    code: 'PODGATE_E_ENDPOINT',
    message: `no pod or workload named ${namespace}/${name}`,
    hint: known.length > 0 ? `pods in ${namespace}: ${known.slice(0, 8).join(', ')}${known.length > 8 ? ', ...' : ''}` : `namespace ${namespace} has no pods in the given manifests`,
  };
}

/** Exactly a declared external (by name) or a pod (`NS/POD`); nothing looser, as corpora need. */
export function namedEndpoint(cluster: ClusterState, name: string): Endpoint | undefined {
  const external = cluster.externals.find((candidate) => candidate.name === name);
  if (external) return externalEndpoint(external);
  const slash = name.indexOf('/');
  const pod = slash === -1 ? undefined : cluster.pod(name.slice(0, slash), name.slice(slash + 1));
  return pod ? podEndpoint(cluster, pod) : undefined;
}

/** A host-network pod shares its node's identity (as in Cilium): it is the node. */
export function podEndpoint(cluster: ClusterState, pod: Pod): Endpoint {
  if (!pod.hostNetwork) return { kind: 'pod', pod };
  const node = pod.nodeName === undefined ? undefined : cluster.node(pod.nodeName);
  return { kind: 'node', name: `${pod.namespace}/${pod.name}`, ...(node ? { node } : { role: 'host' }) };
}

/** Whatever owns this address: a pod, a node, a declared external, or the world. */
export function endpointAt(cluster: ClusterState, ip: IpAddress): Endpoint {
  const pod = cluster.podByIp(ip.text);
  if (pod) return { kind: 'pod', pod };
  const node = cluster.nodeByIp(ip.text);
  if (node) return { kind: 'node', node, ip };
  const external = cluster.externals.find((candidate) => candidate.ip?.text === ip.text);
  if (external) return externalEndpoint(external);
  return { kind: 'external', peerClass: 'world', ip };
}

export function isResolveError(value: Endpoint | ResolveError): value is ResolveError {
  return 'code' in value;
}
