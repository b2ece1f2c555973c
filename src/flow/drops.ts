/**
 * New drops: each (source identity, destination identity, protocol/port, drop reason) that was
 * never dropped in a baseline. Identities are stable workload names, not Cilium's numeric
 * identities, which change whenever labels or the identity allocator do.
 */
import { destinationPort, formatTimestampNs, l4Protocol, recordTimeNs, sourcePort, type Flow, type FlowEndpoint, type FlowRecord } from './model.js';
import { isRecord } from '../manifest/document.js';

/** How an identity was named, from most to least stable. */
export type IdentityKind = 'workload' | 'app' | 'pod' | 'reserved' | 'dns' | 'ip' | 'world' | 'unknown';

export interface StableIdentity {
  readonly name: string;
  readonly kind: IdentityKind;
}

const APP_LABEL_PREFIXES = ['k8s:app.kubernetes.io/name=', 'k8s:k8s-app=', 'k8s:app='];

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function texts(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/**
 * One endpoint's stable name: NAMESPACE/WORKLOAD (first of `workloads`), else NAMESPACE/APP (the
 * app.kubernetes.io/name, k8s-app or app label), else NAMESPACE/POD; outside pods the reserved
 * label (reserved:host, reserved:kube-apiserver, ...); for the world its DNS name, else its IP,
 * else reserved:world.
 */
export function stableIdentity(flow: Flow, side: 'source' | 'destination'): StableIdentity {
  const endpoint: FlowEndpoint = isRecord(flow[side]) ? (flow[side] as FlowEndpoint) : {};
  const namespace = text(endpoint.namespace);
  const labels = texts(endpoint.labels);
  if (namespace !== '') {
    const workload: unknown = Array.isArray(endpoint.workloads) ? endpoint.workloads[0] : undefined;
    const workloadName = isRecord(workload) ? text(workload['name']) : '';
    if (workloadName !== '') return { name: `${namespace}/${workloadName}`, kind: 'workload' };
    for (const label of labels) {
      const prefix = APP_LABEL_PREFIXES.find((candidate) => label.startsWith(candidate) && label.length > candidate.length);
      if (prefix !== undefined) return { name: `${namespace}/${label.slice(prefix.length)}`, kind: 'app' };
    }
    const pod = text(endpoint.pod_name);
    if (pod !== '') return { name: `${namespace}/${pod}`, kind: 'pod' };
  }
  // kube-apiserver shares its identity with host, remote-node or world: it is the telling one.
  const reserved = labels.includes('reserved:kube-apiserver') ? 'reserved:kube-apiserver' : labels.find((label) => label.startsWith('reserved:') && label !== 'reserved:world');
  if (reserved !== undefined) return { name: reserved, kind: 'reserved' };
  const dnsName = texts(side === 'source' ? flow.source_names : flow.destination_names)[0];
  if (dnsName !== undefined && dnsName !== '') return { name: dnsName, kind: 'dns' };
  const ip = isRecord(flow.IP) ? text(flow.IP[side]) : '';
  if (ip !== '') return { name: ip, kind: 'ip' };
  if (labels.includes('reserved:world')) return { name: 'reserved:world', kind: 'world' };
  return { name: 'unknown', kind: 'unknown' };
}

/** What makes a drop "the same drop". */
export interface DropKey {
  readonly source: string;
  readonly destination: string;
  /** TCP, UDP, SCTP, ICMPv4, ICMPv6 or unknown. */
  readonly protocol: string;
  /** The serving port; absent for ICMP and flows without L4. */
  readonly port?: number;
  /** The drop_reason_desc enum name, e.g. POLICY_DENIED. */
  readonly reason: string;
}

export interface DropIdentities {
  readonly key: DropKey;
  readonly sourceKind: IdentityKind;
  readonly destinationKind: IdentityKind;
}

/**
 * The key of a DROPPED flow (undefined for any other verdict). A dropped reply is keyed as its
 * request (client, server, server port), so ephemeral client ports never make a drop "new".
 */
export function dropIdentities(flow: Flow): DropIdentities | undefined {
  if (flow.verdict !== 'DROPPED') return undefined;
  const reply = flow.is_reply === true || (flow.is_reply === undefined && flow.reply === true);
  const client = stableIdentity(flow, reply ? 'destination' : 'source');
  const server = stableIdentity(flow, reply ? 'source' : 'destination');
  const port = reply ? sourcePort(flow) : destinationPort(flow);
  const reason = typeof flow.drop_reason_desc === 'string' ? flow.drop_reason_desc : typeof flow.drop_reason_desc === 'number' ? String(flow.drop_reason_desc) : 'DROP_REASON_UNKNOWN';
  const key: DropKey = { source: client.name, destination: server.name, protocol: l4Protocol(flow) ?? 'unknown', ...(typeof port === 'number' ? { port } : {}), reason };
  return { key, sourceKind: client.kind, destinationKind: server.kind };
}

export function dropKeyId(key: DropKey): string {
  return JSON.stringify([key.source, key.destination, key.protocol, key.port ?? null, key.reason]);
}

/** `frontend/web -> payments/postgres TCP/5432 POLICY_DENIED` */
export function formatDropKey(key: DropKey): string {
  return `${key.source} -> ${key.destination} ${key.protocol}${key.port === undefined ? '' : `/${key.port}`} ${key.reason}`;
}

export interface NewDrop extends DropIdentities {
  /** RFC 3339 time of the first flow with this key after the baseline. */
  readonly firstSeen: string;
  /** Flows with this key seen so far (1 when first reported). */
  count: number;
  readonly nodeName?: string;
}

/** The JSON object printed by `-o json` and POSTed to webhooks. */
export function newDropJson(drop: NewDrop): Record<string, unknown> {
  return {
    first_seen: drop.firstSeen,
    source: drop.key.source,
    source_kind: drop.sourceKind,
    destination: drop.key.destination,
    destination_kind: drop.destinationKind,
    protocol: drop.key.protocol,
    ...(drop.key.port === undefined ? {} : { port: drop.key.port }),
    reason: drop.key.reason,
    count: drop.count,
    ...(drop.nodeName === undefined ? {} : { node_name: drop.nodeName }),
  };
}

export function formatNewDrop(drop: NewDrop): string {
  return `${drop.firstSeen} new drop: ${formatDropKey(drop.key)} (count ${drop.count})`;
}

export interface NewDropDetectorOptions {
  /**
   * Learn from the stream itself: every drop within this long (nanoseconds) of the first record's
   * time is baseline; only later drops can be new.
   */
  readonly baselineWindowNs?: bigint;
  /** Report only drops with one of these namespaces at either end (all when empty). */
  readonly namespaces?: readonly string[];
  /** Now in nanoseconds, for records without a time. */
  readonly now?: () => bigint;
}

/** Keeps the baseline and the new drops; feed it baseline records with learn() and the watched stream with observe(). */
export class NewDropDetector {
  private readonly baseline = new Set<string>();
  private readonly found = new Map<string, NewDrop>();
  private readonly namespaces: ReadonlySet<string>;
  private readonly windowNs: bigint | undefined;
  private readonly now: () => bigint;
  private windowEndNs: bigint | undefined;
  private lastTimeNs = 0n;

  constructor(options: NewDropDetectorOptions = {}) {
    this.namespaces = new Set(options.namespaces ?? []);
    this.windowNs = options.baselineWindowNs;
    this.now = options.now ?? (() => BigInt(Date.now()) * 1_000_000n);
  }

  /** Adds a record's drop (if any) to the baseline. */
  learn(record: FlowRecord): void {
    const flow = record.flow;
    if (!isRecord(flow)) return;
    const identities = dropIdentities(flow);
    if (identities !== undefined) this.baseline.add(dropKeyId(identities.key));
  }

  get baselineSize(): number {
    return this.baseline.size;
  }

  /** Whether a record is still inside the baseline window (always false without one). */
  private inBaselineWindow(record: FlowRecord): boolean {
    if (this.windowNs === undefined) return false;
    const time = recordTimeNs(record);
    if (time > this.lastTimeNs) this.lastTimeNs = time;
    if (this.windowEndNs === undefined) {
      if (time === 0n) return true;
      this.windowEndNs = time + this.windowNs;
    }
    return (time === 0n ? this.lastTimeNs : time) < this.windowEndNs;
  }

  private selected(flow: Flow): boolean {
    if (this.namespaces.size === 0) return true;
    const source = isRecord(flow.source) ? text(flow.source['namespace']) : '';
    const destination = isRecord(flow.destination) ? text(flow.destination['namespace']) : '';
    return this.namespaces.has(source) || this.namespaces.has(destination);
  }

  /** The new drop this record reveals, once per key; later flows with that key only count. */
  observe(record: FlowRecord): NewDrop | undefined {
    const flow = record.flow;
    if (!isRecord(flow)) return undefined;
    if (this.inBaselineWindow(record)) {
      this.learn(record);
      return undefined;
    }
    if (!this.selected(flow)) return undefined;
    const identities = dropIdentities(flow);
    if (identities === undefined) return undefined;
    const id = dropKeyId(identities.key);
    if (this.baseline.has(id)) return undefined;
    const known = this.found.get(id);
    if (known !== undefined) {
      known.count++;
      return undefined;
    }
    const time = recordTimeNs(record);
    const nodeName = typeof flow.node_name === 'string' ? flow.node_name : typeof record.node_name === 'string' ? record.node_name : undefined;
    const drop: NewDrop = { ...identities, firstSeen: formatTimestampNs(time > 0n ? time : this.now()), count: 1, ...(nodeName === undefined ? {} : { nodeName }) };
    this.found.set(id, drop);
    return { ...drop };
  }

  /** Every new drop so far, with its current count, in the order found. */
  newDrops(): NewDrop[] {
    return [...this.found.values()].map((drop) => ({ ...drop }));
  }
}

export interface DropWatchResult {
  readonly flows: number;
  readonly newDrops: readonly NewDrop[];
}

/** Runs a stream through the detector, handing each new drop to onNewDrop before reading on. */
export async function watchDrops(options: { records: AsyncIterable<FlowRecord>; detector: NewDropDetector; onNewDrop: (drop: NewDrop) => void | Promise<void> }): Promise<DropWatchResult> {
  let flows = 0;
  for await (const record of options.records) {
    if (record.flow !== undefined) flows++;
    const drop = options.detector.observe(record);
    if (drop !== undefined) await options.onNewDrop(drop);
  }
  return { flows, newDrops: options.detector.newDrops() };
}

/** POSTs one new drop as JSON; throws an Error saying what failed (network, timeout, non-2xx status). */
export async function postNewDrop(url: string, drop: NewDrop, options: { timeoutMs?: number } = {}): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(newDropJson(drop)),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw new Error(`POST ${url} failed: ${error instanceof Error ? error.message : String(error)}${cause}`);
  }
  // Drain the body so the connection can be reused.
  await response.arrayBuffer().catch(() => undefined);
  if (!response.ok) throw new Error(`POST ${url} answered ${response.status} ${response.statusText}`.trimEnd());
}

/**
 * A new-drop handler that POSTs each drop to `url` and hands failures to onError instead of
 * throwing, so one unreachable webhook never stops a watch.
 */
export function webhookNotifier(url: string, onError: (error: Error, drop: NewDrop) => void, options: { timeoutMs?: number } = {}): (drop: NewDrop) => Promise<void> {
  return async (drop) => {
    try {
      await postNewDrop(url, drop, options);
    } catch (error) {
      onError(error instanceof Error ? error : new Error(String(error)), drop);
    }
  };
}

