/**
 * The Hubble Observer gRPC service (observer.proto) for @grpc/grpc-js, built from the protobufjs
 * schema so messages stay in their protojson form (FlowRecord, FlowRequestJson) inside podgate and
 * are converted on the wire exactly like Go's protojson. Both the agent server and the relay serve
 * it through `serveObserver`, which turns handler failures into gRPC statuses: a bad request never
 * crashes the process.
 */
import * as grpc from '@grpc/grpc-js';
import type { FlowRequestJson } from '../filter.js';
import type { FlowRecord } from '../model.js';
import { decodeJson, encodeJson, hubbleSchema, messageType } from '../proto.js';

export type Json = Record<string, unknown>;

export const OBSERVER_SERVICE = 'observer.Observer';

/** The version string podgate reports in ServerStatus and GetNodes. */
export const PODGATE_OBSERVER_VERSION = 'podgate/0.1.0';

/** grpc-js method definitions for every RPC of observer.Observer, converting protojson ⇄ protobuf. */
export function observerServiceDefinition(): grpc.ServiceDefinition {
  const service = hubbleSchema().lookupService(OBSERVER_SERVICE);
  const definition: Record<string, grpc.MethodDefinition<Json, Json>> = {};
  for (const method of service.methodsArray) {
    const requestType = messageType(method.resolvedRequestType?.fullName.slice(1) ?? method.requestType);
    const responseType = messageType(method.resolvedResponseType?.fullName.slice(1) ?? method.responseType);
    definition[method.name] = {
      path: `/${OBSERVER_SERVICE}/${method.name}`,
      originalName: method.name,
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
      requestSerialize: (value) => Buffer.from(encodeJson(requestType, value)),
      requestDeserialize: (bytes) => decodeJson(requestType, bytes),
      responseSerialize: (value) => Buffer.from(encodeJson(responseType, value)),
      responseDeserialize: (bytes) => decodeJson(responseType, bytes),
    };
  }
  return definition;
}

let cachedDefinition: grpc.ServiceDefinition | undefined;

export function observerService(): grpc.ServiceDefinition {
  cachedDefinition ??= observerServiceDefinition();
  return cachedDefinition;
}

/** The method definition of one RPC (for grpc.Client's makeUnaryRequest/makeServerStreamRequest). */
export function observerMethod(name: 'GetFlows' | 'ServerStatus' | 'GetNodes' | 'GetNamespaces'): grpc.MethodDefinition<Json, Json> {
  const method = observerService()[name];
  if (method === undefined) throw new Error(`observer.proto has no ${name} RPC`);
  return method as grpc.MethodDefinition<Json, Json>;
}

/** A failure with a gRPC status code a handler wants the client to see. */
export class ObserverStatusError extends Error {
  constructor(
    readonly status: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/** The GetFlows call as handlers see it: the request, a way to send, and cancellation. */
export interface FlowStreamCall {
  readonly request: FlowRequestJson;
  /** Aborted when the client cancels or disconnects, or the server shuts down. */
  readonly signal: AbortSignal;
  /** Sends one response; resolves when the transport accepts more (backpressure), false once the call is gone. */
  send(record: FlowRecord): Promise<boolean>;
}

export interface ObserverHandlers {
  getFlows(call: FlowStreamCall): Promise<void>;
  serverStatus(): Promise<Json>;
  getNodes(): Promise<Json>;
  getNamespaces(): Promise<Json>;
}

export interface RunningObserver {
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  readonly address: string;
  /** Ends every stream, stops listening; idempotent. */
  close(): Promise<void>;
}

export interface ServeObserverOptions {
  readonly host: string;
  readonly port: number;
  readonly handlers: ObserverHandlers;
  /** Called with a one-line reason when a handler fails unexpectedly (the client gets INTERNAL). */
  readonly onError?: (message: string) => void;
}

/** Maps a handler failure to a gRPC status: request errors become INVALID_ARGUMENT, the rest INTERNAL. */
export function statusOf(error: unknown): { code: grpc.status; details: string; unexpected: boolean } {
  if (error instanceof ObserverStatusError) return { code: error.status, details: error.message, unexpected: false };
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'PODGATE_E_FILTER') return { code: grpc.status.INVALID_ARGUMENT, details: message, unexpected: false };
  return { code: grpc.status.INTERNAL, details: message, unexpected: true };
}

function unimplemented(name: string, method: grpc.MethodDefinition<Json, Json>): grpc.UntypedHandleCall {
  const reply = { code: grpc.status.UNIMPLEMENTED, details: `${name} is not implemented by podgate` };
  if (method.responseStream) return (call: grpc.ServerWritableStream<Json, Json>) => call.emit('error', reply);
  return (_call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) => callback(reply);
}

/** Binds observer.Observer on host:port with the given handlers. */
export async function serveObserver(options: ServeObserverOptions): Promise<RunningObserver> {
  const server = new grpc.Server({ 'grpc.keepalive_permit_without_calls': 1 });
  const live = new Set<AbortController>();
  const report = options.onError ?? (() => {});

  const unary =
    (run: () => Promise<Json>): grpc.handleUnaryCall<Json, Json> =>
    (_call, callback) => {
      run().then(
        (response) => callback(null, response),
        (error: unknown) => {
          const status = statusOf(error);
          if (status.unexpected) report(status.details);
          callback({ code: status.code, details: status.details });
        },
      );
    };

  const getFlows: grpc.handleServerStreamingCall<Json, Json> = (call) => {
    const controller = new AbortController();
    live.add(controller);
    const abort = (): void => controller.abort();
    call.on('cancelled', abort);
    call.on('close', abort);
    call.on('error', abort);
    const send = (record: FlowRecord): Promise<boolean> => {
      if (controller.signal.aborted) return Promise.resolve(false);
      let accepted: boolean;
      try {
        accepted = call.write(record);
      } catch {
        abort();
        return Promise.resolve(false);
      }
      if (accepted) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (ok: boolean): void => {
          call.off('drain', onDrain);
          controller.signal.removeEventListener('abort', onAbort);
          resolve(ok);
        };
        const onDrain = (): void => done(true);
        const onAbort = (): void => done(false);
        call.once('drain', onDrain);
        controller.signal.addEventListener('abort', onAbort, { once: true });
      });
    };
    const flowCall: FlowStreamCall = { request: call.request as FlowRequestJson, signal: controller.signal, send };
    options.handlers.getFlows(flowCall).then(
      () => {
        if (!controller.signal.aborted) call.end();
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        const status = statusOf(error);
        if (status.unexpected) report(status.details);
        // grpc-js sends an 'error' event's status as the call's trailers.
        call.emit('error', { code: status.code, details: status.details });
      },
    ).finally(() => {
      live.delete(controller);
      controller.abort();
    });
  };

  const implementation: grpc.UntypedServiceImplementation = {
    GetFlows: getFlows,
    ServerStatus: unary(() => options.handlers.serverStatus()),
    GetNodes: unary(() => options.handlers.getNodes()),
    GetNamespaces: unary(() => options.handlers.getNamespaces()),
  };
  for (const [name, method] of Object.entries(observerService())) implementation[name] ??= unimplemented(name, method as grpc.MethodDefinition<Json, Json>);
  server.addService(observerService(), implementation);

  const address = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, bound) => {
      if (error) {
        server.forceShutdown();
        reject(error);
      } else resolve(bound);
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port,
    address: `${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        // Follow streams never end on their own: cancel them, then stop the transport.
        for (const controller of live) controller.abort();
        server.forceShutdown();
        resolve();
      });
      return closing;
    },
  };
}
