/**
 * The generator's world: the topology, the policy engine that decides every connection, and the
 * conversations that turn one decision into the records each node's Hubble would see (policy
 * verdicts, trace points, drops with retransmissions, DNS and HTTP L7 events). Records wait in a
 * time-ordered queue until nothing earlier can come.
 */
import type { CompiledEngine } from '../../policy/compiled/engine.js';
import type { HttpRequest } from '../../policy/l7.js';
import type { DirectionVerdict, Verdict } from '../../policy/verdict.js';
import { Prng } from '../../policy/testing/prng.js';
import type { FlowRecord } from '../model.js';
import { FlowBuilder, hex32, makeLegs, type HubbleDirection, type Leg, type ObservationPoint, type ServiceRef, type TcpFlagSet } from './records.js';
import { type PodInfo, type Peer, type ServiceInfo, type Topology } from './topology.js';

export const MS = 1_000_000;
export const SECOND = 1_000_000_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** Time the server's stack takes to answer a SYN. */
export const HANDSHAKE_NS = 60_000;
const VERDICT_CACHE_SIZE = 50_000;

/** A record waiting for its turn; `seq` keeps equal times in creation order. */
interface Pending {
  readonly t: number;
  readonly seq: number;
  readonly record: FlowRecord;
  readonly kind: RecordClass;
}

/** A binary min-heap on (t, seq): the same inputs always pop in the same order. */
export class TimeHeap<T extends { readonly t: number; readonly seq: number }> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(items[index]!, items[parent]!)) break;
      [items[index], items[parent]] = [items[parent]!, items[index]!];
      index = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    let index = 0;
    for (;;) {
      const left = index * 2 + 1;
      const right = left + 1;
      let smallest = index;
      if (left < items.length && before(items[left]!, items[smallest]!)) smallest = left;
      if (right < items.length && before(items[right]!, items[smallest]!)) smallest = right;
      if (smallest === index) break;
      [items[index], items[smallest]] = [items[smallest]!, items[index]!];
      index = smallest;
    }
    return top;
  }
}

function before(a: { t: number; seq: number }, b: { t: number; seq: number }): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

export interface HttpCall {
  readonly method: string;
  readonly path: string;
  /** Status the server answers with when the request gets through. */
  readonly code: number;
  /** Server time to answer. */
  readonly serviceNs: number;
}

export interface TcpSessionOptions {
  readonly t: number;
  readonly client: Peer;
  readonly server: Peer;
  readonly port: number;
  readonly service?: ServiceInfo;
  readonly serverNames?: readonly string[];
  /** HTTP requests on the connection (seen by the L7 proxy), or a number of opaque exchanges. */
  readonly exchanges: readonly HttpCall[] | number;
  /** The URL authority HTTP requests name (the Host header). */
  readonly authority?: string;
  /** Time between exchanges. */
  readonly gapNs?: number;
  /** Server time per opaque exchange. */
  readonly serviceNs?: number;
  /** A pooled connection: no handshake, teardown or new policy verdict, only its data. */
  readonly established?: boolean;
  /** A trace event for every exchange, not only the first (long-running sessions). */
  readonly traceEveryExchange?: boolean;
  /** One-way network delay; by default drawn from where the two ends are. */
  readonly oneWayNs?: number;
  /** SYN retransmissions after a drop (Linux: 1 s, 3 s, 7 s, ...). */
  readonly retries?: number;
}

export interface SessionResult {
  readonly allowed: boolean;
  readonly end: number;
  readonly verdict: Verdict;
}

export interface DnsAnswer {
  readonly rcode: number;
  readonly ips: readonly string[];
  readonly ttl: number;
}

export interface ResolveResult {
  readonly t: number;
  /** Undefined when the lookup failed (dropped, or the name does not exist). */
  readonly ips?: readonly string[];
  readonly name: string;
}

export interface SimulationOptions {
  readonly topology: Topology;
  readonly engine: CompiledEngine;
  readonly builder: FlowBuilder;
  readonly seed: number;
  /** External names the profile knows, with their addresses (others are NXDOMAIN). */
  readonly externalNames?: ReadonlyMap<string, readonly string[]>;
  /** Where cluster DNS forwards names outside the cluster. */
  readonly upstreamResolver?: string;
}

/** Records fall into two classes so a calibration run can tell probes from everything else. */
export type RecordClass = 'probe' | 'traffic';

export class Simulation {
  readonly prng: Prng;
  readonly topology: Topology;
  readonly engine: CompiledEngine;
  readonly builder: FlowBuilder;
  readonly dns: ServiceInfo | undefined;
  /** Records released so far, by class (for calibration). */
  readonly counts: Record<RecordClass, number> = { probe: 0, traffic: 0 };
  currentClass: RecordClass = 'traffic';
  private readonly queue = new TimeHeap<Pending>();
  private seq = 0;
  private readonly verdicts = new Map<string, Verdict>();
  private readonly clientDnsCache = new Map<string, { expires: number; ips: readonly string[] | undefined }>();
  private readonly upstreamCache = new Map<string, number>();
  private readonly externalNames: ReadonlyMap<string, readonly string[]>;
  private readonly upstreamResolver: string;

  constructor(options: SimulationOptions) {
    this.topology = options.topology;
    this.engine = options.engine;
    this.builder = options.builder;
    this.prng = new Prng(options.seed);
    this.dns = options.topology.dnsService();
    this.externalNames = options.externalNames ?? new Map();
    this.upstreamResolver = options.upstreamResolver ?? '1.1.1.1';
  }

  // ---- the queue ----

  emit(t: number, record: FlowRecord): void {
    this.queue.push({ t: Math.round(t), seq: this.seq++, record, kind: this.currentClass });
  }

  /** The earliest waiting record's time, or Infinity. */
  nextTime(): number {
    return this.queue.peek()?.t ?? Number.POSITIVE_INFINITY;
  }

  take(): FlowRecord | undefined {
    const pending = this.queue.pop();
    if (!pending) return undefined;
    this.counts[pending.kind]++;
    return pending.record;
  }

  // ---- randomness ----

  between(min: number, max: number): number {
    return min + this.prng.next() * (max - min);
  }

  /** An exponential wait with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.prng.next()) * mean;
  }

  ephemeralPort(): number {
    return this.prng.int(32768, 60999);
  }

  // ---- decisions ----

  /** The engine's verdict, cached (the engine is deterministic for a fixed state). */
  evaluate(client: Peer, server: Peer, protocol: 'TCP' | 'UDP', port: number, http?: HttpRequest): Verdict {
    const key = http ? `${client.key}|${server.key}|${protocol}|${port}|${http.method} ${http.path}` : `${client.key}|${server.key}|${protocol}|${port}`;
    let verdict = this.verdicts.get(key);
    if (!verdict) {
      // Request paths carry ids, so the cache is bounded: start over when it is full.
      if (this.verdicts.size >= VERDICT_CACHE_SIZE) this.verdicts.clear();
      verdict = this.engine.evaluate({ src: client.endpoint, dst: server.endpoint, protocol, port, ...(http ? { http } : {}) });
      this.verdicts.set(key, verdict);
    }
    return verdict;
  }

  // ---- conversations ----

  /** One TCP connection: handshake, exchanges, teardown; or the drops and retransmissions. */
  tcpSession(options: TcpSessionOptions): SessionResult {
    const { client, server, port } = options;
    const verdict = this.evaluate(client, server, 'TCP', port);
    const service = options.service ? serviceRef(options.service) : undefined;
    const legs = makeLegs({ client, server, protocol: 'TCP', clientPort: this.ephemeralPort(), serverPort: port, ...(service ? { service } : {}), ...(options.serverNames ? { serverNames: options.serverNames } : {}) });
    const oneWay = options.oneWayNs ?? this.latency(client, server);
    // A pooled connection was set up before: the datapath has its conntrack entry and emits no new verdict.
    if (!verdict.allowed && !options.established) return this.dropped({ t: options.t, legs, verdict, flags: 'SYN', retries: options.retries ?? 2, backoffNs: SECOND, oneWay });
    if (!verdict.allowed) return { allowed: false, end: options.t, verdict };
    const http = typeof options.exchanges === 'number' ? undefined : options.exchanges;
    // HTTP goes through the proxy on the side whose policy has HTTP rules; with none, the server's side (L7 visibility).
    const proxy: 'egress' | 'ingress' | undefined = http ? (verdict.ingress.l7 || !verdict.egress.l7 ? (server.pod ? 'ingress' : 'egress') : 'egress') : undefined;
    let t = options.t;
    if (!options.established) {
      this.policyVerdicts({ t, legs, verdict, flags: 'SYN', oneWay, proxy });
      this.observe({ t, leg: legs.request, flags: 'SYN', reason: 'NEW', oneWay, proxy });
      t += 2 * oneWay + HANDSHAKE_NS;
      this.observe({ t, leg: legs.reply, flags: 'SYN_ACK', reason: 'REPLY', oneWay, proxy });
      t += oneWay;
    }
    const exchanges = http ?? options.exchanges;
    const count = typeof exchanges === 'number' ? exchanges : exchanges.length;
    for (let index = 0; index < count; index++) {
      const call = typeof exchanges === 'number' ? undefined : exchanges[index];
      const traced = options.traceEveryExchange || (index === 0 && !options.established);
      if (traced) this.observe({ t, leg: legs.request, flags: 'PSH_ACK', reason: 'ESTABLISHED', oneWay, proxy, receiverOnly: true });
      let serviceNs = call?.serviceNs ?? options.serviceNs ?? this.between(200_000, 4 * MS);
      if (call && proxy) serviceNs = this.httpExchange({ t, call, index, legs, proxy, oneWay, serviceNs, authority: options.authority });
      t += 2 * oneWay + serviceNs;
      if (traced) this.observe({ t, leg: legs.reply, flags: 'PSH_ACK', reason: 'REPLY', oneWay, proxy, receiverOnly: true });
      if (index < count - 1) t += options.gapNs ?? this.between(2 * MS, 40 * MS);
    }
    if (!options.established) {
      t += this.between(50_000, 2 * MS);
      this.observe({ t, leg: legs.request, flags: 'FIN_ACK', reason: 'ESTABLISHED', oneWay, proxy, receiverOnly: true });
      t += 2 * oneWay;
      this.observe({ t, leg: legs.reply, flags: 'FIN_ACK', reason: 'REPLY', oneWay, proxy, receiverOnly: true });
    }
    return { allowed: true, end: t, verdict };
  }

  /** One HTTP request through the L7 proxy: the engine decides it; a refusal is the proxy's 403. */
  private httpExchange(options: { t: number; call: HttpCall; index: number; legs: { request: Leg; reply: Leg }; proxy: 'egress' | 'ingress'; oneWay: number; serviceNs: number; authority: string | undefined }): number {
    const { call, legs, proxy, oneWay } = options;
    const client = legs.request.from;
    const server = legs.request.to;
    const proxyNode = proxy === 'ingress' ? server.node : client.node;
    const path = call.path.split('?')[0] ?? call.path;
    const verdict = this.evaluate(client, server, 'TCP', legs.request.destinationPort, { method: call.method, path });
    const side = proxy === 'ingress' ? verdict.ingress : verdict.egress;
    const url = `http://${options.authority ?? server.ip}${call.path}`;
    const headers = this.headers(client, options.index);
    const direction: HubbleDirection = proxy === 'ingress' ? 'INGRESS' : 'EGRESS';
    if (!proxyNode) return options.serviceNs;
    const at = options.t + (proxy === 'ingress' ? oneWay : 0);
    if (!verdict.allowed) {
      this.emit(at, this.builder.http({ t: at, node: proxyNode, leg: legs.request, direction, method: call.method, url, headers, code: 403, dropped: true, side, verdict }));
      return this.between(100_000, 400_000);
    }
    this.emit(at, this.builder.http({ t: at, node: proxyNode, leg: legs.request, direction, method: call.method, url, headers, dropped: false, side, verdict }));
    const latencyNs = Math.round(options.serviceNs + (proxy === 'egress' ? 2 * oneWay : 0));
    const back = at + latencyNs;
    this.emit(back, this.builder.http({ t: back, node: proxyNode, leg: legs.reply, direction, method: call.method, url, headers, code: call.code, latencyNs, dropped: false, side, verdict }));
    return options.serviceNs;
  }

  /**
   * A name lookup the way a pod's resolver does it: the search list first (ndots:5), an A query per
   * candidate, answered by the cluster DNS pods; cached by the client for the answer's TTL.
   */
  resolve(options: { t: number; client: PodInfo; name: string; searchList: boolean }): ResolveResult {
    const { client, name } = options;
    const absolute = name.endsWith('.') ? name : `${name}.`;
    if (!this.dns) return { t: options.t, ips: this.answer(absolute, 'A').ips, name: absolute.slice(0, -1) };
    const cacheKey = `${client.key}|${name}`;
    const cached = this.clientDnsCache.get(cacheKey);
    if (cached && cached.expires > options.t) return { t: options.t, ...(cached.ips ? { ips: cached.ips } : {}), name: absolute.slice(0, -1) };
    const dots = name.split('.').length - 1;
    const candidates = name.endsWith('.') || !options.searchList || dots >= 5
      ? [absolute]
      : [`${name}.${client.pod.namespace}.svc.cluster.local.`, `${name}.svc.cluster.local.`, `${name}.cluster.local.`, absolute];
    let t = options.t;
    for (const candidate of candidates) {
      const result = this.dnsQuery({ t, client, query: candidate, qtype: 'A' });
      t = result.end;
      if (!result.delivered) {
        this.clientDnsCache.set(cacheKey, { expires: t + 5 * SECOND, ips: undefined });
        return { t, name: candidate.slice(0, -1) };
      }
      if (result.answer.rcode === 0) {
        // glibc asks for AAAA alongside A now and then (no IPv6 here: an empty answer).
        if (this.prng.chance(0.25)) t = Math.max(t, this.dnsQuery({ t: t - this.between(50_000, 300_000), client, query: candidate, qtype: 'AAAA' }).end);
        this.clientDnsCache.set(cacheKey, { expires: t + result.answer.ttl * SECOND, ips: result.answer.ips });
        return { t, ips: result.answer.ips, name: candidate.slice(0, -1) };
      }
    }
    this.clientDnsCache.set(cacheKey, { expires: t + 30 * SECOND, ips: undefined });
    return { t, name: absolute.slice(0, -1) };
  }

  /** One DNS query over UDP to a cluster DNS pod, seen by the DNS proxy on the client's egress. */
  dnsQuery(options: { t: number; client: PodInfo; query: string; qtype: 'A' | 'AAAA' }): { end: number; delivered: boolean; answer: DnsAnswer } {
    const dns = this.dns!;
    const server = this.prng.pick(dns.backends);
    const clientPeer = this.topology.podPeer(options.client);
    const serverPeer = this.topology.podPeer(server);
    const verdict = this.evaluate(clientPeer, serverPeer, 'UDP', 53);
    const legs = makeLegs({ client: clientPeer, server: serverPeer, protocol: 'UDP', clientPort: this.ephemeralPort(), serverPort: 53, service: serviceRef(dns) });
    const oneWay = this.latency(clientPeer, serverPeer);
    const answer = this.answer(options.query, options.qtype);
    if (!verdict.allowed) {
      // resolv.conf defaults: 5 s timeout, 2 attempts.
      const result = this.dropped({ t: options.t, legs, verdict, flags: undefined, retries: 1, backoffNs: 5 * SECOND, oneWay });
      return { end: result.end + 5 * SECOND, delivered: false, answer };
    }
    let t = options.t;
    const clientNode = options.client.node;
    this.policyVerdicts({ t, legs, verdict, flags: undefined, oneWay, proxy: 'egress' });
    this.observe({ t, leg: legs.request, reason: 'NEW', oneWay, proxy: 'egress', senderOnly: true });
    t += this.between(20_000, 80_000);
    this.emit(t, this.builder.dns({ t, node: clientNode, leg: legs.request, direction: 'EGRESS', query: options.query, qtype: options.qtype, side: verdict.egress, verdict }));
    const sent = t;
    t += oneWay;
    this.observe({ t, leg: legs.request, reason: 'NEW', oneWay, proxy: 'egress', receiverOnly: true });
    t += this.between(60_000, 400_000);
    if (this.isExternal(options.query) && answer.rcode === 0) t = this.upstream(t, server, options.query);
    t += oneWay;
    const ttl = answer.rcode === 0 && this.isExternal(options.query) ? this.prng.int(20, 300) : answer.ttl;
    const finalAnswer = { ...answer, ttl };
    this.emit(t, this.builder.dns({ t, node: clientNode, leg: legs.reply, direction: 'EGRESS', query: options.query, qtype: options.qtype, answer: { ...finalAnswer, latencyNs: Math.round(t - sent) }, side: verdict.egress, verdict }));
    t += this.between(10_000, 60_000);
    this.observe({ t, leg: legs.reply, reason: 'REPLY', oneWay, proxy: 'egress', receiverOnly: true });
    return { end: t, delivered: true, answer: finalAnswer };
  }

  /** What cluster DNS answers: Service names, known external names, NXDOMAIN for the rest. */
  answer(query: string, qtype: 'A' | 'AAAA'): DnsAnswer {
    const service = this.topology.serviceByFqdn(query);
    if (service) return { rcode: 0, ips: qtype === 'A' ? service.answers : [], ttl: 30 };
    const external = this.externalNames.get(query.slice(0, -1));
    if (external) return { rcode: 0, ips: qtype === 'A' ? external : [], ttl: 300 };
    return { rcode: 3, ips: [], ttl: 30 };
  }

  private isExternal(query: string): boolean {
    return !query.endsWith('.cluster.local.');
  }

  /** CoreDNS asks the upstream resolver when its cache has no answer (cached 30 s). */
  private upstream(t: number, dnsPod: PodInfo, query: string): number {
    const expires = this.upstreamCache.get(query);
    if (expires !== undefined && expires > t) return t;
    const resolver = this.topology.addressPeer(this.upstreamResolver);
    const client = this.topology.podPeer(dnsPod);
    const verdict = this.evaluate(client, resolver, 'UDP', 53);
    const legs = makeLegs({ client, server: resolver, protocol: 'UDP', clientPort: this.ephemeralPort(), serverPort: 53 });
    const oneWay = this.latency(client, resolver);
    if (!verdict.allowed) return this.dropped({ t, legs, verdict, flags: undefined, retries: 0, backoffNs: 2 * SECOND, oneWay }).end + 2 * SECOND;
    this.policyVerdicts({ t, legs, verdict, flags: undefined, oneWay, proxy: undefined });
    this.observe({ t, leg: legs.request, reason: 'NEW', oneWay, proxy: undefined });
    const back = t + 2 * oneWay + this.between(1 * MS, 15 * MS);
    this.observe({ t: back, leg: legs.reply, reason: 'REPLY', oneWay, proxy: undefined });
    this.upstreamCache.set(query, back + 30 * SECOND);
    return back;
  }

  /** Drop events at the denying side, for the first packet and each retransmission. */
  private dropped(options: { t: number; legs: { request: Leg; reply: Leg }; verdict: Verdict; flags: TcpFlagSet | undefined; retries: number; backoffNs: number; oneWay: number }): SessionResult {
    const { legs, verdict, flags } = options;
    const leg = legs.request;
    const egressDenied = verdict.decidedBy === 'egress';
    const side = egressDenied ? verdict.egress : verdict.ingress;
    const direction: HubbleDirection = egressDenied ? 'EGRESS' : 'INGRESS';
    const node = egressDenied ? leg.from.node : leg.to.node;
    let t = options.t;
    let wait = options.backoffNs;
    for (let attempt = 0; attempt <= options.retries; attempt++) {
      let at = t;
      if (!egressDenied) {
        // The packet leaves the client (its egress allows it) and is dropped on arrival.
        if (attempt === 0 && leg.from.pod && enforced(verdict.egress)) this.emit(at, this.builder.policyVerdict({ t: at, node: leg.from.node!, leg, direction: 'EGRESS', flags, side: verdict.egress, verdict, outcome: 'FORWARDED' }));
        if (leg.from.pod && !(leg.to.pod && leg.to.node === leg.from.node)) this.emit(at + 1_000, this.builder.trace({ t: at + 1_000, node: leg.from.node!, leg, direction: 'EGRESS', point: leg.to.pod ? 'TO_OVERLAY' : 'TO_STACK', ...(flags ? { flags } : {}), reason: 'NEW' }));
        at += options.oneWay;
      }
      if (node) {
        this.emit(at, this.builder.policyVerdict({ t: at, node, leg, direction, flags, side, verdict, outcome: 'DROPPED' }));
        this.emit(at + 2_000, this.builder.drop({ t: at + 2_000, node, leg, direction, flags, side, verdict }));
      }
      if (attempt < options.retries) {
        t += wait + this.between(0, 5 * MS);
        wait *= 2;
      }
    }
    return { allowed: false, end: t + options.oneWay, verdict };
  }

  /** Policy verdict events for the first packet, on each side that enforces policy. */
  private policyVerdicts(options: { t: number; legs: { request: Leg }; verdict: Verdict; flags: TcpFlagSet | undefined; oneWay: number; proxy: 'egress' | 'ingress' | undefined }): void {
    const { legs, verdict, flags } = options;
    const leg = legs.request;
    if (leg.from.pod && enforced(verdict.egress)) {
      const t = options.t;
      this.emit(t, this.builder.policyVerdict({ t, node: leg.from.node!, leg, direction: 'EGRESS', flags, side: verdict.egress, verdict, outcome: options.proxy === 'egress' ? 'REDIRECTED' : 'FORWARDED' }));
    }
    if (leg.to.pod && enforced(verdict.ingress)) {
      const t = options.t + options.oneWay - 1_000;
      this.emit(t, this.builder.policyVerdict({ t, node: leg.to.node!, leg, direction: 'INGRESS', flags, side: verdict.ingress, verdict, outcome: options.proxy === 'ingress' ? 'REDIRECTED' : 'FORWARDED' }));
    }
  }

  /**
   * Where Hubble sees one packet: leaving the sender's endpoint (to the overlay, the stack or the
   * proxy) unless the receiver is on the same node, and arriving at the receiving endpoint.
   */
  private observe(options: { t: number; leg: Leg; flags?: TcpFlagSet; reason: 'NEW' | 'ESTABLISHED' | 'REPLY'; oneWay: number; proxy: 'egress' | 'ingress' | undefined; receiverOnly?: boolean; senderOnly?: boolean }): void {
    const { leg, flags, reason, proxy } = options;
    const from = leg.from;
    const to = leg.to;
    const senderIsClient = !leg.reply;
    const flagOption = flags ? { flags } : {};
    if (!options.receiverOnly && from.pod && !(to.pod && to.node === from.node)) {
      const point: ObservationPoint = senderIsClient && proxy === 'egress' ? 'TO_PROXY' : to.pod ? 'TO_OVERLAY' : 'TO_STACK';
      this.emit(options.t, this.builder.trace({ t: options.t, node: from.node!, leg, direction: senderIsClient ? 'EGRESS' : 'INGRESS', point, reason, ...flagOption }));
    }
    if (!options.senderOnly && to.pod) {
      const t = options.t + (from.pod && to.node === from.node ? options.oneWay / 4 : options.oneWay);
      const point: ObservationPoint = senderIsClient && proxy === 'ingress' ? 'TO_PROXY' : 'TO_ENDPOINT';
      this.emit(t, this.builder.trace({ t, node: to.node!, leg, direction: senderIsClient ? 'INGRESS' : 'EGRESS', point, reason, ...flagOption }));
    }
  }

  /** One-way delay between two peers: same node, across nodes, or to the internet. */
  latency(a: Peer, b: Peer): number {
    if (!a.node || !b.node) return this.between(4 * MS, 30 * MS);
    if (a.node === b.node) return this.between(15_000, 60_000);
    return this.between(120_000, 450_000);
  }

  private headers(client: Peer, index: number): { key: string; value: string }[] {
    const id = hex32(mixCounter(this.seq, index * 2 + 1));
    const id2 = hex32(mixCounter(this.seq, index * 2 + 2));
    return [
      { key: 'Accept', value: 'application/json' },
      { key: 'User-Agent', value: client.pod ? `${client.pod.pod.labels.get('app') ?? client.pod.pod.name}/1.0` : 'curl/8.5.0' },
      { key: 'X-Request-Id', value: `${id}-${id2.slice(0, 4)}-4${id2.slice(4, 7)}-a${id.slice(1, 4)}-${id2}${id.slice(0, 4)}` },
    ];
  }
}

/** Whether a side enforces policy, so its datapath emits policy verdict events. */
export function enforced(side: DirectionVerdict): boolean {
  return side.reason !== 'not-isolated' && side.reason !== 'not-enforced';
}

export function serviceRef(info: ServiceInfo): ServiceRef {
  return { name: info.service.name, namespace: info.service.namespace };
}

/** A 32-bit mix of two counters (murmur3's finalizer), for ids that are unique but reproducible. */
function mixCounter(a: number, b: number): number {
  let h = (Math.imul(a + 1, 0x9e3779b1) ^ Math.imul(b + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
