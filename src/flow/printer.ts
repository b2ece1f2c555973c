/**
 * The human output formats of `hubble observe`: compact, dict and table, laid out the way Hubble's
 * printer (cilium/cilium hubble/pkg/printer, as vendored by the hubble CLI for Cilium v1.19) lays
 * them out, plus json/jsonpb, which print the record line itself.
 *
 * One difference, on purpose: a flow without a `Summary` (field-masked exports, flows from
 * generators) gets the summary Cilium's parsers would have written ("TCP Flags: SYN", "DNS Query
 * example.com. A", "HTTP/1.1 GET http://..."); Hubble would print an empty one.
 */
import { formatFlowLine } from './jsonl.js';
import { parseTimestampNs, type Flow, type FlowEndpoint, type FlowPolicy, type FlowRecord, type LostEvent, type NodeStatusEvent } from './model.js';

export type OutputFormat = 'json' | 'jsonpb' | 'compact' | 'dict' | 'table';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['compact', 'dict', 'json', 'jsonpb', 'table'];

/** `--time-format` names, as the hubble CLI accepts them (case-insensitive). */
export type TimeFormat = 'StampMilli' | 'YearMonthDay' | 'YearMonthDayHour' | 'YearMonthDayHourMinute' | 'RFC3339' | 'RFC3339Milli' | 'RFC3339Micro' | 'RFC3339Nano' | 'RFC1123Z';
export const TIME_FORMATS: readonly TimeFormat[] = ['StampMilli', 'YearMonthDay', 'YearMonthDayHour', 'YearMonthDayHourMinute', 'RFC3339', 'RFC3339Milli', 'RFC3339Micro', 'RFC3339Nano', 'RFC1123Z'];

/** Where timestamps are shown: minutes east of UTC at a given instant. */
export interface TimeZone {
  offsetMinutes(epochMs: number): number;
}

export const UTC: TimeZone = { offsetMinutes: () => 0 };
/** The process's local zone (TZ), as hubble prints by default. */
export const LOCAL_TIME: TimeZone = { offsetMinutes: (epochMs) => -new Date(epochMs).getTimezoneOffset() };

export interface PrinterOptions {
  readonly format: OutputFormat;
  readonly timeFormat?: TimeFormat;
  readonly timeZone?: TimeZone;
  /** `--print-node-name`. */
  readonly nodeName?: boolean;
  /** `--print-policy-names`. */
  readonly policyNames?: boolean;
  /** Pod, service and DNS names instead of IPs (hubble's default; `--numeric` turns it off). */
  readonly ipTranslation?: boolean;
}

/** What one record prints: text for stdout and for stderr (node status events go there). */
export interface PrintedRecord {
  readonly out: string;
  readonly err: string;
}

const NOTHING: PrintedRecord = { out: '', err: '' };
const DICT_SEPARATOR = '------------';
const NODE_NAMES_CUT_OFF = 50;

/**
 * Formats records one at a time. Table output is aligned over all rows, so it is only produced by
 * `finish()`; every other format returns its text from `print()` as it goes.
 */
export class FlowPrinter {
  private line = 0;
  private readonly rows: string[][] = [];
  private readonly timeFormat: TimeFormat;
  private readonly timeZone: TimeZone;
  private readonly ipTranslation: boolean;

  constructor(private readonly options: PrinterOptions) {
    this.timeFormat = options.timeFormat ?? 'StampMilli';
    this.timeZone = options.timeZone ?? LOCAL_TIME;
    this.ipTranslation = options.ipTranslation ?? true;
  }

  print(record: FlowRecord): PrintedRecord {
    if (record.flow !== undefined) return this.printFlow(record, record.flow);
    if (record.lost_events !== undefined) return this.printLostEvents(record, record.lost_events);
    if (record.node_status !== undefined) return this.printNodeStatus(record, record.node_status);
    // Other event kinds are not part of a GetFlows stream; hubble drops them silently.
    return NOTHING;
  }

  /** The aligned table (table format), else ''. */
  finish(): string {
    if (this.options.format !== 'table' || this.rows.length === 0) return '';
    return alignTable(this.rows);
  }

  private printFlow(record: FlowRecord, flow: Flow): PrintedRecord {
    const format = this.options.format;
    if (format === 'json' || format === 'jsonpb') return { out: `${formatFlowLine(record)}\n`, err: '' };
    let [source, destination] = this.hostNames(flow);
    const time = this.time(flow.time);
    const type = flowType(flow);
    const verdict = this.verdict(flow);
    const summary = flowSummary(flow);
    let out: string;
    if (format === 'table') {
      if (this.line === 0) this.rows.push(['TIMESTAMP', ...(this.options.nodeName ? ['NODE'] : []), 'SOURCE', 'DESTINATION', 'TYPE', 'VERDICT', 'SUMMARY']);
      this.rows.push([time, ...(this.options.nodeName ? [flow.node_name ?? ''] : []), source, destination, type, verdict, summary].map(escapeTerminal));
      out = '';
    } else if (format === 'dict') {
      out =
        (this.line === 0 ? '' : `${DICT_SEPARATOR}\n`) +
        `  TIMESTAMP: ${time}\n` +
        (this.options.nodeName ? `       NODE: ${flow.node_name ?? ''}\n` : '') +
        `     SOURCE: ${source}\nDESTINATION: ${destination}\n       TYPE: ${type}\n    VERDICT: ${verdict}\n    SUMMARY: ${summary}\n`;
    } else {
      let sourceIdentity = identityLabel(flow.source);
      let destinationIdentity = identityLabel(flow.destination);
      let arrow = '->';
      if (typeof flow.is_reply !== 'boolean') arrow = '<>';
      else if (flow.is_reply) {
        [source, destination] = [destination, source];
        [sourceIdentity, destinationIdentity] = [destinationIdentity, sourceIdentity];
        arrow = '<-';
      }
      const node = this.options.nodeName ? ` [${flow.node_name ?? ''}]` : '';
      out = `${time}${node}: ${source} ${sourceIdentity} ${arrow} ${destination} ${destinationIdentity} ${type} ${verdict} (${summary})\n`;
    }
    this.line++;
    return { out: escapeTerminal(out), err: '' };
  }

  private printLostEvents(record: FlowRecord, lost: LostEvent): PrintedRecord {
    const format = this.options.format;
    if (format === 'json' || format === 'jsonpb') return { out: `${formatFlowLine(record)}\n`, err: '' };
    const source = lost.source ?? 'UNKNOWN_LOST_EVENT_SOURCE';
    const cpu = typeof lost.cpu === 'number' ? lost.cpu : 0;
    const count = lost.num_events_lost ?? '0';
    const window = lost.first !== undefined && lost.last !== undefined ? ` (first: ${this.time(lost.first)}, last: ${this.time(lost.last)})` : '';
    const time = this.time(record.time);
    const node = record.node_name || '-';
    let out = '';
    if (format === 'table') {
      if (this.line === 0) this.rows.push(['TIMESTAMP', ...(this.options.nodeName ? ['NODE'] : []), 'SOURCE', 'DESTINATION', 'TYPE', 'VERDICT', 'SUMMARY']);
      this.rows.push([time, ...(this.options.nodeName ? [node] : []), source, '-', 'EVENTS LOST', '-', `CPU(${cpu}) - ${count}${window}`].map(escapeTerminal));
    } else if (format === 'dict') {
      out =
        (this.line === 0 ? '' : `${DICT_SEPARATOR}\n`) +
        `  TIMESTAMP: ${time}\n` +
        (this.options.nodeName ? `       NODE: ${node}\n` : '') +
        `     SOURCE: ${source}\n       TYPE: EVENTS LOST\n    VERDICT: -\n    SUMMARY: CPU(${cpu}) - ${count}${window}\n`;
    } else {
      out = `${time} EVENTS LOST: ${source} CPU(${cpu}) ${count}${window}\n`;
    }
    this.line++;
    return { out: escapeTerminal(out), err: '' };
  }

  /** Only errors and unavailable nodes are shown (hubble's non-debug mode), on stderr. */
  private printNodeStatus(record: FlowRecord, status: NodeStatusEvent): PrintedRecord {
    const state = status.state_change ?? 'UNKNOWN_NODE_STATE';
    if (state !== 'NODE_ERROR' && state !== 'NODE_UNAVAILABLE') return NOTHING;
    const format = this.options.format;
    if (format === 'json' || format === 'jsonpb') return { out: '', err: `${formatFlowLine(record)}\n` };
    const names = status.node_names ?? [];
    const joined = joinWithCutOff(names, ', ', NODE_NAMES_CUT_OFF);
    const time = this.time(record.time);
    if (format === 'dict') {
      let separator = '';
      if (this.line !== 0) separator = `${DICT_SEPARATOR}\n`;
      else this.line++;
      const message = status.message ? JSON.stringify(status.message) : 'N/A';
      return { out: '', err: escapeTerminal(`${separator}  TIMESTAMP: ${time}\n      STATE: ${state}\n      NODES: ${joined}\n    MESSAGE: ${message}\n`) };
    }
    const prefix = `${time} [${record.node_name ?? ''}]`;
    const text =
      state === 'NODE_UNAVAILABLE'
        ? `${prefix}: ${names.length} nodes are unavailable: ${joined}`
        : `${prefix}: Error ${JSON.stringify(status.message ?? '')} on ${names.length} nodes: ${joined}`;
    return { out: '', err: escapeTerminal(`${text}\n`) };
  }

  private time(text: string | undefined): string {
    const ns = parseTimestampNs(text);
    return ns === undefined ? 'N/A' : formatTime(ns, this.timeFormat, this.timeZone);
  }

  /** Source and destination as hubble names them: pod, service, DNS names or IP, with the port. */
  hostNames(flow: Flow): [string, string] {
    if (flow.IP === undefined) {
      const ethernet = flow.ethernet;
      return ethernet === undefined ? ['', ''] : [ethernet.source ?? '', ethernet.destination ?? ''];
    }
    const [sourcePortText, destinationPortText] = portTexts(flow);
    const source = this.hostName({ ip: flow.IP.source ?? '', port: sourcePortText, endpoint: flow.source, service: flow.source_service, names: flow.source_names });
    const destination = this.hostName({ ip: flow.IP.destination ?? '', port: destinationPortText, endpoint: flow.destination, service: flow.destination_service, names: flow.destination_names });
    return [source, destination];
  }

  private hostName(side: { ip: string; port: string; endpoint: FlowEndpoint | undefined; service: { name?: string; namespace?: string } | undefined; names: string[] | undefined }): string {
    let host = side.ip;
    if (this.ipTranslation) {
      // A service's namespace wins over the pod's, as in hubble.
      const namespace = side.service !== undefined ? (side.service.namespace ?? '') : (side.endpoint?.namespace ?? '');
      const pod = side.endpoint?.pod_name ?? '';
      const service = side.service?.name ?? '';
      if (pod !== '') host = joinPath(namespace, pod);
      else if (service !== '') host = joinPath(namespace, service);
      else if (side.names !== undefined && side.names.length > 0) host = side.names.join(',');
    }
    if (side.port === '' || side.port === '0') return host;
    return host.includes(':') ? `[${host}]:${side.port}` : `${host}:${side.port}`;
  }

  private verdict(flow: Flow): string {
    const verdict = typeof flow.verdict === 'string' ? flow.verdict : 'VERDICT_UNKNOWN';
    if (flow.event_type?.type !== POLICY_VERDICT) return verdict;
    const direction = flow.traffic_direction;
    const named = (egress: FlowPolicy[] | undefined, ingress: FlowPolicy[] | undefined): string => {
      if (!this.options.policyNames) return '';
      if (direction === 'EGRESS') return policyNames(egress);
      if (direction === 'INGRESS') return policyNames(ingress);
      return '';
    };
    switch (verdict) {
      case 'FORWARDED':
      case 'REDIRECTED':
        return `ALLOWED${named(flow.egress_allowed_by, flow.ingress_allowed_by)}`;
      case 'DROPPED':
      case 'ERROR':
        return `DENIED${named(flow.egress_denied_by, flow.ingress_denied_by)}`;
      case 'AUDIT':
        return `AUDITED${named(flow.egress_denied_by, flow.ingress_denied_by)}`;
      default:
        return verdict;
    }
  }
}

/** Cilium monitor message types (pkg/monitor/api). */
const DROP = 1;
const CAPTURE = 3;
const TRACE = 4;
const POLICY_VERDICT = 5;
const TRACE_SOCK = 7;

const TRACE_OBSERVATION_POINTS: readonly string[] = [
  'to-endpoint', 'to-proxy', 'to-host', 'to-stack', 'to-overlay', 'from-endpoint', 'from-proxy', 'from-host', 'from-stack', 'from-overlay', 'from-network', 'to-network', 'from-crypto', 'to-crypto',
];

const POLICY_MATCH_TYPES: Readonly<Record<number, string>> = { 0: 'none', 1: 'L3-Only', 2: 'L3-L4', 3: 'L4-Only', 4: 'all', 5: 'L3-Proto', 6: 'Proto-Only' };

const DEBUG_CAPTURE_POINTS: Readonly<Record<number, string>> = {
  0: 'DBG_CAPTURE_POINT_UNKNOWN', 4: 'DBG_CAPTURE_DELIVERY', 5: 'DBG_CAPTURE_FROM_LB', 6: 'DBG_CAPTURE_AFTER_V46', 7: 'DBG_CAPTURE_AFTER_V64',
  8: 'DBG_CAPTURE_PROXY_PRE', 9: 'DBG_CAPTURE_PROXY_POST', 10: 'DBG_CAPTURE_SNAT_PRE', 11: 'DBG_CAPTURE_SNAT_POST',
};

const SOCK_XLATE_POINTS: Readonly<Record<string, string>> = {
  SOCK_XLATE_POINT_POST_DIRECTION_FWD: 'post-xlate-fwd',
  SOCK_XLATE_POINT_POST_DIRECTION_REV: 'post-xlate-rev',
  SOCK_XLATE_POINT_PRE_DIRECTION_FWD: 'pre-xlate-fwd',
  SOCK_XLATE_POINT_PRE_DIRECTION_REV: 'pre-xlate-rev',
};
const SOCK_XLATE_NAMES: readonly string[] = ['SOCK_XLATE_POINT_UNKNOWN', 'SOCK_XLATE_POINT_PRE_DIRECTION_FWD', 'SOCK_XLATE_POINT_POST_DIRECTION_FWD', 'SOCK_XLATE_POINT_PRE_DIRECTION_REV', 'SOCK_XLATE_POINT_POST_DIRECTION_REV'];

/** pkg/monitor/api/drop.go: the text hubble shows for a drop code. */
const DROP_REASONS: Readonly<Record<number, string>> = {
  0: 'Success', 2: 'Invalid packet', 3: 'Interface', 4: 'Interface Decrypted', 5: 'LB, sock cgroup: No backend slot entry found',
  6: 'LB, sock cgroup: No backend entry found', 7: 'LB, sock cgroup: Reverse entry update failed', 8: 'LB, sock cgroup: Reverse entry stale',
  9: 'Fragmented packet', 10: 'Fragmented packet entry update failed', 11: 'Missed tail call to custom program', 12: 'Interface Decrypting',
  13: 'Interface Encrypting', 14: 'LB: sock cgroup: Reverse entry delete succeeded', 15: 'MTU error message',
  130: 'Invalid source mac', 131: 'Invalid destination mac', 132: 'Invalid source ip', 133: 'Policy denied', 134: 'Invalid packet',
  135: 'CT: Truncated or invalid header', 136: 'Fragmentation needed', 137: 'CT: Unknown L4 protocol', 138: "CT: Can't create entry from packet",
  139: 'Unsupported L3 protocol', 140: 'Missed tail call', 141: 'Error writing to packet', 142: 'Unknown L4 protocol', 143: 'Unknown ICMPv4 code',
  144: 'Unknown ICMPv4 type', 145: 'Unknown ICMPv6 code', 146: 'Unknown ICMPv6 type', 147: 'Error retrieving tunnel key',
  148: 'Error retrieving tunnel options', 149: 'Invalid Geneve option', 150: 'Unknown L3 target address', 151: 'Stale or unroutable IP',
  152: 'No matching local container found', 153: 'Error while correcting L3 checksum', 154: 'Error while correcting L4 checksum',
  155: 'CT: Map insertion failed', 156: 'Invalid IPv6 extension header', 157: 'IP fragmentation not supported', 158: 'Service backend not found',
  160: 'No tunnel/encapsulation endpoint (datapath BUG!)', 161: 'NAT 46/64 not enabled', 162: 'Reached EDT rate-limiting drop horizon',
  163: 'Unknown connection tracking state', 164: 'Local host is unreachable', 165: 'No configuration available to perform policy decision',
  166: 'Unsupported L2 protocol', 167: 'No mapping for NAT masquerade', 168: 'Unsupported protocol for NAT masquerade', 169: 'FIB lookup failed',
  170: 'Encapsulation traffic is prohibited', 171: 'Invalid identity', 172: 'Unknown sender', 173: 'NAT not needed', 174: 'Is a ClusterIP',
  175: 'First logical datagram fragment not found', 176: 'Forbidden ICMPv6 message', 177: 'Denied by LB src range check', 178: 'Socket lookup failed',
  179: 'Socket assign failed', 180: 'Proxy redirection not supported for protocol', 181: 'Policy denied by denylist', 182: 'VLAN traffic disallowed by VLAN filter',
  183: 'Incorrect VNI from VTEP', 184: 'Failed to update or lookup TC buffer', 185: 'No SID was found for the IP address', 186: 'SRv6 state was removed during tail call',
  187: 'L3 translation from IPv4 to IPv6 failed (NAT46)', 188: 'L3 translation from IPv6 to IPv4 failed (NAT64)', 189: 'Authentication required',
  190: 'No conntrack map found', 191: 'No nat map found', 192: 'Invalid ClusterID', 193: 'Unsupported packet protocol for DSR encapsulation',
  194: 'No egress gateway found', 195: 'Traffic is unencrypted', 196: 'TTL exceeded', 197: 'No node ID found', 198: 'Rate limited', 199: 'IGMP handled',
  200: 'IGMP subscribed', 201: 'Multicast handled', 202: 'Host datapath not ready', 203: 'Endpoint policy program not available', 204: 'No Egress IP configured',
  205: 'Punt to proxy',
};

/** The human text of a drop reason code, as `hubble observe` prints it ("Policy denied"). */
export function dropReasonText(code: number): string {
  return DROP_REASONS[code] ?? `${code}, 0`;
}

/** The TYPE column: L7 kind, observation point, drop reason or policy verdict. */
export function flowType(flow: Flow): string {
  const l7 = flow.l7;
  if (l7 !== undefined) {
    let protocol = 'l7';
    let type = String(l7.type ?? 'UNKNOWN_L7_TYPE').toLowerCase();
    if (l7.http !== undefined) protocol = 'http';
    else if (l7.dns !== undefined) {
      protocol = 'dns';
      type += ` ${l7.dns.observation_source ?? ''}`;
    } else if (l7['kafka'] !== undefined) protocol = 'kafka';
    return `${protocol}-${type}`;
  }
  const eventType = typeof flow.event_type?.type === 'number' ? flow.event_type.type : 0;
  const subType = (typeof flow.event_type?.sub_type === 'number' ? flow.event_type.sub_type : 0) & 0xff;
  switch (eventType) {
    case TRACE:
      return TRACE_OBSERVATION_POINTS[subType] ?? String(subType);
    case DROP:
      return dropReasonText(subType);
    case POLICY_VERDICT: {
      const match = typeof flow.policy_match_type === 'number' ? flow.policy_match_type : 0;
      return `policy-verdict:${POLICY_MATCH_TYPES[match] ?? 'unknown'} ${flow.traffic_direction ?? 'TRAFFIC_DIRECTION_UNKNOWN'}`;
    }
    case CAPTURE:
      return enumName(flow['debug_capture_point'], (value) => DEBUG_CAPTURE_POINTS[value], 'DBG_CAPTURE_POINT_UNKNOWN');
    case TRACE_SOCK: {
      const point = enumName(flow['sock_xlate_point'], (value) => SOCK_XLATE_NAMES[value], 'SOCK_XLATE_POINT_UNKNOWN');
      return SOCK_XLATE_POINTS[point] ?? point;
    }
    default:
      return 'UNKNOWN';
  }
}

/** An enum field as protojson holds it: its name, or a number when the name was unknown. */
function enumName(value: unknown, byNumber: (value: number) => string | undefined, zero: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return byNumber(value) ?? String(value);
  return zero;
}

const RESERVED_IDENTITIES: Readonly<Record<number, string>> = {
  0: 'unknown', 1: 'host', 2: 'world', 3: 'unmanaged', 4: 'health', 5: 'init', 6: 'remote-node', 7: 'kube-apiserver', 8: 'ingress', 9: 'world-ipv4', 10: 'world-ipv6',
};

/** `(ID:12345)`, or `(world)` for a reserved identity. */
export function identityLabel(endpoint: FlowEndpoint | undefined): string {
  const identity = typeof endpoint?.identity === 'number' ? endpoint.identity : 0;
  const reserved = RESERVED_IDENTITIES[identity];
  return reserved === undefined ? `(ID:${identity})` : `(${reserved})`;
}

function policyNames(policies: FlowPolicy[] | undefined): string {
  const named = (policies ?? []).filter((policy) => policy.kind && policy.name).map((policy) => `${policy.name} (${policy.kind})`);
  return named.length === 0 ? '' : ` BY ${named.join(', ')}`;
}

function portTexts(flow: Flow): [string, string] {
  const l4 = flow.l4;
  const ports = l4?.TCP ?? l4?.UDP ?? l4?.SCTP;
  if (ports === undefined) return ['', ''];
  return [String(ports.source_port ?? 0), String(ports.destination_port ?? 0)];
}

/** Go's path.Join for two segments: no slash when the namespace is empty. */
function joinPath(namespace: string, name: string): string {
  return namespace === '' ? name : `${namespace}/${name}`;
}

function joinWithCutOff(names: readonly string[], separator: string, targetLength: number): string {
  let length = 0;
  let end = names.length;
  for (let index = 0; index < names.length; index++) {
    length += (names[index] ?? '').length + separator.length;
    if (length > targetLength && index > 0) {
      end = index;
      break;
    }
  }
  const joined = names.slice(0, end).join(separator);
  return end === names.length ? joined : `${joined} (and ${names.length - end} more)`;
}

/** Hubble replaces ESC and CR so a crafted name cannot drive the terminal. */
function escapeTerminal(text: string): string {
  if (!text.includes('\x1b') && !text.includes('\r')) return text;
  return text.replaceAll('\x1b', '^[').replaceAll('\r', '\\r');
}

/** Go text/tabwriter with minwidth 2, padding 3, spaces: every cell but the last padded to its column. */
function alignTable(rows: readonly string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (let column = 0; column < row.length - 1; column++) {
      const width = Math.max(2, [...(row[column] ?? '')].length + 3);
      if (width > (widths[column] ?? 0)) widths[column] = width;
    }
  }
  let out = '';
  for (const row of rows) {
    for (let column = 0; column < row.length; column++) {
      const cell = row[column] ?? '';
      out += column === row.length - 1 ? cell : cell + ' '.repeat((widths[column] ?? 0) - [...cell].length);
    }
    out += '\n';
  }
  return out;
}

// --- summaries, for flows that carry none ---------------------------------------------------

/** The summary column: IP trace id, the recorded Summary (or Cilium's, derived) and auth type. */
export function flowSummary(flow: Flow): string {
  let summary = '';
  const traceId = (flow['ip_trace_id'] as { trace_id?: unknown } | undefined)?.trace_id;
  if ((typeof traceId === 'string' || typeof traceId === 'number') && /^\d+$/.test(String(traceId)) && BigInt(traceId) > 0n) summary += `IP Trace ID: ${traceId}; `;
  summary += typeof flow.Summary === 'string' ? flow.Summary : derivedSummary(flow);
  const auth = flow.auth_type;
  if (auth !== undefined && auth !== 'DISABLED' && (auth as unknown) !== 0) summary += `; Auth: ${String(auth)}`;
  return summary;
}

const DNS_RCODES: Readonly<Record<number, string>> = {
  0: 'No Error', 1: 'Format Error', 2: 'Server Failure', 3: 'Non-Existent Domain', 4: 'Not Implemented', 5: 'Query Refused',
  6: 'Name Exists when it should not', 7: 'RR Set Exists when it should not', 8: 'RR Set that should exist does not', 9: 'Not Authorized',
  10: 'Name not contained in zone', 11: 'DSO-TYPE Not Implemented', 16: 'Bad OPT Version', 17: 'Key not recognized', 18: 'Signature out of time window',
  19: 'Bad TKEY Mode', 20: 'Duplicate key name', 21: 'Algorithm not supported', 22: 'Bad Truncation', 23: 'Bad/missing Server Cookie',
};

const TCP_FLAG_ORDER = ['SYN', 'ACK', 'RST', 'FIN', 'PSH', 'URG', 'ECE', 'CWR', 'NS'] as const;

/** What Cilium's L3/L4 and L7 parsers write into Summary (pkg/hubble/parser/{threefour,seven}). */
export function derivedSummary(flow: Flow): string {
  const l7 = flow.l7;
  if (l7 !== undefined) {
    const http = l7.http;
    if (http !== undefined) {
      const request = `${http.method ?? ''} ${http.url ?? ''}`;
      if (l7.type === 'REQUEST') return `${http.protocol ?? ''} ${request}`;
      if (l7.type === 'RESPONSE') {
        const latencyMs = /^\d+$/.test(l7.latency_ns ?? '') ? BigInt(l7.latency_ns ?? '0') / 1_000_000n : 0n;
        return `${http.protocol ?? ''} ${http.code ?? 0} ${latencyMs}ms (${request})`;
      }
      return '';
    }
    const dns = l7.dns;
    if (dns !== undefined) {
      const qtypes = (dns.qtypes ?? []).join(',');
      if (l7.type === 'REQUEST') return `DNS Query ${dns.query ?? ''} ${qtypes}`;
      if (l7.type === 'RESPONSE') {
        const rcode = dns.rcode ?? 0;
        let answer: string;
        if (rcode !== 0) answer = `RCode: ${DNS_RCODES[rcode] ?? `Unknown(${rcode})`}`;
        else {
          const parts: string[] = [];
          if (dns.ips !== undefined && dns.ips.length > 0) parts.push(JSON.stringify(dns.ips.join(',')));
          if (dns.cnames !== undefined && dns.cnames.length > 0) parts.push(`CNAMEs: ${JSON.stringify(dns.cnames.join(','))}`);
          answer = parts.join(' ');
        }
        const source = dns.observation_source === 'proxy' ? 'Proxy' : 'Query';
        return `DNS Answer ${answer} TTL: ${dns.ttl ?? 0} (${source} ${dns.query ?? ''} ${qtypes})`;
      }
      return '';
    }
    return '';
  }
  const l4 = flow.l4;
  if (l4?.TCP !== undefined) {
    const flags = l4.TCP.flags ?? {};
    return `TCP Flags: ${TCP_FLAG_ORDER.filter((flag) => flags[flag] === true).join(', ')}`;
  }
  if (l4?.UDP !== undefined) return 'UDP';
  if (l4?.SCTP !== undefined) return 'SCTP';
  if (l4?.ICMPv4 !== undefined) return `ICMPv4 ${icmpText(ICMPV4, l4.ICMPv4.type ?? 0, l4.ICMPv4.code ?? 0)}`;
  if (l4?.ICMPv6 !== undefined) return `ICMPv6 ${icmpText(ICMPV6, l4.ICMPv6.type ?? 0, l4.ICMPv6.code ?? 0)}`;
  if (flow.IP?.ipVersion === 'IPv4' || flow.IP?.ipVersion === 'IPv6') return flow.IP.ipVersion;
  return '';
}

interface IcmpType {
  readonly name: string;
  readonly codes?: Readonly<Record<number, string>>;
}

/** The common ICMP types and codes, named as gopacket names them. */
const ICMPV4: Readonly<Record<number, IcmpType>> = {
  0: { name: 'EchoReply' },
  3: { name: 'DestinationUnreachable', codes: { 0: 'Net', 1: 'Host', 2: 'Protocol', 3: 'Port', 4: 'FragmentationNeeded', 5: 'SourceRoutingFailed', 6: 'NetUnknown', 7: 'HostUnknown', 9: 'NetAdminProhibited', 10: 'HostAdminProhibited', 13: 'CommAdminProhibited' } },
  4: { name: 'SourceQuench' },
  5: { name: 'Redirect', codes: { 0: 'Net', 1: 'Host', 2: 'TOS+Net', 3: 'TOS+Host' } },
  8: { name: 'EchoRequest' },
  11: { name: 'TimeExceeded', codes: { 0: 'TTLExceeded', 1: 'FragmentReassemblyTimeExceeded' } },
  12: { name: 'ParameterProblem', codes: { 0: 'PointerIndicatesError', 1: 'MissingOption', 2: 'BadLength' } },
  13: { name: 'TimestampRequest' },
  14: { name: 'TimestampReply' },
};
const ICMPV6: Readonly<Record<number, IcmpType>> = {
  1: { name: 'DestinationUnreachable', codes: { 0: 'NoRouteToDst', 1: 'AdminProhibited', 2: 'BeyondScopeOfSrc', 3: 'Unreachable', 4: 'PortUnreachable', 5: 'SrcAddressFailedPolicy', 6: 'RejectRouteToDst' } },
  2: { name: 'PacketTooBig' },
  3: { name: 'TimeExceeded', codes: { 0: 'HopLimitExceeded', 1: 'FragmentReassemblyTimeExceeded' } },
  4: { name: 'ParameterProblem', codes: { 0: 'ErroneousHeaderField', 1: 'UnrecognizedNextHeader', 2: 'UnrecognizedIPv6Option' } },
  128: { name: 'EchoRequest' },
  129: { name: 'EchoReply' },
  133: { name: 'RouterSolicitation' },
  134: { name: 'RouterAdvertisement' },
  135: { name: 'NeighborSolicitation' },
  136: { name: 'NeighborAdvertisement' },
  137: { name: 'Redirect' },
};

function icmpText(table: Readonly<Record<number, IcmpType>>, type: number, code: number): string {
  const known = table[type];
  if (known === undefined) return `${type}(${code})`;
  if (known.codes === undefined) return code === 0 ? known.name : `${known.name}(Code: ${code})`;
  const codeName = known.codes[code];
  return codeName === undefined ? `${known.name}(Code: ${code})` : `${known.name}(${codeName})`;
}

// --- time -----------------------------------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** The `--time-format` name a user typed, or undefined when hubble would not know it either. */
export function parseTimeFormat(name: string): TimeFormat | undefined {
  return TIME_FORMATS.find((format) => format.toLowerCase() === name.toLowerCase());
}

/** Formats nanoseconds since the epoch with one of Go's layouts that hubble offers. */
export function formatTime(ns: bigint, format: TimeFormat, zone: TimeZone): string {
  const floorMs = ns / 1_000_000n - (ns < 0n && ns % 1_000_000n !== 0n ? 1n : 0n);
  const epochMs = Number(floorMs);
  const nanos = Number(((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n);
  const offset = zone.offsetMinutes(epochMs);
  const local = new Date(epochMs + offset * 60_000);
  const year = String(local.getUTCFullYear()).padStart(4, '0');
  const month = pad2(local.getUTCMonth() + 1);
  const day = pad2(local.getUTCDate());
  const clock = `${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}:${pad2(local.getUTCSeconds())}`;
  const date = `${year}-${month}-${day}`;
  const zoneColon = offset === 0 ? 'Z' : zoneText(offset, ':');
  switch (format) {
    case 'StampMilli':
      return `${MONTHS[local.getUTCMonth()]} ${String(local.getUTCDate()).padStart(2, ' ')} ${clock}.${String(Math.floor(nanos / 1_000_000)).padStart(3, '0')}`;
    case 'YearMonthDay':
      return date;
    case 'YearMonthDayHour':
      return `${date}T${pad2(local.getUTCHours())}${zoneColon}`;
    case 'YearMonthDayHourMinute':
      return `${date}T${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}${zoneColon}`;
    case 'RFC3339':
      return `${date}T${clock}${zoneColon}`;
    case 'RFC3339Milli':
      return `${date}T${clock}${fraction(nanos, 3)}${zoneColon}`;
    case 'RFC3339Micro':
      return `${date}T${clock}${fraction(nanos, 6)}${zoneColon}`;
    case 'RFC3339Nano':
      return `${date}T${clock}${fraction(nanos, 9)}${zoneColon}`;
    case 'RFC1123Z':
      return `${WEEKDAYS[local.getUTCDay()]}, ${day} ${MONTHS[local.getUTCMonth()]} ${year} ${clock} ${zoneText(offset, '')}`;
  }
}

function pad2(value: number): string {
  return String(value).padStart(2, '0');
}

function zoneText(offsetMinutes: number, separator: string): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const absolute = Math.abs(offsetMinutes);
  return `${sign}${pad2(Math.floor(absolute / 60))}${separator}${pad2(absolute % 60)}`;
}

/** Go's `.999…` layouts: truncate to `digits`, drop trailing zeros, and the dot when nothing is left. */
function fraction(nanos: number, digits: number): string {
  const text = String(nanos).padStart(9, '0').slice(0, digits).replace(/0+$/, '');
  return text === '' ? '' : `.${text}`;
}
