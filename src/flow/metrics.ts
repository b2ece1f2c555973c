/**
 * Hubble's Prometheus metrics, computed from flow records: the dns, drop, tcp, flow,
 * port-distribution and policy handlers plus hubble_lost_events_total, with Hubble's metric
 * names, types, label names, label order and label values (cilium pkg/hubble/metrics/*), so
 * dashboards and alerts written for Hubble work unchanged.
 *
 * Configured with the `--hubble-metrics` syntax: handlers separated by whitespace, each
 * `name[:option[=value];option...]`, e.g. `dns:query;ignoreAAAA drop:sourceContext=namespace flow`.
 *
 * Known differences from Hubble, on purpose:
 * - Label pairs are printed in the handler's declaration order (Go's client sorts them by name);
 *   PromQL does not see the difference.
 * - A reply is `is_reply`, or the deprecated `reply` when a record only has that (old agents).
 * - Unknown handler names, option keys and flag options given a value are errors (Hubble ignores
 *   unknown keys), so a typo does not silently drop a label.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isRecord } from '../manifest/document.js';
import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import type { Flow, FlowEndpoint, FlowRecord } from './model.js';

export const METRICS_CONFIG_ERROR = 'PODGATE_E_METRICS_CONFIG';

/** A `--metrics` string podgate cannot use: the message names the part, the hint the fix. */
export class MetricsConfigError extends Error {
  readonly code = METRICS_CONFIG_ERROR;
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

export const HANDLER_NAMES = ['dns', 'drop', 'tcp', 'flow', 'port-distribution', 'policy'] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

/** Every handler, no context options: what `podgate flows metrics` uses when not told. */
export const DEFAULT_METRICS = HANDLER_NAMES.join(' ');

export const CONTEXT_IDENTIFIERS = ['identity', 'namespace', 'pod', 'pod-short', 'pod-name', 'dns', 'ip', 'reserved-identity', 'workload', 'workload-name', 'app'] as const;
export type ContextIdentifier = (typeof CONTEXT_IDENTIFIERS)[number];

/** labelsContext labels in Hubble's order: label names and values follow this list, not the option's order. */
export const CONTEXT_LABELS = [
  'source_ip',
  'source_pod',
  'source_namespace',
  'source_workload',
  'source_workload_kind',
  'source_app',
  'destination_ip',
  'destination_pod',
  'destination_namespace',
  'destination_workload',
  'destination_workload_kind',
  'destination_app',
  'traffic_direction',
] as const;
export type ContextLabel = (typeof CONTEXT_LABELS)[number];

export interface ContextOptions {
  readonly source: readonly ContextIdentifier[];
  readonly destination: readonly ContextIdentifier[];
  readonly labels: ReadonlySet<ContextLabel>;
}

export interface HandlerConfig {
  readonly name: HandlerName;
  readonly context: ContextOptions;
  /** dns only: add the `query` label. */
  readonly query: boolean;
  /** dns only: skip flows whose only qtype is AAAA. */
  readonly ignoreAAAA: boolean;
}

const CONTEXT_KEYS: Readonly<Record<string, 'source' | 'destination' | 'labels'>> = { sourcecontext: 'source', destinationcontext: 'destination', labelscontext: 'labels' };
const DNS_FLAGS: Readonly<Record<string, 'query' | 'ignoreAAAA'>> = { query: 'query', ignoreaaaa: 'ignoreAAAA' };

/** Parses Hubble's `--hubble-metrics` string; throws MetricsConfigError naming the bad part. */
export function parseMetricsConfig(text: string): HandlerConfig[] {
  const configs: HandlerConfig[] = [];
  const seen = new Set<string>();
  for (const entry of text.split(/\s+/).filter((part) => part !== '')) {
    const colon = entry.indexOf(':');
    const name = colon === -1 ? entry : entry.slice(0, colon);
    if (!(HANDLER_NAMES as readonly string[]).includes(name)) {
      throw new MetricsConfigError(`unknown metric "${name}" in "${entry}"`, `use one of: ${HANDLER_NAMES.join(', ')} (e.g. 'dns:query drop:sourceContext=namespace flow')`);
    }
    if (seen.has(name)) throw new MetricsConfigError(`metric "${name}" is configured twice`, 'give each metric once, with all its options after one colon, separated by ;');
    seen.add(name);
    configs.push(parseHandler(name as HandlerName, colon === -1 ? '' : entry.slice(colon + 1), entry));
  }
  return configs;
}

function parseHandler(name: HandlerName, optionText: string, entry: string): HandlerConfig {
  let source: ContextIdentifier[] = [];
  let destination: ContextIdentifier[] = [];
  let labels = new Set<ContextLabel>();
  let query = false;
  let ignoreAAAA = false;
  for (const option of optionText.split(';')) {
    if (option === '') continue;
    const equals = option.indexOf('=');
    const key = (equals === -1 ? option : option.slice(0, equals)).toLowerCase();
    const value = equals === -1 ? undefined : option.slice(equals + 1);
    const contextKey = CONTEXT_KEYS[key];
    const flag = name === 'dns' ? DNS_FLAGS[key] : undefined;
    if (contextKey !== undefined) {
      if (value === undefined || value === '') throw new MetricsConfigError(`option "${option}" of "${entry}" needs a value`, contextKey === 'labels' ? `e.g. labelsContext=${CONTEXT_LABELS.slice(0, 3).join(',')}` : `e.g. ${option.split('=')[0]}=namespace or workload-name|pod-name`);
      if (contextKey === 'labels') labels = parseLabelsContext(value, entry);
      else if (contextKey === 'source') source = parseContext(value, entry);
      else destination = parseContext(value, entry);
    } else if (flag !== undefined) {
      if (value !== undefined) throw new MetricsConfigError(`option "${flag}" of "${entry}" takes no value`, `write just "${flag}"`);
      if (flag === 'query') query = true;
      else ignoreAAAA = true;
    } else {
      const allowed = ['sourceContext', 'destinationContext', 'labelsContext', ...(name === 'dns' ? ['query', 'ignoreAAAA'] : [])];
      throw new MetricsConfigError(`unknown option "${option}" for metric "${name}" in "${entry}"`, `options of ${name}: ${allowed.join(', ')}; separate options with ;`);
    }
  }
  return { name, context: { source, destination, labels }, query, ignoreAAAA };
}

function parseContext(value: string, entry: string): ContextIdentifier[] {
  return value.split('|').map((part) => {
    const identifier = part.toLowerCase();
    if (!(CONTEXT_IDENTIFIERS as readonly string[]).includes(identifier)) {
      throw new MetricsConfigError(`unknown context "${part}" in "${entry}"`, `use one of ${CONTEXT_IDENTIFIERS.join(', ')}, with | between fallbacks`);
    }
    return identifier as ContextIdentifier;
  });
}

function parseLabelsContext(value: string, entry: string): Set<ContextLabel> {
  const labels = new Set<ContextLabel>();
  for (const label of value.split(',')) {
    if (!(CONTEXT_LABELS as readonly string[]).includes(label)) {
      throw new MetricsConfigError(`invalid labelsContext value "${label}" in "${entry}"`, `use a comma-separated list of ${CONTEXT_LABELS.join(', ')}`);
    }
    labels.add(label as ContextLabel);
  }
  return labels;
}

// ---------------------------------------------------------------------------------------------
// Reading flow fields as Hubble's Go getters do: absent means the zero value, never an exception.

function text(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

function texts(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function integer(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : 0;
}

/** An enum field as Go's String() prints it: the name, the number for unknown values, the zero name when absent. */
function enumName(value: unknown, zero: string): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : zero;
}

function endpointOf(flow: Flow, side: 'source' | 'destination'): FlowEndpoint {
  const endpoint = flow[side];
  return isRecord(endpoint) ? endpoint : {};
}

/** is_reply when present, else the deprecated reply; undefined when neither says. */
function replyState(flow: Flow): boolean | undefined {
  if (typeof flow.is_reply === 'boolean') return flow.is_reply;
  if (typeof flow.reply === 'boolean') return flow.reply;
  return undefined;
}

const MESSAGE_TYPE_DROP = 1;
const MESSAGE_TYPE_CAPTURE = 3;
const MESSAGE_TYPE_TRACE = 4;
const MESSAGE_TYPE_POLICY_VERDICT = 5;
const MESSAGE_TYPE_ACCESS_LOG = 129;
const RESERVED_IDENTITY_HOST = 1;

function eventType(flow: Flow): number {
  return isRecord(flow.event_type) ? integer(flow.event_type['type']) : 0;
}

function l7Kind(flow: Flow): 'DNS' | 'HTTP' | 'Kafka' | undefined {
  const l7 = flow.l7;
  if (!isRecord(l7)) return undefined;
  if (isRecord(l7['dns'])) return 'DNS';
  if (isRecord(l7['http'])) return 'HTTP';
  if (isRecord(l7['kafka'])) return 'Kafka';
  return undefined;
}

const L4_PROTOCOLS = ['TCP', 'UDP', 'ICMPv4', 'ICMPv6', 'SCTP', 'VRRP', 'IGMP'] as const;

/** Hubble's v1.FlowProtocol: the L7 protocol for access logs, the L4 protocol for packets. */
export function flowProtocol(flow: Flow): string {
  const type = eventType(flow);
  if (type === MESSAGE_TYPE_ACCESS_LOG) return l7Kind(flow) ?? 'Unknown L7';
  if (type === MESSAGE_TYPE_DROP || type === MESSAGE_TYPE_TRACE || type === MESSAGE_TYPE_POLICY_VERDICT || type === MESSAGE_TYPE_CAPTURE) {
    const l4 = flow.l4;
    if (isRecord(l4)) for (const protocol of L4_PROTOCOLS) if (isRecord(l4[protocol])) return protocol;
    return 'Unknown L4';
  }
  return 'Unknown flow';
}

/** monitor/api TraceObservationPoints, by event_type.sub_type. */
const TRACE_OBSERVATION_POINTS: readonly string[] = [
  'to-endpoint',
  'to-proxy',
  'to-host',
  'to-stack',
  'to-overlay',
  'from-endpoint',
  'from-proxy',
  'from-host',
  'from-stack',
  'from-overlay',
  'from-network',
  'to-network',
  'from-crypto',
  'to-crypto',
];

/** monitor/api PolicyMatchType.String(), lowercased as the policy handler does. */
const POLICY_MATCH_TYPES: readonly string[] = ['none', 'l3-only', 'l3-l4', 'l4-only', 'all', 'l3-proto', 'proto-only'];

/** pkg/hubble/metrics/dns rcodeNames. */
export const DNS_RCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'No Error',
  1: 'Format Error',
  2: 'Server Failure',
  3: 'Non-Existent Domain',
  4: 'Not Implemented',
  5: 'Query Refused',
  6: 'Name Exists when it should not',
  7: 'RR Set Exists when it should not',
  8: 'RR Set that should exist does not',
  9: 'Not Authorized',
  10: 'Name not contained in zone',
  11: 'DSO-TYPE Not Implemented',
  16: 'Bad OPT Version',
  17: 'Key not recognized',
  18: 'Signature out of time window',
  19: 'Bad TKEY Mode',
  20: 'Duplicate key name',
  21: 'Algorithm not supported',
  22: 'Bad Truncation',
  23: 'Bad/missing Server Cookie',
};

// ---------------------------------------------------------------------------------------------
// Context labels (pkg/hubble/metrics/api/context.go).

const APP_LABEL_PREFIXES = ['k8s:app.kubernetes.io/name=', 'k8s:k8s-app=', 'k8s:app='];
const KUBE_APISERVER_LABEL = 'reserved:kube-apiserver';
const SHORT_POD_NAME = /^(.+?)(-[a-z0-9]+){1,2}$/;

/** The app name from identity labels: app.kubernetes.io/name, then k8s-app, then app (per label, first match). */
export function appFromLabels(labels: readonly string[]): string {
  for (const label of labels) {
    for (const prefix of APP_LABEL_PREFIXES) {
      if (label.startsWith(prefix) && label.length > prefix.length) return label.slice(prefix.length);
    }
  }
  return '';
}

/** reserved:kube-apiserver when present (it shares identities with host, remote-node, world), else the first reserved label. */
export function reservedIdentityLabel(labels: readonly string[]): string {
  if (labels.includes(KUBE_APISERVER_LABEL)) return KUBE_APISERVER_LABEL;
  return labels.find((label) => label.startsWith('reserved:')) ?? '';
}

function firstWorkload(endpoint: FlowEndpoint): { name: string; kind: string } {
  const workloads = Array.isArray(endpoint.workloads) ? endpoint.workloads : [];
  const first: unknown = workloads[0];
  return isRecord(first) ? { name: text(first['name']), kind: text(first['kind']) } : { name: '', kind: '' };
}

function withNamespace(endpoint: FlowEndpoint, name: string): string {
  const namespace = text(endpoint.namespace);
  return namespace === '' ? name : `${namespace}/${name}`;
}

function contextValue(identifier: ContextIdentifier, flow: Flow, side: 'source' | 'destination'): string {
  const endpoint = endpointOf(flow, side);
  switch (identifier) {
    case 'namespace':
      return text(endpoint.namespace);
    case 'identity':
      return texts(endpoint.labels).join(',');
    case 'pod':
      return withNamespace(endpoint, text(endpoint.pod_name));
    case 'pod-short':
      return withNamespace(endpoint, text(endpoint.pod_name).replace(SHORT_POD_NAME, '$1'));
    case 'pod-name':
      return text(endpoint.pod_name);
    case 'dns':
      return texts(side === 'source' ? flow.source_names : flow.destination_names).join(',');
    case 'ip':
      return isRecord(flow.IP) ? text(flow.IP[side]) : '';
    case 'reserved-identity':
      return reservedIdentityLabel(texts(endpoint.labels));
    case 'workload': {
      const name = firstWorkload(endpoint).name;
      return name === '' ? '' : withNamespace(endpoint, name);
    }
    case 'workload-name':
      return firstWorkload(endpoint).name;
    case 'app':
      return appFromLabels(texts(endpoint.labels));
  }
}

function labelsContextValue(label: ContextLabel, flow: Flow): string {
  switch (label) {
    case 'source_ip':
      return isRecord(flow.IP) ? text(flow.IP['source']) : '';
    case 'destination_ip':
      return isRecord(flow.IP) ? text(flow.IP['destination']) : '';
    case 'source_pod':
      return text(endpointOf(flow, 'source').pod_name);
    case 'destination_pod':
      return text(endpointOf(flow, 'destination').pod_name);
    case 'source_namespace':
      return text(endpointOf(flow, 'source').namespace);
    case 'destination_namespace':
      return text(endpointOf(flow, 'destination').namespace);
    case 'source_workload':
      return firstWorkload(endpointOf(flow, 'source')).name;
    case 'destination_workload':
      return firstWorkload(endpointOf(flow, 'destination')).name;
    case 'source_workload_kind':
      return firstWorkload(endpointOf(flow, 'source')).kind;
    case 'destination_workload_kind':
      return firstWorkload(endpointOf(flow, 'destination')).kind;
    case 'source_app':
      return appFromLabels(texts(endpointOf(flow, 'source').labels));
    case 'destination_app':
      return appFromLabels(texts(endpointOf(flow, 'destination').labels));
    case 'traffic_direction': {
      const direction = enumName(flow.traffic_direction, 'TRAFFIC_DIRECTION_UNKNOWN');
      return direction === 'TRAFFIC_DIRECTION_UNKNOWN' ? 'unknown' : direction.toLowerCase();
    }
  }
}

/** Label names the context options add: labelsContext labels (in Hubble's order), then source, then destination. */
export function contextLabelNames(context: ContextOptions): string[] {
  const names: string[] = CONTEXT_LABELS.filter((label) => context.labels.has(label));
  if (context.source.length > 0) names.push('source');
  if (context.destination.length > 0) names.push('destination');
  return names;
}

/** Values for contextLabelNames, the first non-empty of each fallback list. */
export function contextLabelValues(context: ContextOptions, flow: Flow): string[] {
  const values = CONTEXT_LABELS.filter((label) => context.labels.has(label)).map((label) => labelsContextValue(label, flow));
  for (const side of ['source', 'destination'] as const) {
    const identifiers = context[side];
    if (identifiers.length === 0) continue;
    let value = '';
    for (const identifier of identifiers) {
      value = contextValue(identifier, flow, side);
      if (value !== '') break;
    }
    values.push(value);
  }
  return values;
}

// ---------------------------------------------------------------------------------------------
// Handlers: each owns its counters and decides which flows it counts.

interface Handler {
  process(flow: Flow): void;
}

/** A counter whose label values are given positionally, in declaration order, as Hubble's WithLabelValues. */
class CounterVec {
  readonly counter: Counter<string>;
  readonly name: string;
  readonly labelNames: readonly string[];
  constructor(
    created: CounterVec[],
    options: { name: string; help: string; labelNames: readonly string[] },
  ) {
    this.name = options.name;
    this.labelNames = options.labelNames;
    this.counter = new Counter({ name: options.name, help: options.help, labelNames: [...options.labelNames], registers: [] });
    created.push(this);
  }

  inc(values: readonly string[], amount = 1): void {
    const labels: Record<string, string> = {};
    this.labelNames.forEach((name, index) => {
      labels[name] = values[index] ?? '';
    });
    this.counter.inc(labels, amount);
  }
}

function dnsHandler(created: CounterVec[], config: HandlerConfig): Handler {
  const contextNames = contextLabelNames(config.context);
  const queryLabel = config.query ? ['query'] : [];
  const queryAndResponse = [...contextNames, 'rcode', 'qtypes', 'ips_returned', ...queryLabel];
  const queries = new CounterVec(created, { name: 'hubble_dns_queries_total', help: 'Number of DNS queries observed', labelNames: queryAndResponse });
  const responses = new CounterVec(created, { name: 'hubble_dns_responses_total', help: 'Number of DNS queries observed', labelNames: queryAndResponse });
  const responseTypes = new CounterVec(created, { name: 'hubble_dns_response_types_total', help: 'Number of DNS queries observed', labelNames: [...contextNames, 'type', 'qtypes', ...queryLabel] });
  return {
    process(flow) {
      const l7 = flow.l7;
      const dns: unknown = isRecord(l7) ? l7['dns'] : undefined;
      if (!isRecord(dns)) return;
      const qtypeList = texts(dns['qtypes']);
      if (config.ignoreAAAA && qtypeList.length === 1 && qtypeList[0] === 'AAAA') return;
      const context = contextLabelValues(config.context, flow);
      const qtypes = qtypeList.join(',');
      const ipsReturned = String(Array.isArray(dns['ips']) ? dns['ips'].length : 0);
      const query = config.query ? [text(dns['query'])] : [];
      if (enumName(flow.verdict, 'VERDICT_UNKNOWN') === 'DROPPED') {
        queries.inc([...context, 'Policy denied', qtypes, ipsReturned, ...query]);
      } else if (replyState(flow) !== true) {
        queries.inc([...context, '', qtypes, ipsReturned, ...query]);
      } else {
        responses.inc([...context, DNS_RCODE_NAMES[integer(dns['rcode'])] ?? '', qtypes, ipsReturned, ...query]);
        for (const responseType of texts(dns['rrtypes'])) responseTypes.inc([...context, responseType, qtypes, ...query]);
      }
    },
  };
}

function dropHandler(created: CounterVec[], config: HandlerConfig): Handler {
  const drops = new CounterVec(created, { name: 'hubble_drop_total', help: 'Number of drops', labelNames: [...contextLabelNames(config.context), 'reason', 'protocol'] });
  return {
    process(flow) {
      if (enumName(flow.verdict, 'VERDICT_UNKNOWN') !== 'DROPPED') return;
      drops.inc([...contextLabelValues(config.context, flow), enumName(flow.drop_reason_desc, 'DROP_REASON_UNKNOWN'), flowProtocol(flow)]);
    },
  };
}

function tcpHandler(created: CounterVec[], config: HandlerConfig): Handler {
  const flags = new CounterVec(created, { name: 'hubble_tcp_flags_total', help: 'TCP flag occurrences', labelNames: ['flag', 'family', ...contextLabelNames(config.context)] });
  return {
    process(flow) {
      const verdict = enumName(flow.verdict, 'VERDICT_UNKNOWN');
      if (verdict !== 'FORWARDED' && verdict !== 'REDIRECTED') return;
      const ip = flow.IP;
      const tcp: unknown = isRecord(flow.l4) ? flow.l4['TCP'] : undefined;
      if (!isRecord(ip) || !isRecord(tcp) || !isRecord(tcp['flags'])) return;
      const set = tcp['flags'];
      const rest = [enumName(ip['ipVersion'], 'IP_NOT_USED'), ...contextLabelValues(config.context, flow)];
      if (set['FIN'] === true) flags.inc(['FIN', ...rest]);
      if (set['SYN'] === true) flags.inc([set['ACK'] === true ? 'SYN-ACK' : 'SYN', ...rest]);
      if (set['RST'] === true) flags.inc(['RST', ...rest]);
    },
  };
}

function flowHandler(created: CounterVec[], config: HandlerConfig): Handler {
  const flows = new CounterVec(created, { name: 'hubble_flows_processed_total', help: 'Total number of flows processed', labelNames: ['protocol', 'type', 'subtype', 'verdict', ...contextLabelNames(config.context)] });
  return {
    process(flow) {
      const type = eventType(flow);
      let typeName: string;
      let subtype = '';
      if (type === MESSAGE_TYPE_ACCESS_LOG) {
        typeName = 'L7';
        subtype = l7Kind(flow) ?? '';
      } else if (type === MESSAGE_TYPE_DROP) typeName = 'Drop';
      else if (type === MESSAGE_TYPE_CAPTURE) typeName = 'Capture';
      else if (type === MESSAGE_TYPE_TRACE) {
        typeName = 'Trace';
        const subType = isRecord(flow.event_type) ? integer(flow.event_type['sub_type']) : 0;
        subtype = TRACE_OBSERVATION_POINTS[subType] ?? '';
      } else if (type === MESSAGE_TYPE_POLICY_VERDICT) typeName = 'PolicyVerdict';
      else {
        typeName = 'Unknown';
        subtype = String(type);
      }
      flows.inc([flowProtocol(flow), typeName, subtype, enumName(flow.verdict, 'VERDICT_UNKNOWN'), ...contextLabelValues(config.context, flow)]);
    },
  };
}

const PORTED_PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
const PORTLESS_PROTOCOLS = ['ICMPv4', 'ICMPv6', 'VRRP', 'IGMP'] as const;

function portDistributionHandler(created: CounterVec[], config: HandlerConfig): Handler {
  const ports = new CounterVec(created, { name: 'hubble_port_distribution_total', help: 'Numbers of packets distributed by destination port', labelNames: ['protocol', 'port', ...contextLabelNames(config.context)] });
  return {
    process(flow) {
      const verdict = enumName(flow.verdict, 'VERDICT_UNKNOWN');
      const l4 = flow.l4;
      // A flow not known to be a request says nothing about which port serves.
      if ((verdict !== 'FORWARDED' && verdict !== 'REDIRECTED') || !isRecord(l4) || replyState(flow) !== false) return;
      const context = contextLabelValues(config.context, flow);
      for (const protocol of PORTED_PROTOCOLS) {
        const header = l4[protocol];
        if (isRecord(header)) ports.inc([protocol, String(integer(header['destination_port'])), ...context]);
      }
      for (const protocol of PORTLESS_PROTOCOLS) if (isRecord(l4[protocol])) ports.inc([protocol, '0', ...context]);
    },
  };
}

function policyHandler(created: CounterVec[], config: HandlerConfig): Handler {
  const verdicts = new CounterVec(created, { name: 'hubble_policy_verdicts_total', help: 'Total number of Cilium network policy verdicts', labelNames: ['direction', 'match', 'action', ...contextLabelNames(config.context)] });
  return {
    process(flow) {
      const type = eventType(flow);
      let match: string;
      if (type === MESSAGE_TYPE_POLICY_VERDICT) {
        // The host may reach any local endpoint, so its verdicts say nothing about policy.
        if (integer(endpointOf(flow, 'source').identity) === RESERVED_IDENTITY_HOST) return;
        match = POLICY_MATCH_TYPES[integer(flow.policy_match_type)] ?? 'unknown';
      } else if (type === MESSAGE_TYPE_ACCESS_LOG) {
        match = `l7/${(l7Kind(flow) ?? '').toLowerCase()}`;
      } else return;
      const direction = enumName(flow.traffic_direction, 'TRAFFIC_DIRECTION_UNKNOWN').toLowerCase();
      verdicts.inc([direction, match, enumName(flow.verdict, 'VERDICT_UNKNOWN').toLowerCase(), ...contextLabelValues(config.context, flow)]);
    },
  };
}

const HANDLER_FACTORIES: Readonly<Record<HandlerName, (created: CounterVec[], config: HandlerConfig) => Handler>> = {
  dns: dnsHandler,
  drop: dropHandler,
  tcp: tcpHandler,
  flow: flowHandler,
  'port-distribution': portDistributionHandler,
  policy: policyHandler,
};

export interface HubbleMetricsOptions {
  /** Hubble's `--hubble-metrics` string; DEFAULT_METRICS when absent. */
  readonly metrics?: string;
}

/** Hubble's flow metrics over one dedicated registry: feed records with observe(), scrape registry. */
export class HubbleMetrics {
  readonly registry = new Registry();
  readonly handlers: readonly HandlerConfig[];
  /** Records a handler could not use (a shape no Hubble agent would produce); counted, never thrown. */
  failures = 0;
  private readonly processors: Handler[];
  private readonly lostEvents: CounterVec;

  constructor(options: HubbleMetricsOptions = {}) {
    this.handlers = parseMetricsConfig(options.metrics ?? DEFAULT_METRICS);
    const created: CounterVec[] = [];
    this.processors = this.handlers.map((config) => HANDLER_FACTORIES[config.name](created, config));
    this.lostEvents = new CounterVec(created, { name: 'hubble_lost_events_total', help: 'Number of lost events', labelNames: ['source'] });
    // Families in name order, as Go's registry prints them.
    created.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const vec of created) this.registry.registerMetric(vec.counter);
    // The agent's monitor consumer creates these two series at start, so they show as 0.
    this.lostEvents.inc(['perf_event_ring_buffer'], 0);
    this.lostEvents.inc(['observer_events_queue'], 0);
  }

  observe(record: FlowRecord): void {
    const flow = record.flow;
    if (isRecord(flow)) {
      for (const processor of this.processors) {
        try {
          processor.process(flow);
        } catch {
          this.failures++;
        }
      }
      return;
    }
    const lost = record.lost_events;
    if (isRecord(lost)) {
      const lostCount = integer(lost.num_events_lost);
      this.lostEvents.inc([enumName(lost.source, 'UNKNOWN_LOST_EVENT_SOURCE').toLowerCase()], lostCount);
    }
  }

  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves GET /metrics (Prometheus text format) and 404 for every other path, until closed. */
export function serveMetrics(options: { host: string; port: number; metrics: HubbleMetrics }): Promise<MetricsServer> {
  const { registry } = options.metrics;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { 'content-type': 'text/plain; charset=utf-8', allow: 'GET, HEAD' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (body) => response.writeHead(200, { 'content-type': registry.contentType }).end(request.method === 'HEAD' ? undefined : body),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics failed: ${error instanceof Error ? error.message : String(error)}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()));
            server.closeAllConnections();
          }),
      });
    });
  });
}
