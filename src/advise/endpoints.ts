/**
 * One side of a flow as advise sees it: a workload of the cluster, or a non-pod party (host,
 * remote node, API server, the world) with its address. This is advise's own mapping from flow
 * records to the cluster; `src/verify/replay.ts` maps records to engine connections the same way.
 */
import type { Endpoint } from '../cluster/endpoint.js';
import type { ClusterState } from '../cluster/state.js';
import type { Flow, FlowEndpoint, FlowRecord } from '../flow/model.js';
import { destinationPort, l4Protocol } from '../flow/model.js';
import { parseIp, type IpAddress } from '../policy/address.js';
import type { Protocol } from '../policy/ports.js';
import { podEndpoint } from '../cluster/endpoint.js';
import { isLegitimate, isReplyFlow } from '../verify/replay.js';
import type { WorkloadGroup, WorkloadIndex } from './labels.js';

export type EntityName = 'host' | 'remote-node' | 'kube-apiserver' | 'world';

export type Party =
  | { readonly kind: 'workload'; readonly key: string; readonly group: WorkloadGroup }
  | { readonly kind: 'entity'; readonly key: string; readonly entity: EntityName; readonly ip?: IpAddress };

/** A party as plain, clonable data. */
export type PartyDescription = { readonly kind: 'workload'; readonly namespace: string; readonly name: string } | { readonly kind: 'entity'; readonly entity: EntityName; readonly ip?: string };

/** A party, or why the side cannot be advised. */
export type Resolved = Party | { readonly skip: string };

/** TCP/UDP/SCTP with a destination port; ICMP and the rest are not advised. */
export function flowPort(flow: Flow): { protocol: Protocol; port: number } | undefined {
  const protocol = l4Protocol(flow);
  if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') return undefined;
  const port = destinationPort(flow);
  return port === undefined || port < 1 || port > 65535 ? undefined : { protocol, port };
}

const RESERVED: readonly (readonly [label: string, entity: EntityName])[] = [
  ['reserved:kube-apiserver', 'kube-apiserver'],
  ['reserved:host', 'host'],
  ['reserved:remote-node', 'remote-node'],
  ['reserved:world', 'world'],
  ['reserved:world-ipv4', 'world'],
  ['reserved:world-ipv6', 'world'],
];

/** Maps flow endpoints to parties, caching by name so a million flows cost a million lookups. */
export class PartyResolver {
  private readonly cache = new Map<string, Resolved>();
  private readonly serviceIps = new Map<string, string>();

  constructor(
    private readonly cluster: ClusterState,
    private readonly workloads: WorkloadIndex,
  ) {
    for (const service of cluster.services) for (const ip of service.clusterIPs) this.serviceIps.set(ip.text, `${service.namespace}/${service.name}`);
  }

  resolve(endpoint: FlowEndpoint | undefined, ipText: string | undefined): Resolved {
    const namespace = typeof endpoint?.namespace === 'string' ? endpoint.namespace : undefined;
    const podName = typeof endpoint?.pod_name === 'string' ? endpoint.pod_name : undefined;
    const labels = Array.isArray(endpoint?.labels) ? (endpoint!.labels as unknown[]).filter((label): label is string => typeof label === 'string') : [];
    const cacheKey = namespace !== undefined && podName !== undefined ? `p\u0000${namespace}\u0000${podName}` : `l\u0000${labels.join('\u0001')}\u0000${namespace ?? ''}\u0000${ipText ?? ''}`;
    const cached = this.cache.get(cacheKey);
    if (cached) return cached;
    const resolved = this.resolveUncached({ namespace, podName, labels, endpoint, ipText });
    if (this.cache.size < 1_000_000) this.cache.set(cacheKey, resolved);
    return resolved;
  }

  private resolveUncached(side: { namespace: string | undefined; podName: string | undefined; labels: readonly string[]; endpoint: FlowEndpoint | undefined; ipText: string | undefined }): Resolved {
    const { namespace, podName, labels, ipText } = side;
    const ip = ipText === undefined ? undefined : parseIp(ipText);
    if (namespace !== undefined && podName !== undefined && podName !== '') {
      const pod = this.cluster.pod(namespace, podName);
      if (pod) return pod.hostNetwork ? this.nodeParty(ip, 'host') : this.workloadParty(this.workloads.ofPod(pod));
      const workloadName = firstWorkloadName(side.endpoint);
      const byWorkload = workloadName === undefined ? undefined : this.workloads.named(namespace, workloadName);
      if (byWorkload) return this.workloadParty(byWorkload);
      const byLabels = this.byLabels(namespace, labels);
      if (byLabels) return this.workloadParty(byLabels);
      return { skip: `pod ${namespace}/${podName} is not in the manifests` };
    }
    for (const [label, entity] of RESERVED) {
      if (!labels.includes(label)) continue;
      if (entity === 'host' || entity === 'remote-node') return this.nodeParty(ip, entity);
      return { kind: 'entity', key: `${entity}\u0000${ip?.text ?? ''}`, entity, ...(ip ? { ip } : {}) };
    }
    const reserved = labels.find((label) => label.startsWith('reserved:'));
    if (reserved !== undefined) return { skip: `${reserved} endpoints are not advised` };
    // Hubble sometimes names a pod only by its identity labels (no pod_name): find its workload by them.
    const labelNamespace = labels.find((label) => label.startsWith('k8s:io.kubernetes.pod.namespace='))?.slice('k8s:io.kubernetes.pod.namespace='.length) ?? namespace;
    if (labelNamespace !== undefined) {
      const byLabels = this.byLabels(labelNamespace, labels);
      if (byLabels) return this.workloadParty(byLabels);
    }
    if (ip) {
      const pod = this.cluster.podByIp(ip.text);
      if (pod) return this.workloadParty(this.workloads.ofPod(pod));
      const node = this.cluster.nodeByIp(ip.text);
      if (node) return this.nodeParty(ip, 'host');
      const service = this.serviceIps.get(ip.text);
      if (service !== undefined) return { skip: `destination is the cluster IP of Service ${service} without its backend pod` };
      if (labelNamespace !== undefined || labels.length > 0) return { skip: `endpoint ${labelNamespace ?? ''} ${labels.join(',')} is not in the manifests`.replace(/\s+/g, ' ') };
      return { kind: 'entity', key: `world\u0000${ip.text}`, entity: 'world', ip };
    }
    return { skip: 'endpoint without pod, labels or address' };
  }

  /** A party as plain data, for another thread's resolver (see `fromDescription`). */
  describe(party: Party): PartyDescription {
    return party.kind === 'workload' ? { kind: 'workload', namespace: party.group.namespace, name: party.group.name } : { kind: 'entity', entity: party.entity, ...(party.ip ? { ip: party.ip.text } : {}) };
  }

  /** The party `describe` gave, in this resolver's cluster (built from the same manifests). */
  fromDescription(description: PartyDescription): Party {
    if (description.kind === 'entity') {
      const ip = description.ip === undefined ? undefined : parseIp(description.ip);
      return { kind: 'entity', key: `${description.entity}\u0000${ip?.text ?? ''}`, entity: description.entity, ...(ip ? { ip } : {}) };
    }
    const group = this.workloads.named(description.namespace, description.name);
    if (!group) throw new Error(`workload ${description.namespace}/${description.name} is not in this cluster`);
    return { kind: 'workload', key: `${group.namespace}/${group.name}`, group };
  }

  private nodeParty(ip: IpAddress | undefined, entity: 'host' | 'remote-node'): Party {
    return { kind: 'entity', key: `${entity}\u0000${ip?.text ?? ''}`, entity, ...(ip ? { ip } : {}) };
  }

  private workloadParty(group: WorkloadGroup | undefined): Resolved {
    if (!group) return { skip: 'host-network pod' };
    return { kind: 'workload', key: `${group.namespace}/${group.name}`, group };
  }

  private byLabels(namespace: string, labels: readonly string[]): WorkloadGroup | undefined {
    const podLabels = new Map<string, string>();
    for (const label of labels) {
      if (!label.startsWith('k8s:')) continue;
      const text = label.slice(4);
      const equals = text.indexOf('=');
      const key = equals === -1 ? text : text.slice(0, equals);
      if (key.startsWith('io.cilium.') || key === 'io.kubernetes.pod.namespace') continue;
      podLabels.set(key, equals === -1 ? '' : text.slice(equals + 1));
    }
    return podLabels.size === 0 ? undefined : this.workloads.withLabels(namespace, podLabels);
  }
}

function firstWorkloadName(endpoint: FlowEndpoint | undefined): string | undefined {
  const workloads = endpoint?.workloads;
  if (!Array.isArray(workloads)) return undefined;
  const name: unknown = (workloads[0] as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name : undefined;
}

/** The engine endpoint of a party (a workload is represented by one of its pods). */
export function partyEndpoint(cluster: ClusterState, party: Party, pod?: string): Endpoint {
  if (party.kind === 'workload') {
    const chosen = party.group.pods.find((candidate) => candidate.name === pod) ?? party.group.pods[0]!;
    return podEndpoint(cluster, chosen);
  }
  switch (party.entity) {
    case 'host':
    case 'remote-node':
      return { kind: 'node', role: party.entity, ...(party.ip ? { ip: party.ip } : {}), name: party.entity };
    case 'kube-apiserver':
      return { kind: 'external', peerClass: 'kube-apiserver', ...(party.ip ? { ip: party.ip } : {}), name: 'kube-apiserver' };
    case 'world':
      return { kind: 'external', peerClass: 'world', ...(party.ip ? { ip: party.ip } : {}), name: party.ip?.text ?? 'world' };
  }
}

/**
 * Why a record is not a connection advise counts, or undefined when it is one. Legitimacy and
 * replies (is_reply, else inferred from flags and ports) are verify's rules, so the two agree.
 */
export function ignoreReason(record: FlowRecord): string | undefined {
  const flow = record.flow;
  if (flow === undefined) return 'not a flow (lost events, node status)';
  if (isReplyFlow(flow)) return 'reply';
  if (!isLegitimate(record)) return `verdict ${flow.verdict ?? 'missing'}`;
  if (flowPort(flow) === undefined) return `no TCP/UDP/SCTP port (${l4Protocol(flow) ?? 'no L4'})`;
  return undefined;
}
