/**
 * The cluster as the generator sees it: which node every pod runs on, its Cilium identity number,
 * endpoint ID, identity labels in Hubble's `k8s:key=value` form, and the Services in front of the
 * pods. Everything is derived deterministically from the manifests (stable hashes, sorted orders),
 * so the same manifests always give the same numbers.
 */
import { endpointAt, type Endpoint } from '../../cluster/endpoint.js';
import type { Node, Pod, Service, ServicePort } from '../../cluster/model.js';
import { podKey, type ClusterState } from '../../cluster/state.js';
import { parseIp } from '../../policy/address.js';
import type { CompiledEngine } from '../../policy/compiled/engine.js';
import { labelsKey, podIdentityLabels } from '../../policy/identity-labels.js';
import { compareText, stableHash } from '../../manifest/syntax.js';
import type { FlowEndpoint } from '../model.js';

function hex(value: number, digits: number): string {
  return (value >>> 0).toString(16).padStart(8, '0').slice(8 - digits);
}

/** A locally administered unicast MAC address, stable for a name. */
function macFor(name: string): string {
  const a = stableHash(name, 1);
  const b = stableHash(name, 2);
  const bytes = [((a >>> 24) & 0xfc) | 0x02, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff, (b >>> 8) & 0xff, b & 0xff];
  return bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}

export interface NodeInfo {
  readonly name: string;
  readonly index: number;
  /** cilium_host's address on the node: where kubelet probes come from. */
  readonly routerIp: string;
  readonly routerMac: string;
  readonly node?: Node;
}

export interface PodInfo {
  readonly pod: Pod;
  readonly key: string;
  readonly node: NodeInfo;
  readonly ip: string;
  readonly ipVersion: 'IPv4' | 'IPv6';
  readonly identity: number;
  readonly endpointId: number;
  /** The endpoint as the engine knows it (carries the compiled engine's handle). */
  readonly endpoint: Endpoint;
  /** Hubble's view from the pod's own node (with the endpoint ID) and from elsewhere (without). */
  readonly local: FlowEndpoint;
  readonly remote: FlowEndpoint;
  readonly mac: string;
  readonly iface: { readonly index: number; readonly name: string };
  readonly spiffeId: string;
  /** Owned by a Job or CronJob: it runs on a schedule and serves nothing. */
  readonly batch: boolean;
}

export interface ServiceInfo {
  readonly service: Service;
  /** Ready pods behind it (batch pods never are), in name order. */
  readonly backends: readonly PodInfo[];
  /** `name.namespace.svc.cluster.local.` */
  readonly fqdn: string;
  /** What DNS answers for the name: the cluster IPs, or the pods' IPs for a headless Service. */
  readonly answers: readonly string[];
}

/** One end of a connection: a pod, a node's host stack, or an address outside the cluster. */
export interface Peer {
  readonly key: string;
  readonly ip: string;
  readonly ipVersion: 'IPv4' | 'IPv6';
  readonly pod?: PodInfo;
  /** Where the peer lives; undefined outside the cluster. */
  readonly node?: NodeInfo;
  readonly endpoint: Endpoint;
  readonly local: FlowEndpoint;
  readonly remote: FlowEndpoint;
  readonly mac: string;
}

export const TRUST_DOMAIN = 'cluster.local';
const CLUSTER_NAME = 'default';
/** Identity numbers Cilium allocates to cluster-local security identities. */
const IDENTITY_RANGE = { first: 256, size: 65536 - 256 };

/** Label keys Cilium leaves out of identities by default (its label filter). */
const EXCLUDED_LABEL_PREFIXES = ['io.kubernetes', 'kubernetes.io', 'beta.kubernetes.io', 'k8s.io', 'pod-template-generation', 'pod-template-hash', 'controller-revision-hash', 'annotation.', 'etcd_node'];

function identityRelevant(key: string): boolean {
  return !EXCLUDED_LABEL_PREFIXES.some((prefix) => key.startsWith(prefix));
}

function freezeEndpoint(endpoint: FlowEndpoint): FlowEndpoint {
  if (endpoint.labels) Object.freeze(endpoint.labels);
  if (endpoint.workloads) for (const workload of endpoint.workloads) Object.freeze(workload);
  if (endpoint.workloads) Object.freeze(endpoint.workloads);
  return Object.freeze(endpoint);
}

const RESERVED = {
  host: freezeEndpoint({ identity: 1, labels: ['reserved:host'] }),
  world: freezeEndpoint({ identity: 2, labels: ['reserved:world'] }),
  remoteNode: freezeEndpoint({ identity: 6, labels: ['reserved:remote-node'] }),
};

function kindNodeName(index: number): string {
  if (index === 0) return 'kind-control-plane';
  return index === 1 ? 'kind-worker' : `kind-worker${index}`;
}

export class Topology {
  readonly nodes: NodeInfo[] = [];
  readonly pods: PodInfo[] = [];
  readonly services: ServiceInfo[] = [];
  private readonly podsByKey = new Map<string, PodInfo>();
  private readonly servicesByFqdn = new Map<string, ServiceInfo>();
  private readonly nodesByName = new Map<string, NodeInfo>();
  private readonly worldPeers = new Map<string, Peer>();
  private readonly hostPeers = new Map<string, Peer>();

  constructor(
    readonly cluster: ClusterState,
    engine: CompiledEngine,
  ) {
    const declared = [...cluster.nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const node of declared) this.addNode(node.name, node);
    const pods = cluster.pods.filter((pod) => !pod.hostNetwork && pod.ip !== undefined).sort((a, b) => compareText(podKey(a.namespace, a.name), podKey(b.namespace, b.name)));
    const placement = pods.map((pod) => this.place(pod, declared.length > 0));
    const identities = assignIdentities(cluster, pods);
    const usedIds = new Map<string, Set<number>>();
    pods.forEach((pod, index) => {
      const node = placement[index]!;
      const key = podKey(pod.namespace, pod.name);
      const { number, labels } = identities.get(key)!;
      let ids = usedIds.get(node.name);
      if (!ids) usedIds.set(node.name, (ids = new Set()));
      // Endpoint IDs are per node (1..4095 in Cilium); probe past collisions.
      let endpointId = 1 + (stableHash(key, 7) % 4000);
      while (ids.has(endpointId)) endpointId = endpointId >= 4095 ? 1 : endpointId + 1;
      ids.add(endpointId);
      const workloads = pod.owner ? [{ name: pod.owner.name, kind: pod.owner.kind }] : undefined;
      const base = { identity: number, cluster_name: CLUSTER_NAME, namespace: pod.namespace, labels, pod_name: pod.name };
      const local = freezeEndpoint({ ID: endpointId, ...base, labels: [...labels], ...(workloads ? { workloads: workloads.map((w) => ({ ...w })) } : {}) });
      const remote = freezeEndpoint({ ...base, labels: [...labels], ...(workloads ? { workloads: workloads.map((w) => ({ ...w })) } : {}) });
      const info: PodInfo = {
        pod,
        key,
        node,
        ip: pod.ip!.text,
        ipVersion: pod.ip!.family === 6 ? 'IPv6' : 'IPv4',
        identity: number,
        endpointId,
        endpoint: engine.endpointFor(engine.cluster.pod(pod.namespace, pod.name) ?? pod),
        local,
        remote,
        mac: macFor(`pod/${key}`),
        iface: { index: 10 + (stableHash(key, 11) % 200), name: `lxc${hex(stableHash(key, 12), 8)}${hex(stableHash(key, 13), 4)}` },
        spiffeId: `spiffe://${TRUST_DOMAIN}/ns/${pod.namespace}/sa/${pod.serviceAccount}`,
        batch: pod.owner?.kind === 'Job' || pod.owner?.kind === 'CronJob',
      };
      this.pods.push(info);
      this.podsByKey.set(key, info);
    });
    const services = [...cluster.services].sort((a, b) => compareText(podKey(a.namespace, a.name), podKey(b.namespace, b.name)));
    for (const service of services) {
      const selector = service.selector;
      const backends = selector === undefined ? [] : this.pods.filter((info) => !info.batch && info.pod.namespace === service.namespace && selectsAll(selector, info.pod.labels));
      const headless = service.clusterIPs.length === 0;
      const info: ServiceInfo = {
        service,
        backends,
        fqdn: `${service.name}.${service.namespace}.svc.cluster.local.`,
        answers: headless ? backends.map((backend) => backend.ip) : service.clusterIPs.map((ip) => ip.text),
      };
      this.services.push(info);
      this.servicesByFqdn.set(info.fqdn, info);
    }
  }

  pod(namespace: string, name: string): PodInfo | undefined {
    return this.podsByKey.get(podKey(namespace, name));
  }

  service(namespace: string, name: string): ServiceInfo | undefined {
    return this.servicesByFqdn.get(`${name}.${namespace}.svc.cluster.local.`);
  }

  /** The Service a cluster DNS name (`name.namespace.svc.cluster.local.`) names. */
  serviceByFqdn(fqdn: string): ServiceInfo | undefined {
    return this.servicesByFqdn.get(fqdn);
  }

  /** The pods answering cluster DNS: kube-system/kube-dns's backends, else any Service with port 53. */
  dnsService(): ServiceInfo | undefined {
    const kubeDns = this.service('kube-system', 'kube-dns');
    if (kubeDns && kubeDns.backends.length > 0) return kubeDns;
    return this.services.find((info) => info.backends.length > 0 && info.service.ports.some((port) => port.port === 53 && port.protocol === 'UDP'));
  }

  podPeer(info: PodInfo): Peer {
    return { key: `pod:${info.key}`, ip: info.ip, ipVersion: info.ipVersion, pod: info, node: info.node, endpoint: info.endpoint, local: info.local, remote: info.remote, mac: info.mac };
  }

  /** The host stack of a node (kubelet, hostNetwork pods): Cilium's reserved `host` identity. */
  hostPeer(node: NodeInfo): Peer {
    let peer = this.hostPeers.get(node.name);
    if (!peer) {
      const endpoint: Endpoint = node.node ? { kind: 'node', node: node.node, name: node.name } : { kind: 'node', role: 'host', name: node.name };
      peer = { key: `host:${node.name}`, ip: node.routerIp, ipVersion: 'IPv4', node, endpoint, local: RESERVED.host, remote: RESERVED.remoteNode, mac: node.routerMac };
      this.hostPeers.set(node.name, peer);
    }
    return peer;
  }

  /** An address outside the pods: whatever the cluster says it is (usually the world). */
  addressPeer(ip: string): Peer {
    let peer = this.worldPeers.get(ip);
    if (!peer) {
      const parsed = parseIp(ip);
      if (!parsed) throw new Error(`generator used a bad address ${ip}`);
      const endpoint = endpointAt(this.cluster, parsed);
      const json = endpoint.kind === 'node' ? RESERVED.remoteNode : RESERVED.world;
      peer = { key: `ip:${parsed.text}`, ip: parsed.text, ipVersion: parsed.family === 6 ? 'IPv6' : 'IPv4', endpoint, local: json, remote: json, mac: macFor(`ip/${ip}`) };
      this.worldPeers.set(ip, peer);
    }
    return peer;
  }

  /** The container port a Service port lands on for this backend (named target ports resolved). */
  targetPort(port: ServicePort, backend: PodInfo): number | undefined {
    if (typeof port.targetPort === 'number') return port.targetPort;
    return backend.pod.containerPorts.find((candidate) => candidate.name === port.targetPort && candidate.protocol === port.protocol)?.port;
  }

  private addNode(name: string, node?: Node): NodeInfo {
    const existing = this.nodesByName.get(name);
    if (existing) return existing;
    const index = this.nodes.reduce((max, candidate) => Math.max(max, candidate.index + 1), 0);
    const info: NodeInfo = { name, index, routerIp: `10.244.${index % 256}.1`, routerMac: macFor(`node/${name}`), ...(node ? { node } : {}) };
    this.nodes.push(info);
    this.nodesByName.set(name, info);
    return info;
  }

  /**
   * spec.nodeName when set. Otherwise, without declared nodes, kind's layout: a pod address in
   * 10.244.N.0/24 is on the node that owns that pod CIDR; anything else goes to a worker by hash.
   */
  private place(pod: Pod, haveDeclared: boolean): NodeInfo {
    if (pod.nodeName !== undefined) return this.addNode(pod.nodeName, this.cluster.node(pod.nodeName));
    const key = podKey(pod.namespace, pod.name);
    if (haveDeclared) {
      const declared = this.nodes.filter((node) => node.node !== undefined);
      return declared[stableHash(key) % declared.length]!;
    }
    const match = !pod.syntheticIp && pod.ip?.family === 4 ? /^10\.244\.(\d+)\.\d+$/.exec(pod.ip.text) : null;
    const third = match ? Number(match[1]) : undefined;
    if (third !== undefined && third <= 16) {
      for (let index = 0; index <= third; index++) this.ensureKindNode(index);
      return this.nodesByName.get(kindNodeName(third))!;
    }
    const worker = 1 + (stableHash(key) % 2);
    for (let index = 0; index <= worker; index++) this.ensureKindNode(index);
    return this.nodesByName.get(kindNodeName(worker))!;
  }

  private ensureKindNode(index: number): void {
    const name = kindNodeName(index);
    if (this.nodesByName.has(name)) return;
    // Keep the index equal to the pod CIDR's third octet, as kind assigns them.
    const info: NodeInfo = { name, index, routerIp: `10.244.${index}.1`, routerMac: macFor(`node/${name}`) };
    this.nodes.push(info);
    this.nodes.sort((a, b) => a.index - b.index);
    this.nodesByName.set(name, info);
  }
}

function selectsAll(selector: ReadonlyMap<string, string>, labels: ReadonlyMap<string, string>): boolean {
  for (const [key, value] of selector) if (labels.get(key) !== value) return false;
  return true;
}

/**
 * Pods with equal identity labels share one identity number, hashed into Cilium's cluster-local
 * range from the labels (probing past collisions in label order), so it is stable across runs.
 */
function assignIdentities(cluster: ClusterState, pods: readonly Pod[]): Map<string, { number: number; labels: readonly string[] }> {
  const byLabels = new Map<string, { labels: string[]; pods: string[] }>();
  for (const pod of pods) {
    const namespace = cluster.namespace(pod.namespace);
    const all = podIdentityLabels({ podLabels: pod.labels, namespace: pod.namespace, namespaceLabels: namespace.labels, serviceAccount: pod.serviceAccount });
    const relevant = new Map([...all].filter(([key]) => identityRelevant(key) || key.startsWith('io.cilium.') || key === 'io.kubernetes.pod.namespace'));
    const key = labelsKey(relevant);
    let entry = byLabels.get(key);
    if (!entry) {
      entry = { labels: [...relevant].map(([name, value]) => `k8s:${name}=${value}`).sort(), pods: [] };
      byLabels.set(key, entry);
    }
    entry.pods.push(podKey(pod.namespace, pod.name));
  }
  const taken = new Set<number>();
  const out = new Map<string, { number: number; labels: readonly string[] }>();
  for (const key of [...byLabels.keys()].sort(compareText)) {
    const entry = byLabels.get(key)!;
    let number = IDENTITY_RANGE.first + (stableHash(key, 3) % IDENTITY_RANGE.size);
    while (taken.has(number)) number = number + 1 >= IDENTITY_RANGE.first + IDENTITY_RANGE.size ? IDENTITY_RANGE.first : number + 1;
    taken.add(number);
    const labels = Object.freeze([...entry.labels]);
    for (const pod of entry.pods) out.set(pod, { number, labels });
  }
  return out;
}
