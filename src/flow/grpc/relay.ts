/**
 * The relay (port 4245): one Observer API over several observers, in the manner of Hubble relay
 * (cilium pkg/hubble/relay/observer). GetFlows first reports which peers it reads
 * (node_status NODE_CONNECTED) and which it cannot reach (NODE_UNAVAILABLE), then either merges the
 * peers' historical streams in time order, applying number with first/last to the merged stream,
 * or forwards follow streams as records arrive. A peer that fails is reported (NODE_ERROR) and the
 * request goes on with the others; ServerStatus and GetNodes report unavailable peers.
 */
import { hostname } from 'node:os';
import { selectRecords, type CompiledFlowRequest, type FlowRequestJson } from '../filter.js';
import type { FlowRecord, NodeStatusEvent } from '../model.js';
import { formatTimestampNs, recordTimeNs } from '../model.js';
import { ObserverConnection } from './client.js';
import { DEFAULT_FOLLOW_QUEUE_SIZE, FollowQueue } from './follow-queue.js';
import { compileServedRequest, lostEventsRecord, wallClockNs } from './server.js';
import { PODGATE_OBSERVER_VERSION, serveObserver, type FlowStreamCall, type Json, type ObserverHandlers, type RunningObserver } from './service.js';

export interface RelayPeer {
  /** Shown in node_status events, GetNodes and unavailable_nodes. */
  readonly name: string;
  /** host:port of the peer's Observer API. */
  readonly address: string;
}

export interface RelayOptions {
  readonly peers: readonly RelayPeer[];
  /** The relay's own name, set on the node_status events it sends. */
  readonly nodeName?: string;
  readonly version?: string;
  /** How long a request waits for a peer that is still connecting (Hubble's dial timeout: 5 s). */
  readonly connectTimeoutMs?: number;
  /** While following, how often unreachable peers are tried again. */
  readonly peerRetryMs?: number;
  readonly followQueueSize?: number;
  readonly now?: () => bigint;
}

/** Hubble relay reports at most this many names in ServerStatus.unavailable_nodes. */
const UNAVAILABLE_NODES_REPORT_MAX = 10;

/** Parses `host:port` or `name=host:port`; the name defaults to the address. */
export function parsePeer(text: string): RelayPeer {
  const equals = text.indexOf('=');
  const name = equals > 0 ? text.slice(0, equals) : text;
  const address = equals > 0 ? text.slice(equals + 1) : text;
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/.test(address) || Number(address.slice(address.lastIndexOf(':') + 1)) > 65535) {
    throw new RangeError(`peer "${text}" is not host:port or name=host:port`);
  }
  return { name, address };
}

interface PeerLink {
  readonly peer: RelayPeer;
  readonly connection: ObserverConnection;
}

export class RelayService implements ObserverHandlers {
  private readonly links: PeerLink[];
  private readonly now: () => bigint;
  private readonly nodeName: string;

  constructor(private readonly options: RelayOptions) {
    const names = new Set<string>();
    for (const peer of options.peers) {
      if (names.has(peer.name)) throw new RangeError(`peer name "${peer.name}" is given twice`);
      names.add(peer.name);
    }
    this.links = options.peers.map((peer) => ({ peer, connection: new ObserverConnection(peer.address) }));
    this.now = options.now ?? wallClockNs;
    this.nodeName = options.nodeName ?? hostname();
  }

  close(): void {
    for (const link of this.links) link.connection.close();
  }

  private nodeStatus(state: NonNullable<NodeStatusEvent['state_change']>, names: string[], message?: string): FlowRecord {
    return {
      node_status: { state_change: state, node_names: names, ...(message === undefined ? {} : { message }) },
      node_name: this.nodeName,
      time: formatTimestampNs(this.now()),
    };
  }

  private async partition(): Promise<{ connected: PeerLink[]; unavailable: PeerLink[] }> {
    const timeout = this.options.connectTimeoutMs ?? 5_000;
    const available = await Promise.all(this.links.map((link) => link.connection.available(timeout)));
    return { connected: this.links.filter((_link, index) => available[index]), unavailable: this.links.filter((_link, index) => !available[index]) };
  }

  async getFlows(call: FlowStreamCall): Promise<void> {
    const request = compileServedRequest(call.request);
    const { connected, unavailable } = await this.partition();
    if (call.signal.aborted) return;
    if (connected.length > 0 && !(await call.send(this.nodeStatus('NODE_CONNECTED', connected.map((link) => link.peer.name))))) return;
    if (unavailable.length > 0 && !(await call.send(this.nodeStatus('NODE_UNAVAILABLE', unavailable.map((link) => link.peer.name))))) return;
    // Peers get the request as the client sent it (field_mask and all); they filter, the relay orders.
    const forwarded = call.request;
    const peers = new AbortController();
    const stop = (): void => peers.abort();
    call.signal.addEventListener('abort', stop, { once: true });
    try {
      if (request.follow) await this.follow({ call, request: forwarded, connected, unavailable, signal: peers.signal });
      else await this.merge({ call, request, forwarded, connected, signal: peers.signal });
    } finally {
      call.signal.removeEventListener('abort', stop);
      peers.abort();
    }
  }

  private peerError(link: PeerLink, error: unknown): FlowRecord {
    return this.nodeStatus('NODE_ERROR', [link.peer.name], error instanceof Error ? error.message : String(error));
  }

  /** Historical: a k-way merge of the peers' time-ordered streams, then number/first/last. */
  private async merge(options: { call: FlowStreamCall; request: CompiledFlowRequest; forwarded: FlowRequestJson; connected: PeerLink[]; signal: AbortSignal }): Promise<void> {
    const { call, signal } = options;
    const streams = options.connected.map((link) => ({ link, records: link.connection.getFlows(options.forwarded, { signal }) }));
    // Peer failures go straight to the client, outside the number/first/last selection.
    const reportError = async (link: PeerLink, error: unknown): Promise<void> => {
      if (!signal.aborted) await call.send(this.peerError(link, error));
    };
    const merged = mergeByTime(streams, reportError);
    for await (const record of selectRecords(merged, options.request)) {
      if (!(await call.send(record))) return;
    }
  }

  /** Follow: every peer's stream forwarded as it arrives, through one bounded queue. */
  private async follow(options: { call: FlowStreamCall; request: FlowRequestJson; connected: PeerLink[]; unavailable: PeerLink[]; signal: AbortSignal }): Promise<void> {
    const { call, signal } = options;
    const queue = new FollowQueue(this.options.followQueueSize ?? DEFAULT_FOLLOW_QUEUE_SIZE, (count) => lostEventsRecord({ count, nodeName: this.nodeName, nowNs: this.now() }));
    const waiting = new Set(options.unavailable);
    let running = 0;
    const endIfIdle = (): void => {
      if (running === 0 && waiting.size === 0) queue.close();
    };
    const pump = async (link: PeerLink): Promise<void> => {
      running++;
      try {
        for await (const record of link.connection.getFlows(options.request, { signal })) queue.push(record);
      } catch (error) {
        if (signal.aborted) return;
        queue.push(this.peerError(link, error));
        waiting.add(link);
      } finally {
        running--;
        endIfIdle();
      }
    };
    const retry = setInterval(() => {
      for (const link of [...waiting]) {
        void link.connection.available(0).then((up) => {
          if (!up || signal.aborted || !waiting.has(link)) return;
          waiting.delete(link);
          queue.push(this.nodeStatus('NODE_CONNECTED', [link.peer.name]));
          void pump(link);
        });
      }
    }, this.options.peerRetryMs ?? 5_000);
    signal.addEventListener('abort', () => queue.close(), { once: true });
    for (const link of options.connected) void pump(link);
    endIfIdle();
    try {
      for (let record = await queue.next(); record !== undefined; record = await queue.next()) {
        if (!(await call.send(record))) return;
      }
    } finally {
      clearInterval(retry);
    }
  }

  async serverStatus(): Promise<Json> {
    const { connected, unavailable } = await this.partition();
    const statuses = await Promise.all(connected.map((link) => link.connection.unary('ServerStatus').then((status) => ({ link, status }), () => ({ link, status: undefined }))));
    const failed = [...unavailable, ...statuses.filter((entry) => entry.status === undefined).map((entry) => entry.link)];
    let numFlows = 0n;
    let maxFlows = 0n;
    let seenFlows = 0n;
    let uptimeNs = 0n;
    let flowsRate = 0;
    for (const { status } of statuses) {
      if (status === undefined) continue;
      numFlows += bigintOf(status['num_flows']);
      maxFlows += bigintOf(status['max_flows']);
      seenFlows += bigintOf(status['seen_flows']);
      // The oldest peer's uptime, as Hubble relay reports it (sums would mean nothing).
      const uptime = bigintOf(status['uptime_ns']);
      if (uptime > uptimeNs) uptimeNs = uptime;
      flowsRate += typeof status['flows_rate'] === 'number' ? status['flows_rate'] : 0;
    }
    return {
      num_flows: String(numFlows),
      max_flows: String(maxFlows),
      seen_flows: String(seenFlows),
      uptime_ns: String(uptimeNs),
      num_connected_nodes: this.links.length - failed.length,
      num_unavailable_nodes: failed.length,
      unavailable_nodes: failed.slice(0, UNAVAILABLE_NODES_REPORT_MAX).map((link) => link.peer.name),
      version: this.options.version ?? PODGATE_OBSERVER_VERSION,
      flows_rate: flowsRate,
    };
  }

  async getNodes(): Promise<Json> {
    const { connected } = await this.partition();
    const up = new Set(connected);
    const nodes = await Promise.all(
      this.links.map(async (link): Promise<Json> => {
        const node: Json = { name: link.peer.name, address: link.peer.address, tls: {} };
        if (!up.has(link)) return { ...node, state: 'NODE_UNAVAILABLE' };
        try {
          const status = await link.connection.unary('ServerStatus');
          return { ...node, version: status['version'] ?? '', state: 'NODE_CONNECTED', uptime_ns: status['uptime_ns'] ?? '0', num_flows: status['num_flows'] ?? '0', max_flows: status['max_flows'] ?? '0', seen_flows: status['seen_flows'] ?? '0' };
        } catch {
          return { ...node, state: 'NODE_ERROR' };
        }
      }),
    );
    return { nodes };
  }

  async getNamespaces(): Promise<Json> {
    const { connected } = await this.partition();
    const seen = new Map<string, Json>();
    const answers = await Promise.all(connected.map((link) => link.connection.unary('GetNamespaces').catch(() => ({}) as Json)));
    for (const answer of answers) {
      const namespaces = Array.isArray(answer['namespaces']) ? (answer['namespaces'] as Json[]) : [];
      for (const entry of namespaces) seen.set(`${String(entry['cluster'] ?? '')}/${String(entry['namespace'] ?? '')}`, entry);
    }
    const sorted = [...seen.values()].sort((a, b) => String(a['namespace'] ?? '').localeCompare(String(b['namespace'] ?? '')) || String(a['cluster'] ?? '').localeCompare(String(b['cluster'] ?? '')));
    return { namespaces: sorted };
  }
}

function bigintOf(value: unknown): bigint {
  if (typeof value === 'string' && /^\d+$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return BigInt(value);
  return 0n;
}

interface PeerStream {
  readonly link: PeerLink;
  readonly records: AsyncIterator<FlowRecord>;
}

/**
 * Merges time-ordered streams into one, oldest first (ties keep peer order). A stream that fails
 * is reported through `onError` and dropped; the others go on.
 */
export async function* mergeByTime(streams: readonly PeerStream[], onError: (link: PeerLink, error: unknown) => Promise<void>): AsyncGenerator<FlowRecord> {
  const pull = async (stream: PeerStream): Promise<FlowRecord | undefined> => {
    try {
      const next = await stream.records.next();
      return next.done ? undefined : next.value;
    } catch (error) {
      await onError(stream.link, error);
      return undefined;
    }
  };
  const heads = await Promise.all(streams.map(pull));
  const times = heads.map((record) => (record === undefined ? 0n : recordTimeNs(record)));
  try {
    for (;;) {
      let pick = -1;
      for (let index = 0; index < heads.length; index++) {
        if (heads[index] === undefined) continue;
        if (pick === -1 || times[index]! < times[pick]!) pick = index;
      }
      if (pick === -1) return;
      const record = heads[pick]!;
      yield record;
      const next = await pull(streams[pick]!);
      heads[pick] = next;
      times[pick] = next === undefined ? 0n : recordTimeNs(next);
    }
  } finally {
    // Stopping early (first N reached, client gone) ends every peer call.
    await Promise.all(streams.map((stream) => stream.records.return?.(undefined)));
  }
}

export interface StartRelayOptions extends RelayOptions {
  readonly host: string;
  readonly port: number;
  readonly onError?: (message: string) => void;
}

export interface RunningRelay extends RunningObserver {
  readonly service: RelayService;
}

/** Serves the relay's Observer API on host:port (port 0 picks a free one). */
export async function startRelay(options: StartRelayOptions): Promise<RunningRelay> {
  if (options.peers.length === 0) throw new RangeError('a relay needs at least one peer');
  const service = new RelayService(options);
  let running: RunningObserver;
  try {
    running = await serveObserver({ host: options.host, port: options.port, handlers: service, ...(options.onError ? { onError: options.onError } : {}) });
  } catch (error) {
    service.close();
    throw error;
  }
  return {
    port: running.port,
    address: running.address,
    service,
    async close() {
      await running.close();
      service.close();
    },
  };
}
