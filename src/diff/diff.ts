/**
 * `diff`: the connections whose verdict changes between two policy sets (base and head) over one
 * cluster state, on observed flows and on the pod × pod × declared-port space.
 */
import { compareText } from '../manifest/syntax.js';
import { describeEndpoint, podEndpoint, type Endpoint } from '../cluster/endpoint.js';
import type { Pod } from '../cluster/model.js';
import type { ClusterState } from '../cluster/state.js';
import { isRecord, parseSource, type LocatedObject, type SourceText } from '../manifest/document.js';
import { formatPath, parsePath, type Issue, type Path } from '../manifest/issue.js';
import { formatTimestampNs, recordTimeNs, type FlowRecord } from '../flow/model.js';
import { createCompiledEngine } from '../policy/compiled/engine.js';
import type { EngineFactory, PolicyEngine } from '../policy/engine.js';
import { formatPolicyRef, policyKey, type Policy, type RuleRef } from '../policy/model.js';
import type { Protocol } from '../policy/ports.js';
import type { Connection, DirectionVerdict, Verdict } from '../policy/verdict.js';
import { scenarioFromObjects } from '../scenario/load.js';
import { readSources } from '../scenario/files.js';
import { FlowMapper, isLegitimate } from '../verify/replay.js';

export const DIFF_SCHEMA = 'podgate.dev/diff/v1';

/** Kinds that are policies: they come from base or head only; everything else is cluster state. */
const POLICY_KINDS = new Set(['NetworkPolicy', 'CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'ClusterNetworkPolicy', 'AdminNetworkPolicy', 'BaselineAdminNetworkPolicy']);

/** One side of the diff: its policies and where each came from. */
export interface PolicySet {
  readonly policies: readonly Policy[];
  /** By policyKey: the raw manifest with positions (for file:line and the policy diff). */
  readonly sources: ReadonlyMap<string, LocatedObject>;
  readonly issues: readonly Issue[];
}

export interface DiffInputs {
  readonly cluster: ClusterState;
  readonly base: PolicySet;
  readonly head: PolicySet;
  /** Problems in the cluster state manifests (from -f and the state objects of base and head). */
  readonly stateIssues: readonly Issue[];
  /** Policies found in -f manifests and ignored (policies come from base and head only). */
  readonly ignoredPolicies: number;
}

export interface LoadDiffOptions {
  readonly state: readonly string[];
  readonly base: readonly string[];
  readonly head: readonly string[];
  /** Reads stdin once for a `-` path (tests pass text). */
  readonly stdin?: () => string;
}

/**
 * Reads the three inputs. State = the non-policy objects of -f, then of base, then of head (a later
 * object with the same kind and name replaces an earlier one); policies come from base or head only.
 * Unreadable paths are returned as issues with code PODGATE_E_INPUT; the caller decides.
 */
export function loadDiffInputs(options: LoadDiffOptions): DiffInputs & { unreadable: Issue[]; files: Record<'state' | 'base' | 'head', number> } {
  const unreadable: Issue[] = [];
  const files = { state: 0, base: 0, head: 0 };
  const parseIssues: { state: Issue[]; base: Issue[]; head: Issue[] } = { state: [], base: [], head: [] };
  const read = (paths: readonly string[], side: 'state' | 'base' | 'head'): LocatedObject[] => {
    const { sources, issues } = readSources(paths, options.stdin);
    unreadable.push(...issues);
    files[side] += sources.length;
    return sources.flatMap((source: SourceText) => {
      const parsed = parseSource(source);
      parseIssues[side].push(...parsed.issues);
      return parsed.objects;
    });
  };
  const stateObjects = read(options.state, 'state');
  const baseObjects = read(options.base, 'base');
  const headObjects = read(options.head, 'head');
  const state = new Map<string, LocatedObject>();
  const stateConflicts: Issue[] = [];
  for (const [objects, side] of [[stateObjects, 'state'], [baseObjects, 'base'], [headObjects, 'head']] as const) {
    for (const object of objects) {
      if (isPolicyObject(object.value)) continue;
      const key = objectKey(object.value);
      if (key === undefined) {
        state.set(`#${state.size}`, object);
        continue;
      }
      const earlier = state.get(key);
      if (side === 'head' && earlier !== undefined && !sameValue(earlier.value, object.value)) {
        stateConflicts.push({
          code: 'PODGATE_W_DIFF_STATE',
          severity: 'warning',
          path: '',
          message: `${key} in --head differs from ${earlier.source}; the head's version is used on both sides (diff compares policies over one cluster state)`,
          hint: 'put cluster state in -f manifests, or make it the same in base and head',
          file: object.source,
          ...(object.locate([])?.line === undefined ? {} : { line: object.locate([])!.line }),
        });
      }
      state.set(key, object);
    }
  }
  const stateScenario = scenarioFromObjects([...state.values()], { issues: parseIssues.state });
  const sideOf = (objects: readonly LocatedObject[], issues: Issue[]): PolicySet => {
    const scenario = scenarioFromObjects(objects.filter((object) => isPolicyObject(object.value)), { issues });
    return { policies: scenario.policies, sources: scenario.sources, issues: scenario.issues };
  };
  return {
    cluster: stateScenario.cluster,
    base: sideOf(baseObjects, parseIssues.base),
    head: sideOf(headObjects, parseIssues.head),
    stateIssues: [...stateScenario.issues, ...stateConflicts],
    ignoredPolicies: stateObjects.filter((object) => isPolicyObject(object.value)).length,
    unreadable,
    files,
  };
}

function isPolicyObject(value: unknown): boolean {
  return isRecord(value) && typeof value['kind'] === 'string' && POLICY_KINDS.has(value['kind']);
}

function objectKey(value: unknown): string | undefined {
  if (!isRecord(value) || typeof value['kind'] !== 'string') return undefined;
  const metadata = isRecord(value['metadata']) ? value['metadata'] : {};
  const name = typeof metadata['name'] === 'string' ? metadata['name'] : undefined;
  if (name === undefined) return undefined;
  const namespace = typeof metadata['namespace'] === 'string' ? metadata['namespace'] : '';
  return `${value['kind']}/${namespace === '' ? '' : `${namespace}/`}${name}`;
}

// ---------------------------------------------------------------------------------------------
// Verdict summaries

export interface RuleSummary {
  /** `NetworkPolicy payments/allow-api-to-postgres` */
  readonly policy: string;
  readonly path: string;
  readonly file?: string;
  readonly line?: number;
}

export interface DirectionSummary {
  /** The reasons seen (one unless connections of a group were decided differently). */
  readonly reasons: string[];
  readonly rules: RuleSummary[];
}

export interface SideSummary {
  readonly allowed: boolean;
  /** The side that denied; `both` when allowed. */
  readonly decidedBy: string;
  readonly egress: DirectionSummary;
  readonly ingress: DirectionSummary;
}

function locate(set: PolicySet, rule: RuleRef): RuleSummary {
  const source = set.sources.get(policyKey(rule.policy));
  const position = source?.locate(parsePath(rule.path));
  return {
    policy: formatPolicyRef(rule.policy),
    path: rule.path,
    ...(source ? { file: source.source } : {}),
    ...(position ? { line: position.line } : {}),
  };
}

function directionReason(side: DirectionVerdict): string {
  return side.http?.allowed === false ? 'http-denied' : side.reason;
}

/** A side's verdict as data; `keys` collects the deciding rules' policy keys. */
function summarize(set: PolicySet, verdict: Verdict): { summary: SideSummary; policies: Set<string> } {
  const policies = new Set<string>();
  const direction = (side: DirectionVerdict): DirectionSummary => {
    for (const rule of side.rules) policies.add(policyKey(rule.policy));
    if (side.passedBy) policies.add(policyKey(side.passedBy.policy));
    return { reasons: [directionReason(side)], rules: side.rules.map((rule) => locate(set, rule)) };
  };
  return { summary: { allowed: verdict.allowed, decidedBy: verdict.decidedBy, egress: direction(verdict.egress), ingress: direction(verdict.ingress) }, policies };
}

function mergeSummary(into: SideSummary, other: SideSummary): SideSummary {
  const merge = (a: DirectionSummary, b: DirectionSummary): DirectionSummary => {
    const reasons = [...a.reasons];
    for (const reason of b.reasons) if (!reasons.includes(reason)) reasons.push(reason);
    const rules = [...a.rules];
    const seen = new Set(rules.map((rule) => `${rule.policy}#${rule.path}`));
    for (const rule of b.rules) if (!seen.has(`${rule.policy}#${rule.path}`)) rules.push(rule);
    return { reasons, rules };
  };
  const decidedBy = into.decidedBy === other.decidedBy ? into.decidedBy : `${into.decidedBy}|${other.decidedBy}`;
  return { allowed: into.allowed, decidedBy, egress: merge(into.egress, other.egress), ingress: merge(into.ingress, other.ingress) };
}

// ---------------------------------------------------------------------------------------------
// Policy changes

export type ChangeKind = 'added' | 'removed' | 'modified';

export interface ChangedField {
  /** Path inside the object: `spec.ingress[0].ports[0].port`. */
  readonly path: string;
  readonly change: ChangeKind;
  /** Where it is: in head for added and modified fields, in base for removed ones. */
  readonly file: string;
  readonly line?: number;
}

export interface PolicyChange {
  /** policyKey: `NetworkPolicy/payments/allow-api-to-postgres` */
  readonly key: string;
  readonly policy: string;
  readonly change: ChangeKind;
  readonly base?: { readonly file: string; readonly line?: number };
  readonly head?: { readonly file: string; readonly line?: number };
  readonly fields: ChangedField[];
}

const MAX_FIELDS = 20;
/** Server-set fields that say nothing about what a policy allows. */
const NOISE = new Set(['status', 'metadata.resourceVersion', 'metadata.uid', 'metadata.generation', 'metadata.creationTimestamp', 'metadata.managedFields', 'metadata.selfLink']);

/** Where a field is; a whole policy is placed at its name. */
function where(object: LocatedObject, path: Path = ['metadata', 'name']): { file: string; line?: number } {
  const position = object.locate(path);
  return { file: object.source, ...(position ? { line: position.line } : {}) };
}

/** Policies added, removed or modified from base to head, with the fields that differ and their lines. */
export function policyChanges(base: PolicySet, head: PolicySet): PolicyChange[] {
  const keys = [...new Set([...base.sources.keys(), ...head.sources.keys()])].sort();
  const names = new Map<string, string>();
  for (const policy of [...base.policies, ...head.policies]) names.set(policyKey(policy.ref), formatPolicyRef(policy.ref));
  const changes: PolicyChange[] = [];
  for (const key of keys) {
    const before = base.sources.get(key);
    const after = head.sources.get(key);
    const policy = names.get(key) ?? key;
    if (before === undefined && after !== undefined) changes.push({ key, policy, change: 'added', head: where(after), fields: [] });
    else if (before !== undefined && after === undefined) changes.push({ key, policy, change: 'removed', base: where(before), fields: [] });
    else if (before !== undefined && after !== undefined) {
      const differences: { path: Path; change: ChangeKind }[] = [];
      diffValues(before.value, after.value, [], differences);
      if (differences.length === 0) continue;
      const fields = differences.slice(0, MAX_FIELDS).map(({ path, change }) => ({ path: formatPath(path), change, ...where(change === 'removed' ? before : after, path) }));
      changes.push({ key, policy, change: 'modified', base: where(before), head: where(after), fields });
    }
  }
  return changes;
}

function diffValues(a: unknown, b: unknown, path: Path, out: { path: Path; change: ChangeKind }[]): void {
  if (NOISE.has(formatPath(path))) return;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let index = 0; index < Math.max(a.length, b.length); index++) {
      if (index >= a.length) out.push({ path: [...path, index], change: 'added' });
      else if (index >= b.length) out.push({ path: [...path, index], change: 'removed' });
      else diffValues(a[index], b[index], [...path, index], out);
    }
    return;
  }
  if (isRecord(a) && isRecord(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const child = [...path, key];
      if (NOISE.has(formatPath(child))) continue;
      if (!(key in b)) out.push({ path: child, change: 'removed' });
      else if (!(key in a)) out.push({ path: child, change: 'added' });
      else diffValues(a[key], b[key], child, out);
    }
    return;
  }
  if (!sameValue(a, b)) out.push({ path, change: 'modified' });
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => sameValue(item, b[index]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => key in b && sameValue(a[key], b[key]));
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Grouping names

/** `NAMESPACE/WORKLOAD` for a pod (its owner, a ReplicaSet's hash removed), else how the endpoint reads. */
export function workloadOf(endpoint: Endpoint): string {
  if (endpoint.kind === 'pod') return podWorkload(endpoint.pod);
  if (endpoint.kind === 'external' && endpoint.name === undefined) return `reserved:${endpoint.peerClass}`;
  return describeEndpoint(endpoint);
}

function podWorkload(pod: Pod): string {
  const owner = pod.owner;
  if (owner === undefined) return `${pod.namespace}/${pod.name}`;
  const hash = pod.labels.get('pod-template-hash');
  const name = owner.kind === 'ReplicaSet' && hash !== undefined && owner.name.endsWith(`-${hash}`) ? owner.name.slice(0, -hash.length - 1) : owner.name;
  return `${pod.namespace}/${name}`;
}

function describeConnection(connection: Connection): string {
  const http = connection.http ? ` ${connection.http.method} ${connection.http.path}` : '';
  return `${describeEndpoint(connection.src)} → ${describeEndpoint(connection.dst)} ${connection.protocol}/${connection.port}${http}`;
}

export type VerdictChange = 'allowed-to-denied' | 'denied-to-allowed';

function endpointNamespace(endpoint: Endpoint): string | undefined {
  return endpoint.kind === 'pod' ? endpoint.pod.namespace : undefined;
}

// ---------------------------------------------------------------------------------------------
// Flows

export interface FlowGroup {
  readonly change: VerdictChange;
  readonly source: string;
  readonly destination: string;
  readonly protocol: Protocol;
  readonly port: number;
  flows: number;
  /** Flows the cluster really carried (not dropped when observed). */
  legitimateFlows: number;
  /** Distinct connections (ends, port, HTTP request) in the group. */
  connections: number;
  firstSeenNs: bigint;
  lastSeenNs: bigint;
  /** Up to three of the group's connections, as text. */
  readonly examples: string[];
  base: SideSummary;
  head: SideSummary;
  /** policyKeys of the changed policies among the deciding rules of either side. */
  readonly policies: Set<string>;
}

export interface FlowCounts {
  /** Records given to the diff. */
  records: number;
  /** Records replayed under both sets. */
  compared: number;
  unchanged: number;
  /** Records that are not connections of their own (replies, DNS answers, lost events, ...), by reason. */
  readonly skipped: Map<string, number>;
  /** Records outside the --namespace filter. */
  outside: number;
  /** Distinct connections evaluated (each once per side). */
  distinct: number;
}

/** Per distinct connection: unchanged, or the group it falls in (verdicts computed once). */
type CacheEntry = FlowGroup | null;

const MAX_EXAMPLES = 3;

export interface PolicyDiffOptions {
  readonly cluster: ClusterState;
  readonly base: PolicySet;
  readonly head: PolicySet;
  /** Only connections with a pod of one of these namespaces at either end. */
  readonly namespaces?: readonly string[];
  /** Defaults to the compiled engine. */
  readonly engine?: EngineFactory;
}

/** Two engines over one cluster, the policy changes, and a verdict cache for replaying flows. */
export class PolicyDiff {
  readonly baseEngine: PolicyEngine;
  readonly headEngine: PolicyEngine;
  readonly changes: PolicyChange[];
  readonly counts: FlowCounts = { records: 0, compared: 0, unchanged: 0, skipped: new Map(), outside: 0, distinct: 0 };
  private readonly changedKeys: Set<string>;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly groups = new Map<string, FlowGroup>();
  private readonly namespaces: Set<string> | undefined;
  private readonly mapper: FlowMapper;
  private readonly endpointIds = new Map<Endpoint, number>();

  constructor(private readonly options: PolicyDiffOptions) {
    const factory = options.engine ?? createCompiledEngine;
    this.baseEngine = factory({ cluster: options.cluster, policies: options.base.policies });
    this.headEngine = factory({ cluster: options.cluster, policies: options.head.policies });
    // Both engines hold the same Pod objects (a cluster clone keeps them), so one mapping serves both.
    this.mapper = new FlowMapper({ cluster: this.baseEngine.cluster });
    this.changes = policyChanges(options.base, options.head);
    this.changedKeys = new Set(this.changes.map((change) => change.key));
    this.namespaces = options.namespaces && options.namespaces.length > 0 ? new Set(options.namespaces) : undefined;
  }

  /** Replays one record under base and head. */
  addFlow(record: FlowRecord): void {
    this.counts.records++;
    const mapped = this.mapper.map(record);
    if ('skip' in mapped) {
      const reason = mapped.kind === 'unmapped' ? `unmapped (${mapped.skip.split(':')[0]} not in the cluster state)` : mapped.kind ?? mapped.skip;
      this.counts.skipped.set(reason, (this.counts.skipped.get(reason) ?? 0) + 1);
      return;
    }
    const { connection } = mapped;
    if (this.namespaces && !this.inScope(connection)) {
      this.counts.outside++;
      return;
    }
    this.counts.compared++;
    const http = connection.http ? ` ${connection.http.method} ${connection.http.host ?? ''}${connection.http.path}` : '';
    const key = `${this.endpointId(connection.src)}>${this.endpointId(connection.dst)}>${connection.protocol}/${connection.port}${http}`;
    let entry = this.cache.get(key);
    if (entry === undefined) {
      entry = this.evaluate(connection, record);
      this.cache.set(key, entry);
      this.counts.distinct++;
      if (entry !== null) entry.connections++;
    }
    if (entry === null) {
      this.counts.unchanged++;
      return;
    }
    entry.flows++;
    if (isLegitimate(record)) entry.legitimateFlows++;
    const time = recordTimeNs(record);
    if (time !== 0n && (entry.firstSeenNs === 0n || time < entry.firstSeenNs)) entry.firstSeenNs = time;
    if (time > entry.lastSeenNs) entry.lastSeenNs = time;
  }

  /** The mapper hands out one endpoint object per flow end, so object identity is a cheap cache key. */
  private endpointId(endpoint: Endpoint): number {
    let id = this.endpointIds.get(endpoint);
    if (id === undefined) {
      id = this.endpointIds.size;
      this.endpointIds.set(endpoint, id);
    }
    return id;
  }

  /** A flow end's group name: the pod's workload, else the mapper's name for it (DNS name, entity, address). */
  private flowEndName(record: FlowRecord, endpoint: Endpoint, side: 'source' | 'destination'): string {
    if (endpoint.kind === 'pod' || record.flow === undefined) return workloadOf(endpoint);
    const resolved = this.mapper.resolve(record.flow, side);
    return typeof resolved === 'string' ? workloadOf(endpoint) : resolved.identity.name;
  }

  private inScope(connection: Connection): boolean {
    const src = endpointNamespace(connection.src);
    const dst = endpointNamespace(connection.dst);
    return (src !== undefined && this.namespaces!.has(src)) || (dst !== undefined && this.namespaces!.has(dst));
  }

  private evaluate(connection: Connection, record: FlowRecord): CacheEntry {
    const before = this.baseEngine.evaluate(connection);
    const after = this.headEngine.evaluate(connection);
    if (before.allowed === after.allowed) return null;
    const change: VerdictChange = before.allowed ? 'allowed-to-denied' : 'denied-to-allowed';
    const source = this.flowEndName(record, connection.src, 'source');
    const destination = this.flowEndName(record, connection.dst, 'destination');
    const key = `${change}|${source}|${destination}|${connection.protocol}|${connection.port}`;
    const base = summarize(this.options.base, before);
    const head = summarize(this.options.head, after);
    let group = this.groups.get(key);
    if (group === undefined) {
      group = {
        change, source, destination, protocol: connection.protocol, port: connection.port,
        flows: 0, legitimateFlows: 0, connections: 0, firstSeenNs: 0n, lastSeenNs: 0n, examples: [],
        base: base.summary, head: head.summary, policies: new Set(),
      };
      this.groups.set(key, group);
    } else {
      group.base = mergeSummary(group.base, base.summary);
      group.head = mergeSummary(group.head, head.summary);
    }
    if (group.examples.length < MAX_EXAMPLES) group.examples.push(describeConnection(connection));
    for (const policy of [...base.policies, ...head.policies]) if (this.changedKeys.has(policy)) group.policies.add(policy);
    return group;
  }

  /** The flow groups whose verdict changes, in a stable order. */
  flowGroups(): FlowGroup[] {
    return [...this.groups.values()].sort(compareGroups);
  }

  /** Every pod against every pod on the destination's declared ports, under base and head. */
  matrix(): MatrixDiff {
    const pods = this.baseEngine.cluster.pods.filter((pod) => !pod.hostNetwork).sort((a, b) => compareText(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
    const groups = new Map<string, MatrixGroup>();
    let probes = 0;
    let changed = 0;
    for (const from of pods) {
      for (const to of pods) {
        if (this.namespaces && !this.namespaces.has(from.namespace) && !this.namespaces.has(to.namespace)) continue;
        for (const { port, protocol } of declaredPorts(to)) {
          probes++;
          const connection: Connection = { src: podEndpoint(this.baseEngine.cluster, from), dst: podEndpoint(this.baseEngine.cluster, to), protocol, port };
          const before = this.baseEngine.evaluate(connection);
          const after = this.headEngine.evaluate(connection);
          if (before.allowed === after.allowed) continue;
          changed++;
          const change: VerdictChange = before.allowed ? 'allowed-to-denied' : 'denied-to-allowed';
          const source = podWorkload(from);
          const destination = podWorkload(to);
          const key = `${change}|${source}|${destination}|${protocol}|${port}`;
          const base = summarize(this.options.base, before);
          const head = summarize(this.options.head, after);
          let group = groups.get(key);
          if (group === undefined) {
            group = { change, source, destination, protocol, port, pairs: [], base: base.summary, head: head.summary, policies: new Set() };
            groups.set(key, group);
          } else {
            group.base = mergeSummary(group.base, base.summary);
            group.head = mergeSummary(group.head, head.summary);
          }
          group.pairs.push({ from: `${from.namespace}/${from.name}`, to: `${to.namespace}/${to.name}` });
          for (const policy of [...base.policies, ...head.policies]) if (this.changedKeys.has(policy)) group.policies.add(policy);
        }
      }
    }
    return { pods: pods.length, probes, changed, groups: [...groups.values()].sort(compareGroups) };
  }
}

export interface MatrixGroup {
  readonly change: VerdictChange;
  readonly source: string;
  readonly destination: string;
  readonly protocol: Protocol;
  readonly port: number;
  /** The pod pairs (cells) that change. */
  readonly pairs: { from: string; to: string }[];
  base: SideSummary;
  head: SideSummary;
  readonly policies: Set<string>;
}

export interface MatrixDiff {
  readonly pods: number;
  /** Cells × declared ports evaluated on each side. */
  readonly probes: number;
  readonly changed: number;
  readonly groups: MatrixGroup[];
}

function declaredPorts(pod: Pod): { port: number; protocol: Protocol }[] {
  const seen = new Set<string>();
  const out: { port: number; protocol: Protocol }[] = [];
  for (const port of pod.containerPorts) {
    const key = `${port.port}/${port.protocol}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ port: port.port, protocol: port.protocol });
  }
  return out;
}

function compareGroups(a: { change: string; source: string; destination: string; protocol: string; port: number }, b: typeof a): number {
  return compareText(a.change, b.change) || compareText(a.source, b.source) || compareText(a.destination, b.destination) || compareText(a.protocol, b.protocol) || a.port - b.port;
}

// ---------------------------------------------------------------------------------------------
// Result

export interface DiffResult {
  readonly flows?: { readonly counts: FlowCounts; readonly groups: FlowGroup[] };
  readonly matrix: MatrixDiff;
  readonly changes: PolicyChange[];
}

/** The whole diff for records already in memory (the CLI streams them into a PolicyDiff instead). */
export function diffPolicies(options: PolicyDiffOptions & { records?: Iterable<FlowRecord> }): DiffResult {
  const diff = new PolicyDiff(options);
  if (options.records !== undefined) for (const record of options.records) diff.addFlow(record);
  return result(diff, options.records !== undefined);
}

export function result(diff: PolicyDiff, withFlows: boolean): DiffResult {
  return { ...(withFlows ? { flows: { counts: diff.counts, groups: diff.flowGroups() } } : {}), matrix: diff.matrix(), changes: diff.changes };
}

/** Whether anything changes verdict (the exit status): a policy edit that changes nothing is not a finding. */
export function hasVerdictChanges(diffResult: DiffResult): boolean {
  return (diffResult.flows?.groups.length ?? 0) > 0 || diffResult.matrix.groups.length > 0;
}

function count(groups: readonly { change: VerdictChange }[], change: VerdictChange): number {
  return groups.filter((group) => group.change === change).length;
}

/** The stable JSON form (schema `podgate.dev/diff/v1`). */
export function diffJson(diffResult: DiffResult, labels: { base: string; head: string }): unknown {
  const flows = diffResult.flows;
  const sumFlows = (change: VerdictChange): number => (flows?.groups ?? []).filter((group) => group.change === change).reduce((total, group) => total + group.flows, 0);
  const changeName = (key: string): string => diffResult.changes.find((change) => change.key === key)?.policy ?? key;
  return {
    schema: DIFF_SCHEMA,
    base: labels.base,
    head: labels.head,
    summary: {
      changed: hasVerdictChanges(diffResult),
      policies: {
        added: diffResult.changes.filter((change) => change.change === 'added').length,
        removed: diffResult.changes.filter((change) => change.change === 'removed').length,
        modified: diffResult.changes.filter((change) => change.change === 'modified').length,
      },
      flows: flows === undefined
        ? null
        : {
            records: flows.counts.records,
            compared: flows.counts.compared,
            unchanged: flows.counts.unchanged,
            skipped: flows.counts.records - flows.counts.compared - flows.counts.outside,
            outsideNamespaces: flows.counts.outside,
            distinctConnections: flows.counts.distinct,
            allowedToDenied: { groups: count(flows.groups, 'allowed-to-denied'), flows: sumFlows('allowed-to-denied') },
            deniedToAllowed: { groups: count(flows.groups, 'denied-to-allowed'), flows: sumFlows('denied-to-allowed') },
          },
      matrix: {
        pods: diffResult.matrix.pods,
        probes: diffResult.matrix.probes,
        changed: diffResult.matrix.changed,
        allowedToDenied: { groups: count(diffResult.matrix.groups, 'allowed-to-denied'), cells: diffResult.matrix.groups.filter((group) => group.change === 'allowed-to-denied').reduce((total, group) => total + group.pairs.length, 0) },
        deniedToAllowed: { groups: count(diffResult.matrix.groups, 'denied-to-allowed'), cells: diffResult.matrix.groups.filter((group) => group.change === 'denied-to-allowed').reduce((total, group) => total + group.pairs.length, 0) },
      },
    },
    policyChanges: diffResult.changes,
    flows: flows === undefined
      ? null
      : {
          skipped: Object.fromEntries([...flows.counts.skipped.entries()].sort(([a], [b]) => compareText(a, b))),
          groups: flows.groups.map((group) => ({
            change: group.change,
            source: group.source,
            destination: group.destination,
            protocol: group.protocol,
            port: group.port,
            flows: group.flows,
            legitimateFlows: group.legitimateFlows,
            connections: group.connections,
            firstSeen: group.firstSeenNs === 0n ? null : formatTimestampNs(group.firstSeenNs),
            lastSeen: group.lastSeenNs === 0n ? null : formatTimestampNs(group.lastSeenNs),
            examples: group.examples,
            base: group.base,
            head: group.head,
            policyChanges: [...group.policies].sort().map(changeName),
          })),
        },
    matrix: diffResult.matrix.groups.map((group) => ({
      change: group.change,
      source: group.source,
      destination: group.destination,
      protocol: group.protocol,
      port: group.port,
      cells: group.pairs,
      base: group.base,
      head: group.head,
      policyChanges: [...group.policies].sort().map(changeName),
    })),
  };
}
