/**
 * Builders for the records Hubble prints: trace events (type 4), policy verdicts (5), drops (1) and
 * L7 events (129), with fields in flow.proto's declaration order (protojson's output order) and
 * zero values left out (protojson omits them), so a generated line is byte-for-byte what
 * `hubble observe -o json` would print for the same event.
 */
import type { PolicyRef, RuleRef } from '../../policy/model.js';
import type { DirectionVerdict, Verdict } from '../../policy/verdict.js';
import type { DnsRecord, Flow, FlowEndpoint, FlowPolicy, FlowRecord, HttpRecord, Layer4, PodgateExtensions, TcpFlags } from '../model.js';
import type { NodeInfo, Peer } from './topology.js';

/** Formats offsets (ns after the start) as protojson timestamps; the minute's prefix is cached. */
export class TimeFormatter {
  /** Epoch seconds of the start (exact in a double) and the nanoseconds past it. */
  private readonly startSecond: number;
  private readonly startNanos: number;
  private cachedSecond = Number.NaN;
  private cachedMinute = Number.NaN;
  private minutePrefix = '';
  private secondPrefix = '';

  constructor(startNs: bigint) {
    const seconds = startNs / 1_000_000_000n - (startNs < 0n && startNs % 1_000_000_000n !== 0n ? 1n : 0n);
    this.startSecond = Number(seconds);
    this.startNanos = Number(startNs - seconds * 1_000_000_000n);
  }

  format(offsetNs: number): string {
    const total = this.startNanos + Math.round(offsetNs);
    const second = Math.floor(total / 1e9);
    const nanos = total - second * 1e9;
    if (second !== this.cachedSecond) {
      this.cachedSecond = second;
      const epochSecond = this.startSecond + second;
      const minute = Math.floor(epochSecond / 60);
      if (minute !== this.cachedMinute) {
        this.cachedMinute = minute;
        this.minutePrefix = new Date(minute * 60_000).toISOString().slice(0, 17);
      }
      const inMinute = epochSecond - minute * 60;
      this.secondPrefix = `${this.minutePrefix}${inMinute < 10 ? '0' : ''}${inMinute}`;
    }
    if (nanos === 0) return `${this.secondPrefix}Z`;
    // protojson: 3, 6 or 9 fraction digits, the fewest that are exact.
    if (nanos % 1e6 === 0) return `${this.secondPrefix}.${String(nanos / 1e6).padStart(3, '0')}Z`;
    if (nanos % 1e3 === 0) return `${this.secondPrefix}.${String(nanos / 1e3).padStart(6, '0')}Z`;
    return `${this.secondPrefix}.${String(nanos).padStart(9, '0')}Z`;
  }
}

export type TcpFlagSet = 'SYN' | 'SYN_ACK' | 'ACK' | 'PSH_ACK' | 'FIN_ACK' | 'RST';

/** Keys in TCPFlags' declaration order; the summary in Hubble's order (SYN, ACK, FIN, PSH). */
const FLAGS: Readonly<Record<TcpFlagSet, { readonly flags: TcpFlags; readonly summary: string }>> = {
  SYN: { flags: Object.freeze({ SYN: true }), summary: 'TCP Flags: SYN' },
  SYN_ACK: { flags: Object.freeze({ SYN: true, ACK: true }), summary: 'TCP Flags: SYN, ACK' },
  ACK: { flags: Object.freeze({ ACK: true }), summary: 'TCP Flags: ACK' },
  PSH_ACK: { flags: Object.freeze({ PSH: true, ACK: true }), summary: 'TCP Flags: ACK, PSH' },
  FIN_ACK: { flags: Object.freeze({ FIN: true, ACK: true }), summary: 'TCP Flags: ACK, FIN' },
  RST: { flags: Object.freeze({ RST: true }), summary: 'TCP Flags: RST' },
};

export type ObservationPoint = 'TO_ENDPOINT' | 'TO_PROXY' | 'TO_HOST' | 'TO_STACK' | 'TO_OVERLAY';
/** monitor/api Trace* sub types, as Hubble puts them in event_type.sub_type. */
const POINT_SUBTYPE: Readonly<Record<ObservationPoint, number>> = { TO_ENDPOINT: 0, TO_PROXY: 1, TO_HOST: 2, TO_STACK: 3, TO_OVERLAY: 4 };

const EVENT = {
  drop: (code: number) => Object.freeze({ type: 1, sub_type: code }),
  trace: Object.fromEntries(Object.entries(POINT_SUBTYPE).map(([point, sub]) => [point, Object.freeze(sub === 0 ? { type: 4 } : { type: 4, sub_type: sub })])) as Record<ObservationPoint, { type: number; sub_type?: number }>,
  policyVerdict: Object.freeze({ type: 5 }),
  l7: Object.freeze({ type: 129 }),
};
const DROP_POLICY_DENIED = EVENT.drop(133);
const DROP_POLICY_DENY = EVENT.drop(181);

export interface ServiceRef {
  readonly name: string;
  readonly namespace: string;
}

/** One direction of one conversation: what every packet that way shares. */
export interface Leg {
  readonly from: Peer;
  readonly to: Peer;
  readonly protocol: 'TCP' | 'UDP';
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly reply: boolean;
  readonly ip: NonNullable<Flow['IP']>;
  readonly ethernet: NonNullable<Flow['ethernet']>;
  readonly sourceNames?: readonly string[];
  readonly destinationNames?: readonly string[];
  readonly sourceService?: ServiceRef;
  readonly destinationService?: ServiceRef;
}

export function makeLegs(options: { client: Peer; server: Peer; protocol: 'TCP' | 'UDP'; clientPort: number; serverPort: number; service?: ServiceRef; serverNames?: readonly string[] }): { request: Leg; reply: Leg } {
  const { client, server, protocol, clientPort, serverPort, service, serverNames } = options;
  const ipVersion = server.ipVersion;
  const request: Leg = {
    from: client,
    to: server,
    protocol,
    sourcePort: clientPort,
    destinationPort: serverPort,
    reply: false,
    ip: Object.freeze({ source: client.ip, destination: server.ip, ipVersion }),
    ethernet: Object.freeze({ source: client.mac, destination: server.mac }),
    ...(serverNames ? { destinationNames: serverNames } : {}),
    ...(service ? { destinationService: service } : {}),
  };
  const reply: Leg = {
    from: server,
    to: client,
    protocol,
    sourcePort: serverPort,
    destinationPort: clientPort,
    reply: true,
    ip: Object.freeze({ source: server.ip, destination: client.ip, ipVersion }),
    ethernet: Object.freeze({ source: server.mac, destination: client.mac }),
    ...(serverNames ? { sourceNames: serverNames } : {}),
    ...(service ? { sourceService: service } : {}),
  };
  return { request, reply };
}

function l4Of(leg: Leg, flags: TcpFlagSet | undefined): Layer4 {
  if (leg.protocol === 'UDP') return { UDP: { source_port: leg.sourcePort, destination_port: leg.destinationPort } };
  return { TCP: flags ? { source_port: leg.sourcePort, destination_port: leg.destinationPort, flags: FLAGS[flags].flags } : { source_port: leg.sourcePort, destination_port: leg.destinationPort } };
}

function view(peer: Peer, node: NodeInfo): FlowEndpoint {
  return peer.node === node ? peer.local : peer.remote;
}

export type HubbleDirection = 'INGRESS' | 'EGRESS';

interface Common {
  readonly t: number;
  readonly node: NodeInfo;
  readonly leg: Leg;
  readonly direction: HubbleDirection;
}

export interface TraceOptions extends Common {
  readonly point: ObservationPoint;
  readonly flags?: TcpFlagSet;
  readonly reason: 'NEW' | 'ESTABLISHED' | 'REPLY';
}

export interface PolicyVerdictOptions extends Common {
  readonly flags: TcpFlagSet | undefined;
  readonly side: DirectionVerdict;
  readonly verdict: Verdict;
  /** REDIRECTED when the connection goes through the L7 proxy. */
  readonly outcome: 'FORWARDED' | 'REDIRECTED' | 'DROPPED';
}

export interface DropOptions extends Common {
  readonly flags: TcpFlagSet | undefined;
  readonly side: DirectionVerdict;
  readonly verdict: Verdict;
}

export interface DnsOptions extends Common {
  readonly query: string;
  readonly qtype: 'A' | 'AAAA';
  /** Present on the response. */
  readonly answer?: { readonly rcode: number; readonly ips: readonly string[]; readonly ttl: number; readonly latencyNs: number };
  readonly side: DirectionVerdict;
  readonly verdict: Verdict;
}

export interface HttpOptions extends Common {
  readonly method: string;
  readonly url: string;
  readonly headers: readonly { readonly key: string; readonly value: string }[];
  /** Present on the response (and on a refused request: 403 from the proxy). */
  readonly code?: number;
  readonly latencyNs?: number;
  readonly dropped: boolean;
  readonly side: DirectionVerdict;
  readonly verdict: Verdict;
}

const DNS_RCODE_NAMES: Readonly<Record<number, string>> = { 0: 'No Error', 2: 'Server Failure', 3: 'Non-Existent Domain', 5: 'Query Refused' };

/** A rule as podgate's explain names it: `namespace/name#path`, or `name#path` when cluster-scoped. */
export function formatRuleRef(rule: RuleRef): string {
  const ref = rule.policy;
  return `${ref.namespace === undefined ? ref.name : `${ref.namespace}/${ref.name}`}#${rule.path}`;
}

/** The Hubble drop reason for a denying side: Cilium reports deny-rule drops as POLICY_DENY. */
export function dropReasonOf(side: DirectionVerdict): { readonly desc: 'POLICY_DENY' | 'POLICY_DENIED'; readonly code: number } {
  return side.reason === 'denied' || side.reason === 'admin-deny' || side.reason === 'baseline-deny' ? { desc: 'POLICY_DENY', code: 181 } : { desc: 'POLICY_DENIED', code: 133 };
}

/** Cilium's policy_match_type: 1 L3 only, 2 L3+L4, 3 L4 only, 4 all. */
export type RuleShape = { readonly peer: boolean; readonly port: boolean };

export interface FlowBuilderOptions {
  readonly startNs: bigint;
  readonly seed: number;
  readonly generator: string;
  readonly revision: number;
  readonly ruleShapes: ReadonlyMap<string, RuleShape>;
}

export class FlowBuilder {
  readonly time: TimeFormatter;
  private uuidCounter = 0;
  private readonly policyObjects = new Map<string, FlowPolicy>();

  constructor(private readonly options: FlowBuilderOptions) {
    this.time = new TimeFormatter(options.startNs);
  }

  trace(options: TraceOptions): FlowRecord {
    const { leg, node, point } = options;
    const flow = this.head(options.t, 'FORWARDED');
    flow.ethernet = leg.ethernet;
    flow.IP = leg.ip;
    flow.l4 = l4Of(leg, options.flags);
    this.endpoints(flow, leg, node);
    flow.Type = 'L3_L4';
    flow.node_name = node.name;
    this.names(flow, leg);
    if (leg.reply) flow.reply = true;
    flow.event_type = EVENT.trace[point];
    this.services(flow, leg);
    flow.traffic_direction = options.direction;
    flow.trace_observation_point = point;
    flow.trace_reason = options.reason;
    flow.is_reply = leg.reply;
    if (point === 'TO_ENDPOINT' && leg.to.node === node && leg.to.pod) flow.interface = leg.to.pod.iface;
    flow.Summary = this.l4Summary(leg, options.flags);
    return this.wrap(flow, node);
  }

  policyVerdict(options: PolicyVerdictOptions): FlowRecord {
    const { leg, node, side } = options;
    const dropped = options.outcome === 'DROPPED';
    const flow = this.head(options.t, options.outcome);
    const auth = side.auth === 'required' ? 'SPIRE' : side.auth === 'test-always-fail' ? 'TEST_ALWAYS_FAIL' : undefined;
    if (auth && !dropped) flow.auth_type = auth;
    flow.ethernet = leg.ethernet;
    flow.IP = leg.ip;
    flow.l4 = l4Of(leg, options.flags);
    this.endpoints(flow, leg, node);
    flow.Type = 'L3_L4';
    flow.node_name = node.name;
    this.names(flow, leg);
    flow.event_type = EVENT.policyVerdict;
    this.services(flow, leg);
    flow.traffic_direction = options.direction;
    if (!dropped) {
      const match = this.matchType(side);
      if (match !== 0) flow.policy_match_type = match;
    }
    if (dropped) flow.drop_reason_desc = dropReasonOf(side).desc;
    flow.is_reply = false;
    flow.Summary = this.l4Summary(leg, options.flags);
    this.policies(flow, side, options.direction);
    flow.podgate = this.extensions({ side, verdict: options.verdict, leg, allowed: !dropped });
    return this.wrap(flow, node);
  }

  drop(options: DropOptions): FlowRecord {
    const { leg, node, side } = options;
    const reason = dropReasonOf(side);
    const flow = this.head(options.t, 'DROPPED');
    flow.ethernet = leg.ethernet;
    flow.IP = leg.ip;
    flow.l4 = l4Of(leg, options.flags);
    this.endpoints(flow, leg, node);
    flow.Type = 'L3_L4';
    flow.node_name = node.name;
    this.names(flow, leg);
    flow.event_type = reason.code === 181 ? DROP_POLICY_DENY : DROP_POLICY_DENIED;
    this.services(flow, leg);
    flow.traffic_direction = options.direction;
    flow.drop_reason_desc = reason.desc;
    flow.is_reply = false;
    flow.Summary = this.l4Summary(leg, options.flags);
    flow.podgate = this.extensions({ side, verdict: options.verdict, leg, allowed: false });
    return this.wrap(flow, node);
  }

  dns(options: DnsOptions): FlowRecord {
    const { leg, node, answer } = options;
    const flow = this.head(options.t, 'FORWARDED');
    flow.IP = leg.ip;
    flow.l4 = l4Of(leg, undefined);
    this.endpoints(flow, leg, node);
    flow.Type = 'L7';
    flow.node_name = node.name;
    this.names(flow, leg);
    const dns: DnsRecord = { query: options.query };
    if (answer) {
      if (answer.ips.length > 0) dns.ips = answer.ips as string[];
      if (answer.ttl !== 0) dns.ttl = answer.ttl;
    }
    dns.observation_source = 'proxy';
    if (answer && answer.rcode !== 0) dns.rcode = answer.rcode;
    dns.qtypes = [options.qtype];
    if (answer && answer.ips.length > 0) dns.rrtypes = [options.qtype];
    flow.l7 = answer ? { type: 'RESPONSE', ...(answer.latencyNs > 0 ? { latency_ns: String(answer.latencyNs) } : {}), dns } : { type: 'REQUEST', dns };
    if (leg.reply) flow.reply = true;
    flow.event_type = EVENT.l7;
    this.services(flow, leg);
    flow.traffic_direction = options.direction;
    flow.is_reply = leg.reply;
    if (!answer) flow.Summary = `DNS Query ${options.query} ${options.qtype}`;
    else if (answer.rcode !== 0) flow.Summary = `DNS Answer RCode: ${DNS_RCODE_NAMES[answer.rcode] ?? answer.rcode} TTL: ${answer.ttl} (Proxy ${options.query} ${options.qtype})`;
    else flow.Summary = `DNS Answer "${answer.ips.join(',')}" TTL: ${answer.ttl} (Proxy ${options.query} ${options.qtype})`;
    flow.podgate = this.extensions({ side: options.side, verdict: options.verdict, leg, allowed: true });
    return this.wrap(flow, node);
  }

  http(options: HttpOptions): FlowRecord {
    const { leg, node } = options;
    const flow = this.head(options.t, options.dropped ? 'DROPPED' : 'FORWARDED');
    flow.IP = leg.ip;
    flow.l4 = l4Of(leg, undefined);
    this.endpoints(flow, leg, node);
    flow.Type = 'L7';
    flow.node_name = node.name;
    this.names(flow, leg);
    const http: HttpRecord = {};
    if (options.code !== undefined) http.code = options.code;
    http.method = options.method;
    http.url = options.url;
    http.protocol = 'HTTP/1.1';
    if (options.headers.length > 0) http.headers = options.headers as { key: string; value: string }[];
    const response = leg.reply;
    flow.l7 = { type: response ? 'RESPONSE' : 'REQUEST', ...(options.latencyNs ? { latency_ns: String(options.latencyNs) } : {}), http };
    if (leg.reply) flow.reply = true;
    flow.event_type = EVENT.l7;
    this.services(flow, leg);
    flow.traffic_direction = options.direction;
    if (options.dropped) flow.drop_reason_desc = 'POLICY_DENIED';
    flow.is_reply = leg.reply;
    flow.Summary = response
      ? `HTTP/1.1 ${options.code ?? 0} ${Math.floor((options.latencyNs ?? 0) / 1e6)}ms (${options.method} ${options.url})`
      : `HTTP/1.1 ${options.method} ${options.url}`;
    flow.podgate = this.extensions({ side: options.side, verdict: options.verdict, leg, allowed: !options.dropped, ...(options.dropped ? { reason: 'l7-denied' } : {}) });
    return this.wrap(flow, node);
  }

  private head(t: number, verdict: NonNullable<Flow['verdict']>): Flow {
    return { time: this.time.format(t), uuid: this.uuid(), verdict };
  }

  private wrap(flow: Flow, node: NodeInfo): FlowRecord {
    return { flow, node_name: node.name, time: flow.time! };
  }

  private endpoints(flow: Flow, leg: Leg, node: NodeInfo): void {
    flow.source = view(leg.from, node);
    flow.destination = view(leg.to, node);
  }

  private names(flow: Flow, leg: Leg): void {
    if (leg.sourceNames) flow.source_names = leg.sourceNames as string[];
    if (leg.destinationNames) flow.destination_names = leg.destinationNames as string[];
  }

  private services(flow: Flow, leg: Leg): void {
    if (leg.sourceService) flow.source_service = leg.sourceService;
    if (leg.destinationService) flow.destination_service = leg.destinationService;
  }

  private l4Summary(leg: Leg, flags: TcpFlagSet | undefined): string {
    return leg.protocol === 'UDP' ? 'UDP' : flags ? FLAGS[flags].summary : 'TCP';
  }

  private matchType(side: DirectionVerdict): number {
    if (side.reason === 'host-allowed') return 1;
    const [first] = side.rules;
    if (!first) return side.reason === 'not-isolated' ? 4 : 0;
    const shape = this.options.ruleShapes.get(`${first.policy.kind}/${first.policy.namespace ?? ''}/${first.policy.name}#${first.path}`);
    if (!shape) return 0;
    if (shape.peer && shape.port) return 2;
    if (shape.peer) return 1;
    return shape.port ? 3 : 4;
  }

  private policies(flow: Flow, side: DirectionVerdict, direction: HubbleDirection): void {
    if (side.rules.length === 0) return;
    const denying = !side.allowed;
    // A default deny is no rule's doing: only deny rules are listed as denying.
    if (denying && side.reason === 'default-deny') return;
    const list = uniquePolicies(side.rules).map((ref) => this.policyObject(ref));
    const field = `${direction === 'EGRESS' ? 'egress' : 'ingress'}_${denying ? 'denied' : 'allowed'}_by` as const;
    flow[field] = list;
  }

  private policyObject(ref: PolicyRef): FlowPolicy {
    const key = `${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
    let policy = this.policyObjects.get(key);
    if (!policy) {
      const labels = [`k8s:io.cilium.k8s.policy.derived-from=${ref.kind}`, `k8s:io.cilium.k8s.policy.name=${ref.name}`, ...(ref.namespace === undefined ? [] : [`k8s:io.cilium.k8s.policy.namespace=${ref.namespace}`])];
      policy = Object.freeze({
        name: ref.name,
        ...(ref.namespace === undefined ? {} : { namespace: ref.namespace }),
        labels: Object.freeze(labels) as string[],
        ...(this.options.revision > 0 ? { revision: String(this.options.revision) } : {}),
        kind: ref.kind,
      });
      this.policyObjects.set(key, policy);
    }
    return policy;
  }

  private extensions(options: { side: DirectionVerdict; verdict: Verdict; leg: Leg; allowed: boolean; reason?: string }): PodgateExtensions {
    const { side, verdict, leg } = options;
    const ext: PodgateExtensions = { enforcement: 'enforce' };
    if (options.allowed && verdict.authRequired && leg.from.pod && leg.to.pod) {
      ext.source_spiffe_id = leg.from.pod.spiffeId;
      ext.destination_spiffe_id = leg.to.pod.spiffeId;
    }
    if (this.options.revision > 0) ext.policy_revision = String(this.options.revision);
    const rules = side.http && side.http.rules.length > 0 ? side.http.rules : side.rules;
    if (rules.length > 0) ext.rules = rules.map(formatRuleRef);
    ext.reason = options.reason ?? side.reason;
    ext.generator = this.options.generator;
    return ext;
  }

  /** A UUID (version 4 layout) from the seed and a counter: unique in a run, the same every run. */
  private uuid(): string {
    const n = this.uuidCounter++;
    const seed = this.options.seed;
    const a = mix(seed ^ 0x9e3779b9, n);
    const b = mix(seed ^ 0x85ebca6b, n);
    const c = mix(seed ^ 0xc2b2ae35, n);
    const d = mix(seed ^ 0x27d4eb2f, n);
    return `${hex32(a)}-${hex16(b >>> 16)}-4${hex16(b).slice(1)}-${hex16(((c >>> 16) & 0x3fff) | 0x8000)}-${hex16(c)}${hex32(d)}`;
  }
}

/** Byte → two hex digits: Number#toString(16) is slow enough to dominate a million records. */
const HEX_BYTES = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

export function hex16(value: number): string {
  return HEX_BYTES[(value >>> 8) & 0xff]! + HEX_BYTES[value & 0xff]!;
}

export function hex32(value: number): string {
  return HEX_BYTES[(value >>> 24) & 0xff]! + HEX_BYTES[(value >>> 16) & 0xff]! + HEX_BYTES[(value >>> 8) & 0xff]! + HEX_BYTES[value & 0xff]!;
}

function uniquePolicies(rules: readonly RuleRef[]): PolicyRef[] {
  const seen = new Map<string, PolicyRef>();
  for (const rule of rules) seen.set(`${rule.policy.kind}/${rule.policy.namespace ?? ''}/${rule.policy.name}`, rule.policy);
  return [...seen.values()];
}

/** A 32-bit mix of two integers (murmur3's finalizer over a combination). */
function mix(seed: number, counter: number): number {
  let h = (seed ^ Math.imul(counter + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= counter >>> 16;
  return (h ^ (h >>> 16)) >>> 0;
}
