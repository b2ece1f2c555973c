/**
 * The agent-side Hubble Observer server (port 4244): GetFlows over a FlowSource with the request's
 * filters, time range, number/first and follow, plus ServerStatus, GetNodes (this node) and
 * GetNamespaces. Semantics follow Hubble's LocalObserverServer: `first` with `follow` is rejected,
 * `follow` without number or since starts at the live edge, lost events are never filtered.
 */
import * as grpc from '@grpc/grpc-js';
import { compileFlowRequest, selectRecords, type CompiledFlowRequest, type FlowRequestJson } from '../filter.js';
import type { FlowRecord } from '../model.js';
import { formatTimestampNs, recordTimeNs } from '../model.js';
import { DEFAULT_FOLLOW_QUEUE_SIZE, FollowQueue } from './follow-queue.js';
import type { FlowSource } from './ring.js';
import { ObserverStatusError, PODGATE_OBSERVER_VERSION, serveObserver, type FlowStreamCall, type Json, type ObserverHandlers, type RunningObserver } from './service.js';

export interface ObserverServerOptions {
  readonly source: FlowSource;
  /** Reported in GetNodes and on lost-event records; flows keep their own node_name. */
  readonly nodeName?: string;
  readonly version?: string;
  /** Records a follow stream may hold for a slow client before dropping (reported as lost events). */
  readonly followQueueSize?: number;
  /** Nanoseconds since the epoch; injected so tests control uptime and event times. */
  readonly now?: () => bigint;
}

export const wallClockNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

/** The GetFlowsRequest fields podgate's filter understands (protojson names). */
export function flowRequestOf(request: Json): FlowRequestJson {
  const out: Record<string, unknown> = {};
  for (const key of ['number', 'first', 'follow', 'whitelist', 'blacklist', 'since', 'until'] as const) {
    if (request[key] !== undefined) out[key] = request[key];
  }
  return out as FlowRequestJson;
}

/** Compiles a request the way the server checks it: INVALID_ARGUMENT for what Hubble rejects. */
export function compileServedRequest(request: FlowRequestJson): CompiledFlowRequest {
  if (request.first === true && request.follow === true) throw new ObserverStatusError(grpc.status.INVALID_ARGUMENT, 'first cannot be specified with follow');
  return compileFlowRequest(flowRequestOf(request as Json));
}

export function lostEventsRecord(options: { count: number; nodeName: string | undefined; nowNs: bigint }): FlowRecord {
  return {
    lost_events: { source: 'OBSERVER_EVENTS_QUEUE', num_events_lost: String(options.count) },
    ...(options.nodeName === undefined ? {} : { node_name: options.nodeName }),
    time: formatTimestampNs(options.nowNs),
  };
}

function safeMatch(request: CompiledFlowRequest, record: FlowRecord): boolean {
  // Lost events are never filtered (they are not requested, only reported).
  if (record.flow === undefined && record.lost_events !== undefined) return true;
  try {
    return request.matches(record);
  } catch {
    return false;
  }
}

async function* iterate<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

/** The historical part of a request, in time order. */
function historyOf(source: FlowSource, request: CompiledFlowRequest): AsyncIterable<FlowRecord> | Iterable<FlowRecord> {
  const range = { sinceNs: request.sinceNs, untilNs: request.untilNs };
  if (request.number !== undefined && request.number > 0 && !request.first && request.sinceNs === undefined) {
    // Last N: walk back from the newest record until N flows match, as Hubble rewinds its ring.
    const picked: FlowRecord[] = [];
    let flows = 0;
    for (const record of source.records({ ...range, order: 'desc' })) {
      if (!safeMatch(request, record)) continue;
      picked.push(record);
      if (record.flow !== undefined && ++flows >= request.number) break;
    }
    return picked.reverse();
  }
  return selectRecords(iterate(source.records({ ...range, order: 'asc' })), request);
}

export class ObserverService implements ObserverHandlers {
  private readonly now: () => bigint;
  private readonly startedNs: bigint;

  constructor(private readonly options: ObserverServerOptions) {
    this.now = options.now ?? wallClockNs;
    this.startedNs = this.now();
  }

  async getFlows(call: FlowStreamCall): Promise<void> {
    const request = compileServedRequest(call.request);
    const source = this.options.source;
    let queue: FollowQueue | undefined;
    let unsubscribe: (() => void) | undefined;
    if (request.follow) {
      // Subscribe before reading history, in the same tick, so nothing falls between the two.
      const follow = new FollowQueue(this.options.followQueueSize ?? DEFAULT_FOLLOW_QUEUE_SIZE, (count) => lostEventsRecord({ count, nodeName: this.options.nodeName, nowNs: this.now() }));
      unsubscribe = source.subscribe((record) => {
        const time = recordTimeNs(record);
        if (request.untilNs !== undefined && time > request.untilNs && record.flow !== undefined) return follow.close();
        if (request.sinceNs !== undefined && time < request.sinceNs && record.flow !== undefined) return;
        if (safeMatch(request, record)) follow.push(record);
      });
      call.signal.addEventListener('abort', () => follow.close(), { once: true });
      queue = follow;
    }
    try {
      const wantsHistory = !request.follow || (request.number ?? 0) > 0 || request.sinceNs !== undefined;
      if (wantsHistory) {
        for await (const record of historyOf(source, request)) {
          if (!(await call.send(record))) return;
        }
      }
      if (queue === undefined) return;
      for (let record = await queue.next(); record !== undefined; record = await queue.next()) {
        if (!(await call.send(record))) return;
      }
    } finally {
      unsubscribe?.();
      queue?.close();
    }
  }

  async serverStatus(): Promise<Json> {
    const status = this.options.source.status();
    return {
      num_flows: String(status.numFlows),
      max_flows: String(status.maxFlows),
      seen_flows: String(status.seenFlows),
      uptime_ns: String(this.now() - this.startedNs),
      version: this.options.version ?? PODGATE_OBSERVER_VERSION,
      flows_rate: this.flowsRate(),
    };
  }

  /** This server as the one node it knows (Hubble's agent answers UNIMPLEMENTED; a relay lists its peers). */
  async getNodes(): Promise<Json> {
    const status = this.options.source.status();
    return {
      nodes: [
        {
          name: this.options.nodeName ?? '',
          version: this.options.version ?? PODGATE_OBSERVER_VERSION,
          state: 'NODE_CONNECTED',
          uptime_ns: String(this.now() - this.startedNs),
          num_flows: String(status.numFlows),
          max_flows: String(status.maxFlows),
          seen_flows: String(status.seenFlows),
        },
      ],
    };
  }

  async getNamespaces(): Promise<Json> {
    return { namespaces: this.options.source.namespaces().map((entry) => ({ ...(entry.cluster ? { cluster: entry.cluster } : {}), namespace: entry.namespace })) };
  }

  /** Flows per second over the last minute, as Hubble computes flows_rate. */
  private flowsRate(): number {
    const nowNs = this.now();
    const since = nowNs - 60_000_000_000n;
    let count = 0;
    for (const record of this.options.source.records({ order: 'desc', sinceNs: since, untilNs: nowNs })) {
      if (record.flow !== undefined) count++;
    }
    return count / 60;
  }
}

export interface StartObserverOptions extends ObserverServerOptions {
  readonly host: string;
  readonly port: number;
  readonly onError?: (message: string) => void;
}

/** Serves the Observer API for `source` on host:port (port 0 picks a free one). */
export async function startObserverServer(options: StartObserverOptions): Promise<RunningObserver> {
  return serveObserver({ host: options.host, port: options.port, handlers: new ObserverService(options), ...(options.onError ? { onError: options.onError } : {}) });
}
