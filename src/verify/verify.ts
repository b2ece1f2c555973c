/**
 * `verify`: replay captured flows against proposed policies and find the traffic whose verdict would
 * change, above all the legitimate traffic they would newly drop, grouped by (source workload,
 * destination workload, protocol/port) with the deciding rules and the smallest fix.
 *
 * What a record proves: a FORWARDED (REDIRECTED, AUDIT, ...) record seen at INGRESS, or with no
 * direction, proves the connection passed both sides; one seen at EGRESS proves only the source's
 * egress (the destination may have dropped it). A connection is therefore newly dropped when the
 * proposed policies deny it on a side some legitimate record proves, or on the ingress side when
 * records prove egress and no policy drop of it was captured. A connection the capture shows
 * dropped by policy, that no ingress-side record shows passing, and that the proposed policies
 * allow, is newly allowed. Drops for other reasons (bad checksums, unroutable addresses) prove nothing.
 */
import { compareText } from '../manifest/syntax.js';
import { describeEndpoint } from '../cluster/endpoint.js';
import { explainConnection, type Explanation } from '../explain/explain.js';
import { formatRule } from '../cli/render.js';
import { parsePath } from '../manifest/issue.js';
import { createCompiledEngine, type CompiledEngine } from '../policy/compiled/engine.js';
import { policyKey, ruleKey, type Policy, type RuleRef } from '../policy/model.js';
import type { Protocol } from '../policy/ports.js';
import type { Connection, Verdict, VerdictReason } from '../policy/verdict.js';
import type { Scenario } from '../scenario/load.js';
import { formatTimestampNs, parseTimestampNs, type Flow, type FlowRecord } from '../flow/model.js';
import { FlowMapper, isLegitimate, isPolicyDrop, isReplyFlow, l4Of, type FlowIdentity } from './replay.js';

export type VerdictChange = 'newly-dropped' | 'newly-allowed';

/** A rule that decided, and where it is written. */
export interface DecidingRule {
  readonly rule: RuleRef;
  /** `Kind namespace/name path [extras]  (file:line)`, as explain prints it. */
  readonly text: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

/** Flows between two workloads on one protocol/port whose verdict would change. */
export interface VerifyGroup {
  readonly change: VerdictChange;
  readonly source: FlowIdentity;
  readonly destination: FlowIdentity;
  readonly protocol: Protocol;
  readonly port: number;
  /** Flow records that would change verdict. */
  readonly flows: number;
  /** Distinct connections (endpoint pair, port, HTTP request) among them. */
  readonly connections: number;
  /** RFC 3339; empty when no record carried a time. */
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** The sides that deny under the proposed policies (`both` when allowed). */
  readonly decidedBy: readonly ('egress' | 'ingress' | 'both')[];
  readonly reasons: readonly VerdictReason[];
  /** Under the proposed policies: for newly dropped, the denying rules (default deny: the isolating policies); for newly allowed, the allowing ones. */
  readonly rules: readonly DecidingRule[];
  /** Up to five distinct HTTP requests (`GET /path`) among the connections, when they were L7 records. */
  readonly httpRequests: readonly string[];
  /** One connection of the group, the one seen first: the fix is computed for it. */
  readonly example: Connection;
  readonly verdict: Verdict;
  /** For newly dropped groups: the smallest change that lets the example through, checked by re-evaluation. */
  readonly explanation?: Explanation;
}

export interface VerifyCounts {
  /** Records read (flows, lost events, node status). */
  records: number;
  flows: number;
  /** Legitimate request flows (replies excluded). */
  legitimate: number;
  /** Request flows a policy dropped. */
  policyDropped: number;
  /** Flows with other verdicts or drop reasons (ERROR, non-policy drops): they prove nothing. */
  otherVerdicts: number;
  replies: number;
  /** Flows without a TCP, UDP, SCTP or ICMP header. */
  noL4: number;
  /** Flows whose source or destination is not in the cluster state: not verified. */
  unmapped: number;
  /** Of those, the legitimate ones. */
  unmappedLegitimate: number;
  /** Distinct connections evaluated. */
  connections: number;
  newlyDroppedFlows: number;
  newlyAllowedFlows: number;
}

export interface VerifyResult {
  /** Legitimate flows the proposed policies would drop, largest group first. */
  readonly groups: readonly VerifyGroup[];
  /** Flows the capture shows dropped by policy that the proposed policies would allow. */
  readonly allowedNow: readonly VerifyGroup[];
  readonly counts: VerifyCounts;
  /** Why flows could not be mapped, most frequent first. */
  readonly unmapped: readonly { readonly reason: string; readonly flows: number }[];
  /** Policies of the proposed set that are invalid and quarantined (they isolate and allow nothing). */
  readonly quarantined: readonly string[];
}

export interface VerifyOptions {
  readonly scenario: Scenario;
  readonly records: Iterable<FlowRecord>;
  /** Compute a fix per newly dropped group (default true). */
  readonly fixes?: boolean;
}

/** Replays records against the scenario's policies; see the module comment for what counts as a change. */
export function verifyFlows(options: VerifyOptions): VerifyResult {
  const verifier = new FlowVerifier(options.scenario, options.fixes === undefined ? {} : { fixes: options.fixes });
  for (const record of options.records) verifier.add(record);
  return verifier.finish();
}

/** One distinct connection and what the records said about it. */
interface ConnectionEntry {
  readonly connection: Connection;
  readonly verdict: Verdict;
  readonly source: FlowIdentity;
  readonly destination: FlowIdentity;
  /** Proposed policies deny on the egress side (L4 or HTTP): an egress-side record contradicts that directly. */
  readonly egressDenied: boolean;
  /** Legitimate records that prove the denying side passed. */
  direct: number;
  /** Legitimate egress-side records when the proposed denial is on ingress. */
  indirect: number;
  /** Legitimate records proving both sides passed. */
  bothSides: number;
  legitimate: number;
  policyDrops: number;
  firstNs: bigint | undefined;
  lastNs: bigint | undefined;
  /** Order of first sight, for a stable example. */
  readonly order: number;
}

const MAX_UNMAPPED_REASONS = 1000;
const MAX_HTTP_EXAMPLES = 5;

/** Verify incrementally (the CLI streams records in batches); `finish` groups and explains. */
export class FlowVerifier {
  readonly engine: CompiledEngine;
  private readonly mapper: FlowMapper;
  private readonly entries = new Map<string, ConnectionEntry>();
  private readonly unmappedReasons = new Map<string, number>();
  private readonly fixes: boolean;
  readonly counts: VerifyCounts = { records: 0, flows: 0, legitimate: 0, policyDropped: 0, otherVerdicts: 0, replies: 0, noL4: 0, unmapped: 0, unmappedLegitimate: 0, connections: 0, newlyDroppedFlows: 0, newlyAllowedFlows: 0 };

  constructor(
    private readonly scenario: Scenario,
    options: { fixes?: boolean } = {},
  ) {
    this.engine = createCompiledEngine({ cluster: scenario.cluster, policies: scenario.policies });
    const engine = this.engine;
    this.mapper = new FlowMapper({ cluster: engine.cluster, endpointFor: (pod) => engine.endpointFor(pod), httpHeaders: matchesHeaders(scenario.policies) });
    this.fixes = options.fixes ?? true;
  }

  add(record: FlowRecord): void {
    this.counts.records++;
    const flow = record.flow;
    if (flow === undefined) return;
    this.counts.flows++;
    const legitimate = isLegitimate(record);
    if (!legitimate && !isPolicyDrop(flow)) {
      this.counts.otherVerdicts++;
      return;
    }
    if (isReplyFlow(flow)) {
      this.counts.replies++;
      return;
    }
    const l4 = l4Of(flow);
    if (l4 === undefined) {
      this.counts.noL4++;
      return;
    }
    const ends = this.mapper.resolveEnds(flow);
    if (typeof ends === 'string') {
      this.counts.unmapped++;
      if (legitimate) this.counts.unmappedLegitimate++;
      const seen = this.unmappedReasons.get(ends);
      if (seen !== undefined) this.unmappedReasons.set(ends, seen + 1);
      else if (this.unmappedReasons.size < MAX_UNMAPPED_REASONS) this.unmappedReasons.set(ends, 1);
      return;
    }
    const http = flow.l7 === undefined ? undefined : this.mapper.httpOf(flow);
    let key = `${ends.source.id},${ends.destination.id},${l4.protocol},${l4.port}`;
    if (http !== undefined) key += `\u0000${http.method}\u0000${http.host ?? ''}\u0000${http.path}${http.headers === undefined ? '' : `\u0000${JSON.stringify(http.headers)}`}`;
    let entry = this.entries.get(key);
    if (entry === undefined) {
      const connection: Connection = http === undefined ? { src: ends.source.endpoint, dst: ends.destination.endpoint, protocol: l4.protocol, port: l4.port } : { src: ends.source.endpoint, dst: ends.destination.endpoint, protocol: l4.protocol, port: l4.port, http };
      const verdict = this.engine.evaluate(connection);
      entry = {
        connection,
        verdict,
        source: ends.source.identity,
        destination: ends.destination.identity,
        egressDenied: !verdict.egress.allowed || verdict.egress.http?.allowed === false,
        direct: 0,
        indirect: 0,
        bothSides: 0,
        legitimate: 0,
        policyDrops: 0,
        firstNs: undefined,
        lastNs: undefined,
        order: this.entries.size,
      };
      this.entries.set(key, entry);
    }
    if (legitimate) {
      this.counts.legitimate++;
      entry.legitimate++;
      const egressOnly = flow.traffic_direction === 'EGRESS';
      if (!egressOnly) entry.bothSides++;
      if (!entry.verdict.allowed) {
        if (!egressOnly || entry.egressDenied) entry.direct++;
        else entry.indirect++;
        seen(entry, flow, record);
      }
    } else {
      this.counts.policyDropped++;
      entry.policyDrops++;
      if (entry.verdict.allowed) seen(entry, flow, record);
    }
  }

  /** Replies a reader skipped before parsing them (a raw-line prefilter): counted as records, flows and replies. */
  addSkippedReplies(count: number): void {
    this.counts.records += count;
    this.counts.flows += count;
    this.counts.replies += count;
  }

  finish(): VerifyResult {
    const dropped = new Map<string, ConnectionEntry[]>();
    const allowed = new Map<string, ConnectionEntry[]>();
    let newlyDroppedFlows = 0;
    let newlyAllowedFlows = 0;
    for (const entry of this.entries.values()) {
      const { connection } = entry;
      const key = `${entry.source.name}\u0000${entry.destination.name}\u0000${connection.protocol}\u0000${connection.port}`;
      if (!entry.verdict.allowed) {
        const flows = entry.direct + (entry.policyDrops === 0 ? entry.indirect : 0);
        if (flows === 0) continue;
        newlyDroppedFlows += flows;
        push(dropped, key, entry);
      } else if (entry.policyDrops > 0 && entry.bothSides === 0) {
        newlyAllowedFlows += entry.policyDrops;
        push(allowed, key, entry);
      }
    }
    const counts: VerifyCounts = { ...this.counts, connections: this.entries.size, newlyDroppedFlows, newlyAllowedFlows };
    const unmapped = [...this.unmappedReasons].map(([reason, flows]) => ({ reason, flows })).sort((a, b) => b.flows - a.flows || compareText(a.reason, b.reason));
    const quarantined = this.scenario.policies.filter((policy) => policy.quarantined).map((policy) => `${policyKey(policy.ref)}: ${policy.quarantined ?? ''}`);
    return {
      groups: sortGroups([...dropped.values()].map((entries) => this.group('newly-dropped', entries))),
      allowedNow: sortGroups([...allowed.values()].map((entries) => this.group('newly-allowed', entries))),
      counts,
      unmapped,
      quarantined,
    };
  }

  private group(change: VerdictChange, entries: ConnectionEntry[]): VerifyGroup {
    entries.sort((a, b) => compareNs(a.firstNs, b.firstNs) || a.order - b.order);
    const example = entries[0]!;
    let flows = 0;
    let firstNs: bigint | undefined;
    let lastNs: bigint | undefined;
    const rules = new Map<string, RuleRef>();
    const decidedBy = new Set<'egress' | 'ingress' | 'both'>();
    const reasons = new Set<VerdictReason>();
    const httpRequests: string[] = [];
    for (const entry of entries) {
      flows += change === 'newly-dropped' ? entry.direct + (entry.policyDrops === 0 ? entry.indirect : 0) : entry.policyDrops;
      if (entry.firstNs !== undefined && (firstNs === undefined || entry.firstNs < firstNs)) firstNs = entry.firstNs;
      if (entry.lastNs !== undefined && (lastNs === undefined || entry.lastNs > lastNs)) lastNs = entry.lastNs;
      const verdict = entry.verdict;
      if (verdict.allowed) decidedBy.add('both');
      for (const side of decidingSides(verdict)) {
        if (!verdict.allowed) decidedBy.add(side.direction);
        reasons.add(side.reason);
        for (const rule of side.rules) rules.set(ruleKey(rule), rule);
        if (verdict.l7Denied) for (const grant of side.l7 ?? []) rules.set(ruleKey(grant.rule), grant.rule);
      }
      const http = entry.connection.http;
      if (http !== undefined && httpRequests.length < MAX_HTTP_EXAMPLES) {
        const text = `${http.method} ${http.path}`;
        if (!httpRequests.includes(text)) httpRequests.push(text);
      }
    }
    const explanation = change === 'newly-dropped' && this.fixes ? explainConnection(this.scenario, this.engine, example.connection) : undefined;
    return {
      change,
      source: example.source,
      destination: example.destination,
      protocol: example.connection.protocol,
      port: example.connection.port,
      flows,
      connections: entries.length,
      firstSeen: firstNs === undefined ? '' : formatTimestampNs(firstNs),
      lastSeen: lastNs === undefined ? '' : formatTimestampNs(lastNs),
      decidedBy: [...decidedBy].sort(),
      reasons: [...reasons].sort(),
      rules: [...rules.keys()].sort().map((key) => this.decidingRule(rules.get(key)!)),
      httpRequests,
      example: example.connection,
      verdict: example.verdict,
      ...(explanation === undefined ? {} : { explanation }),
    };
  }

  private decidingRule(rule: RuleRef): DecidingRule {
    const source = this.scenario.sources.get(policyKey(rule.policy));
    const position = source?.locate(parsePath(rule.path)) ?? source?.locate([]);
    return {
      rule,
      text: formatRule(this.scenario, rule),
      ...(source ? { file: source.source } : {}),
      ...(position ? { line: position.line, column: position.column } : {}),
    };
  }
}

/** The sides whose verdict decided: the denying ones for a denial, both for an allow. */
function decidingSides(verdict: Verdict): Verdict['egress'][] {
  if (verdict.allowed) return [verdict.egress, verdict.ingress];
  if (verdict.l7Denied) return [verdict.egress, verdict.ingress].filter((side) => side.http?.allowed === false);
  return [verdict.egress, verdict.ingress].filter((side) => !side.allowed);
}

function seen(entry: ConnectionEntry, flow: Flow, record: FlowRecord): void {
  const ns = parseTimestampNs(record.time ?? flow.time);
  if (ns === undefined) return;
  if (entry.firstNs === undefined || ns < entry.firstNs) entry.firstNs = ns;
  if (entry.lastNs === undefined || ns > entry.lastNs) entry.lastNs = ns;
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function sortGroups(groups: VerifyGroup[]): VerifyGroup[] {
  return groups.sort((a, b) => b.flows - a.flows || compareText(a.source.name, b.source.name) || compareText(a.destination.name, b.destination.name) || compareText(a.protocol, b.protocol) || a.port - b.port);
}

function compareNs(a: bigint | undefined, b: bigint | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  return a < b ? -1 : 1;
}

/** Whether any HTTP rule matches on headers: only then are the flows' headers worth carrying. */
function matchesHeaders(policies: readonly Policy[]): boolean {
  for (const policy of policies) {
    if (policy.type !== 'Cilium') continue;
    for (const rule of policy.rules) {
      for (const peerRule of [...rule.allow.ingress, ...rule.allow.egress]) {
        if (peerRule.ports?.some((port) => port.http?.some((http) => http.headers.length > 0))) return true;
      }
    }
  }
  return false;
}

/** `frontend/web-gateway → payments/postgres TCP/5432`, for one-line summaries. */
export function describeGroup(group: VerifyGroup): string {
  return `${group.source.name} → ${group.destination.name} ${group.protocol}/${group.port}`;
}

/** The example connection's endpoints as explain names them (the pods, not their workloads). */
export function describeExample(group: VerifyGroup): string {
  const http = group.example.http ? ` ${group.example.http.method} ${group.example.http.path}` : '';
  return `${describeEndpoint(group.example.src)} → ${describeEndpoint(group.example.dst)} ${group.example.protocol}/${group.example.port}${http}`;
}
