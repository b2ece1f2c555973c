/**
 * hubble observe's filter and selector flags on a commander command, with hubble's semantics
 * (cilium hubble/cmd/observe/flows_filter.go): the same flag repeated is OR, different flags AND,
 * `--not` sends the next filter flag to the blacklist, `--X` means "from X or to X" and becomes two
 * FlowFilters (source side | destination side), `--namespace` narrows the pod/service filters.
 *
 * Flags are handled in argv order as commander meets them (per-option argParser callbacks and the
 * `option:NAME` events of boolean flags), which is what makes `--not` apply to the next flag only.
 */
import { Option, type Command } from 'commander';
import {
  AGENT_EVENT_SUBTYPES,
  ALL_FLOWS,
  compileFlowRequest,
  DROP_REASONS,
  FlowFilterError,
  MESSAGE_TYPES,
  TRACE_OBSERVATION_POINTS,
  type EventTypeFilterJson,
  type FlowFilterJson,
  type FlowRequestJson,
} from '../flow/filter.js';
import { formatTimestampNs, parseDurationNs, parseTimestampNs, VERDICTS } from '../flow/model.js';
import { CliError } from './common.js';

export interface FlowFlagOptions {
  /** The clock relative --since/--until durations count back from, in ns since the epoch. */
  readonly nowNs?: () => bigint;
}

export interface FlowFlagState {
  /** The GetFlowsRequest the parsed flags describe; throws CliError (PODGATE_E_USAGE) on bad values. */
  request(): FlowRequestJson;
}

/** What `hubble observe` without --last/--first/--all/--since/--until shows from a server. */
export const DEFAULT_LAST = 20;

export const FLOW_FILTER_HELP = [
  'Filters work as in hubble observe: the same flag repeated is OR (--pod a --pod b), different flags',
  'are AND (--namespace shop --verdict DROPPED), and --not negates the next filter flag only',
  '(--not --namespace kube-system). --X means from X or to X; --from-X and --to-X one side.',
  'Pods and services are [namespace/]name-prefix (namespace default when omitted). --since and',
  '--until take a duration back from now (5m, 1h30m) or a time (2024-05-01T12:00:00Z, 2024-05-01).',
].join('\n');

// ---------------------------------------------------------------------------------------------
// hubble's filter tracker: a left (source side) and right (destination side) FlowFilter.

type Draft = Record<string, unknown[]>;

/** FlowFilter fields in flow.proto order, so the JSON reads like hubble's. */
const FIELD_ORDER = [
  'uuid', 'source_ip', 'source_ip_xlated', 'source_pod', 'source_fqdn', 'source_label', 'source_service', 'source_workload',
  'source_cluster_name', 'destination_ip', 'destination_pod', 'destination_fqdn', 'destination_label', 'destination_service',
  'destination_workload', 'destination_cluster_name', 'traffic_direction', 'verdict', 'drop_reason_desc', 'interface',
  'event_type', 'http_status_code', 'protocol', 'source_port', 'destination_port', 'reply', 'dns_query', 'source_identity',
  'destination_identity', 'http_method', 'http_path', 'http_url', 'http_header', 'tcp_flags', 'node_name', 'node_labels',
  'ip_version', 'trace_id', 'ip_trace_id', 'encrypted',
];

function ordered(draft: Draft): FlowFilterJson {
  const out: Draft = {};
  for (const field of FIELD_ORDER) if (draft[field] !== undefined && draft[field]!.length > 0) out[field] = draft[field]!;
  return out as FlowFilterJson;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function namespaceOf(name: string): string {
  const parts = name.split('/');
  return parts.length > 1 ? parts[0]! : '';
}

/** Prefixes names without a namespace with each of the namespaces. */
function withNamespaces(names: readonly unknown[] | undefined, namespaces: readonly string[]): unknown[] | undefined {
  if (!names || namespaces.length === 0 || names.length === 0) return names ? [...names] : undefined;
  const out: string[] = [];
  for (const name of names as string[]) {
    if (name.includes('/')) out.push(name);
    else for (const namespace of namespaces) out.push(`${namespace}/${name}`);
  }
  return out;
}

class FilterTracker {
  left: Draft | undefined;
  right: Draft | undefined;
  readonly namespaces: string[] = [];
  readonly sourceNamespaces: string[] = [];
  readonly destinationNamespaces: string[] = [];
  readonly changed: string[] = [];

  /** Both sides get the value (a --from-X, --to-X or one-sided flag). */
  both(field: string, value: unknown): void {
    this.onLeft(field, value);
    this.onRight(field, value);
  }

  onLeft(field: string, value: unknown): void {
    this.left ??= {};
    (this.left[field] ??= []).push(value);
  }

  onRight(field: string, value: unknown): void {
    this.right ??= {};
    (this.right[field] ??= []).push(value);
  }

  /** The FlowFilters: left OR right, one when both are equal, none when no filter flag was given. */
  flowFilters(): FlowFilterJson[] {
    if (!this.left && !this.right && this.namespaces.length === 0 && this.sourceNamespaces.length === 0 && this.destinationNamespaces.length === 0) return [];
    const left = structuredClone(this.left ?? {});
    const right = structuredClone(this.right ?? {});
    const applySource = (draft: Draft, namespaces: string[]): void => {
      if ((draft['source_pod']?.length ?? 0) === 0 && (draft['source_service']?.length ?? 0) === 0) draft['source_pod'] = [''];
      setOrDelete(draft, 'source_pod', withNamespaces(draft['source_pod'], namespaces));
      setOrDelete(draft, 'source_service', withNamespaces(draft['source_service'], namespaces));
    };
    const applyDestination = (draft: Draft, namespaces: string[]): void => {
      if ((draft['destination_pod']?.length ?? 0) === 0 && (draft['destination_service']?.length ?? 0) === 0) draft['destination_pod'] = [''];
      setOrDelete(draft, 'destination_pod', withNamespaces(draft['destination_pod'], namespaces));
      setOrDelete(draft, 'destination_service', withNamespaces(draft['destination_service'], namespaces));
    };
    if (this.destinationNamespaces.length > 0) {
      applyDestination(left, this.destinationNamespaces);
      applyDestination(right, this.destinationNamespaces);
    }
    if (this.sourceNamespaces.length > 0) {
      applySource(left, this.sourceNamespaces);
      applySource(right, this.sourceNamespaces);
    }
    if (this.namespaces.length > 0) {
      applySource(left, this.namespaces);
      applyDestination(right, this.namespaces);
    }
    const leftFilter = ordered(left);
    const rightFilter = ordered(right);
    return canonical(leftFilter) === canonical(rightFilter) ? [leftFilter] : [leftFilter, rightFilter];
  }

  /** hubble's checkNamespaceConflicts: a --namespace must not contradict an ns/name given for the same side. */
  namespaceConflict(): string | undefined {
    for (const draft of [this.left, this.right]) {
      if (!draft) continue;
      const names = (field: string): string[] => (draft[field] ?? []) as string[];
      const checks: [string[], string[]][] = [
        [this.namespaces, names('source_pod')],
        [this.namespaces, names('source_service')],
        [this.namespaces, names('destination_pod')],
        [this.namespaces, names('destination_service')],
        [this.sourceNamespaces, names('source_pod')],
        [this.sourceNamespaces, names('source_service')],
        [this.destinationNamespaces, names('destination_pod')],
        [this.destinationNamespaces, names('destination_service')],
      ];
      for (const [namespaces, list] of checks) {
        for (const namespace of namespaces) {
          for (const name of list) {
            const own = namespaceOf(name);
            if (own !== '' && own !== namespace) return `namespace conflict: "${namespace}" does not contain "${name}"`;
          }
        }
      }
      for (const [pods, services] of [
        [names('source_pod'), names('source_service')],
        [names('destination_pod'), names('destination_service')],
      ] as const) {
        for (const pod of pods) {
          const podNamespace = namespaceOf(pod);
          if (podNamespace === '') continue;
          for (const service of services) if (namespaceOf(service) !== podNamespace) return `namespace of service "${service}" conflicts with pod "${podNamespace}"`;
        }
      }
    }
    return undefined;
  }
}

function setOrDelete(draft: Draft, field: string, value: unknown[] | undefined): void {
  if (value === undefined || value.length === 0) delete draft[field];
  else draft[field] = value;
}

/** Flags that cannot be combined within one list (hubble's conflict groups). */
const CONFLICT_GROUPS: readonly (readonly string[])[] = [
  ['from-fqdn', 'from-ip', 'ip', 'fqdn', 'from-namespace', 'namespace', 'from-all-namespaces', 'all-namespaces'],
  ['from-fqdn', 'from-ip', 'ip', 'fqdn', 'from-pod', 'pod'],
  ['to-fqdn', 'to-ip', 'ip', 'fqdn', 'to-namespace', 'namespace', 'to-all-namespaces', 'all-namespaces'],
  ['to-fqdn', 'to-ip', 'ip', 'fqdn', 'to-pod', 'pod'],
  ['to-pod', 'namespace', 'all-namespaces'],
  ['from-pod', 'namespace', 'all-namespaces'],
  ['to-service', 'namespace', 'all-namespaces'],
  ['from-service', 'namespace', 'all-namespaces'],
  ['label', 'from-label'],
  ['label', 'to-label'],
  ['service', 'from-service'],
  ['service', 'to-service'],
  ['port', 'to-port'],
  ['port', 'from-port'],
  ['identity', 'to-identity'],
  ['identity', 'from-identity'],
  ['workload', 'to-workload'],
  ['workload', 'from-workload'],
  ['encrypted', 'unencrypted'],
];

// ---------------------------------------------------------------------------------------------
// Value parsers (hubble's, with a CliError and a next step where hubble has an error).

function usage(message: string, hint: string): CliError {
  return new CliError('PODGATE_E_USAGE', message, hint);
}

function parseEventType(value: string): EventTypeFilterJson {
  const [typeText, subText] = splitOnce(value, ':');
  let type = MESSAGE_TYPES.get(typeText);
  if (type === undefined) {
    if (!/^\d+$/.test(typeText) || Number(typeText) > 0xffffffff) {
      throw usage(`--type "${value}": "${typeText}" is not a known type name or a number`, `use one of ${[...MESSAGE_TYPES.keys()].join(', ')} (trace:SUBTYPE for trace observation points)`);
    }
    type = Number(typeText) | 0;
  }
  if (subText === undefined) return { type };
  let subType: number | undefined;
  if (type === MESSAGE_TYPES.get('trace')) subType = TRACE_OBSERVATION_POINTS.get(subText);
  else if (type === MESSAGE_TYPES.get('agent')) subType = AGENT_EVENT_SUBTYPES.get(subText);
  if (subType === undefined) {
    if (!/^\d+$/.test(subText) || Number(subText) > 0xffffffff) {
      const names = type === MESSAGE_TYPES.get('trace') ? [...TRACE_OBSERVATION_POINTS.keys()] : type === MESSAGE_TYPES.get('agent') ? [...AGENT_EVENT_SUBTYPES.keys()] : [];
      throw usage(`--type "${value}": "${subText}" is not a known sub-type name or a number`, names.length > 0 ? `use one of ${names.join(', ')}` : 'give the sub-type as a number');
    }
    subType = Number(subText) | 0;
  }
  return { type, match_sub_type: true, sub_type: subType };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + separator.length)];
}

const TCP_FLAG_NAMES = ['SYN', 'FIN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR', 'NS'];

function parseTcpFlags(value: string): Record<string, boolean> {
  const flags: Record<string, boolean> = {};
  for (const part of value.split(',')) {
    const name = part.toUpperCase();
    if (!TCP_FLAG_NAMES.includes(name)) throw usage(`unknown tcp flag "${part}"`, `use ${TCP_FLAG_NAMES.join(', ')} (comma-separated flags must all be set)`);
    flags[name] = true;
  }
  return flags;
}

/** hubble's ipVersion(), except that an unknown value is an error rather than IP_NOT_USED. */
function parseIpVersion(value: string): string {
  const lower = value.toLowerCase();
  if (['4', 'v4', 'ipv4', 'ip4'].includes(lower)) return 'IPv4';
  if (['6', 'v6', 'ipv6', 'ip6'].includes(lower)) return 'IPv6';
  if (['none', 'ip_not_used', '0'].includes(lower)) return 'IP_NOT_USED';
  throw usage(`--ip-version "${value}" is not an IP version`, 'use v4, v6 or none');
}

/** Cilium's reserved identities (pkg/identity): names hubble accepts for --identity. */
const RESERVED_IDENTITIES: ReadonlyMap<string, number> = new Map([
  ['host', 1],
  ['world', 2],
  ['unmanaged', 3],
  ['health', 4],
  ['init', 5],
  ['remote-node', 6],
  ['kube-apiserver', 7],
  ['ingress', 8],
  ['world-ipv4', 9],
  ['world-ipv6', 10],
  ['overlay-to-encrypt', 11],
]);

/** A reserved identity name, or a number as Go's strconv.ParseUint(s, 0, 32) reads it. */
function parseIdentity(value: string): number {
  const reserved = RESERVED_IDENTITIES.get(value);
  if (reserved !== undefined) return reserved;
  const text = value.replaceAll('_', '');
  let number: number | undefined;
  if (/^[1-9]\d*$|^0$/.test(text)) number = Number(text);
  else if (/^0[xX][0-9a-fA-F]+$/.test(text)) number = parseInt(text.slice(2), 16);
  else if (/^0[oO]?[0-7]+$/.test(text)) number = parseInt(text.replace(/^0[oO]?/, ''), 8);
  else if (/^0[bB][01]+$/.test(text)) number = parseInt(text.slice(2), 2);
  if (number === undefined || number > 0xffffffff || (value.includes('_') && !/^(0[xXoObB]?)?[0-9a-fA-F]+(_[0-9a-fA-F]+)*$/.test(value))) {
    throw usage(`invalid security identity "${value}"`, `use one of ${[...RESERVED_IDENTITIES.keys()].join(', ')} or a number`);
  }
  return number;
}

function parseWorkload(value: string): { name?: string; kind?: string } {
  if (value === '') return {};
  const [first, rest] = splitOnce(value, '/');
  const workload: { name?: string; kind?: string } = {};
  const kind = rest === undefined ? '' : first;
  const name = rest === undefined ? first : rest;
  if (name !== '') workload.name = name;
  if (kind !== '') workload.kind = kind;
  return workload;
}

function parseCount(flag: string, value: string): bigint {
  if (!/^\d+$/.test(value) || BigInt(value) > 0xffffffffffffffffn) throw usage(`--${flag} "${value}" is not a number`, `e.g. --${flag} 100`);
  return BigInt(value);
}


const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A UTC time from parts, or undefined when a part is out of range. */
function timeNs(parts: { year: number; month: number; day: number; hour?: number; minute?: number; second?: number; offsetMinutes?: number }): bigint | undefined {
  const { year, month, day, hour = 0, minute = 0, second = 0, offsetMinutes = 0 } = parts;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  if (new Date(ms).getUTCDate() !== day) return undefined;
  return (BigInt(ms) - BigInt(offsetMinutes) * 60_000n) * 1_000_000n;
}

function zoneMinutes(zone: string): number {
  if (zone === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
}

/** hubble's time.FromString: a duration back from now, or one of its layouts. */
function parseTimeFlag(flag: string, value: string, nowNs: () => bigint): bigint {
  const duration = parseDurationNs(value);
  if (duration !== undefined) return nowNs() - duration;
  let ns: bigint | undefined;
  let match: RegExpExecArray | null;
  if ((match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value))) ns = timeNs({ year: +match[1]!, month: +match[2]!, day: +match[3]! });
  else if ((match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:\d{2})$/.exec(value))) {
    ns = timeNs({ year: +match[1]!, month: +match[2]!, day: +match[3]!, hour: +match[4]!, minute: +(match[5] ?? 0), offsetMinutes: zoneMinutes(match[6]!) });
  } else if ((match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.exec(value))) {
    if (timeNs({ year: +match[1]!, month: +match[2]!, day: +match[3]!, hour: +match[4]!, minute: +match[5]!, second: +match[6]! }) !== undefined) ns = parseTimestampNs(value);
  } else if ((match = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})$/.exec(value))) {
    const month = MONTHS.indexOf(match[3]!) + 1;
    if (month > 0) ns = timeNs({ year: +match[4]!, month, day: +match[2]!, hour: +match[5]!, minute: +match[6]!, second: +match[7]!, offsetMinutes: zoneMinutes(match[8]!) });
  }
  if (ns === undefined) {
    throw usage(`--${flag} "${value}" is neither a duration nor a time`, `use a duration back from now (30s, 5m, 1h30m) or a time (2024-05-01T12:00:00Z, 2024-05-01, "Wed, 01 May 2024 12:00:00 +0000")`);
  }
  return ns;
}

function parseRawFilters(flag: string, value: string): FlowFilterJson[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw usage(`--${flag} is not JSON: ${error instanceof Error ? error.message : String(error)}`, `give a FlowFilter as JSON, e.g. --${flag} '{"source_pod":["shop/"]}'`);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  for (const item of list) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw usage(`--${flag} must hold FlowFilter objects`, `e.g. --${flag} '{"verdict":["DROPPED"]}'`);
  }
  return list as FlowFilterJson[];
}

// ---------------------------------------------------------------------------------------------
// The flags.

type Sides = 'left' | 'right' | 'split';

interface FilterFlag {
  readonly flags: string;
  readonly description: string;
  /** Where the value goes: both sides, or split (--X: source field left, destination field right). */
  readonly apply: (tracker: FilterTracker, value: string) => void;
  readonly boolean?: boolean;
}

/** A --from-X/--X/--to-X trio over source_F / destination_F. */
function trio(name: string, field: string, what: string, options: { convert?: (value: string) => unknown; short?: string } = {}): FilterFlag[] {
  const convert = options.convert ?? ((value: string): unknown => value);
  const sided = (sides: Sides) => (tracker: FilterTracker, value: string): void => {
    const converted = convert(value);
    if (sides === 'split') {
      tracker.onLeft(`source_${field}`, converted);
      tracker.onRight(`destination_${field}`, converted);
    } else tracker.both(`${sides === 'left' ? 'source' : 'destination'}_${field}`, converted);
  };
  return [
    { flags: `--from-${name} <${name}>`, description: `flows from ${what}`, apply: sided('left') },
    { flags: `${options.short ? `-${options.short}, ` : ''}--${name} <${name}>`, description: `flows from or to ${what}`, apply: sided('split') },
    { flags: `--to-${name} <${name}>`, description: `flows to ${what}`, apply: sided('right') },
  ];
}

const one = (field: string, convert: (value: string) => unknown = (value) => value) => (tracker: FilterTracker, value: string): void => tracker.both(field, convert(value));

const FILTER_FLAGS: readonly FilterFlag[] = [
  { flags: '--uuid <uuid>', description: 'the flow with this unique identifier', apply: one('uuid') },
  { flags: '--node-name <pattern>', description: 'flows seen on nodes matching [cluster/]name with * wildcards (e.g. "k8s*", "prod/*.example.com")', apply: one('node_name') },
  { flags: '--node-label <selector>', description: 'flows seen on nodes whose labels match the selector (e.g. "topology.kubernetes.io/zone=a")', apply: one('node_labels') },
  ...trio('cluster', 'cluster_name', 'endpoints in the given cluster'),
  { flags: '--protocol <protocol>', description: 'L4 or L7 protocol: tcp, udp, sctp, icmp, icmpv4, icmpv6, vrrp, igmp, http, dns, kafka', apply: one('protocol') },
  { flags: '--tcp-flags <flags>', description: 'TCP flags that must all be set, comma-separated (e.g. syn, syn,ack, fin)', apply: one('tcp_flags', parseTcpFlags) },
  {
    flags: '-t, --type <type[:subtype]>',
    description: `event type: ${[...MESSAGE_TYPES.keys()].join(', ')} or a number; trace:SUBTYPE for an observation point (${[...TRACE_OBSERVATION_POINTS.keys()].slice(0, 3).join(', ')}, ...)`,
    apply: one('event_type', parseEventType),
  },
  {
    flags: '--verdict <verdict>',
    description: `verdict: ${VERDICTS.slice(1).join(', ')}`,
    apply: one('verdict', (value) => {
      const upper = value.toUpperCase();
      if (!(VERDICTS as readonly string[]).includes(upper)) throw usage(`invalid --verdict "${value}"`, `use one of ${VERDICTS.slice(1).join(', ')}`);
      return upper;
    }),
  },
  {
    flags: '--drop-reason-desc <reason>',
    description: 'drop reason (e.g. POLICY_DENIED, UNSUPPORTED_L3_PROTOCOL)',
    apply: one('drop_reason_desc', (value) => {
      if (value === '') throw usage('empty --drop-reason-desc', 'give a drop reason such as POLICY_DENIED');
      const upper = value.toUpperCase();
      if (!DROP_REASONS.has(upper)) throw usage(`invalid --drop-reason-desc "${value}"`, 'use a flow.DropReason name such as POLICY_DENIED, POLICY_DENY, AUTH_REQUIRED, STALE_OR_UNROUTABLE_IP');
      return upper;
    }),
  },
  { flags: '--http-status <code>', description: 'HTTP status code or prefix (e.g. 404, 5+)', apply: one('http_status_code') },
  { flags: '--http-method <method>', description: 'HTTP method (e.g. GET, post)', apply: one('http_method') },
  { flags: '--http-path <regexp>', description: 'HTTP path regular expression, RE2, matched anywhere in the path (e.g. "^/api/v[0-9]+/")', apply: one('http_path') },
  { flags: '--http-url <regexp>', description: 'HTTP URL regular expression, RE2 (e.g. "http://.*cilium\\.io/page/\\d+")', apply: one('http_url') },
  {
    flags: '--http-header <key:value>',
    description: 'HTTP header key:value pair',
    apply: one('http_header', (value) => {
      const [key, headerValue] = splitOnce(value, ':');
      if (headerValue === undefined) throw usage(`invalid --http-header "${value}"`, 'write name:value, e.g. --http-header x-request-id:42');
      return { key, value: headerValue };
    }),
  },
  { flags: '--trace-id <id>', description: 'flows with this trace ID', apply: one('trace_id') },
  {
    flags: '--ip-trace-id <id>',
    description: 'flows with this IP trace ID',
    apply: one('ip_trace_id', (value) => {
      const id = parseCount('ip-trace-id', value);
      if (id === 0n) throw usage('invalid --ip-trace-id 0', 'give a number greater than 0');
      return id.toString();
    }),
  },
  ...trio('fqdn', 'fqdn', 'this DNS name, * wildcards allowed (e.g. "*.cilium.io")'),
  { flags: '--from-ip <ip>', description: 'flows from this IP address or CIDR (e.g. 10.0.0.1, 10.0.0.0/8)', apply: one('source_ip') },
  { flags: '--snat-ip <ip>', description: 'flows SNATed to this IP address or CIDR', apply: one('source_ip_xlated') },
  {
    flags: '--ip <ip>',
    description: 'flows from or to this IP address or CIDR',
    apply: (tracker, value) => {
      tracker.onLeft('source_ip', value);
      tracker.onRight('destination_ip', value);
    },
  },
  { flags: '--to-ip <ip>', description: 'flows to this IP address or CIDR', apply: one('destination_ip') },
  { flags: '-4, --ipv4', description: 'IPv4 flows only', apply: one('ip_version', () => 'IPv4'), boolean: true },
  { flags: '-6, --ipv6', description: 'IPv6 flows only', apply: one('ip_version', () => 'IPv6'), boolean: true },
  { flags: '--ip-version <version>', description: 'IP version: v4, v6 or none (non-IP flows)', apply: one('ip_version', parseIpVersion) },
  ...trio('pod', 'pod', 'pods: [namespace/]name-prefix, namespace default when omitted'),
  {
    flags: '--from-namespace <namespace>',
    description: 'flows from this namespace',
    apply: (tracker, value) => void tracker.sourceNamespaces.push(value),
  },
  { flags: '-n, --namespace <namespace>', description: 'flows from or to this namespace', apply: (tracker, value) => void tracker.namespaces.push(value) },
  { flags: '--to-namespace <namespace>', description: 'flows to this namespace', apply: (tracker, value) => void tracker.destinationNamespaces.push(value) },
  { flags: '--from-all-namespaces', description: 'flows from any namespace', apply: (tracker) => void tracker.sourceNamespaces.push(''), boolean: true },
  { flags: '-A, --all-namespaces', description: 'flows from or to any namespace', apply: (tracker) => void tracker.namespaces.push(''), boolean: true },
  { flags: '--to-all-namespaces', description: 'flows to any namespace', apply: (tracker) => void tracker.destinationNamespaces.push(''), boolean: true },
  ...trio('label', 'label', 'endpoints whose labels match the selector (e.g. "k8s:app=web", "reserved:world", "app in (a,b)")', { short: 'l' }),
  ...trio('service', 'service', 'services: [namespace/]name-prefix, namespace default when omitted'),
  ...trio('port', 'port', 'this port (e.g. 8080)'),
  ...trio('workload', 'workload', 'endpoints of this workload: [Kind/]name (e.g. Deployment/api, api)', { convert: parseWorkload }),
  ...trio('identity', 'identity', `endpoints with this security identity: a number or ${[...RESERVED_IDENTITIES.keys()].slice(0, 6).join(', ')}, ...`, { convert: parseIdentity }),
  {
    flags: '--traffic-direction <direction>',
    description: 'ingress or egress',
    apply: one('traffic_direction', (value) => {
      const lower = value.toLowerCase();
      if (lower !== 'ingress' && lower !== 'egress') throw usage(`--traffic-direction "${value}" is not a traffic direction`, 'use ingress or egress');
      return lower.toUpperCase();
    }),
  },
  { flags: '--interface <name>', description: 'flows seen on this network interface (e.g. eth0)', apply: one('interface', (value) => ({ name: value })) },
  { flags: '--encrypted', description: 'encrypted flows only (WireGuard, IPsec)', apply: one('encrypted', () => true), boolean: true },
  { flags: '--unencrypted', description: 'unencrypted flows only', apply: one('encrypted', () => false), boolean: true },
];

/** The long name commander gives the flag ("--from-pod <pod>" → "from-pod"). */
function longName(flags: string): string {
  return /--([a-z0-9-]+)/.exec(flags)![1]!;
}

class FlowFlagParser implements FlowFlagState {
  private whitelist: FilterTracker | undefined;
  private blacklist: FilterTracker | undefined;
  private negateNext = false;
  private since: string | undefined;
  private until: string | undefined;
  private last: bigint | undefined;
  private firstCount: bigint | undefined;
  private all = false;
  private follow = false;
  private readonly allowlist: FlowFilterJson[] = [];
  private readonly denylist: FlowFilterJson[] = [];

  constructor(private readonly nowNs: () => bigint) {}

  not(): void {
    if (this.negateNext) throw usage('consecutive --not statements', 'each --not negates the one filter flag after it');
    this.negateNext = true;
  }

  filter(flag: FilterFlag, value: string): void {
    const name = longName(flag.flags);
    let tracker: FilterTracker;
    if (this.negateNext) {
      this.negateNext = false;
      tracker = this.blacklist ??= new FilterTracker();
    } else tracker = this.whitelist ??= new FilterTracker();
    if (!tracker.changed.includes(name)) tracker.changed.push(name);
    for (const group of CONFLICT_GROUPS) {
      if (!group.includes(name)) continue;
      const other = group.find((candidate) => candidate !== name && tracker.changed.includes(candidate));
      if (other !== undefined) throw usage(`filters --${name} and --${other} cannot be combined`, 'keep one of them, or use --allowlist with a FlowFilter in JSON');
    }
    flag.apply(tracker, value);
    const conflict = tracker.namespaceConflict();
    if (conflict !== undefined) throw usage(conflict, 'give pods and services in the namespace the --namespace flags name, or drop the namespace from the name');
  }

  selector(name: 'since' | 'until' | 'last' | 'first' | 'all' | 'follow' | 'allowlist' | 'denylist', value: string | undefined): void {
    switch (name) {
      case 'since':
      case 'until':
        this[name] = value;
        break;
      case 'last':
        this.last = parseCount('last', value ?? '');
        break;
      case 'first':
        this.firstCount = parseCount('first', value ?? '');
        break;
      case 'all':
        this.all = true;
        break;
      case 'follow':
        this.follow = true;
        break;
      case 'allowlist':
        this.allowlist.push(...parseRawFilters(name, value ?? ''));
        break;
      case 'denylist':
        this.denylist.push(...parseRawFilters(name, value ?? ''));
        break;
    }
  }

  request(): FlowRequestJson {
    if (this.negateNext) throw usage('trailing --not found in the arguments', 'put the filter to negate after --not, e.g. --not --namespace kube-system');
    const first = (this.firstCount ?? 0n) > 0n;
    const last = (this.last ?? 0n) > 0n;
    if (first && last) throw usage('cannot set both --first and --last', 'keep one of them');
    if (first && this.all) throw usage('cannot set both --first and --all', 'keep one of them');
    if (first && this.follow) throw usage('cannot set both --first and --follow', 'keep one of them');
    if (last && this.all) throw usage('cannot set both --last and --all', 'keep one of them');
    const since = this.since === undefined ? undefined : formatTimestampNs(parseTimeFlag('since', this.since, this.nowNs));
    // As hubble: --until is dropped when following.
    const until = this.until === undefined || this.follow ? undefined : formatTimestampNs(parseTimeFlag('until', this.until, this.nowNs));
    let number = first ? this.firstCount! : (this.last ?? 0n);
    if (since === undefined && until === undefined && !first && this.all) number = BigInt(ALL_FLOWS);
    const whitelist = [...(this.whitelist?.flowFilters() ?? []), ...this.allowlist];
    const blacklist = [...(this.blacklist?.flowFilters() ?? []), ...this.denylist];
    const request: FlowRequestJson = {
      ...(number > 0n ? { number: number.toString() } : {}),
      ...(first ? { first: true } : {}),
      ...(this.follow ? { follow: true } : {}),
      ...(whitelist.length > 0 ? { whitelist } : {}),
      ...(blacklist.length > 0 ? { blacklist } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
    };
    try {
      compileFlowRequest(request);
    } catch (error) {
      if (error instanceof FlowFilterError) throw usage(`invalid filter: ${error.message}`, error.hint);
      throw error;
    }
    return request;
  }
}

/**
 * Registers hubble observe's filter flags (and --since, --until, --last, --first, --all, --follow,
 * --allowlist, --denylist) on the command. Call `request()` on the result after parsing.
 */
export function addFlowFilterOptions(command: Command, options: FlowFlagOptions = {}): FlowFlagState {
  const parser = new FlowFlagParser(options.nowNs ?? (() => BigInt(Date.now()) * 1_000_000n));
  command.addOption(new Option('--not', 'negate the next filter flag (e.g. --not --namespace kube-system)'));
  command.on('option:not', () => parser.not());
  for (const flag of FILTER_FLAGS) {
    const option = new Option(flag.flags, flag.description);
    if (flag.boolean) {
      command.addOption(option);
      command.on(`option:${longName(flag.flags)}`, () => parser.filter(flag, ''));
    } else {
      command.addOption(
        option.argParser((value: string, previous: unknown) => {
          parser.filter(flag, value);
          return [...(Array.isArray(previous) ? previous : []), value];
        }),
      );
    }
  }
  const selector = (flags: string, description: string, name: Parameters<FlowFlagParser['selector']>[0]): void => {
    const option = new Option(flags, description);
    if (option.required || option.optional) {
      command.addOption(
        option.argParser((value: string) => {
          parser.selector(name, value);
          return value;
        }),
      );
    } else {
      command.addOption(option);
      command.on(`option:${name}`, () => parser.selector(name, undefined));
    }
  };
  selector('--since <time>', 'flows since a time: a duration back from now (5m, 1h30m) or a time (2024-05-01T12:00:00Z)', 'since');
  selector('--until <time>', 'flows until a time, same forms as --since (ignored with --follow)', 'until');
  selector('--last <n>', `the last N flows (from a server: ${DEFAULT_LAST} when nothing else limits the output)`, 'last');
  selector('--first <n>', 'the first N flows', 'first');
  selector('--all', 'all flows (a server sends its whole buffer)', 'all');
  selector('-f, --follow', 'keep printing flows as they arrive', 'follow');
  selector('--allowlist <json>', 'a FlowFilter in JSON, OR-ed with the other filters (repeatable)', 'allowlist');
  selector('--denylist <json>', 'a FlowFilter in JSON, flows matching it are left out (repeatable)', 'denylist');
  return parser;
}
