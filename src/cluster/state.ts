/** The cluster as one indexed, mutable snapshot: what the engines evaluate against. */
import { formatIp, parseIp, type IpAddress } from '../policy/address.js';
import type { External, Namespace, Node, Pod, Service, ServiceAccount, Workload } from './model.js';
import { expandWorkloads } from './workloads.js';

export interface ClusterInput {
  readonly namespaces?: readonly Namespace[];
  readonly pods?: readonly Pod[];
  readonly services?: readonly Service[];
  readonly nodes?: readonly Node[];
  readonly serviceAccounts?: readonly ServiceAccount[];
  readonly workloads?: readonly Workload[];
  readonly externals?: readonly External[];
}

/** Pods without an address get one from here, in name order, skipping addresses in use. */
const SYNTHETIC_POD_RANGE = { first: parseIp('10.244.0.10')!.value, last: parseIp('10.244.255.254')!.value };

export function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function implicitNamespace(name: string): Namespace {
  return { name, labels: new Map([['kubernetes.io/metadata.name', name]]), implicit: true };
}

export class ClusterState {
  private readonly namespaceMap = new Map<string, Namespace>();
  private readonly podMap = new Map<string, Pod>();
  private readonly podsByIp = new Map<string, Pod>();
  private readonly nodeMap = new Map<string, Node>();
  private readonly nodesByIp = new Map<string, Node>();
  private readonly serviceMap = new Map<string, Service>();
  readonly serviceAccounts: ServiceAccount[] = [];
  readonly workloads: Workload[] = [];
  readonly externals: External[] = [];

  /** Builds the snapshot: expands workloads without pods, adds implied namespaces, assigns missing pod IPs. */
  static build(input: ClusterInput): ClusterState {
    const state = new ClusterState();
    for (const namespace of input.namespaces ?? []) state.upsertNamespace(namespace);
    for (const node of input.nodes ?? []) state.upsertNode(node);
    const given = input.pods ?? [];
    const expanded = expandWorkloads(input.workloads ?? [], given, input.nodes ?? []);
    const pods = [...given, ...expanded];
    const used = new Set<string>();
    for (const pod of pods) for (const ip of pod.ips) used.add(ip.text);
    for (const external of input.externals ?? []) if (external.ip) used.add(external.ip.text);
    for (const node of input.nodes ?? []) for (const ip of node.addresses) used.add(ip.text);
    let next = SYNTHETIC_POD_RANGE.first;
    const sorted = [...pods].sort((a, b) => podKey(a.namespace, a.name).localeCompare(podKey(b.namespace, b.name)));
    for (const pod of sorted) {
      if (pod.ip || pod.hostNetwork) {
        state.upsertPod(pod);
        continue;
      }
      while (used.has(formatIp(4, next)) && next < SYNTHETIC_POD_RANGE.last) next++;
      const ip: IpAddress = parseIp(formatIp(4, next))!;
      used.add(ip.text);
      next++;
      state.upsertPod({ ...pod, ip, ips: [ip], syntheticIp: true });
    }
    for (const service of input.services ?? []) state.upsertService(service);
    state.serviceAccounts.push(...(input.serviceAccounts ?? []));
    state.workloads.push(...(input.workloads ?? []));
    state.externals.push(...(input.externals ?? []));
    return state;
  }

  /** An independent copy (engines each own one); workloads are kept but not expanded again. */
  clone(): ClusterState {
    const copy = ClusterState.build({
      namespaces: [...this.namespaceMap.values()].filter((namespace) => !namespace.implicit),
      pods: this.pods,
      nodes: this.nodes,
      services: this.services,
      serviceAccounts: this.serviceAccounts,
      externals: this.externals,
    });
    copy.workloads.push(...this.workloads);
    return copy;
  }

  get namespaces(): Namespace[] {
    return [...this.namespaceMap.values()];
  }

  get pods(): Pod[] {
    return [...this.podMap.values()];
  }

  get nodes(): Node[] {
    return [...this.nodeMap.values()];
  }

  get services(): Service[] {
    return [...this.serviceMap.values()];
  }

  /** A namespace that nothing declared still exists with its default label. */
  namespace(name: string): Namespace {
    return this.namespaceMap.get(name) ?? implicitNamespace(name);
  }

  hasNamespace(name: string): boolean {
    return this.namespaceMap.has(name);
  }

  pod(namespace: string, name: string): Pod | undefined {
    return this.podMap.get(podKey(namespace, name));
  }

  podByIp(ip: string): Pod | undefined {
    return this.podsByIp.get(ip);
  }

  node(name: string): Node | undefined {
    return this.nodeMap.get(name);
  }

  nodeByIp(ip: string): Node | undefined {
    return this.nodesByIp.get(ip);
  }

  service(namespace: string, name: string): Service | undefined {
    return this.serviceMap.get(podKey(namespace, name));
  }

  podsInNamespace(namespace: string): Pod[] {
    return this.pods.filter((pod) => pod.namespace === namespace);
  }

  upsertNamespace(namespace: Namespace): void {
    this.namespaceMap.set(namespace.name, namespace);
  }

  deleteNamespace(name: string): void {
    this.namespaceMap.delete(name);
    for (const pod of this.podsInNamespace(name)) this.deletePod(pod.namespace, pod.name);
  }

  upsertPod(pod: Pod): Pod | undefined {
    const key = podKey(pod.namespace, pod.name);
    const previous = this.podMap.get(key);
    if (previous) for (const ip of previous.ips) if (this.podsByIp.get(ip.text) === previous) this.podsByIp.delete(ip.text);
    this.podMap.set(key, pod);
    if (!pod.hostNetwork) for (const ip of pod.ips) this.podsByIp.set(ip.text, pod);
    if (!this.namespaceMap.has(pod.namespace)) this.namespaceMap.set(pod.namespace, implicitNamespace(pod.namespace));
    return previous;
  }

  deletePod(namespace: string, name: string): Pod | undefined {
    const key = podKey(namespace, name);
    const previous = this.podMap.get(key);
    if (!previous) return undefined;
    this.podMap.delete(key);
    for (const ip of previous.ips) if (this.podsByIp.get(ip.text) === previous) this.podsByIp.delete(ip.text);
    return previous;
  }

  upsertNode(node: Node): void {
    const previous = this.nodeMap.get(node.name);
    if (previous) for (const ip of previous.addresses) this.nodesByIp.delete(ip.text);
    this.nodeMap.set(node.name, node);
    for (const ip of node.addresses) this.nodesByIp.set(ip.text, node);
  }

  deleteNode(name: string): void {
    const previous = this.nodeMap.get(name);
    if (!previous) return;
    for (const ip of previous.addresses) this.nodesByIp.delete(ip.text);
    this.nodeMap.delete(name);
  }

  upsertService(service: Service): void {
    this.serviceMap.set(podKey(service.namespace, service.name), service);
  }

  deleteService(namespace: string, name: string): void {
    this.serviceMap.delete(podKey(namespace, name));
  }
}
