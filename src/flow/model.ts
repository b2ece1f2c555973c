/**
 * Hubble flow records as `hubble observe -o json` prints them: the protojson form of
 * observer.GetFlowsResponse (proto field names, enum names, int64 as strings, RFC 3339 times).
 *
 * The model is that JSON shape, typed. A record read from a file keeps every field it had,
 * including fields this version does not know, so writing it back loses nothing. Only the fields
 * podgate reads are named here; the rest ride along in the index signatures.
 */

export type Verdict = 'VERDICT_UNKNOWN' | 'FORWARDED' | 'DROPPED' | 'ERROR' | 'AUDIT' | 'REDIRECTED' | 'TRACED' | 'TRANSLATED';
export const VERDICTS: readonly Verdict[] = ['VERDICT_UNKNOWN', 'FORWARDED', 'DROPPED', 'ERROR', 'AUDIT', 'REDIRECTED', 'TRACED', 'TRANSLATED'];

export type TrafficDirection = 'TRAFFIC_DIRECTION_UNKNOWN' | 'INGRESS' | 'EGRESS';
export type FlowType = 'UNKNOWN_TYPE' | 'L3_L4' | 'L7' | 'SOCK';
export type L7FlowType = 'UNKNOWN_L7_TYPE' | 'REQUEST' | 'RESPONSE' | 'SAMPLE';
export type AuthType = 'DISABLED' | 'SPIRE' | 'TEST_ALWAYS_FAIL';

/** Fields a newer Hubble (or another tool) added: kept as read. */
interface Open {
  [field: string]: unknown;
}

export interface Workload extends Open {
  name?: string;
  kind?: string;
}

export interface FlowEndpoint extends Open {
  ID?: number;
  identity?: number;
  cluster_name?: string;
  namespace?: string;
  labels?: string[];
  pod_name?: string;
  workloads?: Workload[];
}

export interface TcpFlags extends Open {
  FIN?: boolean;
  SYN?: boolean;
  RST?: boolean;
  PSH?: boolean;
  ACK?: boolean;
  URG?: boolean;
  ECE?: boolean;
  CWR?: boolean;
  NS?: boolean;
}

export interface PortPair extends Open {
  source_port?: number;
  destination_port?: number;
}

export interface Icmp extends Open {
  type?: number;
  code?: number;
}

export interface Layer4 extends Open {
  TCP?: PortPair & { flags?: TcpFlags };
  UDP?: PortPair;
  SCTP?: PortPair;
  ICMPv4?: Icmp;
  ICMPv6?: Icmp;
}

export interface DnsRecord extends Open {
  query?: string;
  ips?: string[];
  ttl?: number;
  cnames?: string[];
  observation_source?: string;
  rcode?: number;
  qtypes?: string[];
  rrtypes?: string[];
}

export interface HttpRecord extends Open {
  code?: number;
  method?: string;
  url?: string;
  protocol?: string;
  headers?: { key?: string; value?: string }[];
}

export interface Layer7 extends Open {
  type?: L7FlowType;
  /** uint64: a decimal string in JSON. */
  latency_ns?: string;
  dns?: DnsRecord;
  http?: HttpRecord;
}

export interface FlowPolicy extends Open {
  name?: string;
  namespace?: string;
  labels?: string[];
  revision?: string;
  kind?: string;
}

/** podgate's additions (proto/podgate/flow_extensions.proto); Hubble tools ignore them. */
export interface PodgateExtensions extends Open {
  enforcement?: 'observe' | 'audit' | 'enforce';
  source_spiffe_id?: string;
  destination_spiffe_id?: string;
  policy_revision?: string;
  rules?: string[];
  reason?: string;
  generator?: string;
}

export interface Flow extends Open {
  time?: string;
  uuid?: string;
  verdict?: Verdict;
  auth_type?: AuthType;
  ethernet?: { source?: string; destination?: string };
  IP?: { source?: string; destination?: string; ipVersion?: 'IP_NOT_USED' | 'IPv4' | 'IPv6'; encrypted?: boolean } & Open;
  l4?: Layer4;
  source?: FlowEndpoint;
  destination?: FlowEndpoint;
  Type?: FlowType;
  node_name?: string;
  node_labels?: string[];
  source_names?: string[];
  destination_names?: string[];
  l7?: Layer7;
  /** Deprecated in Cilium, still printed by old agents. */
  reply?: boolean;
  event_type?: { type?: number; sub_type?: number };
  source_service?: { name?: string; namespace?: string };
  destination_service?: { name?: string; namespace?: string };
  traffic_direction?: TrafficDirection;
  policy_match_type?: number;
  trace_observation_point?: string;
  drop_reason_desc?: string;
  is_reply?: boolean;
  Summary?: string;
  egress_allowed_by?: FlowPolicy[];
  ingress_allowed_by?: FlowPolicy[];
  egress_denied_by?: FlowPolicy[];
  ingress_denied_by?: FlowPolicy[];
  policy_log?: string[];
  podgate?: PodgateExtensions;
}

export interface LostEvent extends Open {
  source?: 'UNKNOWN_LOST_EVENT_SOURCE' | 'PERF_EVENT_RING_BUFFER' | 'OBSERVER_EVENTS_QUEUE' | 'HUBBLE_RING_BUFFER';
  /** uint64: a decimal string in JSON. */
  num_events_lost?: string;
  cpu?: number;
  first?: string;
  last?: string;
}

export interface NodeStatusEvent extends Open {
  state_change?: 'UNKNOWN_NODE_STATE' | 'NODE_CONNECTED' | 'NODE_UNAVAILABLE' | 'NODE_GONE' | 'NODE_ERROR';
  node_names?: string[];
  message?: string;
}

/** One line of `hubble observe -o json`: exactly one of flow, lost_events, node_status (or another event kind). */
export interface FlowRecord extends Open {
  flow?: Flow;
  lost_events?: LostEvent;
  node_status?: NodeStatusEvent;
  node_name?: string;
  time?: string;
}

/** The record's time in nanoseconds since the epoch (0 when it has none or it does not parse). */
export function recordTimeNs(record: FlowRecord): bigint {
  return parseTimestampNs(record.time ?? record.flow?.time) ?? 0n;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an RFC 3339 timestamp with up to nanosecond precision, as protojson writes them. */
export function parseTimestampNs(text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction = '', zone] = match;
  const ms = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
  if (Number.isNaN(ms)) return undefined;
  // Date.UTC rolls 2024-13-45 over into 2025: a field out of range means no such time.
  const date = new Date(ms);
  if (date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day) || date.getUTCHours() !== Number(hour) || date.getUTCMinutes() !== Number(minute) || date.getUTCSeconds() !== Number(second)) return undefined;
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const sign = zone!.startsWith('-') ? -1 : 1;
    offsetMinutes = sign * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6)));
  }
  return (BigInt(ms) - BigInt(offsetMinutes) * 60_000n) * 1_000_000n + BigInt(fraction.padEnd(9, '0') || '0');
}

/** Formats nanoseconds since the epoch the way protojson does: UTC, 0, 3, 6 or 9 fraction digits. */
export function formatTimestampNs(ns: bigint): string {
  const seconds = ns / 1_000_000_000n - (ns < 0n && ns % 1_000_000_000n !== 0n ? 1n : 0n);
  const nanos = Number(ns - seconds * 1_000_000_000n);
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  if (nanos === 0) return `${base}Z`;
  const digits = String(nanos).padStart(9, '0');
  const trimmed = digits.endsWith('000000') ? digits.slice(0, 3) : digits.endsWith('000') ? digits.slice(0, 6) : digits;
  return `${base}.${trimmed}Z`;
}

const DURATION_UNITS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  μs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
};
const DURATION = /^(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h|d))+$/;
const DURATION_PART = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)/g;

/**
 * A Go duration as hubble's flags take them (`1h30m`, `90s`, `1.5s`, `250ms`, `0`), plus `d` for
 * days, in nanoseconds; undefined when the text is not one (negative durations are not).
 */
export function parseDurationNs(text: string): bigint | undefined {
  if (text === '0') return 0n;
  if (!DURATION.test(text)) return undefined;
  let total = 0n;
  for (const [, amount = '0', unit = 's'] of text.matchAll(DURATION_PART)) {
    const [whole = '', fraction = ''] = amount.split('.');
    const scale = DURATION_UNITS[unit] ?? 1n;
    total += BigInt(whole || '0') * scale + (fraction === '' ? 0n : (BigInt(fraction) * scale) / 10n ** BigInt(fraction.length));
  }
  return total;
}

/** The destination port of a flow's L4 header, if it has one. */
export function destinationPort(flow: Flow): number | undefined {
  const l4 = flow.l4;
  return l4?.TCP?.destination_port ?? l4?.UDP?.destination_port ?? l4?.SCTP?.destination_port;
}

export function sourcePort(flow: Flow): number | undefined {
  const l4 = flow.l4;
  return l4?.TCP?.source_port ?? l4?.UDP?.source_port ?? l4?.SCTP?.source_port;
}

/** The L4 protocol name as Hubble's filters and metrics spell it. */
export function l4Protocol(flow: Flow): 'TCP' | 'UDP' | 'SCTP' | 'ICMPv4' | 'ICMPv6' | undefined {
  const l4 = flow.l4;
  if (!l4) return undefined;
  if (l4.TCP) return 'TCP';
  if (l4.UDP) return 'UDP';
  if (l4.SCTP) return 'SCTP';
  if (l4.ICMPv4) return 'ICMPv4';
  if (l4.ICMPv6) return 'ICMPv6';
  return undefined;
}

/** Whether the flow is a reply: is_reply when present, else the deprecated reply field. */
export function isReply(flow: Flow): boolean | undefined {
  return flow.is_reply ?? flow.reply;
}
