/**
 * Replaying captured flows: one Hubble flow record becomes the policy engine's Connection (who,
 * to whom, protocol, port, HTTP request), so proposed policies can be asked about real traffic.
 *
 * A flow end is resolved in this order, the first that answers wins:
 *   1. a pod: `namespace` + `pod_name` exactly as in the cluster state;
 *   2. its workload: `workloads[].name` (and kind) against the pods the state's workloads expand to;
 *   3. the workload its generated name implies (`api-7c9f8b6d4-x2x7q` → `api`, `db-0` → `db`, a CronJob's
 *      `job-28391520-abcde` → `job`), against the same pods;
 *   4. the pod at the flow's address, when the manifests give that address (not a synthetic one);
 *   5. its identity labels (`k8s:app=x`, namespace from the endpoint or `k8s:io.kubernetes.pod.namespace`):
 *      a pod in that namespace carrying the stable ones (app, app.kubernetes.io/name, ...), preferring
 *      the one that shares most of the other labels, then the first by name;
 *   6. outside the pods: `reserved:kube-apiserver`, `reserved:host` / `reserved:remote-node` (the node
 *      with the flow's address, if declared), other reserved entities, then the address itself
 *      (a pod, a node or a declared external at that IP, else the world).
 * A pod named in the flow that none of 1–5 finds is not guessed at: the flow is skipped and counted.
 */
import { workloadOf } from '../cluster/workloads.js';
import { endpointAt, podEndpoint, type Endpoint } from '../cluster/endpoint.js';
import type { Pod } from '../cluster/model.js';
import { isVolatileLabel, stableLabels } from '../cluster/stable-labels.js';
import type { ClusterState } from '../cluster/state.js';
import { parseIp } from '../policy/address.js';
import type { PeerClass } from '../policy/entity.js';
import type { HttpRequest } from '../policy/l7.js';
import type { Protocol } from '../policy/ports.js';
import type { Connection } from '../policy/verdict.js';
import type { Flow, FlowEndpoint, FlowRecord, Verdict as FlowVerdict } from '../flow/model.js';

export interface ReplayedFlow {
  record: FlowRecord;
  connection: Connection | undefined;
  reason?: string;
}

/** Why a record is not a connection of its own; `unmapped` means a flow end could not be found. */
export type SkipKind = 'not-a-flow' | 'reply' | 'no-l4' | 'unmapped';

export type FlowMapping = { connection: Connection } | { skip: string; kind?: SkipKind };

/** Verdicts of traffic the cluster carried (AUDIT: a policy would deny, but audit mode let it pass). */
const LEGITIMATE: ReadonlySet<FlowVerdict | undefined> = new Set<FlowVerdict | undefined>(['FORWARDED', 'REDIRECTED', 'AUDIT', 'TRANSLATED', 'TRACED']);

/** A flow the cluster really carried: FORWARDED, REDIRECTED, AUDIT, TRANSLATED, TRACED; not DROPPED, ERROR or unknown. */
export function isLegitimate(record: FlowRecord): boolean {
  const flow = record.flow;
  return flow !== undefined && LEGITIMATE.has(flow.verdict);
}

/** Hubble's drop reasons that are a policy's doing (the proxy's L7 denials carry POLICY_DENIED or nothing). */
const POLICY_DROP_REASONS: ReadonlySet<string> = new Set(['POLICY_DENIED', 'POLICY_DENY', 'AUTH_REQUIRED', 'POLICY_AUTH_REQUIRED']);

/** A DROPPED flow that a policy dropped (not a checksum error, an unroutable address, ...). */
export function isPolicyDrop(flow: Flow): boolean {
  if (flow.verdict !== 'DROPPED') return false;
  const reason = flow.drop_reason_desc;
  if (typeof reason === 'string') return POLICY_DROP_REASONS.has(reason);
  return flow.Type === 'L7';
}

/** Linux's default ephemeral range starts here (net.ipv4.ip_local_port_range). */
const EPHEMERAL_FIRST = 32768;

/**
 * Whether the flow goes from server to client. `is_reply` (or the deprecated `reply`) when Hubble
 * knew; otherwise inferred: SYN alone is a request, SYN+ACK a reply, ICMP echo replies are replies,
 * and traffic from a lower port to an ephemeral one is a reply.
 */
export function isReplyFlow(flow: Flow): boolean {
  const known = flow.is_reply ?? flow.reply;
  if (typeof known === 'boolean') return known;
  if (flow.l7?.type === 'RESPONSE') return true;
  const l4 = flow.l4;
  if (l4 === undefined) return false;
  const tcp = l4.TCP;
  if (tcp?.flags?.SYN === true) return tcp.flags.ACK === true;
  if (l4.ICMPv4) return l4.ICMPv4.type === 0;
  if (l4.ICMPv6) return l4.ICMPv6.type === 129;
  const ports = tcp ?? l4.UDP ?? l4.SCTP;
  const source = ports?.source_port;
  const destination = ports?.destination_port;
  return source !== undefined && destination !== undefined && source < destination && destination >= EPHEMERAL_FIRST;
}

/** A stable name for one end of a flow, for grouping: `namespace/workload`, an entity, or an address. */
export interface FlowIdentity {
  readonly name: string;
  /** workload: owner or flow workloads; app: a stable label; pod: the pod name; entity: host, world, ...; ip: an address. */
  readonly kind: 'workload' | 'app' | 'pod' | 'entity' | 'ip' | 'dns';
}

/** The endpoint of one flow end, and its identity for grouping. */
export interface ResolvedEnd {
  readonly endpoint: Endpoint;
  readonly identity: FlowIdentity;
  /** A small integer, equal for equal ends: connection keys are built from it. */
  readonly id: number;
}

const RESERVED_ENTITIES: readonly (readonly [label: string, peer: PeerClass])[] = [
  ['reserved:kube-apiserver', 'kube-apiserver'],
  ['reserved:host', 'host'],
  ['reserved:remote-node', 'remote-node'],
  ['reserved:health', 'health'],
  ['reserved:init', 'init'],
  ['reserved:ingress', 'ingress'],
  ['reserved:unmanaged', 'unmanaged'],
];

const NAMESPACE_LABEL = 'k8s:io.kubernetes.pod.namespace=';
const K8S_PREFIX = 'k8s:';

/** Generated name suffixes, most specific first: CronJob run + pod, ReplicaSet hash + pod, one random suffix, a StatefulSet ordinal. */
const GENERATED_SUFFIXES: readonly RegExp[] = [/-\d{6,}-[a-z0-9]{5}$/, /-[a-z0-9]{6,10}-[a-z0-9]{5}$/, /-[a-z0-9]{5}$/, /-\d+$/];

export interface FlowMapperOptions {
  readonly cluster: ClusterState;
  /** How a pod becomes an endpoint (an engine's `endpointFor`, so lookups carry its handle). */
  readonly endpointFor?: (pod: Pod) => Endpoint;
  /** Copy the flow's HTTP headers into the request (only worth it when some rule matches headers). */
  readonly httpHeaders?: boolean;
}

/**
 * Maps flow records to connections, caching every flow end it resolved (by namespace/pod, or by
 * reserved labels and address), so a million records cost a million map lookups, not resolutions.
 */
export class FlowMapper {
  private readonly cluster: ClusterState;
  private readonly endpointFor: (pod: Pod) => Endpoint;
  private readonly httpHeaders: boolean;
  private readonly ends = new Map<string, ResolvedEnd | string>();
  private readonly podEnds = new Map<Pod, ResolvedEnd>();
  private nextId = 0;
  private ownedPods: Map<string, Pod[]> | undefined;
  private podsByNamespace: Map<string, Pod[]> | undefined;

  constructor(options: FlowMapperOptions) {
    this.cluster = options.cluster;
    this.endpointFor = options.endpointFor ?? ((pod) => podEndpoint(this.cluster, pod));
    this.httpHeaders = options.httpHeaders ?? false;
  }

  /** The connection a record asks about, or why it is not one (replies, records without L4, unknown pods). */
  map(record: FlowRecord): FlowMapping {
    const flow = record.flow;
    if (flow === undefined) return { skip: 'not a flow (lost events or node status)', kind: 'not-a-flow' };
    if (isReplyFlow(flow)) return { skip: 'reply', kind: 'reply' };
    const l4 = l4Of(flow);
    if (l4 === undefined) return { skip: 'no L4 header (TCP, UDP, SCTP or ICMP)', kind: 'no-l4' };
    const ends = this.resolveEnds(flow);
    if (typeof ends === 'string') return { skip: ends, kind: 'unmapped' };
    const http = this.httpOf(flow);
    const connection: Connection = http === undefined ? { src: ends.source.endpoint, dst: ends.destination.endpoint, protocol: l4.protocol, port: l4.port } : { src: ends.source.endpoint, dst: ends.destination.endpoint, protocol: l4.protocol, port: l4.port, http };
    return { connection };
  }

  /** Both ends of a flow, or why one could not be found. */
  resolveEnds(flow: Flow): { source: ResolvedEnd; destination: ResolvedEnd } | string {
    const source = this.resolve(flow, 'source');
    if (typeof source === 'string') return `source: ${source}`;
    const destination = this.resolve(flow, 'destination');
    if (typeof destination === 'string') return `destination: ${destination}`;
    return { source, destination };
  }

  /** One end of a flow (cached by namespace/pod, or by labels and address). */
  resolve(flow: Flow, side: 'source' | 'destination'): ResolvedEnd | string {
    const end: FlowEndpoint = flow[side] ?? {};
    const namespace = end.namespace;
    const podName = end.pod_name;
    const ip = side === 'source' ? flow.IP?.source : flow.IP?.destination;
    let key: string;
    if (podName !== undefined && podName !== '') key = `p\u0000${namespace ?? ''}\u0000${podName}`;
    else if (end.labels !== undefined && end.labels.length > 0) key = `l\u0000${ip ?? ''}\u0000${end.labels.join('\u0000')}`;
    else key = `i\u0000${ip ?? ''}`;
    let resolved = this.ends.get(key);
    if (resolved === undefined) {
      resolved = this.resolveUncached(flow, end, ip, side);
      this.ends.set(key, resolved);
    }
    return resolved;
  }

  private resolveUncached(flow: Flow, end: FlowEndpoint, ip: string | undefined, side: 'source' | 'destination'): ResolvedEnd | string {
    const labels = end.labels ?? [];
    const namespace = end.namespace !== undefined && end.namespace !== '' ? end.namespace : namespaceFromLabels(labels);
    const podName = end.pod_name;
    if (namespace !== undefined && (podName !== undefined && podName !== '' ? true : labels.some((label) => label.startsWith(K8S_PREFIX)))) {
      const pod = this.findPod({ namespace, podName, end, ip, labels });
      if (pod) return this.podEnd(pod, end);
      if (podName !== undefined && podName !== '') return `pod ${namespace}/${podName} is not in the cluster state (no pod, workload or labels match)`;
      // Identity labels that match no pod: fall through to the address, as Cilium would see it.
    }
    const parsed = ip === undefined || ip === '' ? undefined : parseIp(ip);
    for (const [label, peerClass] of RESERVED_ENTITIES) {
      if (!labels.includes(label)) continue;
      if (peerClass === 'host' || peerClass === 'remote-node') {
        const node = parsed ? this.cluster.nodeByIp(parsed.text) : undefined;
        const endpoint: Endpoint = { kind: 'node', role: peerClass, name: node ? `node/${node.name}` : peerClass, ...(node ? { node } : {}), ...(parsed ? { ip: parsed } : {}) };
        return this.fresh(endpoint, { name: peerClass, kind: 'entity' });
      }
      return this.fresh({ kind: 'external', peerClass, name: peerClass, ...(parsed ? { ip: parsed } : {}) }, { name: peerClass, kind: 'entity' });
    }
    if (!parsed) return ip === undefined || ip === '' ? 'no address, pod or reserved identity' : `"${ip}" is not an IP address`;
    const endpoint = endpointAt(this.cluster, parsed);
    if (endpoint.kind === 'pod') return this.podEnd(endpoint.pod, end);
    if (endpoint.kind === 'node') return this.fresh(endpoint, { name: endpoint.node ? `node/${endpoint.node.name}` : parsed.text, kind: 'entity' });
    if (endpoint.peerClass !== 'world') return this.fresh(endpoint, { name: endpoint.name ?? endpoint.peerClass, kind: 'entity' });
    const names = side === 'source' ? flow.source_names : flow.destination_names;
    const dns = names?.find((name) => typeof name === 'string' && name !== '');
    return this.fresh(endpoint, dns === undefined ? { name: parsed.text, kind: 'ip' } : { name: dns, kind: 'dns' });
  }

  private findPod(options: { namespace: string; podName: string | undefined; end: FlowEndpoint; ip: string | undefined; labels: readonly string[] }): Pod | undefined {
    const { namespace, podName, end, ip, labels } = options;
    if (podName !== undefined && podName !== '') {
      const exact = this.cluster.pod(namespace, podName);
      if (exact) return exact;
    }
    for (const workload of end.workloads ?? []) {
      if (typeof workload?.name !== 'string') continue;
      const owned = this.owned(namespace, workload.name, workload.kind);
      if (owned) return owned;
    }
    if (podName !== undefined) {
      for (const suffix of GENERATED_SUFFIXES) {
        const base: string = podName.replace(suffix, '');
        if (base === podName || base === '') continue;
        const owned = this.owned(namespace, base, undefined);
        if (owned) return owned;
      }
    }
    const parsed = ip === undefined ? undefined : parseIp(ip);
    const atIp = parsed ? this.cluster.podByIp(parsed.text) : undefined;
    if (atIp && !atIp.syntheticIp && atIp.namespace === namespace) return atIp;
    return this.byLabels(namespace, labels);
  }

  /** The first pod (by name) a workload of that name (and kind, if given) owns in the namespace. */
  private owned(namespace: string, name: string, kind: string | undefined): Pod | undefined {
    if (!this.ownedPods) {
      this.ownedPods = new Map();
      for (const pod of sortedPods(this.cluster)) {
        if (!pod.owner) continue;
        const key = `${pod.namespace}\u0000${workloadOf(pod).name}`;
        const list = this.ownedPods.get(key);
        if (list) list.push(pod);
        else this.ownedPods.set(key, [pod]);
      }
    }
    const pods = this.ownedPods.get(`${namespace}\u0000${name}`) ?? [];
    return pods.find((pod) => kind === undefined || kind === '' || workloadOf(pod).kind === kind) ?? pods[0];
  }

  /**
   * A pod in the namespace carrying the flow's stable identity labels (app, app.kubernetes.io/name,
   * ...; all non-volatile ones when none of those): of those, the one sharing most of the flow's other
   * labels (admission webhooks add labels manifests lack), then the first by name.
   */
  private byLabels(namespace: string, labels: readonly string[]): Pod | undefined {
    const flowLabels = new Map<string, string>();
    for (const label of labels) {
      if (!label.startsWith(K8S_PREFIX)) continue;
      const body = label.slice(K8S_PREFIX.length);
      const equals = body.indexOf('=');
      const key = equals === -1 ? body : body.slice(0, equals);
      if (key.startsWith('io.cilium.') || key.startsWith('io.kubernetes.') || isVolatileLabel(key)) continue;
      flowLabels.set(key, equals === -1 ? '' : body.slice(equals + 1));
    }
    const required = [...stableLabels(flowLabels)];
    if (required.length === 0) return undefined;
    if (!this.podsByNamespace) {
      this.podsByNamespace = new Map();
      for (const pod of sortedPods(this.cluster)) {
        const list = this.podsByNamespace.get(pod.namespace);
        if (list) list.push(pod);
        else this.podsByNamespace.set(pod.namespace, [pod]);
      }
    }
    let best: Pod | undefined;
    let bestScore = -1;
    for (const pod of this.podsByNamespace.get(namespace) ?? []) {
      if (!required.every(([key, value]) => pod.labels.get(key) === value)) continue;
      let score = 0;
      for (const [key, value] of flowLabels) if (pod.labels.get(key) === value) score++;
      if (score > bestScore) {
        best = pod;
        bestScore = score;
      }
    }
    return best;
  }

  private podEnd(pod: Pod, end: FlowEndpoint): ResolvedEnd {
    let resolved = this.podEnds.get(pod);
    if (!resolved) {
      const endpoint = pod.hostNetwork ? podEndpoint(this.cluster, pod) : this.endpointFor(pod);
      resolved = this.fresh(endpoint, podIdentity(pod, end));
      this.podEnds.set(pod, resolved);
    }
    return resolved;
  }

  private fresh(endpoint: Endpoint, identity: FlowIdentity): ResolvedEnd {
    return { endpoint, identity, id: this.nextId++ };
  }

  /** The HTTP request of an L7 request record; undefined for everything else. */
  httpOf(flow: Flow): HttpRequest | undefined {
    const l7 = flow.l7;
    if (l7 === undefined || l7.type !== 'REQUEST' || l7.http === undefined) return undefined;
    const http = l7.http;
    const { host, path } = splitUrl(typeof http.url === 'string' ? http.url : '');
    const request: { method: string; path: string; host?: string; headers?: Record<string, string> } = { method: typeof http.method === 'string' ? http.method : '', path };
    if (host !== undefined) request.host = host;
    if (this.httpHeaders && Array.isArray(http.headers)) {
      const headers: Record<string, string> = {};
      for (const header of http.headers) if (typeof header?.key === 'string') headers[header.key.toLowerCase()] = typeof header.value === 'string' ? header.value : '';
      request.headers = headers;
    }
    return request;
  }
}

/** `namespace/owner` (the state's owner, else the flow's workload), else `namespace/<stable label value>`, else the pod. */
function podIdentity(pod: Pod, end: FlowEndpoint): FlowIdentity {
  // A Deployment's pods are named for the Deployment, not for the ReplicaSet that owns them.
  if (pod.owner) return { name: `${pod.namespace}/${workloadOf(pod).name}`, kind: 'workload' };
  const workload = end.workloads?.find((candidate) => typeof candidate?.name === 'string' && candidate.name !== '');
  if (workload?.name !== undefined) return { name: `${pod.namespace}/${workload.name}`, kind: 'workload' };
  const [first] = stableLabels(pod.labels).values();
  if (first !== undefined && first !== '') return { name: `${pod.namespace}/${first}`, kind: 'app' };
  return { name: `${pod.namespace}/${pod.name}`, kind: 'pod' };
}

function namespaceFromLabels(labels: readonly string[]): string | undefined {
  const label = labels.find((candidate) => candidate.startsWith(NAMESPACE_LABEL));
  return label === undefined ? undefined : label.slice(NAMESPACE_LABEL.length) || undefined;
}

function sortedPods(cluster: ClusterState): Pod[] {
  return cluster.pods.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Protocol and destination port from `l4`; ICMP's "port" is its type, as the engine's icmps rules match it. */
export function l4Of(flow: Flow): { protocol: Protocol; port: number } | undefined {
  const l4 = flow.l4;
  if (l4 === undefined) return undefined;
  if (l4.TCP) return { protocol: 'TCP', port: l4.TCP.destination_port ?? 0 };
  if (l4.UDP) return { protocol: 'UDP', port: l4.UDP.destination_port ?? 0 };
  if (l4.SCTP) return { protocol: 'SCTP', port: l4.SCTP.destination_port ?? 0 };
  if (l4.ICMPv4) return { protocol: 'ICMP', port: l4.ICMPv4.type ?? 0 };
  if (l4.ICMPv6) return { protocol: 'ICMPv6', port: l4.ICMPv6.type ?? 0 };
  return undefined;
}

/** Host and path (with the query: Envoy's `:path`, which Cilium's HTTP rules match) of a URL as Hubble prints it. */
export function splitUrl(url: string): { host?: string; path: string } {
  const scheme = url.indexOf('://');
  if (scheme === -1) return { path: url === '' ? '/' : url };
  const slash = url.indexOf('/', scheme + 3);
  const host = url.slice(scheme + 3, slash === -1 ? undefined : slash);
  return { ...(host === '' ? {} : { host }), path: slash === -1 ? '/' : url.slice(slash) };
}

/**
 * Maps one record to a Connection (see the module comment for how flow ends are found). Replies,
 * records without L4 and flows whose pods are not in the state are skipped with a reason.
 * For many records, `replayFlows` or a FlowMapper caches the lookups.
 */
export function flowConnection(cluster: ClusterState, record: FlowRecord): { connection: Connection } | { skip: string } {
  return new FlowMapper({ cluster }).map(record);
}

/** Every record with its connection, or the reason it has none; lookups are cached across records. */
export function* replayFlows(options: { cluster: ClusterState; records: Iterable<FlowRecord>; endpointFor?: (pod: Pod) => Endpoint }): Generator<ReplayedFlow> {
  const mapper = new FlowMapper(options.endpointFor ? { cluster: options.cluster, endpointFor: options.endpointFor } : { cluster: options.cluster });
  for (const record of options.records) {
    const mapped = mapper.map(record);
    yield 'connection' in mapped ? { record, connection: mapped.connection } : { record, connection: undefined, reason: mapped.skip };
  }
}
