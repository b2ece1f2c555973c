/**
 * Where the observer server reads flows from: a `FlowSource`. `FlowRing` is the in-memory one, a
 * fixed-size ring like Hubble's (default 4095 events) with subscribers for follow streams.
 */
import type { FlowRecord } from '../model.js';
import { recordTimeNs } from '../model.js';

/** Hubble's default ring size (hubble-buffer-size / max_flows). */
export const DEFAULT_RING_CAPACITY = 4095;

export interface TimeRange {
  readonly sinceNs?: bigint | undefined;
  readonly untilNs?: bigint | undefined;
}

export interface SourceStatus {
  /** Events held now (Hubble's num_flows: the ring's length). */
  readonly numFlows: number;
  readonly maxFlows: number;
  /** Flows seen since start, including those already evicted. */
  readonly seenFlows: number;
}

export interface NamespaceEntry {
  readonly cluster: string;
  readonly namespace: string;
}

export type FlowListener = (record: FlowRecord) => void;

/** What GetFlows, ServerStatus and GetNamespaces need from a flow holder. */
export interface FlowSource {
  /**
   * The records held now within the range, oldest first ('asc') or newest first ('desc'). The set
   * is fixed when this is called: records appended later reach subscribers, not this iterable.
   */
  records(range: TimeRange & { readonly order: 'asc' | 'desc' }): Iterable<FlowRecord>;
  /** Calls `listener` with every record appended from now on; returns the unsubscribe function. */
  subscribe(listener: FlowListener): () => void;
  status(): SourceStatus;
  namespaces(): NamespaceEntry[];
}

/** Whether a record's time lies within the range (records without a time are outside a bounded range). */
export function inRange(record: FlowRecord, range: TimeRange): boolean {
  if (range.sinceNs === undefined && range.untilNs === undefined) return true;
  const time = recordTimeNs(record);
  if (range.sinceNs !== undefined && time < range.sinceNs) return false;
  if (range.untilNs !== undefined && time > range.untilNs) return false;
  return true;
}

/** A fixed-capacity ring of the most recent records, in append order. */
export class FlowRing implements FlowSource {
  private readonly slots: (FlowRecord | undefined)[];
  private next = 0;
  private length = 0;
  private seen = 0;
  private readonly listeners = new Set<FlowListener>();
  private readonly seenNamespaces = new Map<string, NamespaceEntry>();

  constructor(readonly capacity: number = DEFAULT_RING_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.slots = new Array<FlowRecord | undefined>(capacity);
  }

  append(record: FlowRecord): void {
    this.slots[this.next] = record;
    this.next = (this.next + 1) % this.capacity;
    if (this.length < this.capacity) this.length++;
    if (record.flow !== undefined) {
      this.seen++;
      this.trackNamespaces(record);
    }
    for (const listener of this.listeners) {
      try {
        listener(record);
      } catch {
        // One broken subscriber must not stop the feed for the others.
      }
    }
  }

  get size(): number {
    return this.length;
  }

  /** The records held now, oldest first. */
  snapshot(): FlowRecord[] {
    const out: FlowRecord[] = [];
    const start = (this.next - this.length + this.capacity) % this.capacity;
    for (let index = 0; index < this.length; index++) {
      const record = this.slots[(start + index) % this.capacity];
      if (record !== undefined) out.push(record);
    }
    return out;
  }

  /** The time of the oldest record held, or undefined when empty. */
  oldestTimeNs(): bigint | undefined {
    if (this.length === 0) return undefined;
    const record = this.slots[(this.next - this.length + this.capacity) % this.capacity];
    return record === undefined ? undefined : recordTimeNs(record);
  }

  records(range: TimeRange & { readonly order: 'asc' | 'desc' }): FlowRecord[] {
    const held = this.snapshot().filter((record) => inRange(record, range));
    return range.order === 'desc' ? held.reverse() : held;
  }

  subscribe(listener: FlowListener): () => void {
    // A wrapper per subscription, so subscribing the same function twice is two subscriptions.
    const entry: FlowListener = (record) => listener(record);
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  status(): SourceStatus {
    return { numFlows: this.length, maxFlows: this.capacity, seenFlows: this.seen };
  }

  namespaces(): NamespaceEntry[] {
    return [...this.seenNamespaces.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.cluster.localeCompare(b.cluster));
  }

  private trackNamespaces(record: FlowRecord): void {
    for (const endpoint of [record.flow?.source, record.flow?.destination]) {
      const namespace = endpoint?.namespace;
      if (typeof namespace !== 'string' || namespace === '') continue;
      const cluster = typeof endpoint?.cluster_name === 'string' ? endpoint.cluster_name : '';
      const key = `${cluster}/${namespace}`;
      if (!this.seenNamespaces.has(key)) this.seenNamespaces.set(key, { cluster, namespace });
    }
  }
}
