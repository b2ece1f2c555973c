/**
 * The authority's API over mutual TLS (HTTPS/1.1, TLS 1.3 only). The server presents an SVID for
 * `spiffe://td/podgate/authority`, issued by the authority itself and kept fresh by an SvidRotator.
 *
 * - `POST /v1/attest {token, csr}`   no client certificate needed: the join token is the credential
 * - `POST /v1/renew {csr}`           node SVID required: a fresh node SVID for the same agent ID
 * - `POST /v1/svid {namespace, pod, csr}`  node SVID required: the pod's SVID, only for a pod on that node
 * - `GET /v1/bundle`                 the trust bundle as PEM and as a SPIFFE bundle (JWKS)
 *
 * Client certificates are checked right after the handshake (`refuseUnverifiedPeers`): a presented
 * chain must verify against the authority's live bundle, belong to its trust domain and not be
 * deny-listed, or the connection is refused at handshake. Keep-alive connections outlive that
 * check, so every request from an authenticated peer is checked again (validity at the injected
 * clock, deny-list, bundle) before routing; a peer that fails is answered 403
 * `PODGATE_E_API_PEER_REFUSED` and the connection is closed.
 *
 * The TLS context (the `ca` list OpenSSL validates client chains with) follows the bundle: before
 * each connection the server asks the authority whether its state changed (`sync`, one read), and
 * the authority's `onBundleChange` swaps the context, also when another process (`podgate identity
 * ca ...`) rotated the CA. Bad input never crashes the server: each defect is a coded JSON error
 * (see protocol.ts); unexpected failures are a 500 without details, reported through `onEvent`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { X509Bundle } from '../../identity/bundle/x509-bundle.js';
import type { SpiffeBundle } from '../../identity/bundle/spiffe-bundle.js';
import { IdentityError } from '../../identity/errors.js';
import { systemClock, type Clock } from '../../identity/clock.js';
import { SvidRotator, timerScheduler, type Scheduler, type X509Source } from '../../identity/source.js';
import { authorityServerId, type SpiffeId, type TrustDomain } from '../../identity/spiffe-id.js';
import { authorizeMemberOf } from '../../identity/svid/verify.js';
import type { Certificate } from '../../identity/x509/certificate.js';
import {
  keepServerContextFresh,
  peerOf,
  recheckPeer,
  refuseUnverifiedPeers,
  serverTlsOptions,
  type PeerVerification,
  type TrustOptions,
  type VerifiedPeer,
} from '../../identity/tls.js';
import { agentNode } from '../attestation.js';
import {
  API_PATHS,
  ApiCode,
  apiError,
  decodeBase64,
  errorBody,
  MAX_BODY_BYTES,
  statusForCode,
  stringField,
  type BundleBody,
  type SvidResponse,
} from './protocol.js';

/** What the API needs from an issued SVID. */
export interface IssuedSvidLike {
  readonly id: SpiffeId;
  /** DER, leaf first. */
  readonly chain: readonly Uint8Array[];
  readonly notAfter: Date;
}

/** The part of `Authority` (authority.ts) the API serves; a narrow seam so tests can wrap it. */
export interface AuthorityService {
  readonly trustDomain: TrustDomain;
  bundle(): X509Bundle;
  spiffeBundle(): SpiffeBundle;
  attestAgent(request: { token: string; csrDer: Uint8Array }): IssuedSvidLike;
  issueForPod(request: { agent: SpiffeId; namespace: string; pod: string; csrDer: Uint8Array }): IssuedSvidLike;
  renewAgent(request: { agent: SpiffeId; csrDer: Uint8Array }): IssuedSvidLike;
  issueServerSvid(request: { csrDer: Uint8Array }): IssuedSvidLike;
  isDenied(serial: bigint): boolean;
  /** Catches up with state other processes changed (cheap when none did). */
  sync(): void;
  /** Calls `listener` after the bundle changed; returns the remover. */
  onBundleChange(listener: () => void): () => void;
}

export type ApiEvent =
  | { readonly type: 'response'; readonly method: string; readonly path: string; readonly status: number; readonly code?: string; readonly peer?: string }
  | { readonly type: 'handshake-refused'; readonly code: string; readonly message: string; readonly remoteAddress?: string }
  | { readonly type: 'internal-error'; readonly error: unknown }
  | { readonly type: 'server-svid'; readonly serial: string; readonly notAfter: Date }
  | { readonly type: 'server-svid-failed'; readonly error: unknown };

export interface AuthorityServerOptions {
  readonly authority: AuthorityService;
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
  readonly random?: () => number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (any free port). */
  readonly port?: number;
  readonly maxBodyBytes?: number;
  readonly onEvent?: (event: ApiEvent) => void;
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;

type Route = { readonly method: 'GET' | 'POST'; readonly handle: (request: ApiRequest) => Promise<unknown> | unknown };

interface ApiRequest {
  readonly body: unknown;
  readonly peer: SpiffeId | undefined;
}

/** What `start` builds before the server exists: one bundle view for the TLS context and every peer check. */
interface ServerParts {
  readonly server: Server;
  readonly rotator: SvidRotator;
  readonly verification: PeerVerification;
  readonly emit: (event: ApiEvent) => void;
  readonly url: string;
  readonly port: number;
}

export class AuthorityServer {
  private readonly routes: ReadonlyMap<string, Route>;
  private readonly stops: (() => void)[] = [];
  private closed = false;

  private constructor(
    private readonly options: AuthorityServerOptions,
    private readonly parts: ServerParts,
  ) {
    this.routes = new Map<string, Route>([
      [API_PATHS.attest, { method: 'POST', handle: (r) => this.attest(r) }],
      [API_PATHS.renew, { method: 'POST', handle: (r) => this.renew(r) }],
      [API_PATHS.svid, { method: 'POST', handle: (r) => this.podSvid(r) }],
      [API_PATHS.bundle, { method: 'GET', handle: () => this.bundleBody() }],
    ]);
  }

  /** Issues the server SVID, then listens. Resolves once the port is bound. */
  static async start(options: AuthorityServerOptions): Promise<AuthorityServer> {
    const { authority } = options;
    const td = authority.trustDomain;
    const clock = options.clock ?? systemClock;
    const serverId = authorityServerId(td);
    const rotator = new SvidRotator({
      id: serverId,
      clock,
      scheduler: options.scheduler ?? timerScheduler(clock),
      random: options.random ?? Math.random,
      fetch: async (csrDer) => authority.issueServerSvid({ csrDer }).chain,
    });
    const emit = (event: ApiEvent): void => {
      try {
        options.onEvent?.(event);
      } catch {
        // An observer must not break the server.
      }
    };
    rotator.onEvent((event) => {
      if (event.type === 'rotated') emit({ type: 'server-svid', serial: event.svid.certificates[0]!.serialHex, notAfter: event.svid.certificates[0]!.notAfter });
      else if (event.type === 'fetch-failed') emit({ type: 'server-svid-failed', error: event.error });
    });
    await rotator.start();

    // The live bundle: CA rotation is seen by the next handshake without a restart.
    const bundles = { getX509BundleForTrustDomain: (t: TrustDomain) => (t.equals(td) ? authority.bundle() : undefined) };
    const trust: TrustOptions = { bundles, trustDomains: [td] };
    const verification: PeerVerification = { bundles, clock, authorizer: authorizeMemberOf(td), isRevoked: (leaf: Certificate) => authority.isDenied(leaf.serial) };
    const server = createServer(serverTlsOptions(rotator, trust, { requireClientCertificate: false }));
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const url = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const api = new AuthorityServer(options, { server, rotator, verification, emit, url, port });
    // Before the TLS socket takes the current context: has another process changed the bundle?
    const syncBeforeHandshake = (): void => {
      try {
        authority.sync();
      } catch (error) {
        emit({ type: 'internal-error', error });
      }
    };
    server.prependListener('connection', syncBeforeHandshake);
    api.stops.push(
      () => server.removeListener('connection', syncBeforeHandshake),
      refuseUnverifiedPeers(server, {
        ...verification,
        allowAnonymous: true,
        onRefused: (socket: TLSSocket, error) =>
          emit({ type: 'handshake-refused', code: error.code, message: error.message, ...(socket.remoteAddress === undefined ? {} : { remoteAddress: socket.remoteAddress }) }),
      }),
      keepServerContextFresh({
        server,
        source: rotator,
        trust,
        onBundleChange: (listener) => authority.onBundleChange(listener),
        onError: (error) => emit({ type: 'internal-error', error }),
      }),
    );
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      api.handle(req, res).catch((error: unknown) => emit({ type: 'internal-error', error }));
    });
    server.on('tlsClientError', (error: Error & { code?: string }) => emit({ type: 'handshake-refused', code: error.code ?? 'TLS', message: error.message }));
    return api;
  }

  /** `https://host:port` the server listens on. */
  get url(): string {
    return this.parts.url;
  }

  get port(): number {
    return this.parts.port;
  }

  /** The server's current SVID source (its ID is `spiffe://td/podgate/authority`). */
  get source(): X509Source {
    return this.parts.rotator;
  }

  /** Stops listening, drops open connections and stops rotating the server SVID. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const { server, rotator } = this.parts;
    for (const stop of this.stops) stop();
    rotator.close();
    const closing = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closing;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? '';
    const path = (req.url ?? '').split('?')[0] ?? '';
    const verified = peerOf(req.socket);
    const peer = verified?.id;
    let status = 200;
    let code: string | undefined;
    try {
      if (verified !== undefined) this.recheck(verified);
      const route = this.routes.get(path);
      if (!route) throw apiError(ApiCode.notFound, `no such endpoint: ${path.slice(0, 200)}`, `endpoints: ${Object.values(API_PATHS).join(', ')}`);
      if (method !== route.method) {
        res.setHeader('Allow', route.method);
        throw apiError(ApiCode.method, `${path} accepts ${route.method}, not ${method.slice(0, 20)}`);
      }
      const body = route.method === 'POST' ? await this.readJson(req) : undefined;
      const result = await route.handle({ body, peer });
      this.send(res, 200, result);
    } catch (error) {
      const coded =
        error instanceof IdentityError ? error : apiError(ApiCode.internal, 'internal error', 'the authority logged the cause; retry later');
      if (!(error instanceof IdentityError)) this.parts.emit({ type: 'internal-error', error });
      status = statusForCode(coded.code);
      code = coded.code;
      if (coded.code === ApiCode.bodyTooLarge || coded.code === ApiCode.peerRefused) res.setHeader('Connection', 'close');
      this.send(res, status, errorBody(coded));
    }
    this.parts.emit({ type: 'response', method, path: path.slice(0, 200), status, ...(code === undefined ? {} : { code }), ...(peer === undefined ? {} : { peer: peer.toString() }) });
  }

  // The handshake verified this peer once; the connection may have outlived its SVID or its standing.
  private recheck(peer: VerifiedPeer): void {
    try {
      recheckPeer(peer, this.parts.verification);
    } catch (error) {
      if (!(error instanceof IdentityError)) throw error;
      throw apiError(ApiCode.peerRefused, `the client SVID is no longer accepted (${error.code}): ${error.message}`, 'reconnect with a current node SVID; a deny-listed node must attest again');
    }
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
    res.end(text);
  }

  private async readJson(req: IncomingMessage): Promise<unknown> {
    if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) {
      throw apiError(ApiCode.mediaType, 'the request body must be application/json', "send 'Content-Type: application/json'");
    }
    const limit = this.options.maxBodyBytes ?? MAX_BODY_BYTES;
    const tooLarge = (): IdentityError => apiError(ApiCode.bodyTooLarge, `the request body is larger than ${limit} bytes`);
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limit) throw tooLarge();
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        fn();
      };
      req.on('data', (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        if (size > limit) settle(() => reject(tooLarge()));
        else chunks.push(chunk);
      });
      req.on('end', () => settle(() => resolve(Buffer.concat(chunks))));
      req.on('error', (error) => settle(() => reject(apiError(ApiCode.badRequest, `the request body could not be read: ${error.message}`))));
      req.on('close', () => settle(() => reject(apiError(ApiCode.badRequest, 'the client closed the connection mid-body'))));
    });
    try {
      return JSON.parse(raw.toString('utf8'));
    } catch {
      throw apiError(ApiCode.malformedJson, 'the request body is not valid JSON');
    }
  }

  private requireAgent(peer: SpiffeId | undefined): SpiffeId {
    const td = this.options.authority.trustDomain;
    if (peer === undefined) throw apiError(ApiCode.unauthenticated, 'this endpoint needs the agent node SVID (mutual TLS)', 'attest first (POST /v1/attest) and present the node SVID');
    if (agentNode(peer, td) === undefined) throw apiError(ApiCode.notAgent, `${peer} is not a node agent identity`, `only spiffe://${td.name}/podgate/agent/NODE may call this endpoint`);
    return peer;
  }

  private svidResponse(svid: IssuedSvidLike): SvidResponse {
    return {
      spiffeId: svid.id.toString(),
      chain: svid.chain.map((der) => Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64')),
      expiresAt: svid.notAfter.toISOString(),
      bundle: this.bundleBody(),
    };
  }

  private bundleBody(): BundleBody {
    const { authority } = this.options;
    const bundle = authority.bundle();
    return { trustDomain: bundle.trustDomain.name, pem: bundle.toPem(), spiffe: JSON.parse(authority.spiffeBundle().toJson()) as Record<string, unknown> };
  }

  private attest({ body }: ApiRequest): SvidResponse {
    const token = stringField(body, 'token', 256);
    const csrDer = decodeBase64(stringField(body, 'csr'), 'csr');
    return this.svidResponse(this.options.authority.attestAgent({ token, csrDer }));
  }

  private renew({ body, peer }: ApiRequest): SvidResponse {
    const agent = this.requireAgent(peer);
    const csrDer = decodeBase64(stringField(body, 'csr'), 'csr');
    return this.svidResponse(this.options.authority.renewAgent({ agent, csrDer }));
  }

  private podSvid({ body, peer }: ApiRequest): SvidResponse {
    const agent = this.requireAgent(peer);
    const namespace = stringField(body, 'namespace', 253);
    const pod = stringField(body, 'pod', 253);
    const csrDer = decodeBase64(stringField(body, 'csr'), 'csr');
    return this.svidResponse(this.options.authority.issueForPod({ agent, namespace, pod, csrDer }));
  }
}
