/**
 * Hubble's flow filters (cilium pkg/hubble/filters) over podgate's flow records.
 *
 * A GetFlowsRequest holds a whitelist and a blacklist of FlowFilters. Inside one FlowFilter every
 * field that is set must match (AND); the values of one field are alternatives (OR). A record passes
 * when the whitelist is empty or any of its filters matches, and no blacklist filter matches.
 *
 * Records without a flow (lost_events, node_status, other events) pass every filter and the time
 * range and do not count towards `number`: Hubble's server treats lost events that way because
 * nobody asks for them explicitly, and the relay sends node_status events unfiltered.
 *
 * `compileFlowRequest` checks every value up front (bad CIDR, bad regular expression, unknown enum
 * name → FlowFilterError) and turns each filter into closures: compile once, match many.
 */
import { RE2JS } from 're2js';
import { cidrContains, parseCidr, parseIp, type Cidr } from '../policy/address.js';
import { parseTimestampNs, recordTimeNs, VERDICTS, type Flow, type FlowEndpoint, type FlowRecord } from './model.js';

export interface EventTypeFilterJson {
  type?: number;
  match_sub_type?: boolean;
  sub_type?: number;
}

export interface WorkloadFilterJson {
  name?: string;
  kind?: string;
}

export interface TcpFlagsFilterJson {
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

export interface HttpHeaderFilterJson {
  key?: string;
  value?: string;
}

export interface NetworkInterfaceFilterJson {
  index?: number;
  name?: string;
}

/** The protojson form of flow.FlowFilter (proto field names; enums by name or number). */
export interface FlowFilterJson {
  uuid?: string[];
  source_ip?: string[];
  source_ip_xlated?: string[];
  source_pod?: string[];
  source_fqdn?: string[];
  source_label?: string[];
  source_service?: string[];
  source_workload?: WorkloadFilterJson[];
  source_cluster_name?: string[];
  destination_ip?: string[];
  destination_pod?: string[];
  destination_fqdn?: string[];
  destination_label?: string[];
  destination_service?: string[];
  destination_workload?: WorkloadFilterJson[];
  destination_cluster_name?: string[];
  traffic_direction?: (string | number)[];
  verdict?: (string | number)[];
  drop_reason_desc?: (string | number)[];
  interface?: NetworkInterfaceFilterJson[];
  event_type?: EventTypeFilterJson[];
  http_status_code?: string[];
  protocol?: string[];
  source_port?: string[];
  destination_port?: string[];
  reply?: boolean[];
  dns_query?: string[];
  source_identity?: number[];
  destination_identity?: number[];
  http_method?: string[];
  http_path?: string[];
  http_url?: string[];
  http_header?: HttpHeaderFilterJson[];
  tcp_flags?: TcpFlagsFilterJson[];
  node_name?: string[];
  node_labels?: string[];
  ip_version?: (string | number)[];
  trace_id?: string[];
  /** uint64: decimal strings in protojson. */
  ip_trace_id?: (string | number)[];
  encrypted?: boolean[];
  experimental?: { cel_expression?: string[] };
}

/** The protojson form of observer.GetFlowsRequest (the fields podgate reads). */
export interface FlowRequestJson {
  /** uint64 as a decimal string; 18446744073709551615 (hubble --all) means no limit. */
  number?: string;
  first?: boolean;
  follow?: boolean;
  whitelist?: FlowFilterJson[];
  blacklist?: FlowFilterJson[];
  /** RFC 3339. */
  since?: string;
  until?: string;
}

export interface CompiledFlowRequest {
  /** Whitelist and blacklist; true for records without a flow. */
  matches(record: FlowRecord): boolean;
  /**
   * Whether a stream keeps the record before `number` applies: records without a flow always, flows
   * inside since/until that match.
   */
  selects(record: FlowRecord): boolean;
  /**
   * A cheap test on a raw JSON line: false only when `matches` would be false for the record the
   * line holds. Undefined when the filters give nothing to test cheaply.
   */
  readonly prefilter: ((line: string) => boolean) | undefined;
  readonly sinceNs: bigint | undefined;
  readonly untilNs: bigint | undefined;
  /** How many flows to return; undefined for no limit (0 or hubble's --all). */
  readonly number: number | undefined;
  readonly first: boolean;
  readonly follow: boolean;
}

/** A filter value podgate cannot use: where it is, what is wrong, what to do. */
export class FlowFilterError extends Error {
  readonly code = 'PODGATE_E_FILTER';
  constructor(
    message: string,
    readonly hint: string,
    /** Where in the request, e.g. `whitelist[0].source_ip[1]`. */
    readonly path: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'FlowFilterError';
  }
}

// ---------------------------------------------------------------------------------------------
// Enums (flow.proto) and monitor constants (cilium pkg/monitor/api).

export const TRAFFIC_DIRECTIONS = ['TRAFFIC_DIRECTION_UNKNOWN', 'INGRESS', 'EGRESS'] as const;
export const IP_VERSIONS = ['IP_NOT_USED', 'IPv4', 'IPv6'] as const;

/** flow.DropReason: name → number. */
export const DROP_REASONS: ReadonlyMap<string, number> = new Map(
  (
    'DROP_REASON_UNKNOWN=0 INVALID_SOURCE_MAC=130 INVALID_DESTINATION_MAC=131 INVALID_SOURCE_IP=132 POLICY_DENIED=133 ' +
    'INVALID_PACKET_DROPPED=134 CT_TRUNCATED_OR_INVALID_HEADER=135 CT_MISSING_TCP_ACK_FLAG=136 CT_UNKNOWN_L4_PROTOCOL=137 ' +
    'CT_CANNOT_CREATE_ENTRY_FROM_PACKET=138 UNSUPPORTED_L3_PROTOCOL=139 MISSED_TAIL_CALL=140 ERROR_WRITING_TO_PACKET=141 ' +
    'UNKNOWN_L4_PROTOCOL=142 UNKNOWN_ICMPV4_CODE=143 UNKNOWN_ICMPV4_TYPE=144 UNKNOWN_ICMPV6_CODE=145 UNKNOWN_ICMPV6_TYPE=146 ' +
    'ERROR_RETRIEVING_TUNNEL_KEY=147 ERROR_RETRIEVING_TUNNEL_OPTIONS=148 INVALID_GENEVE_OPTION=149 UNKNOWN_L3_TARGET_ADDRESS=150 ' +
    'STALE_OR_UNROUTABLE_IP=151 NO_MATCHING_LOCAL_CONTAINER_FOUND=152 ERROR_WHILE_CORRECTING_L3_CHECKSUM=153 ' +
    'ERROR_WHILE_CORRECTING_L4_CHECKSUM=154 CT_MAP_INSERTION_FAILED=155 INVALID_IPV6_EXTENSION_HEADER=156 ' +
    'IP_FRAGMENTATION_NOT_SUPPORTED=157 SERVICE_BACKEND_NOT_FOUND=158 NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT=160 ' +
    'FAILED_TO_INSERT_INTO_PROXYMAP=161 REACHED_EDT_RATE_LIMITING_DROP_HORIZON=162 UNKNOWN_CONNECTION_TRACKING_STATE=163 ' +
    'LOCAL_HOST_IS_UNREACHABLE=164 NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION=165 UNSUPPORTED_L2_PROTOCOL=166 ' +
    'NO_MAPPING_FOR_NAT_MASQUERADE=167 UNSUPPORTED_PROTOCOL_FOR_NAT_MASQUERADE=168 FIB_LOOKUP_FAILED=169 ' +
    'ENCAPSULATION_TRAFFIC_IS_PROHIBITED=170 INVALID_IDENTITY=171 UNKNOWN_SENDER=172 NAT_NOT_NEEDED=173 IS_A_CLUSTERIP=174 ' +
    'FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND=175 FORBIDDEN_ICMPV6_MESSAGE=176 DENIED_BY_LB_SRC_RANGE_CHECK=177 ' +
    'SOCKET_LOOKUP_FAILED=178 SOCKET_ASSIGN_FAILED=179 PROXY_REDIRECTION_NOT_SUPPORTED_FOR_PROTOCOL=180 POLICY_DENY=181 ' +
    'VLAN_FILTERED=182 INVALID_VNI=183 INVALID_TC_BUFFER=184 NO_SID=185 MISSING_SRV6_STATE=186 NAT46=187 NAT64=188 ' +
    'AUTH_REQUIRED=189 CT_NO_MAP_FOUND=190 SNAT_NO_MAP_FOUND=191 INVALID_CLUSTER_ID=192 UNSUPPORTED_PROTOCOL_FOR_DSR_ENCAP=193 ' +
    'NO_EGRESS_GATEWAY=194 UNENCRYPTED_TRAFFIC=195 TTL_EXCEEDED=196 NO_NODE_ID=197 DROP_RATE_LIMITED=198 IGMP_HANDLED=199 ' +
    'IGMP_SUBSCRIBED=200 MULTICAST_HANDLED=201 DROP_HOST_NOT_READY=202 DROP_EP_NOT_READY=203 DROP_NO_EGRESS_IP=204 DROP_PUNT_PROXY=205'
  )
    .split(' ')
    .map((pair) => {
      const [name, value] = pair.split('=');
      return [name!, Number(value)] as const;
    }),
);

/** Monitor message types (event_type.type) by hubble's --type names. */
export const MESSAGE_TYPES: ReadonlyMap<string, number> = new Map([
  ['drop', 1],
  ['debug', 2],
  ['capture', 3],
  ['trace', 4],
  ['policy-verdict', 5],
  ['trace-sock', 7],
  ['l7', 129],
  ['agent', 130],
]);
export const MESSAGE_TYPE_L7 = 129;

/** Trace observation points (event_type.sub_type of trace events) by hubble's names. */
export const TRACE_OBSERVATION_POINTS: ReadonlyMap<string, number> = new Map([
  ['to-endpoint', 0],
  ['to-proxy', 1],
  ['to-host', 2],
  ['to-stack', 3],
  ['to-overlay', 4],
  ['from-endpoint', 5],
  ['from-proxy', 6],
  ['from-host', 7],
  ['from-stack', 8],
  ['from-overlay', 9],
  ['from-network', 10],
  ['to-network', 11],
  ['from-crypto', 12],
  ['to-crypto', 13],
]);

/** Agent notification sub-types by hubble's names. */
export const AGENT_EVENT_SUBTYPES: ReadonlyMap<string, number> = new Map([
  ['unspecified', 0],
  ['message', 1],
  ['agent-started', 2],
  ['endpoint-regenerate-success', 3],
  ['endpoint-regenerate-failure', 4],
  ['policy-updated', 5],
  ['policy-deleted', 6],
  ['endpoint-created', 7],
  ['endpoint-deleted', 8],
  ['ipcache-upserted', 9],
  ['ipcache-deleted', 10],
]);

/** Protocols Hubble's protocol filter knows (lower case). */
export const FILTER_PROTOCOLS = ['icmp', 'icmpv4', 'icmpv6', 'tcp', 'udp', 'sctp', 'vrrp', 'igmp', 'dns', 'http', 'kafka'] as const;

/** Cilium's default cluster name, which Hubble's node-name filter assumes for names without one. */
const DEFAULT_CLUSTER_NAME = 'default';

/** hubble --all: uint64 max. */
export const ALL_FLOWS = '18446744073709551615';

// ---------------------------------------------------------------------------------------------
// Reading flows defensively: records come from files, so any field may hold any type.

type Json = Record<string, unknown>;

function objectOf(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function numberOf(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

function listOf(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

type FlowTest = (flow: Flow) => boolean;

const sourceOf = (flow: Flow): FlowEndpoint | undefined => objectOf(flow.source) as FlowEndpoint | undefined;
const destinationOf = (flow: Flow): FlowEndpoint | undefined => objectOf(flow.destination) as FlowEndpoint | undefined;
type Side = 'source' | 'destination';
const endpointOf = (side: Side): ((flow: Flow) => FlowEndpoint | undefined) => (side === 'source' ? sourceOf : destinationOf);

// ---------------------------------------------------------------------------------------------
// Compiling one FlowFilter.

/** One field's test plus, when there is one, the strings a JSON line must hold (any of them) for it to match. */
interface FieldTest {
  readonly test: FlowTest;
  readonly needles?: readonly string[];
}

interface CompiledFilter {
  readonly test: FlowTest;
  /** Every group must have one of its strings in the line; undefined when nothing is known. */
  readonly needles: readonly (readonly string[])[];
}

const KNOWN_FIELDS = new Set<string>([
  'uuid', 'source_ip', 'source_ip_xlated', 'source_pod', 'source_fqdn', 'source_label', 'source_service', 'source_workload',
  'source_cluster_name', 'destination_ip', 'destination_pod', 'destination_fqdn', 'destination_label', 'destination_service',
  'destination_workload', 'destination_cluster_name', 'traffic_direction', 'verdict', 'drop_reason_desc', 'interface',
  'event_type', 'http_status_code', 'protocol', 'source_port', 'destination_port', 'reply', 'dns_query', 'source_identity',
  'destination_identity', 'http_method', 'http_path', 'http_url', 'http_header', 'tcp_flags', 'node_name', 'node_labels',
  'ip_version', 'trace_id', 'ip_trace_id', 'encrypted', 'experimental',
]);

/** A JSON string token as it appears in a line without escapes. */
const quoted = (text: string): string => `"${text}"`;

class FilterCompiler {
  private readonly tests: FieldTest[] = [];

  constructor(
    private readonly filter: Json,
    private readonly path: string,
  ) {}

  fail(field: string, message: string, hint: string): never {
    throw new FlowFilterError(message, hint, `${this.path}.${field}`);
  }

  /** The field's elements when it is a non-empty array (Hubble treats an empty list as unset). */
  private list(field: string): unknown[] | undefined {
    const value = this.filter[field];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) this.fail(field, `must be a list, got ${typeof value}`, `write "${field}": [ ... ]`);
    return value.length === 0 ? undefined : value;
  }

  strings(field: string): string[] | undefined {
    const values = this.list(field);
    if (!values) return undefined;
    return values.map((value, index) => {
      if (typeof value !== 'string') this.fail(`${field}[${index}]`, `must be a string, got ${JSON.stringify(value)}`, 'quote the value');
      return value;
    });
  }

  booleans(field: string): boolean[] | undefined {
    const values = this.list(field);
    if (!values) return undefined;
    return values.map((value, index) => {
      if (typeof value !== 'boolean') this.fail(`${field}[${index}]`, `must be true or false, got ${JSON.stringify(value)}`, 'use true or false');
      return value;
    });
  }

  objects(field: string): Json[] | undefined {
    const values = this.list(field);
    if (!values) return undefined;
    return values.map((value, index) => objectOf(value) ?? this.fail(`${field}[${index}]`, `must be an object, got ${JSON.stringify(value)}`, 'see flow.proto for the message fields'));
  }

  uint32s(field: string): number[] | undefined {
    const values = this.list(field);
    if (!values) return undefined;
    return values.map((value, index) => {
      const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
      if (typeof number !== 'number' || !Number.isInteger(number) || number < 0 || number > 0xffffffff) {
        this.fail(`${field}[${index}]`, `must be an unsigned 32-bit integer, got ${JSON.stringify(value)}`, 'use a number such as 2 (world) or 12345');
      }
      return number;
    });
  }

  /** Enum values by name or number, as names. */
  enumNames(field: string, names: readonly string[] | ReadonlyMap<string, number>): string[] | undefined {
    const values = this.list(field);
    if (!values) return undefined;
    const byNumber = new Map<number, string>();
    if (names instanceof Map) for (const [name, number] of names) byNumber.set(number, name);
    else (names as readonly string[]).forEach((name, number) => byNumber.set(number, name));
    const known = (name: string): boolean => (names instanceof Map ? names.has(name) : (names as readonly string[]).includes(name));
    const list = names instanceof Map ? [...names.keys()] : (names as readonly string[]);
    return values.map((value, index) => {
      if (typeof value === 'string' && known(value)) return value;
      if (typeof value === 'number' && byNumber.has(value)) return byNumber.get(value)!;
      const shown = list.length > 12 ? `${list.slice(0, 12).join(', ')}, ...` : list.join(', ');
      return this.fail(`${field}[${index}]`, `unknown value ${JSON.stringify(value)}`, `use one of ${shown}`);
    });
  }

  add(test: FlowTest, needles?: readonly string[]): void {
    this.tests.push(needles === undefined ? { test } : { test, needles });
  }

  compile(): CompiledFilter {
    for (const field of Object.keys(this.filter)) {
      if (!KNOWN_FIELDS.has(field)) this.fail(field, 'is not a FlowFilter field podgate knows', 'see FlowFilter in flow.proto; field names are written with underscores (source_pod)');
    }
    this.compileIdentifiers();
    this.compileAddresses();
    this.compileNames();
    this.compileVerdicts();
    this.compileL4();
    this.compileL7();
    this.compileNodes();
    this.compileExperimental();
    const tests = this.tests.map((entry) => entry.test);
    const needles = this.tests.flatMap((entry) => (entry.needles ? [entry.needles] : []));
    return { test: allOf(tests), needles };
  }

  private compileIdentifiers(): void {
    const uuids = this.strings('uuid');
    if (uuids) {
      const set = new Set(uuids);
      this.add((flow) => set.has(textOf(flow.uuid)), uuids.map(quoted));
    }
    const traceIds = this.strings('trace_id');
    if (traceIds) {
      const set = new Set(traceIds);
      this.add((flow) => set.has(textOf(objectOf(objectOf(flow['trace_context'])?.['parent'])?.['trace_id'])));
    }
    const ipTraceIds = this.list('ip_trace_id');
    if (ipTraceIds) {
      const set = new Set(
        ipTraceIds.map((value, index) => {
          const text = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : value;
          if (typeof text !== 'string' || !/^\d{1,20}$/.test(text) || BigInt(text) > 0xffffffffffffffffn) {
            this.fail(`ip_trace_id[${index}]`, `must be an unsigned 64-bit integer, got ${JSON.stringify(value)}`, 'use a decimal number');
          }
          return BigInt(text).toString();
        }),
      );
      this.add((flow) => {
        const raw = objectOf(flow['ip_trace_id'])?.['trace_id'];
        const id = typeof raw === 'string' && /^\d+$/.test(raw) ? BigInt(raw).toString() : typeof raw === 'number' ? String(raw) : '0';
        return set.has(id);
      });
    }
    for (const side of ['source', 'destination'] as const) {
      const identities = this.uint32s(`${side}_identity`);
      if (!identities) continue;
      const set = new Set(identities);
      const endpoint = endpointOf(side);
      this.add((flow) => {
        const found = endpoint(flow);
        return found !== undefined && set.has(numberOf(found.identity));
      });
    }
  }

  private compileAddresses(): void {
    const fields: [string, (flow: Flow) => string][] = [
      ['source_ip', (flow) => textOf(objectOf(flow.IP)?.['source'])],
      ['destination_ip', (flow) => textOf(objectOf(flow.IP)?.['destination'])],
      ['source_ip_xlated', (flow) => textOf(objectOf(flow.IP)?.['source_xlated'])],
    ];
    for (const [field, address] of fields) {
      const values = this.strings(field);
      if (!values) continue;
      const exact = new Set<string>();
      const blocks: Cidr[] = [];
      values.forEach((value, index) => {
        if (value.includes('/')) {
          const parsed = parseGoPrefix(value);
          if (!parsed) this.fail(`${field}[${index}]`, `invalid IP prefix "${value}"`, 'write a CIDR such as 10.0.0.0/8 or fd00::/64');
          blocks.push(parsed);
        } else {
          if (!isGoAddress(value)) this.fail(`${field}[${index}]`, `invalid IP address "${value}"`, 'write an address such as 10.0.1.5 or fd00::5, or a CIDR');
          exact.add(value);
        }
      });
      // Hubble compares exact addresses as text and parses the flow's address only for prefixes.
      this.add(
        (flow) => {
          const text = address(flow);
          if (text === '') return false;
          if (exact.has(text)) return true;
          if (blocks.length === 0) return false;
          const parsed = parseFlowAddress(text);
          return parsed !== undefined && blocks.some((block) => cidrContains(block, parsed));
        },
        blocks.length === 0 ? [...exact].map(quoted) : undefined,
      );
    }
    const versions = this.enumNames('ip_version', IP_VERSIONS);
    if (versions) {
      const set = new Set(versions);
      this.add((flow) => set.has(textOf(objectOf(flow.IP)?.['ipVersion']) || 'IP_NOT_USED'), set.has('IP_NOT_USED') ? undefined : versions.map(quoted));
    }
    const encrypted = this.booleans('encrypted');
    if (encrypted) {
      const set = new Set(encrypted);
      this.add((flow) => set.has(objectOf(flow.IP)?.['encrypted'] === true), set.has(false) ? undefined : ['"encrypted"']);
    }
  }

  private compileNames(): void {
    for (const side of ['source', 'destination'] as const) {
      const endpoint = endpointOf(side);
      const pods = this.strings(`${side}_pod`);
      if (pods) {
        const match = this.namespacedNames(`${side}_pod`, pods);
        this.add((flow) => {
          const found = endpoint(flow);
          return match.test(textOf(found?.namespace), textOf(found?.pod_name));
        }, match.needles);
      }
      const services = this.strings(`${side}_service`);
      if (services) {
        const match = this.namespacedNames(`${side}_service`, services);
        const serviceOf = (flow: Flow): Json | undefined => objectOf(flow[`${side}_service`]);
        this.add((flow) => {
          const service = serviceOf(flow);
          return match.test(textOf(service?.['namespace']), textOf(service?.['name']));
        }, match.needles);
      }
      const fqdns = this.strings(`${side}_fqdn`);
      if (fqdns) {
        const pattern = this.fqdnPattern(`${side}_fqdn`, fqdns);
        const names = side === 'source' ? 'source_names' : 'destination_names';
        this.add((flow) => listOf(flow[names]).some((name) => typeof name === 'string' && pattern.test(name)), [quoted(names)]);
      }
      const labels = this.strings(`${side}_label`);
      if (labels) {
        const selectors = labels.map((text, index) => this.labelSelector(`${side}_label[${index}]`, text));
        this.add((flow) => {
          const parsed = endpointLabels(endpoint(flow)?.labels);
          return selectors.some((selector) => selectorMatches(selector, parsed));
        });
      }
      const workloads = this.objects(`${side}_workload`);
      if (workloads) {
        const wanted = workloads.map((workload, index) => {
          for (const key of Object.keys(workload)) if (key !== 'name' && key !== 'kind') this.fail(`${side}_workload[${index}].${key}`, 'is not a Workload field', 'use name and kind');
          return { name: textOf(workload['name']), kind: textOf(workload['kind']) };
        });
        this.add(
          (flow) =>
            listOf(endpoint(flow)?.workloads).some((item) => {
              const workload = objectOf(item);
              const name = textOf(workload?.['name']);
              const kind = textOf(workload?.['kind']);
              return wanted.some((filter) => (filter.name === '' || filter.name === name) && (filter.kind === '' || filter.kind === kind));
            }),
          ['"workloads"'],
        );
      }
      const clusters = this.strings(`${side}_cluster_name`);
      if (clusters) {
        if (clusters.includes('')) this.fail(`${side}_cluster_name`, 'a cluster name must not be empty', 'give the cluster name, e.g. "default"');
        const set = new Set(clusters);
        this.add((flow) => set.has(textOf(endpoint(flow)?.cluster_name)), clusters.map(quoted));
      }
    }
  }

  /** Hubble's [namespace/]name-prefix matching: "ns/" is the whole namespace, "pod" means default/pod, "/pod" any namespace. */
  private namespacedNames(field: string, names: string[]): { test: (namespace: string, name: string) => boolean; needles: string[] | undefined } {
    const filters = names.map((text, index) => {
      if (text === '') this.fail(`${field}[${index}]`, 'a name must not be empty', 'write [namespace/]name-prefix, e.g. shop/ or shop/api');
      return parseNamespaceName(text);
    });
    const test = (namespace: string, name: string): boolean => {
      if (namespace === '' && name === '') return false;
      for (const filter of filters) {
        if ((filter.prefix === '' || name.startsWith(filter.prefix)) && (filter.namespace === '' || filter.namespace === namespace)) return true;
      }
      return false;
    };
    // The namespace appears as a whole JSON string; a name prefix as the start of one.
    const needles: string[] = [];
    for (const filter of filters) {
      if (filter.namespace !== '') needles.push(quoted(filter.namespace));
      else if (filter.prefix !== '') needles.push(`"${filter.prefix}`);
      else return { test, needles: undefined };
    }
    return { test, needles: [...new Set(needles)] };
  }

  private fqdnPattern(field: string, patterns: string[]): RegExp {
    const alternatives = patterns.map((pattern, index) => {
      const result = fqdnPatternSource(pattern);
      if (typeof result !== 'string') this.fail(`${field}[${index}]`, `invalid FQDN pattern "${pattern}": ${result.problem}`, 'use DNS characters and * wildcards, e.g. *.cilium.io');
      return result;
    });
    return new RegExp(`^(?:${alternatives.join('|')})$`);
  }

  private labelSelector(field: string, text: string): LabelSelector {
    const parsed = parseLabelSelector(text);
    if (typeof parsed === 'string') this.fail(field, `invalid label selector "${text}": ${parsed}`, 'use Kubernetes selector syntax, e.g. k8s:app=web, app in (a,b), !reserved:world');
    return parsed;
  }

  private compileVerdicts(): void {
    const verdicts = this.enumNames('verdict', VERDICTS);
    if (verdicts) {
      const set = new Set(verdicts);
      this.add((flow) => set.has(textOf(flow.verdict) || 'VERDICT_UNKNOWN'), set.has('VERDICT_UNKNOWN') ? undefined : verdicts.map(quoted));
    }
    const reasons = this.enumNames('drop_reason_desc', DROP_REASONS);
    if (reasons) {
      const set = new Set(reasons);
      this.add((flow) => flow.verdict === 'DROPPED' && set.has(textOf(flow.drop_reason_desc) || 'DROP_REASON_UNKNOWN'), ['"DROPPED"']);
    }
    const directions = this.enumNames('traffic_direction', TRAFFIC_DIRECTIONS);
    if (directions) {
      const set = new Set(directions);
      this.add((flow) => set.has(textOf(flow.traffic_direction) || 'TRAFFIC_DIRECTION_UNKNOWN'), set.has('TRAFFIC_DIRECTION_UNKNOWN') ? undefined : directions.map(quoted));
    }
    const replies = this.booleans('reply');
    if (replies) {
      const set = new Set(replies);
      // Hubble: an unknown is_reply only counts (as false) on dropped flows, for old clients.
      this.add((flow) => {
        const reply = flow.is_reply;
        if (typeof reply !== 'boolean' && flow.verdict !== 'DROPPED') return false;
        return set.has(reply === true);
      });
    }
    const types = this.objects('event_type');
    if (types) {
      const filters = types.map((type, index) => {
        for (const key of Object.keys(type)) if (key !== 'type' && key !== 'match_sub_type' && key !== 'sub_type') this.fail(`event_type[${index}].${key}`, 'is not an EventTypeFilter field', 'use type, match_sub_type and sub_type');
        const number = (key: string): number => {
          const value = type[key] ?? 0;
          if (typeof value !== 'number' || !Number.isInteger(value)) this.fail(`event_type[${index}].${key}`, `must be an integer, got ${JSON.stringify(value)}`, 'e.g. {"type": 4, "match_sub_type": true, "sub_type": 0}');
          return value;
        };
        const match = type['match_sub_type'] ?? false;
        if (typeof match !== 'boolean') this.fail(`event_type[${index}].match_sub_type`, 'must be true or false', 'use true to compare sub_type');
        return { type: number('type'), matchSubType: match, subType: number('sub_type') };
      });
      this.add((flow) => {
        const event = objectOf(flow.event_type);
        if (!event) return false;
        const type = numberOf(event['type']);
        const subType = numberOf(event['sub_type']);
        return filters.some((filter) => (filter.type === 0 || filter.type === type) && (!filter.matchSubType || filter.subType === subType));
      }, ['"event_type"']);
    }
  }

  private compileL4(): void {
    const protocols = this.strings('protocol');
    if (protocols) {
      const wanted = protocols.map((protocol, index) => {
        const lower = protocol.toLowerCase();
        if (!(FILTER_PROTOCOLS as readonly string[]).includes(lower)) this.fail(`protocol[${index}]`, `unknown protocol "${protocol}"`, `use one of ${FILTER_PROTOCOLS.join(', ')}`);
        return lower;
      });
      const l4Keys = new Set<string>();
      const l7Keys = new Set<string>();
      for (const protocol of wanted) {
        if (protocol === 'icmp') l4Keys.add('ICMPv4').add('ICMPv6');
        else if (protocol === 'icmpv4') l4Keys.add('ICMPv4');
        else if (protocol === 'icmpv6') l4Keys.add('ICMPv6');
        else if (protocol === 'dns' || protocol === 'http' || protocol === 'kafka') l7Keys.add(protocol);
        else l4Keys.add(protocol.toUpperCase());
      }
      const l4List = [...l4Keys];
      const l7List = [...l7Keys];
      this.add(
        (flow) => {
          const l4 = objectOf(flow.l4);
          if (l4 && l4List.some((key) => objectOf(l4[key]) !== undefined)) return true;
          const l7 = objectOf(flow.l7);
          return l7 !== undefined && l7List.some((key) => objectOf(l7[key]) !== undefined);
        },
        [...l4List, ...l7List].map(quoted),
      );
    }
    for (const side of ['source', 'destination'] as const) {
      const field = `${side}_port`;
      const ports = this.strings(field);
      if (!ports) continue;
      const set = new Set(
        ports.map((text, index) => {
          if (!/^\d+$/.test(text) || Number(text) > 65535) this.fail(`${field}[${index}]`, `invalid port "${text}"`, 'use a number from 0 to 65535');
          return Number(text);
        }),
      );
      const key = side === 'source' ? 'source_port' : 'destination_port';
      this.add((flow) => {
        const l4 = objectOf(flow.l4);
        if (!l4) return false;
        const header = objectOf(l4['TCP']) ?? objectOf(l4['UDP']) ?? objectOf(l4['SCTP']);
        return header !== undefined && set.has(numberOf(header[key]));
      });
    }
    const flags = this.objects('tcp_flags');
    if (flags) {
      const names = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR', 'NS'];
      const wanted = flags.map((entry, index) => {
        for (const key of Object.keys(entry)) {
          if (!names.includes(key)) this.fail(`tcp_flags[${index}].${key}`, 'is not a TCP flag', `use ${names.join(', ')}`);
          if (typeof entry[key] !== 'boolean') this.fail(`tcp_flags[${index}].${key}`, 'must be true or false', 'e.g. {"SYN": true}');
        }
        return names.filter((name) => entry[name] === true);
      });
      this.add((flow) => {
        const set = objectOf(objectOf(objectOf(flow.l4)?.['TCP'])?.['flags']);
        if (!set) return false;
        return wanted.some((required) => required.every((name) => set[name] === true));
      }, ['"flags"']);
    }
    const interfaces = this.objects('interface');
    if (interfaces) {
      const wanted = interfaces.map((entry) => ({ index: numberOf(entry['index']), name: textOf(entry['name']) }));
      this.add((flow) => {
        const found = objectOf(flow['interface']);
        if (!found) return false;
        return wanted.some((filter) => (filter.index <= 0 || filter.index === numberOf(found['index'])) && (filter.name === '' || filter.name === textOf(found['name'])));
      }, ['"interface"']);
    }
  }

  private compileL7(): void {
    const httpOf = (flow: Flow): Json | undefined => objectOf(objectOf(flow.l7)?.['http']);
    const types = this.objects('event_type');
    const requireL7 = (field: string, what: string): void => {
      if (types && !types.some((type) => type['type'] === MESSAGE_TYPE_L7)) {
        this.fail(field, `filtering by ${what} requires the event type filter to only match 'l7' events`, 'add --type l7 or drop the other --type values');
      }
    };
    const codes = this.strings('http_status_code');
    if (codes) {
      requireL7('http_status_code', 'http status code');
      const full = new Set<string>();
      const prefixes: string[] = [];
      codes.forEach((code, index) => {
        if (/^[1-5][0-9]{2}$/.test(code)) full.add(code);
        else if (/^[1-5][0-9]?\+$/.test(code)) prefixes.push(code.slice(0, -1));
        else this.fail(`http_status_code[${index}]`, `invalid status code prefix "${code}"`, 'use a code such as 404 or a prefix such as 5+ or 40+');
      });
      this.add((flow) => {
        const code = numberOf(httpOf(flow)?.['code']);
        if (code === 0) return false;
        const text = String(code).padStart(3, '0');
        return full.has(text) || prefixes.some((prefix) => text.startsWith(prefix));
      }, ['"http"']);
    }
    const methods = this.strings('http_method');
    if (methods) {
      requireL7('http_method', 'http method');
      const wanted = new Set(methods.map((method) => method.toLowerCase()));
      this.add((flow) => {
        const method = textOf(httpOf(flow)?.['method']);
        return method !== '' && wanted.has(method.toLowerCase());
      }, ['"http"']);
    }
    const paths = this.strings('http_path');
    if (paths) {
      requireL7('http_path', 'http path');
      const patterns = paths.map((text, index) => this.regexp(`http_path[${index}]`, text));
      this.add((flow) => {
        const url = textOf(httpOf(flow)?.['url']);
        if (url === '') return false;
        const path = requestUriPath(url);
        return path !== undefined && patterns.some((pattern) => pattern.test(path));
      }, ['"http"']);
    }
    const urls = this.strings('http_url');
    if (urls) {
      requireL7('http_url', 'http url');
      const patterns = urls.map((text, index) => this.regexp(`http_url[${index}]`, text));
      this.add((flow) => {
        const url = textOf(httpOf(flow)?.['url']);
        return url !== '' && patterns.some((pattern) => pattern.test(url));
      }, ['"http"']);
    }
    const headers = this.objects('http_header');
    if (headers) {
      requireL7('http_header', 'http headers');
      const wanted = headers.map((header) => ({ key: textOf(header['key']), value: textOf(header['value']) }));
      this.add((flow) => {
        const present = httpOf(flow)?.['headers'];
        if (!Array.isArray(present)) return false;
        return present.some((item) => {
          const header = objectOf(item);
          return header !== undefined && wanted.some((filter) => filter.key === textOf(header['key']) && filter.value === textOf(header['value']));
        });
      }, ['"headers"']);
    }
    const queries = this.strings('dns_query');
    if (queries) {
      const patterns = queries.map((text, index) => this.regexp(`dns_query[${index}]`, text));
      this.add((flow) => {
        const dns = objectOf(objectOf(flow.l7)?.['dns']);
        if (!dns) return false;
        const query = textOf(dns['query']);
        return patterns.some((pattern) => pattern.test(query));
      }, ['"dns"']);
    }
  }

  /** A Go (RE2) regular expression, matched anywhere in the text as Go's MatchString does. */
  private regexp(field: string, source: string): RE2JS {
    try {
      return RE2JS.compile(source);
    } catch (error) {
      return this.fail(field, `invalid regular expression "${source}": ${error instanceof Error ? error.message : String(error)}`, 'use RE2 syntax (no lookaround or backreferences); anchor with ^ and $ to match the whole value');
    }
  }

  private compileNodes(): void {
    const names = this.strings('node_name');
    if (names) {
      const alternatives = names.map((pattern, index) => {
        const result = nodeNamePatternSource(pattern);
        if (typeof result !== 'string') this.fail(`node_name[${index}]`, `invalid node name pattern "${pattern}": ${result.problem}`, 'use [cluster/]node with * wildcards, e.g. k8s* or prod/*.example.com');
        return result;
      });
      const pattern = new RegExp(`^(?:${alternatives.join('|')})$`);
      this.add((flow) => {
        const name = textOf(flow.node_name);
        if (name === '') return false;
        return pattern.test(name.includes('/') ? name : `${DEFAULT_CLUSTER_NAME}/${name}`);
      });
    }
    const labels = this.strings('node_labels');
    if (labels) {
      const selectors = labels.map((text, index) => this.labelSelector(`node_labels[${index}]`, text));
      this.add((flow) => {
        const parsed = endpointLabels(flow.node_labels);
        return selectors.some((selector) => selectorMatches(selector, parsed));
      });
    }
  }

  private compileExperimental(): void {
    const experimental = this.filter['experimental'];
    if (experimental === undefined || experimental === null) return;
    const cel = objectOf(experimental)?.['cel_expression'];
    if (objectOf(experimental) === undefined || (Array.isArray(cel) && cel.length > 0) || Object.keys(objectOf(experimental)!).some((key) => key !== 'cel_expression')) {
      this.fail('experimental', 'CEL expressions are not supported by podgate', 'express the condition with the other filter fields (verdict, pods, labels, ports, ...)');
    }
  }
}

function allOf(tests: FlowTest[]): FlowTest {
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0]!;
  if (tests.length === 2) {
    const [a, b] = tests as [FlowTest, FlowTest];
    return (flow) => a(flow) && b(flow);
  }
  return (flow) => {
    for (const test of tests) if (!test(flow)) return false;
    return true;
  };
}

/** cilium pkg/hubble/k8s ParseNamespaceName: "ns/name", "name" (namespace default), "/name" (any namespace). */
function parseNamespaceName(text: string): { namespace: string; prefix: string } {
  const parts = text.split('/');
  const namespace = parts[0]!;
  if (parts.length > 1) return { namespace, prefix: parts[1]! };
  return { namespace: 'default', prefix: namespace };
}

// ---------------------------------------------------------------------------------------------
// Addresses, with Go's net/netip strictness for filter values.

const IPV4_DOTTED = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function isGoAddress(text: string): boolean {
  if (IPV4_DOTTED.test(text)) return true;
  return text.includes(':') && parseIp(text) !== undefined;
}

function parseGoPrefix(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = text.slice(0, slash);
  const bits = text.slice(slash + 1);
  if (!isGoAddress(address) || address.includes('%') || !/^(?:0|[1-9]\d{0,2})$/.test(bits)) return undefined;
  return parseCidr(text).cidr;
}

/** A flow's address; a fast path for dotted IPv4, the general parser otherwise. */
function parseFlowAddress(text: string): ReturnType<typeof parseIp> {
  if (!text.includes(':')) {
    if (!IPV4_DOTTED.test(text)) return undefined;
    let value = 0;
    for (const part of text.split('.')) value = value * 256 + Number(part);
    return { family: 4, value: BigInt(value), text };
  }
  // netip.Prefix.Contains is false for addresses with a zone.
  if (text.includes('%')) return undefined;
  return parseIp(text);
}

// ---------------------------------------------------------------------------------------------
// FQDN and node-name patterns (cilium pkg/hubble/filters/patterns.go).

const FQDN_REGEXP = '(?:[-0-9_a-z]+(?:\\.[-0-9_a-z]+)*)';

function fqdnPatternSource(pattern: string): string | { problem: string } {
  let canonical = pattern.trim();
  if (canonical.endsWith('.')) canonical = canonical.slice(0, -1);
  canonical = canonical.toLowerCase();
  if (canonical === '') return { problem: 'empty pattern' };
  if (canonical.endsWith('.')) return { problem: 'multiple trailing dots in pattern' };
  let source = '';
  for (const char of canonical) {
    if (char === '.') source += '\\.';
    else if (char === '*') source += '[-.0-9a-z]*';
    else if (char === '-' || char === '_' || (char >= '0' && char <= '9') || (char >= 'a' && char <= 'z')) source += char;
    else return { problem: `${JSON.stringify(char)}: invalid rune in pattern` };
  }
  return source;
}

function nodeNamePatternSource(pattern: string): string | { problem: string } {
  if (pattern === '') return { problem: 'empty pattern' };
  const parts = pattern.split('/');
  if (parts.length > 2) return { problem: 'too many slashes in pattern' };
  const [cluster, node] = parts.length === 1 ? ['', parts[0]!] : [parts[0]!, parts[1]!];
  const clusterSource = cluster === '' ? FQDN_REGEXP : fqdnPatternSource(cluster);
  if (typeof clusterSource !== 'string') return clusterSource;
  const nodeSource = node === '' ? FQDN_REGEXP : fqdnPatternSource(node);
  if (typeof nodeSource !== 'string') return nodeSource;
  return `${clusterSource}/${nodeSource}`;
}

// ---------------------------------------------------------------------------------------------
// HTTP request paths: Go's url.ParseRequestURI(u).Path, which Hubble's http_path filter reads.

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;

/** The decoded path of a request URI, or undefined where Go's parser fails. */
export function requestUriPath(url: string): string | undefined {
  if (url === '' || /[\x00-\x1f\x7f]/.test(url)) return undefined;
  if (url === '*') return '*';
  let rest = url;
  let scheme = '';
  const colon = url.indexOf(':');
  if (colon >= 0) {
    const candidate = url.slice(0, colon);
    if (SCHEME.test(candidate)) {
      scheme = candidate;
      rest = url.slice(colon + 1);
    } else if (colon === 0 || !/[^A-Za-z0-9+.-]/.test(candidate)) {
      return undefined; // "missing protocol scheme" or a scheme starting with a digit
    }
  }
  const query = rest.indexOf('?');
  if (query >= 0) rest = rest.slice(0, query);
  if (!rest.startsWith('/')) return scheme === '' ? undefined : '';
  if (scheme !== '' && rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    if (!validAuthority(authority)) return undefined;
    rest = slash < 0 ? '' : rest.slice(slash);
  }
  return percentDecode(rest);
}

function validAuthority(authority: string): boolean {
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) return false;
    const after = host.slice(close + 1);
    return after === '' || /^:\d*$/.test(after);
  }
  const colon = host.lastIndexOf(':');
  return colon < 0 || /^\d*$/.test(host.slice(colon + 1));
}

function percentDecode(text: string): string | undefined {
  if (!text.includes('%')) return text;
  const parts: Buffer[] = [];
  let start = 0;
  for (let at = text.indexOf('%'); at >= 0; at = text.indexOf('%', start)) {
    const hex = text.slice(at + 1, at + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
    parts.push(Buffer.from(text.slice(start, at), 'utf8'), Buffer.from([parseInt(hex, 16)]));
    start = at + 3;
  }
  parts.push(Buffer.from(text.slice(start), 'utf8'));
  return Buffer.concat(parts).toString('utf8');
}

// ---------------------------------------------------------------------------------------------
// Label selectors: Kubernetes selector syntax over Cilium labels ("k8s:app=web"), as Hubble does:
// a key's "source:" prefix becomes "source." and a key without one gets "any.", then the Kubernetes
// parser runs; a requirement's key matches labels of that source, "any" matches every source.

interface LabelRequirement {
  readonly source: string;
  readonly key: string;
  readonly operator: 'in' | 'notin' | 'exists' | 'doesnotexist' | 'gt' | 'lt';
  readonly values: readonly string[];
  readonly cidr: Cidr | undefined;
}

type LabelSelector = readonly LabelRequirement[];

interface CiliumLabel {
  readonly source: string;
  readonly key: string;
  readonly value: string;
  readonly cidr: Cidr | undefined;
}

/** cilium pkg/hubble/filters/labelparser.go translateSelector. */
function translateSelector(selector: string): string {
  const chars = [...selector];
  let out = '';
  let at = 0;
  const isSpace = (char: string): boolean => /\s/u.test(char);
  while (at < chars.length) {
    while (at < chars.length && (isSpace(chars[at]!) || chars[at] === '!')) out += chars[at++];
    let key = '';
    while (at < chars.length && !isSpace(chars[at]!) && chars[at] !== '=' && chars[at] !== '!' && chars[at] !== ',') key += chars[at++];
    if (!key.includes(':')) key = `any:${key}`;
    out += key.replace(':', '.');
    let nesting = 0;
    while (at < chars.length) {
      const char = chars[at++]!;
      if (char === '(') nesting++;
      else if (char === ')') nesting--;
      out += char;
      if (char === ',' && nesting === 0) break;
    }
  }
  return out;
}

type TokenKind = 'id' | 'in' | 'notin' | '!' | '!=' | '=' | '==' | '>' | '<' | '(' | ')' | ',' | 'end';
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
}

const SYMBOLS = new Set(['!', '!=', '=', '==', '>', '<', '(', ')', ',']);
const isSelectorSpace = (char: string): boolean => char === ' ' || char === '\t' || char === '\r' || char === '\n';
const isSelectorSymbol = (char: string): boolean => '=!(),><'.includes(char);

function lexSelector(text: string): Token[] | string {
  const tokens: Token[] = [];
  let at = 0;
  while (true) {
    while (at < text.length && isSelectorSpace(text[at]!)) at++;
    if (at >= text.length) break;
    if (isSelectorSymbol(text[at]!)) {
      let buffer = '';
      let last = '';
      while (at < text.length && isSelectorSymbol(text[at]!)) {
        buffer += text[at];
        if (SYMBOLS.has(buffer)) {
          last = buffer;
          at++;
        } else if (last !== '') break;
        else at++;
      }
      if (last === '') return `expected a keyword, found '${buffer}'`;
      tokens.push({ kind: last as TokenKind, text: last });
    } else {
      let buffer = '';
      while (at < text.length && !isSelectorSymbol(text[at]!) && !isSelectorSpace(text[at]!)) buffer += text[at++];
      tokens.push({ kind: buffer === 'in' ? 'in' : buffer === 'notin' ? 'notin' : 'id', text: buffer });
    }
  }
  tokens.push({ kind: 'end', text: '' });
  return tokens;
}

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function labelKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return `key "${key}" has more than one "/"`;
  const name = parts[parts.length - 1]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)) return `key prefix "${prefix}" is not a DNS subdomain`;
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) return `key "${key}" is not a valid label name (63 characters at most: letters, digits, -, _, . inside)`;
  return undefined;
}

function labelValueProblem(value: string): string | undefined {
  if (value.length > 63 || !LABEL_VALUE.test(value)) return `value "${value}" is not a valid label value (63 characters at most: letters, digits, -, _, . inside)`;
  return undefined;
}

/** Parses one selector (Hubble's label filter syntax) or says why it cannot. */
export function parseLabelSelector(text: string): LabelSelector | string {
  const lexed = lexSelector(translateSelector(text));
  if (typeof lexed === 'string') return lexed;
  const tokens = lexed;
  let at = 0;
  // In value positions "in" and "notin" are plain identifiers.
  const peek = (asValue = true): Token => {
    const token = tokens[at]!;
    return asValue && (token.kind === 'in' || token.kind === 'notin') ? { kind: 'id', text: token.text } : token;
  };
  const next = (asValue = true): Token => {
    const token = peek(asValue);
    at++;
    return token;
  };
  const requirements: LabelRequirement[] = [];

  const requirement = (): LabelRequirement | string => {
    let token = next();
    let operator: LabelRequirement['operator'] | undefined;
    if (token.kind === '!') {
      operator = 'doesnotexist';
      token = next();
    }
    if (token.kind !== 'id') return `found '${token.text}', expected: identifier`;
    const key = token.text;
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) return keyProblem;
    const after = peek();
    let values: string[] = [];
    if (operator === undefined && (after.kind === 'end' || after.kind === ',')) operator = 'exists';
    if (operator === undefined) {
      const op = next(false);
      if (op.kind === 'in' || op.kind === 'notin') {
        operator = op.kind;
        const open = next();
        if (open.kind !== '(') return `found '${open.text}', expected: '('`;
        const list = valueList();
        if (typeof list === 'string') return list;
        values = list;
        if (values.length === 0) return `for '${operator}', the values set can't be empty`;
      } else if (op.kind === '=' || op.kind === '==' || op.kind === '!=' || op.kind === '>' || op.kind === '<') {
        const value = peek();
        if (value.kind === 'end' || value.kind === ',') values = [''];
        else if (value.kind === 'id') values = [next().text];
        else return `found '${value.text}', expected: identifier`;
        operator = op.kind === '!=' ? 'notin' : op.kind === '>' ? 'gt' : op.kind === '<' ? 'lt' : 'in';
        if ((operator === 'gt' || operator === 'lt') && !/^[-+]?\d+$/.test(values[0]!)) return `for '${op.kind}', the value must be an integer`;
      } else {
        return `found '${op.text}', expected: in, notin, =, ==, !=, gt, lt`;
      }
    }
    for (const value of values) {
      const problem = labelValueProblem(value);
      if (problem) return problem;
    }
    const label = parseCiliumLabel(key, '.');
    const source = label.source === 'unspec' ? 'any' : label.source;
    return { source, key: label.key, operator, values, cidr: label.cidr };
  };

  const valueList = (): string[] | string => {
    const values = new Set<string>();
    if (peek().kind === ')') {
      next();
      return [];
    }
    if (peek().kind !== 'id' && peek().kind !== ',') return `found '${peek().text}', expected: ',', ')' or identifier`;
    while (true) {
      const token = next();
      if (token.kind === 'id') {
        values.add(token.text);
        const after = peek();
        if (after.kind === ',') {
          next();
          if (peek().kind === ')') values.add('');
          if (peek().kind === ')') break;
          continue;
        }
        if (after.kind === ')') break;
        return `found '${after.text}', expected: ',' or ')'`;
      }
      if (token.kind === ',') {
        values.add('');
        if (peek().kind === ')') break;
        continue;
      }
      return `found '${token.text}', expected: ',', or identifier`;
    }
    next(); // ')'
    return [...values];
  };

  while (true) {
    const token = peek();
    if (token.kind === 'end') break;
    if (token.kind !== 'id' && token.kind !== '!') return `found '${token.text}', expected: !, identifier, or 'end of string'`;
    const parsed = requirement();
    if (typeof parsed === 'string') return parsed;
    requirements.push(parsed);
    const after = next();
    if (after.kind === 'end') break;
    if (after.kind !== ',') return `found '${after.text}', expected: ',' or 'end of string'`;
    const following = peek();
    if (following.kind !== 'id' && following.kind !== '!') return `found '${following.text}', expected: identifier after ','`;
  }
  return requirements;
}

/** cilium pkg/labels parseLabel: "source:key=value", "$host", "reserved.host"; delimiter ':' for labels, '.' for selector keys. */
function parseCiliumLabel(text: string, delimiter: ':' | '.'): CiliumLabel {
  let source = '';
  let rest = text;
  if (text.startsWith('$')) {
    source = 'reserved';
    rest = text.slice(1);
  } else {
    const at = text.indexOf(delimiter);
    if (at >= 0) {
      source = text.slice(0, at);
      rest = text.slice(at + 1);
    } else if (delimiter !== '.' && text.startsWith('reserved.')) {
      source = 'reserved';
      rest = text.slice('reserved.'.length);
    }
  }
  if (source === '') source = 'unspec';
  let key = rest;
  let value = '';
  const equals = rest.indexOf('=');
  if (equals >= 0) {
    if (equals === 0 && source === 'reserved') key = rest.slice(1);
    else {
      key = rest.slice(0, equals);
      value = rest.slice(equals + 1);
    }
  }
  return { source, key, value, cidr: source === 'cidr' ? cidrOfKey(key) : undefined };
}

/** Cilium writes IPv6 CIDR label keys with "-" for ":" (a ":" is the source delimiter). */
function cidrOfKey(key: string): Cidr | undefined {
  const text = key.includes(':') || key.includes('.') ? key : key.replaceAll('-', ':');
  return parseCidr(text).cidr;
}

const parsedLabels = new WeakMap<readonly unknown[], CiliumLabel[]>();

function endpointLabels(labels: unknown): CiliumLabel[] {
  if (!Array.isArray(labels)) return [];
  let parsed = parsedLabels.get(labels);
  if (!parsed) {
    parsed = labels.filter((label): label is string => typeof label === 'string').map((label) => parseCiliumLabel(label, ':'));
    parsed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    parsedLabels.set(labels, parsed);
  }
  return parsed;
}

function labelHasKey(label: CiliumLabel, target: LabelRequirement): boolean {
  if (target.source !== 'any' && label.source !== target.source) return false;
  if (target.source === 'cidr' && label.source === 'cidr') {
    const wanted = target.cidr;
    const have = label.cidr;
    return wanted !== undefined && have !== undefined && wanted.family === have.family && wanted.prefix <= have.prefix && (have.network & wanted.mask) === wanted.network;
  }
  return label.key === target.key;
}

function lookupLabel(labels: readonly CiliumLabel[], target: LabelRequirement): string | undefined {
  for (const label of labels) if (labelHasKey(label, target)) return label.value;
  return undefined;
}

function selectorMatches(selector: LabelSelector, labels: readonly CiliumLabel[]): boolean {
  for (const requirement of selector) {
    const value = lookupLabel(labels, requirement);
    switch (requirement.operator) {
      case 'in':
        if (value === undefined || !requirement.values.includes(value)) return false;
        break;
      case 'notin':
        if (value !== undefined && requirement.values.includes(value)) return false;
        break;
      case 'exists':
        if (value === undefined) return false;
        break;
      case 'doesnotexist':
        if (value !== undefined) return false;
        break;
      case 'gt':
      case 'lt': {
        if (value === undefined || !/^[-+]?\d+$/.test(value)) return false;
        const have = BigInt(value);
        const wanted = BigInt(requirement.values[0]!);
        if (requirement.operator === 'gt' ? !(have > wanted) : !(have < wanted)) return false;
        break;
      }
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The request.

function isFlowRecord(record: FlowRecord): record is FlowRecord & { flow: Flow } {
  return objectOf(record.flow) !== undefined;
}

function compileFilters(value: unknown, name: 'whitelist' | 'blacklist'): CompiledFilter[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new FlowFilterError(`must be a list of FlowFilters`, `write "${name}": [{...}]`, name);
  return value.map((filter, index) => {
    const object = objectOf(filter);
    if (!object) throw new FlowFilterError(`must be a FlowFilter object, got ${JSON.stringify(filter)}`, 'e.g. {"source_pod": ["shop/"]}', `${name}[${index}]`);
    return new FilterCompiler(object, `${name}[${index}]`).compile();
  });
}

/** One line holds a flow record for sure only when it starts with the flow object. */
const FLOW_LINE_START = '{"flow":{';
const FLOW_LINE_START_LOOSE = /^\s*\{\s*"flow"\s*:\s*\{/;

function buildPrefilter(whitelist: readonly CompiledFilter[]): ((line: string) => boolean) | undefined {
  if (whitelist.length === 0 || whitelist.some((filter) => filter.needles.length === 0)) return undefined;
  // Filters of one group each join into one group: the line needs any of their strings.
  const groups: (readonly string[])[][] = [];
  const single = new Set<string>();
  for (const filter of whitelist) {
    if (filter.needles.length === 1) for (const needle of filter.needles[0]!) single.add(needle);
    else groups.push(filter.needles as (readonly string[])[]);
  }
  const singleList = [...single];
  const anyOf = (line: string, needles: readonly string[]): boolean => {
    for (const needle of needles) if (line.includes(needle)) return true;
    return false;
  };
  const mayMatch = (line: string): boolean => {
    if (singleList.length > 0 && anyOf(line, singleList)) return true;
    return groups.some((filter) => filter.every((group) => anyOf(line, group)));
  };
  return (line) => {
    if (mayMatch(line)) return true;
    // Escapes could spell a needle differently, and a line without a flow passes every filter.
    if (line.includes('\\')) return true;
    return !(line.startsWith(FLOW_LINE_START) || FLOW_LINE_START_LOOSE.test(line));
  };
}

function parseNumber(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : value;
  if (typeof text !== 'string' || !/^\d{1,20}$/.test(text) || BigInt(text) > 0xffffffffffffffffn) {
    throw new FlowFilterError(`must be an unsigned 64-bit integer, got ${JSON.stringify(value)}`, 'e.g. "number": "20"', 'number');
  }
  const number = BigInt(text);
  // 0 is "no limit"; so is anything too large to count to (hubble --all sends uint64 max).
  if (number === 0n || number > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return Number(number);
}

function parseTime(value: unknown, field: 'since' | 'until'): bigint | undefined {
  if (value === undefined || value === null) return undefined;
  const ns = typeof value === 'string' ? parseTimestampNs(value) : undefined;
  if (ns === undefined) throw new FlowFilterError(`is not an RFC 3339 time: ${JSON.stringify(value)}`, 'e.g. 2024-05-01T12:00:00Z', field);
  return ns;
}

function parseFlag(value: unknown, field: 'first' | 'follow'): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw new FlowFilterError(`must be true or false, got ${JSON.stringify(value)}`, 'use true or false', field);
  return value;
}

const REQUEST_FIELDS = new Set(['number', 'first', 'follow', 'whitelist', 'blacklist', 'since', 'until']);

/** Checks every value of the request and compiles its filters. Throws FlowFilterError. */
export function compileFlowRequest(request: FlowRequestJson): CompiledFlowRequest {
  const raw = request as unknown as Json;
  for (const field of Object.keys(raw)) {
    if (!REQUEST_FIELDS.has(field) && raw[field] !== undefined) {
      throw new FlowFilterError('is not a GetFlowsRequest field podgate supports', 'use number, first, follow, whitelist, blacklist, since and until', field);
    }
  }
  const whitelist = compileFilters(raw['whitelist'], 'whitelist');
  const blacklist = compileFilters(raw['blacklist'], 'blacklist');
  const first = parseFlag(raw['first'], 'first');
  const follow = parseFlag(raw['follow'], 'follow');
  if (first && follow) throw new FlowFilterError('first cannot be specified with follow', 'drop --first, or --follow', 'first');
  const sinceNs = parseTime(raw['since'], 'since');
  const untilNs = parseTime(raw['until'], 'until');
  const number = parseNumber(raw['number']);

  const allowed = whitelist.map((filter) => filter.test);
  const denied = blacklist.map((filter) => filter.test);
  const passes = (flow: Flow): boolean => {
    if (allowed.length > 0) {
      let any = false;
      for (const test of allowed) {
        if (test(flow)) {
          any = true;
          break;
        }
      }
      if (!any) return false;
    }
    for (const test of denied) if (test(flow)) return false;
    return true;
  };
  const matches = (record: FlowRecord): boolean => {
    if (!isFlowRecord(record)) return true;
    try {
      return passes(record.flow);
    } catch {
      // A record shaped so oddly that a test throws cannot be shown as matching.
      return false;
    }
  };
  const inRange = (record: FlowRecord): boolean => {
    if (sinceNs === undefined && untilNs === undefined) return true;
    const time = recordTimeNs(record);
    return (sinceNs === undefined || time >= sinceNs) && (untilNs === undefined || time <= untilNs);
  };
  return {
    matches,
    selects: (record) => !isFlowRecord(record) || (inRange(record) && matches(record)),
    prefilter: buildPrefilter(whitelist),
    sinceNs,
    untilNs,
    number,
    first,
    follow,
  };
}

/**
 * Applies a compiled request to a finite stream, as Hubble does: flows must match the filters and
 * lie in [since, until]; `number` with `first` keeps the first N of them (and stops reading), without
 * it the last N. Records without a flow always pass and are not counted; with a last-N window only
 * those after the window's first flow are kept, as Hubble's server rewinds to that flow.
 */
export async function* selectRecords(records: AsyncIterable<FlowRecord>, request: CompiledFlowRequest): AsyncGenerator<FlowRecord> {
  const number = request.number;
  if (number === undefined || request.first) {
    let emitted = 0;
    for await (const record of records) {
      if (!request.selects(record)) continue;
      yield record;
      if (number !== undefined && isFlowRecord(record) && ++emitted >= number) return;
    }
    return;
  }
  const window = new LastRecords(number);
  for await (const record of records) if (request.selects(record)) window.push(record, isFlowRecord(record));
  yield* window.drain();
}

/** The records from the N-th last flow on: a queue that drops its head as flows beyond N arrive. */
class LastRecords {
  private items: { record: FlowRecord; flow: boolean }[] = [];
  private head = 0;
  private flows = 0;

  constructor(private readonly limit: number) {}

  push(record: FlowRecord, flow: boolean): void {
    this.items.push({ record, flow });
    if (!flow) return;
    this.flows++;
    if (this.flows <= this.limit) return;
    // Drop the oldest flow and whatever came before the next one.
    while (!this.items[this.head]!.flow) this.head++;
    this.head++;
    this.flows--;
    while (!this.items[this.head]!.flow) this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  *drain(): Generator<FlowRecord> {
    for (let index = this.head; index < this.items.length; index++) yield this.items[index]!.record;
  }
}
