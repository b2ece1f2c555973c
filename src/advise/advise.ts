/**
 * advise: observed flows in, default-deny policies plus the smallest set of allows that admits
 * every observed legitimate connection out, per namespace.
 *
 * Flows are aggregated while they stream (one map entry per source, destination and port, with a
 * count and the first and last time seen), so the input is never held. `finish()` turns the
 * entries into plans (rules with their evidence) and `render.ts` into NetworkPolicy or
 * CiliumNetworkPolicy YAML. Everything is sorted, so the same flows in any order give the same bytes.
 */
import type { Pod, Service } from '../cluster/model.js';
import type { ClusterState } from '../cluster/state.js';
import type { FlowRecord } from '../flow/model.js';
import { formatTimestampNs, parseTimestampNs } from '../flow/model.js';
import type { Cidr, IpAddress } from '../policy/address.js';
import type { Protocol } from '../policy/ports.js';
import { aggregateAddresses } from './cidr.js';
import { flowPort, ignoreReason, PartyResolver, type EntityName, type Party, type PartyDescription } from './endpoints.js';
import { compareText } from '../manifest/syntax.js';
import { WorkloadIndex, type WorkloadGroup } from './labels.js';
import { renderNamespace, type RenderedNamespace } from './render.js';

export type PolicyFormat = 'networkpolicy' | 'cilium';
export const POLICY_FORMATS: readonly PolicyFormat[] = ['networkpolicy', 'cilium'];

export interface AdviseOptions {
  /** The cluster the flows were captured in (pods, workloads, namespaces, Services). */
  readonly cluster: ClusterState;
  /** Namespaces to write policies for; default every namespace with pods except kube-system. */
  readonly namespaces?: readonly string[];
  readonly format?: PolicyFormat;
  /** Cilium only: `authentication.mode: required` on pod-to-pod allows. */
  readonly requireAuth?: boolean;
}

/** How often, and when, a connection was seen. TSV rows carry neither counts nor times. */
export interface Evidence {
  count: number;
  firstNs: bigint | undefined;
  lastNs: bigint | undefined;
  tsvRows: number;
}

/** One port of an allow; port 0 means every port (TSV rows whose destination declares none). */
export interface PortKey {
  readonly protocol: Protocol;
  readonly port: number;
}

export type PeerPlan =
  | { readonly type: 'workloads'; readonly groups: readonly WorkloadGroup[] }
  | { readonly type: 'entity'; readonly entity: EntityName }
  | { readonly type: 'cidrs'; readonly cidrs: readonly Cidr[] }
  | { readonly type: 'fqdns'; readonly names: readonly string[] };

export interface RulePlan {
  readonly peer: PeerPlan;
  /** Sorted; empty means every port. */
  readonly ports: readonly PortKey[];
  /** Comment lines: what was observed, how often, when. */
  readonly evidence: readonly string[];
  readonly auth: boolean;
}

export interface WorkloadPlan {
  readonly policyName: string;
  readonly group: WorkloadGroup;
  readonly ingress: readonly RulePlan[];
  readonly egress: readonly RulePlan[];
}

export interface DnsPlan {
  readonly service: Service;
  /** The DNS Service's own selector. */
  readonly selector: ReadonlyMap<string, string>;
  readonly pods: readonly Pod[];
  readonly ports: readonly PortKey[];
  readonly evidence: Evidence;
}

export interface NamespacePlan {
  readonly namespace: string;
  readonly format: PolicyFormat;
  readonly dns: DnsPlan | undefined;
  /** Ingress to the DNS pods from every pod, when the DNS Service's namespace is advised. */
  readonly dnsIngress: { readonly plan: DnsPlan; readonly evidence: Evidence } | undefined;
  readonly workloads: readonly WorkloadPlan[];
  /** Host (kubelet) traffic NetworkPolicy cannot express: comment lines. */
  readonly hostNotes: readonly string[];
  /** Comments for the namespace header (selectors that are not exact, ...). */
  readonly notes: readonly string[];
}

export interface NamespaceAdvice extends RenderedNamespace {
  readonly plan: NamespacePlan;
}

export interface AdviceStats {
  /** Records read (flows, lost events, ...) or TSV rows. */
  readonly read: number;
  /** Records or rows that became (or confirmed) an allow. */
  readonly used: number;
  /** Why the others were left out, sorted by count then reason. */
  readonly ignored: readonly (readonly [reason: string, count: number])[];
  readonly policies: number;
  readonly allows: number;
}

export interface Advice {
  readonly format: PolicyFormat;
  readonly namespaces: readonly NamespaceAdvice[];
  /** Things the user must know (stderr): host traffic, DNS problems, TSV without ports. */
  readonly notes: readonly string[];
  readonly stats: AdviceStats;
}

/** One row of observed-flows.tsv (already unescaped). */
export interface PodPairRow {
  readonly sourceNamespace: string;
  readonly sourcePod: string;
  readonly destinationNamespace: string;
  readonly destinationPod: string;
}

interface Entry extends Evidence {
  readonly src: Party;
  readonly dst: Party;
  readonly protocol: Protocol;
  readonly port: number;
  names: Set<string> | undefined;
}

/**
 * What an Advisor has aggregated, as plain data another thread can send: every part of it merges by
 * sums, minimums, maximums and unions, so advising byte ranges of one file in parallel and merging
 * gives the same advice as one pass (`finish()` sorts everything it prints).
 */
export interface AdvisorSnapshot {
  readonly read: number;
  readonly used: number;
  readonly ignored: readonly (readonly [reason: string, count: number])[];
  readonly entries: readonly {
    readonly src: PartyDescription;
    readonly dst: PartyDescription;
    readonly protocol: Protocol;
    readonly port: number;
    readonly count: number;
    readonly firstNs: bigint | undefined;
    readonly lastNs: bigint | undefined;
    readonly names: readonly string[] | undefined;
  }[];
  /** Client workload key → address → names. */
  readonly dnsAnswers: readonly (readonly [client: string, answers: readonly (readonly [ip: string, names: readonly string[]])[]])[];
}

export const DEFAULT_EXCLUDED_NAMESPACES: readonly string[] = ['kube-system'];

/** Streams flows (or TSV rows) into aggregates; `finish()` gives the advice. */
export class Advisor {
  readonly format: PolicyFormat;
  private readonly cluster: ClusterState;
  private readonly workloads: WorkloadIndex;
  private readonly resolver: PartyResolver;
  private readonly advised: ReadonlySet<string>;
  private readonly requireAuth: boolean;
  private readonly entries = new Map<string, Entry>();
  private readonly ignored = new Map<string, number>();
  /** DNS answers seen by each client workload: address → names (for toFQDNs). */
  private readonly dnsAnswers = new Map<string, Map<string, Set<string>>>();
  private readonly dns: DnsTarget | { problem: string };
  private read = 0;
  private used = 0;
  private tsvEmptyRows = 0;
  private tsvRows = 0;
  private lastTimeText = '';
  private lastTimeNs: bigint | undefined;

  constructor(options: AdviseOptions) {
    this.cluster = options.cluster;
    this.format = options.format ?? 'networkpolicy';
    this.requireAuth = options.requireAuth === true && this.format === 'cilium';
    this.workloads = new WorkloadIndex(options.cluster);
    this.resolver = new PartyResolver(options.cluster, this.workloads);
    this.advised = new Set(options.namespaces ?? defaultNamespaces(options.cluster));
    this.dns = findDns(options.cluster);
  }

  get namespaces(): string[] {
    return [...this.advised].sort(compareText);
  }

  /** One `hubble observe -o json` record. */
  add(record: FlowRecord): void {
    this.read++;
    const flow = record.flow;
    if (flow?.l7?.dns !== undefined) this.learnDnsAnswer(record);
    const reason = ignoreReason(record);
    if (reason !== undefined) return this.ignore(reason);
    const f = flow!;
    const src = this.resolver.resolve(f.source, f.IP?.source);
    const dst = this.resolver.resolve(f.destination, f.IP?.destination);
    const egress = 'kind' in src && src.kind === 'workload' && this.advised.has(src.group.namespace);
    const ingress = 'kind' in dst && dst.kind === 'workload' && this.advised.has(dst.group.namespace);
    if (!egress && !ingress) return this.ignore('outside the advised namespaces');
    if ('skip' in src) return this.ignore(src.skip);
    if ('skip' in dst) return this.ignore(dst.skip);
    const { protocol, port } = flowPort(f)!;
    const entry = this.entry(src, dst, protocol, port);
    entry.count++;
    const ns = this.timeNs(f.time ?? record.time);
    if (ns !== undefined) {
      if (entry.firstNs === undefined || ns < entry.firstNs) entry.firstNs = ns;
      if (entry.lastNs === undefined || ns > entry.lastNs) entry.lastNs = ns;
    }
    const names = f.destination_names;
    if (dst.kind === 'entity' && dst.entity === 'world' && Array.isArray(names)) {
      for (const name of names) if (typeof name === 'string' && name !== '') (entry.names ??= new Set()).add(trimDot(name));
    }
    this.used++;
  }

  /** A record already known to be a reply (the reader recognised it without parsing). */
  addReply(): void {
    this.read++;
    this.ignore('reply');
  }

  /** One observed-flows.tsv row: the pod pair on every port the destination declares. */
  addPodPair(row: PodPairRow): void {
    this.read++;
    this.tsvRows++;
    if (row.sourceNamespace === '' && row.sourcePod === '' && row.destinationNamespace === '' && row.destinationPod === '') {
      this.tsvEmptyRows++;
      return this.ignore('TSV row with no names at all (the published jq pipeline)');
    }
    if (row.sourcePod === '' || row.destinationPod === '') return this.ignore('TSV row with a side that is not a pod (the TSV has no address for it)');
    const srcPod = this.cluster.pod(row.sourceNamespace, row.sourcePod);
    const dstPod = this.cluster.pod(row.destinationNamespace, row.destinationPod);
    if (!srcPod) return this.ignore(`pod ${row.sourceNamespace}/${row.sourcePod} is not in the manifests`);
    if (!dstPod) return this.ignore(`pod ${row.destinationNamespace}/${row.destinationPod} is not in the manifests`);
    const src = this.resolver.resolve({ namespace: srcPod.namespace, pod_name: srcPod.name }, undefined);
    const dst = this.resolver.resolve({ namespace: dstPod.namespace, pod_name: dstPod.name }, undefined);
    if ('skip' in src) return this.ignore(src.skip);
    if ('skip' in dst) return this.ignore(dst.skip);
    const egress = src.kind === 'workload' && this.advised.has(src.group.namespace);
    const ingress = dst.kind === 'workload' && this.advised.has(dst.group.namespace);
    if (!egress && !ingress) return this.ignore('outside the advised namespaces');
    const declared = dstPod.containerPorts.length > 0 ? dstPod.containerPorts : [{ port: 0, protocol: 'TCP' as Protocol }];
    for (const containerPort of declared) this.entry(src, dst, containerPort.protocol, containerPort.port).tsvRows++;
    this.used++;
  }

  /** The JSON-flow aggregates (TSV rows are read in one pass and not snapshotted). */
  snapshot(): AdvisorSnapshot {
    return {
      read: this.read,
      used: this.used,
      ignored: [...this.ignored],
      entries: [...this.entries.values()].map((entry) => ({
        src: this.resolver.describe(entry.src),
        dst: this.resolver.describe(entry.dst),
        protocol: entry.protocol,
        port: entry.port,
        count: entry.count,
        firstNs: entry.firstNs,
        lastNs: entry.lastNs,
        names: entry.names === undefined ? undefined : [...entry.names],
      })),
      dnsAnswers: [...this.dnsAnswers].map(([client, answers]) => [client, [...answers].map(([ip, names]) => [ip, [...names]] as const)] as const),
    };
  }

  /** Adds another Advisor's aggregates (built from the same manifests and options). */
  merge(snapshot: AdvisorSnapshot): void {
    this.read += snapshot.read;
    this.used += snapshot.used;
    for (const [reason, count] of snapshot.ignored) this.ignored.set(reason, (this.ignored.get(reason) ?? 0) + count);
    for (const from of snapshot.entries) {
      const entry = this.entry(this.resolver.fromDescription(from.src), this.resolver.fromDescription(from.dst), from.protocol, from.port);
      addEvidence(entry, { count: from.count, firstNs: from.firstNs, lastNs: from.lastNs, tsvRows: 0 });
      for (const name of from.names ?? []) (entry.names ??= new Set()).add(name);
    }
    for (const [client, answers] of snapshot.dnsAnswers) {
      const known = getOrSet(this.dnsAnswers, client, () => new Map<string, Set<string>>());
      for (const [ip, names] of answers) {
        const set = getOrSet(known, ip, () => new Set<string>());
        for (const name of names) set.add(name);
      }
    }
  }

  finish(): Advice {
    const notes: string[] = [];
    const dns = 'problem' in this.dns ? undefined : this.dns;
    if ('problem' in this.dns) notes.push(`no DNS allow generated: ${this.dns.problem}; under default-deny pods cannot resolve names until you add one`);
    for (const problem of dns?.problems ?? []) notes.push(problem);
    if (this.tsvRows > 0 && this.tsvEmptyRows === this.tsvRows) {
      throw new AdviseInputError(
        'PODGATE_E_TSV_NO_PODS',
        `observed-flows.tsv has ${this.tsvRows} row${this.tsvRows === 1 ? '' : 's'} and none names a pod: it was made with the published jq pipeline, which reads .source.pod.name where hubble writes .flow.source.pod_name, so every field is empty. Nothing was advised (a policy from it could only open everything)`,
        "regenerate it with: podgate flows export --format tsv --file flows.jsonl, or jq -r 'select(.flow) | .flow | [.source.namespace, .source.pod_name, .destination.namespace, .destination.pod_name] | @tsv' | LC_ALL=C sort -u, or give advise the JSON flows directly",
      );
    }
    const perNamespace = new Map<string, { egress: Entry[]; ingress: Entry[]; dnsEvidence: Evidence; dnsIngressEvidence: Evidence }>();
    for (const namespace of this.advised) perNamespace.set(namespace, { egress: [], ingress: [], dnsEvidence: emptyEvidence(), dnsIngressEvidence: emptyEvidence() });
    const dnsPods = new Set(dns?.pods ?? []);
    const dnsCovers = (entry: Entry): boolean => dns !== undefined && entry.dst.kind === 'workload' && entry.dst.group.pods.some((pod) => dnsPods.has(pod)) && dns.ports.some((port) => port.protocol === entry.protocol && port.port === entry.port);
    for (const entry of this.entries.values()) {
      if (entry.src.kind === 'workload') {
        const bucket = perNamespace.get(entry.src.group.namespace);
        if (bucket) {
          if (dnsCovers(entry)) addEvidence(bucket.dnsEvidence, entry);
          else bucket.egress.push(entry);
        }
      }
      if (entry.dst.kind === 'workload') {
        const bucket = perNamespace.get(entry.dst.group.namespace);
        if (bucket) {
          if (dnsCovers(entry) && entry.src.kind === 'workload') addEvidence(bucket.dnsIngressEvidence, entry);
          else bucket.ingress.push(entry);
        }
      }
    }
    const tsvPortless = [...this.entries.values()].filter((entry) => entry.port === 0).length;
    if (this.tsvRows > 0) {
      notes.push(
        `observed-flows.tsv carries no ports: the allows use the destination pods' declared containerPorts${tsvPortless > 0 ? `, and every port for ${tsvPortless} pair${tsvPortless === 1 ? '' : 's'} whose destination declares none` : ''}; capture JSON flows for exact ports`,
      );
    }
    const namespaces: NamespaceAdvice[] = [];
    let hostTraffic = false;
    for (const namespace of this.namespaces) {
      const bucket = perNamespace.get(namespace)!;
      if (this.workloads.inNamespace(namespace).length === 0) notes.push(`namespace ${namespace} has no pods in the manifests: only default-deny and DNS are written for it`);
      const plan = this.planNamespace(namespace, bucket, dns);
      if (plan.hostNotes.length > 0) hostTraffic = true;
      namespaces.push({ plan, ...renderNamespace(plan, { format: this.format }) });
    }
    if (hostTraffic && this.format === 'networkpolicy') notes.push(HOST_NOTE);
    const ignored = [...this.ignored].sort(([a, countA], [b, countB]) => countB - countA || compareText(a, b));
    const policies = namespaces.reduce((sum, namespace) => sum + namespace.policies, 0);
    const allows = namespaces.reduce((sum, namespace) => sum + namespace.allows, 0);
    return { format: this.format, namespaces, notes, stats: { read: this.read, used: this.used, ignored, policies, allows } };
  }

  private planNamespace(namespace: string, bucket: { egress: Entry[]; ingress: Entry[]; dnsEvidence: Evidence; dnsIngressEvidence: Evidence }, dns: DnsTarget | undefined): NamespacePlan {
    const bySubject = new Map<string, { group: WorkloadGroup; egress: Entry[]; ingress: Entry[] }>();
    const subject = (group: WorkloadGroup): { group: WorkloadGroup; egress: Entry[]; ingress: Entry[] } => {
      const key = group.name;
      let found = bySubject.get(key);
      if (!found) bySubject.set(key, (found = { group, egress: [], ingress: [] }));
      return found;
    };
    for (const entry of bucket.egress) if (entry.src.kind === 'workload') subject(entry.src.group).egress.push(entry);
    for (const entry of bucket.ingress) if (entry.dst.kind === 'workload') subject(entry.dst.group).ingress.push(entry);
    const reserved = new Set(['default-deny', 'allow-dns', 'allow-dns-ingress']);
    const workloads: WorkloadPlan[] = [];
    const hostNotes: string[] = [];
    const notes: string[] = [];
    for (const { group, egress, ingress } of [...bySubject.values()].sort((a, b) => compareText(a.group.name, b.group.name))) {
      let policyName = `allow-${group.name}`;
      if (reserved.has(policyName)) policyName = `${policyName}-workload`;
      if (!group.exact && group.note) notes.push(`${group.name}: ${group.note}`);
      const ingressRules = this.planRules({ direction: 'ingress', entries: ingress, hostNotes, subject: group });
      const egressRules = this.planRules({ direction: 'egress', entries: egress, hostNotes, subject: group });
      if (ingressRules.length + egressRules.length > 0) workloads.push({ policyName, group, ingress: ingressRules, egress: egressRules });
    }
    const dnsPlan = dns === undefined ? undefined : { service: dns.service, selector: dns.selector, pods: dns.pods, ports: dns.ports, evidence: bucket.dnsEvidence };
    const dnsIngress = dnsPlan !== undefined && dns!.service.namespace === namespace ? { plan: dnsPlan, evidence: bucket.dnsIngressEvidence } : undefined;
    return { namespace, format: this.format, dns: dnsPlan, dnsIngress, workloads, hostNotes, notes };
  }

  private planRules(options: { direction: 'ingress' | 'egress'; entries: readonly Entry[]; hostNotes: string[]; subject: WorkloadGroup }): RulePlan[] {
    const { direction, entries, subject } = options;
    const peerOf = (entry: Entry): Party => (direction === 'egress' ? entry.dst : entry.src);
    const rules: RulePlan[] = [];
    const portText = (port: PortKey): string => (port.port === 0 ? 'every port' : `${port.port}/${port.protocol}`);
    const preposition = direction === 'egress' ? 'to' : 'from';

    // Pods: one entry per peer workload and port; peers with the same ports share a rule.
    const workloadPorts = new Map<string, { group: WorkloadGroup; ports: Map<string, { port: PortKey; evidence: Evidence }> }>();
    // Entities other than the world, and addresses: per port.
    const entityPorts = new Map<string, { entity: EntityName; ports: Map<string, { port: PortKey; evidence: Evidence; ips: Map<string, IpAddress> }> }>();
    const worldPorts = new Map<string, { port: PortKey; evidence: Evidence; ips: Map<string, IpAddress>; names: Set<string>; namedEvidence: Evidence; addressEvidence: Evidence }>();
    for (const entry of entries) {
      const peer = peerOf(entry);
      const port: PortKey = { protocol: entry.protocol, port: entry.port };
      const portKey = `${entry.protocol}/${String(entry.port).padStart(5, '0')}`;
      if (peer.kind === 'workload') {
        const slot = getOrSet(workloadPorts, peer.key, () => ({ group: peer.group, ports: new Map() }));
        addEvidence(getOrSet(slot.ports, portKey, () => ({ port, evidence: emptyEvidence() })).evidence, entry);
        continue;
      }
      if (peer.entity === 'world') {
        const slot = getOrSet(worldPorts, portKey, () => ({ port, evidence: emptyEvidence(), ips: new Map(), names: new Set(), namedEvidence: emptyEvidence(), addressEvidence: emptyEvidence() }));
        addEvidence(slot.evidence, entry);
        const names = this.format === 'cilium' && direction === 'egress' && peer.ip ? this.namesOf(entry, subject, peer.ip) : undefined;
        if (names && names.size > 0) {
          for (const name of names) slot.names.add(name);
          addEvidence(slot.namedEvidence, entry);
        } else if (peer.ip) {
          slot.ips.set(peer.ip.text, peer.ip);
          addEvidence(slot.addressEvidence, entry);
        }
        continue;
      }
      const slot = getOrSet(entityPorts, peer.entity, () => ({ entity: peer.entity, ports: new Map() }));
      const portSlot = getOrSet(slot.ports, portKey, () => ({ port, evidence: emptyEvidence(), ips: new Map() }));
      addEvidence(portSlot.evidence, entry);
      if (peer.ip) portSlot.ips.set(peer.ip.text, peer.ip);
    }

    // Workload peers grouped by identical port sets: no rule admits a peer on a port it was not seen on.
    const byPortSet = new Map<string, { ports: PortKey[]; groups: WorkloadGroup[]; evidence: string[] }>();
    for (const [, { group, ports }] of [...workloadPorts].sort(([a], [b]) => compareText(a, b))) {
      const sorted = [...ports].sort(([a], [b]) => compareText(a, b));
      const setKey = sorted.map(([key]) => key).join(',');
      const slot = getOrSet(byPortSet, setKey, () => ({ ports: sorted.map(([, value]) => value.port), groups: [], evidence: [] }));
      slot.groups.push(group);
      for (const [, value] of sorted) slot.evidence.push(`${preposition} ${group.namespace}/${group.name}, ${portText(value.port)}: ${describeEvidence(value.evidence)}`);
    }
    for (const [, slot] of [...byPortSet].sort(([a], [b]) => compareText(a, b))) {
      rules.push({ peer: { type: 'workloads', groups: slot.groups }, ports: slot.ports, evidence: slot.evidence, auth: this.requireAuth });
    }

    // Host, remote nodes, the API server.
    const addressRules: { port: PortKey; evidence: Evidence; ips: Map<string, IpAddress>; label: string }[] = [];
    for (const [, { entity, ports }] of [...entityPorts].sort(([a], [b]) => compareText(a, b))) {
      const sorted = [...ports].sort(([a], [b]) => compareText(a, b)).map(([, value]) => value);
      if (this.format === 'cilium') {
        rules.push({ peer: { type: 'entity', entity }, ports: sorted.map((value) => value.port), evidence: sorted.map((value) => `${preposition} ${entity}, ${portText(value.port)}: ${describeEvidence(value.evidence)}`), auth: false });
        continue;
      }
      if (entity === 'host' && direction === 'ingress') {
        for (const value of sorted) options.hostNotes.push(`${subject.name} ${portText(value.port)} from the node (kubelet probes, host traffic): ${describeEvidence(value.evidence)}`);
        continue;
      }
      for (const value of sorted) {
        if (value.ips.size === 0) options.hostNotes.push(`${subject.name} ${direction} ${preposition} ${entity} ${portText(value.port)} without an address: NetworkPolicy cannot express it`);
        else addressRules.push({ ...value, label: entity });
      }
    }

    // The world (and, in NetworkPolicy, node addresses): aggregated CIDRs or names, grouped by identical sets.
    const cidrRules = new Map<string, { cidrs: Cidr[]; ports: PortKey[]; evidence: string[] }>();
    const fqdnRules = new Map<string, { names: string[]; ports: PortKey[]; evidence: string[] }>();
    const addCidrs = (port: PortKey, ips: Map<string, IpAddress>, label: string, evidence: Evidence): void => {
      if (ips.size === 0) return;
      const cidrs = aggregateAddresses([...ips.values()].sort((a, b) => (a.family - b.family) || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)));
      const key = cidrs.map((cidr) => cidr.text).join(',');
      const slot = getOrSet(cidrRules, key, () => ({ cidrs, ports: [], evidence: [] }));
      slot.ports.push(port);
      slot.evidence.push(`${preposition} ${label}, ${portText(port)}: ${ips.size} address${ips.size === 1 ? '' : 'es'}, ${describeEvidence(evidence)}`);
    };
    for (const value of addressRules.sort((a, b) => compareText(`${a.label}/${a.port.protocol}/${a.port.port}`, `${b.label}/${b.port.protocol}/${b.port.port}`))) addCidrs(value.port, value.ips, value.label, value.evidence);
    for (const [, slot] of [...worldPorts].sort(([a], [b]) => compareText(a, b))) {
      addCidrs(slot.port, slot.ips, 'outside the cluster', slot.addressEvidence);
      if (slot.names.size > 0) {
        const names = [...slot.names].sort(compareText);
        const key = names.join(',');
        const fqdn = getOrSet(fqdnRules, key, () => ({ names, ports: [], evidence: [] }));
        fqdn.ports.push(slot.port);
        fqdn.evidence.push(`to ${names.length} name${names.length === 1 ? '' : 's'}, ${portText(slot.port)}: ${describeEvidence(slot.namedEvidence)}`);
      }
    }
    for (const [, slot] of [...cidrRules].sort(([a], [b]) => compareText(a, b))) rules.push({ peer: { type: 'cidrs', cidrs: slot.cidrs }, ports: sortPorts(slot.ports), evidence: slot.evidence, auth: false });
    for (const [, slot] of [...fqdnRules].sort(([a], [b]) => compareText(a, b))) rules.push({ peer: { type: 'fqdns', names: slot.names }, ports: sortPorts(slot.ports), evidence: slot.evidence, auth: false });
    return rules;
  }

  /** Names for a world address: the flow's destination_names, else the client's DNS answers. */
  private namesOf(entry: Entry, subject: WorkloadGroup, ip: IpAddress): Set<string> | undefined {
    const answered = this.dnsAnswers.get(`${subject.namespace}/${subject.name}`)?.get(ip.text);
    if (!entry.names && !answered) return undefined;
    return new Set([...(entry.names ?? []), ...(answered ?? [])]);
  }

  private learnDnsAnswer(record: FlowRecord): void {
    const flow = record.flow!;
    const dns = flow.l7?.dns;
    if (!dns || typeof dns.query !== 'string' || !Array.isArray(dns.ips) || dns.ips.length === 0 || (dns.rcode ?? 0) !== 0) return;
    // A record with answers is the response, on its way back to the client: its destination.
    const party = this.resolver.resolve(flow.destination, flow.IP?.destination);
    if (!('kind' in party) || party.kind !== 'workload') return;
    const answers = getOrSet(this.dnsAnswers, party.key, () => new Map<string, Set<string>>());
    for (const ip of dns.ips) if (typeof ip === 'string') getOrSet(answers, ip, () => new Set()).add(trimDot(dns.query));
  }

  private entry(src: Party, dst: Party, protocol: Protocol, port: number): Entry {
    const key = `${src.key}\u0001${dst.key}\u0001${protocol}\u0001${port}`;
    let entry = this.entries.get(key);
    if (!entry) this.entries.set(key, (entry = { src, dst, protocol, port, count: 0, firstNs: undefined, lastNs: undefined, tsvRows: 0, names: undefined }));
    return entry;
  }

  private ignore(reason: string): void {
    this.ignored.set(reason, (this.ignored.get(reason) ?? 0) + 1);
  }

  private timeNs(text: string | undefined): bigint | undefined {
    if (text === undefined) return undefined;
    if (text === this.lastTimeText) return this.lastTimeNs;
    this.lastTimeText = text;
    this.lastTimeNs = parseTimestampNs(text);
    return this.lastTimeNs;
  }
}

export class AdviseInputError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'AdviseInputError';
  }
}

export const HOST_NOTE =
  'NetworkPolicy cannot select traffic from nodes (kubelet probes, node-local agents): the CNI decides. Cilium allows traffic from a pod\'s own node by default (allow-localhost=auto) and podgate models that; Calico and most other CNIs do too. Traffic from other nodes needs an ipBlock (Cilium: only with policy-cidr-match-mode=nodes) or the Cilium format (fromEntities: remote-node).';

/** Every namespace with pods in the manifests, except kube-system. */
export function defaultNamespaces(cluster: ClusterState): string[] {
  const names = new Set<string>();
  for (const pod of cluster.pods) if (!pod.hostNetwork && !DEFAULT_EXCLUDED_NAMESPACES.includes(pod.namespace)) names.add(pod.namespace);
  return [...names].sort(compareText);
}

interface DnsTarget {
  readonly service: Service;
  readonly selector: ReadonlyMap<string, string>;
  readonly pods: readonly Pod[];
  readonly ports: readonly PortKey[];
  readonly problems: readonly string[];
}

/**
 * The cluster DNS as its Service defines it: kube-system/kube-dns, else a Service with port 53
 * (kube-system first, then by namespace and name). Its pods are the ones its selector selects in
 * its namespace; its ports the targetPorts of its port-53 entries, named ones resolved against those pods.
 */
export function findDns(cluster: ClusterState): DnsTarget | { problem: string } {
  const candidates = cluster.services
    .filter((service) => (service.namespace === 'kube-system' && service.name === 'kube-dns') || service.ports.some((port) => port.port === 53))
    .sort((a, b) => rank(a) - rank(b) || compareText(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
  function rank(service: Service): number {
    return service.namespace === 'kube-system' && service.name === 'kube-dns' ? 0 : service.namespace === 'kube-system' ? 1 : 2;
  }
  if (candidates.length === 0) return { problem: 'the manifests hold no DNS Service (kube-system/kube-dns or a Service with port 53)' };
  const service = candidates.find((candidate) => candidate.selector !== undefined && candidate.selector.size > 0);
  if (!service) return { problem: `DNS Service ${candidates[0]!.namespace}/${candidates[0]!.name} has no selector, so its pods cannot be selected by labels` };
  const selector = new Map([...service.selector!].sort(([a], [b]) => compareText(a, b)));
  const pods = cluster.pods.filter((pod) => pod.namespace === service.namespace && !pod.hostNetwork && [...selector].every(([key, value]) => pod.labels.get(key) === value)).sort((a, b) => compareText(a.name, b.name));
  const problems: string[] = [];
  if (pods.length === 0) problems.push(`DNS Service ${service.namespace}/${service.name} selects no pod in the manifests; its selector is used as written`);
  const dnsPorts = service.ports.filter((port) => port.port === 53);
  const ports = new Map<string, PortKey>();
  for (const servicePort of dnsPorts.length > 0 ? dnsPorts : service.ports) {
    if (typeof servicePort.targetPort === 'number') {
      ports.set(`${servicePort.protocol}/${servicePort.targetPort}`, { protocol: servicePort.protocol, port: servicePort.targetPort });
      continue;
    }
    const resolved = pods.flatMap((pod) => pod.containerPorts.filter((port) => port.name === servicePort.targetPort && port.protocol === servicePort.protocol));
    if (resolved.length === 0) problems.push(`DNS Service ${service.namespace}/${service.name} port ${servicePort.port}/${servicePort.protocol} targets "${servicePort.targetPort}", which no DNS pod declares; it is left out`);
    for (const port of resolved) ports.set(`${port.protocol}/${port.port}`, { protocol: port.protocol, port: port.port });
  }
  if (ports.size === 0) return { problem: `DNS Service ${service.namespace}/${service.name} has no port the DNS pods declare` };
  return { service, selector, pods, ports: sortPorts([...ports.values()]), problems };
}

export function sortPorts(ports: readonly PortKey[]): PortKey[] {
  return [...ports].sort((a, b) => compareText(a.protocol, b.protocol) || a.port - b.port);
}

function emptyEvidence(): Evidence {
  return { count: 0, firstNs: undefined, lastNs: undefined, tsvRows: 0 };
}

function addEvidence(into: Evidence, from: Evidence): void {
  into.count += from.count;
  into.tsvRows += from.tsvRows;
  if (from.firstNs !== undefined && (into.firstNs === undefined || from.firstNs < into.firstNs)) into.firstNs = from.firstNs;
  if (from.lastNs !== undefined && (into.lastNs === undefined || from.lastNs > into.lastNs)) into.lastNs = from.lastNs;
}

/** `42 flows, first seen 2026-11-01T00:00:02.146Z, last seen ...` (RFC 3339). */
export function describeEvidence(evidence: Evidence): string {
  const parts: string[] = [];
  if (evidence.count > 0) {
    parts.push(`${evidence.count} flow${evidence.count === 1 ? '' : 's'}`);
    if (evidence.firstNs !== undefined && evidence.lastNs !== undefined) parts.push(`first seen ${formatTimestampNs(evidence.firstNs)}, last seen ${formatTimestampNs(evidence.lastNs)}`);
    else parts.push('no times recorded');
  }
  if (evidence.tsvRows > 0) parts.push(`${evidence.tsvRows} row${evidence.tsvRows === 1 ? '' : 's'} of observed-flows.tsv (no counts, times or ports in it)`);
  return parts.length === 0 ? 'not observed' : parts.join(', ');
}

function getOrSet<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}

function trimDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** Convenience: advise from a stream of records (a file's records, a store query, a server). */
export async function adviseFlows(options: AdviseOptions & { readonly records: Iterable<FlowRecord> | AsyncIterable<FlowRecord> }): Promise<Advice> {
  const advisor = new Advisor(options);
  for await (const record of options.records) advisor.add(record);
  return advisor.finish();
}

/** The whole advice as one multi-document YAML stream (namespaces in name order). */
export function adviceToYaml(advice: Advice): string {
  return advice.namespaces.map((namespace) => namespace.text).join('---\n');
}
