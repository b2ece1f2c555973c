/**
 * Test support: an Observer client generated independently from the same .proto files with
 * @grpc/proto-loader (standing in for existing Hubble clients), flow record builders, and a free
 * port with nothing listening.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { FlowRecord, Verdict } from '../model.js';
import { formatTimestampNs } from '../model.js';
import type { FlowListener, FlowSource } from './ring.js';

export function protoRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 6; up++) {
    if (existsSync(resolve(directory, 'proto/observer/observer.proto'))) return resolve(directory, 'proto');
    directory = dirname(directory);
  }
  throw new Error('proto/observer/observer.proto not found');
}

export type Plain = Record<string, unknown>;

export interface HubbleTestClient {
  getFlows(request: Plain): grpc.ClientReadableStream<Plain>;
  collect(request: Plain): Promise<Plain[]>;
  unary(name: 'ServerStatus' | 'GetNodes' | 'GetNamespaces'): Promise<Plain>;
  raw: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  close(): void;
}

let constructorCache: grpc.ServiceClientConstructor | undefined;

function observerConstructor(): grpc.ServiceClientConstructor {
  if (constructorCache) return constructorCache;
  const definition = protoLoader.loadSync('observer/observer.proto', { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true, includeDirs: [protoRoot()] });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { observer: { Observer: grpc.ServiceClientConstructor } };
  constructorCache = loaded.observer.Observer;
  return constructorCache;
}

/** A client for observer.Observer built by proto-loader, as any gRPC client would be. */
export function hubbleClient(address: string): HubbleTestClient {
  const Observer = observerConstructor();
  const raw = new Observer(address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  const getFlows = (request: Plain): grpc.ClientReadableStream<Plain> => raw['GetFlows']!.call(raw, request) as grpc.ClientReadableStream<Plain>;
  return {
    raw,
    getFlows,
    collect: (request) =>
      new Promise((resolvePromise, reject) => {
        const out: Plain[] = [];
        const stream = getFlows(request);
        stream.on('data', (response: Plain) => out.push(response));
        stream.on('error', reject);
        stream.on('end', () => resolvePromise(out));
      }),
    unary: (name) =>
      new Promise((resolvePromise, reject) => {
        raw[name]!.call(raw, {}, (error: grpc.ServiceError | null, response: Plain) => (error ? reject(error) : resolvePromise(response)));
      }),
    close: () => raw.close(),
  };
}

/** The next `count` responses of a stream (it stays open). */
export function take(stream: grpc.ClientReadableStream<Plain>, count: number): Promise<Plain[]> {
  return new Promise((resolvePromise, reject) => {
    const out: Plain[] = [];
    if (count === 0) return resolvePromise(out);
    const onData = (response: Plain): void => {
      out.push(response);
      if (out.length === count) {
        stream.off('data', onData);
        stream.off('error', onError);
        stream.pause();
        resolvePromise(out);
      }
    };
    const onError = (error: Error): void => reject(error);
    stream.on('data', onData);
    stream.on('error', onError);
    stream.resume();
  });
}

/** Cancels a call as a client would (the CANCELLED status it then reports is expected). */
export function cancel(stream: grpc.ClientReadableStream<Plain>): void {
  stream.on('error', () => undefined);
  stream.cancel();
}

/** A gRPC call's end: its status once the stream is finished or failed. */
export function statusOf(stream: grpc.ClientReadableStream<Plain>): Promise<grpc.StatusObject> {
  return new Promise((resolvePromise) => stream.on('status', resolvePromise));
}

export const BASE_SECONDS = 1_700_000_000n;

export interface FlowSpec {
  /** Seconds after BASE_SECONDS. */
  readonly at: number;
  readonly pod?: string;
  readonly namespace?: string;
  readonly verdict?: Verdict;
  readonly node?: string;
  readonly port?: number;
  readonly httpPath?: string;
}

export function flowAt(spec: FlowSpec): FlowRecord {
  const time = formatTimestampNs((BASE_SECONDS + BigInt(spec.at)) * 1_000_000_000n + 123_456_789n);
  const node = spec.node ?? 'node-a';
  return {
    flow: {
      time,
      verdict: spec.verdict ?? 'FORWARDED',
      IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 40000 + spec.at, destination_port: spec.port ?? 8080, flags: { SYN: true } } },
      source: { namespace: spec.namespace ?? 'default', pod_name: spec.pod ?? 'client', labels: ['k8s:app=client'] },
      destination: { namespace: 'payments', pod_name: 'api', labels: ['k8s:app=api'] },
      Type: 'L3_L4',
      node_name: node,
      traffic_direction: 'EGRESS',
      ...(spec.verdict === 'DROPPED' ? { drop_reason_desc: 'POLICY_DENIED' } : {}),
      Summary: `TCP Flags: SYN #${spec.at}`,
      podgate: { enforcement: 'enforce' },
    },
    node_name: node,
    time,
  };
}

/** The seconds-after-base of a proto-loader response's flow (tests name flows by time). */
export function atOf(response: Plain): number | undefined {
  const flow = response['flow'] as Plain | undefined;
  const time = flow?.['time'] as { seconds?: string } | undefined;
  return time?.seconds === undefined ? undefined : Number(BigInt(time.seconds) - BASE_SECONDS);
}

/** A FlowSource wrapper that announces each unsubscribe, so tests await a stream's cleanup. */
export class WatchedSource implements FlowSource {
  private unsubscribed: (() => void)[] = [];
  private subscribed: (() => void)[] = [];
  active = 0;

  constructor(private readonly inner: FlowSource) {}

  records(range: Parameters<FlowSource['records']>[0]): ReturnType<FlowSource['records']> {
    return this.inner.records(range);
  }

  subscribe(listener: FlowListener): () => void {
    const off = this.inner.subscribe(listener);
    this.active++;
    for (const waiter of this.subscribed.splice(0)) waiter();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      off();
      this.active--;
      for (const waiter of this.unsubscribed.splice(0)) waiter();
    };
  }

  /** Resolves at the next subscribe (a follow stream has reached the live feed). */
  nextSubscribe(): Promise<void> {
    return new Promise((resolvePromise) => this.subscribed.push(resolvePromise));
  }

  /** Resolves at the next unsubscribe. */
  nextUnsubscribe(): Promise<void> {
    return new Promise((resolvePromise) => this.unsubscribed.push(resolvePromise));
  }

  status(): ReturnType<FlowSource['status']> {
    return this.inner.status();
  }

  namespaces(): ReturnType<FlowSource['namespaces']> {
    return this.inner.namespaces();
  }
}

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
  return port;
}
