/**
 * A FlowSource over a ring plus a persistent history (a FlowStore): the ring answers for the
 * recent records it holds, the history for everything older than the ring's oldest record.
 */
import type { FlowRecord } from '../model.js';
import { recordTimeNs } from '../model.js';
import { inRange, type FlowListener, type FlowRing, type FlowSource, type NamespaceEntry, type SourceStatus, type TimeRange } from './ring.js';

/** The part of FlowStore (src/flow/store/store.ts) the server reads. */
export interface FlowHistory {
  query(options: { sinceNs?: bigint; untilNs?: bigint; limit?: number; order?: 'asc' | 'desc' }): Iterable<FlowRecord>;
}

export class RingWithHistory implements FlowSource {
  constructor(
    readonly ring: FlowRing,
    readonly history: FlowHistory,
  ) {}

  records(range: TimeRange & { readonly order: 'asc' | 'desc' }): Iterable<FlowRecord> {
    // Both parts are fixed now: the ring's copy, and the history strictly before the ring's oldest record.
    const recent = this.ring.records(range);
    const boundary = this.ring.oldestTimeNs();
    if (range.sinceNs !== undefined && boundary !== undefined && range.sinceNs >= boundary) return recent;
    const query = {
      order: range.order,
      ...(range.sinceNs === undefined ? {} : { sinceNs: range.sinceNs }),
      ...(boundary === undefined ? (range.untilNs === undefined ? {} : { untilNs: range.untilNs }) : { untilNs: range.untilNs !== undefined && range.untilNs < boundary ? range.untilNs : boundary }),
    };
    const history = this.history;
    const older = function* (): Generator<FlowRecord> {
      for (const record of history.query(query)) {
        if (boundary !== undefined && recordTimeNs(record) >= boundary) continue;
        if (inRange(record, range)) yield record;
      }
    };
    return range.order === 'asc'
      ? (function* () {
          yield* older();
          yield* recent;
        })()
      : (function* () {
          yield* recent;
          yield* older();
        })();
  }

  subscribe(listener: FlowListener): () => void {
    return this.ring.subscribe(listener);
  }

  status(): SourceStatus {
    return this.ring.status();
  }

  namespaces(): NamespaceEntry[] {
    return this.ring.namespaces();
  }
}
