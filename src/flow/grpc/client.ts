/**
 * A client for the Hubble Observer API (a podgate agent or relay, or Cilium's own Hubble). Records
 * come back in their protojson form (FlowRecord), exactly what `hubble observe -o json` prints.
 */
import * as grpc from '@grpc/grpc-js';
import type { FlowRequestJson } from '../filter.js';
import type { FlowRecord } from '../model.js';
import { observerMethod, type Json } from './service.js';

/** The observer could not be reached (nothing listening, connection lost, deadline passed). */
export class ObserverUnavailableError extends Error {
  readonly code = 'PODGATE_E_SERVER_UNAVAILABLE';
  readonly hint: string;
  constructor(
    message: string,
    readonly grpcCode: grpc.status = grpc.status.UNAVAILABLE,
  ) {
    super(message);
    this.hint = 'check the address and that `podgate flows serve` (port 4244) or `podgate relay` (port 4245) runs there';
  }
}

/** The observer answered with an error status (a bad filter is INVALID_ARGUMENT). */
export class ObserverRequestError extends Error {
  readonly code = 'PODGATE_E_SERVER_REJECTED';
  readonly hint: string;
  constructor(
    message: string,
    readonly grpcCode: grpc.status,
  ) {
    super(message);
    this.hint = grpcCode === grpc.status.INVALID_ARGUMENT ? 'fix the filter values named in the message' : 'see the server log for details';
  }
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  /** For unary calls; default 10 s. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

function statusName(code: number): string {
  return grpc.status[code] ?? String(code);
}

/** A gRPC failure as podgate's error for it. */
export function observerError(address: string, error: unknown): ObserverUnavailableError | ObserverRequestError {
  const service = error as Partial<grpc.ServiceError> | undefined;
  const code = typeof service?.code === 'number' ? service.code : grpc.status.UNKNOWN;
  const details = service?.details || (error instanceof Error ? error.message : String(error));
  if (code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED) return new ObserverUnavailableError(`cannot reach the observer at ${address}: ${details}`, code);
  return new ObserverRequestError(`the observer at ${address} answered ${statusName(code)}: ${details}`, code);
}

/** One channel to one observer; relays keep one per peer. */
export class ObserverConnection {
  readonly client: grpc.Client;

  constructor(readonly address: string) {
    try {
      this.client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
    } catch (error) {
      throw new ObserverUnavailableError(`"${address}" is not a usable observer address: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** GetFlows as an async iterable; ends quietly when `signal` aborts or the consumer stops early. */
  async *getFlows(request: FlowRequestJson, options: CallOptions = {}): AsyncGenerator<FlowRecord> {
    if (options.signal?.aborted) return;
    const method = observerMethod('GetFlows');
    const call = this.client.makeServerStreamRequest<Json, Json>(method.path, method.requestSerialize, method.responseDeserialize, request as Json);
    const cancel = (): void => call.cancel();
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      for await (const response of call) yield response as FlowRecord;
    } catch (error) {
      const code = (error as Partial<grpc.ServiceError>).code;
      if (code === grpc.status.CANCELLED && options.signal?.aborted) return;
      throw observerError(this.address, error);
    } finally {
      options.signal?.removeEventListener('abort', cancel);
      call.cancel();
    }
  }

  unary(name: 'ServerStatus' | 'GetNodes' | 'GetNamespaces', options: CallOptions = {}): Promise<Json> {
    const method = observerMethod(name);
    const deadline = new Date(Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS));
    return new Promise((resolve, reject) => {
      const cancel = (): void => call.cancel();
      const call = this.client.makeUnaryRequest<Json, Json>(method.path, method.requestSerialize, method.responseDeserialize, {}, { deadline }, (error, response) => {
        options.signal?.removeEventListener('abort', cancel);
        if (error) reject(observerError(this.address, error));
        else resolve(response ?? {});
      });
      options.signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  /** The channel's state, asking it to connect when idle. */
  state(): grpc.connectivityState {
    return this.client.getChannel().getConnectivityState(true);
  }

  /**
   * Whether the observer is reachable: READY now, or becomes READY before the deadline. A refused
   * connection (TRANSIENT_FAILURE) answers false at once, like Hubble relay's isAvailable.
   */
  async available(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const channel = this.client.getChannel();
    for (;;) {
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY) return true;
      if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN) return false;
      if (Date.now() >= deadline) return false;
      const changed = await new Promise<boolean>((resolve) => channel.watchConnectivityState(state, deadline, (error) => resolve(error === undefined)));
      if (!changed) return false;
    }
  }

  close(): void {
    this.client.close();
  }
}

/** GetFlows from the observer at `address` (host:port). */
export async function* getFlows(address: string, request: FlowRequestJson, options: { signal?: AbortSignal } = {}): AsyncGenerator<FlowRecord> {
  const connection = new ObserverConnection(address);
  try {
    yield* connection.getFlows(request, options);
  } finally {
    connection.close();
  }
}

async function unaryOnce(address: string, name: 'ServerStatus' | 'GetNodes' | 'GetNamespaces'): Promise<Json> {
  const connection = new ObserverConnection(address);
  try {
    return await connection.unary(name);
  } finally {
    connection.close();
  }
}

/** ServerStatus in protojson form (uint64 counters as strings). */
export async function serverStatus(address: string): Promise<Record<string, unknown>> {
  return unaryOnce(address, 'ServerStatus');
}

/** GetNodes: one object per node (name, address, state, version, uptime_ns, flow counts). */
export async function getNodes(address: string): Promise<Record<string, unknown>[]> {
  const response = await unaryOnce(address, 'GetNodes');
  return Array.isArray(response['nodes']) ? (response['nodes'] as Record<string, unknown>[]) : [];
}

export async function getNamespaces(address: string): Promise<Record<string, unknown>[]> {
  const response = await unaryOnce(address, 'GetNamespaces');
  return Array.isArray(response['namespaces']) ? (response['namespaces'] as Record<string, unknown>[]) : [];
}
