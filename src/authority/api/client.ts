/**
 * The agent side of the authority API. `AgentClient.attest` trusts the authority through a bundle
 * handed over out of band (as SPIRE's trust bundle bootstrap), presents a single-use join token
 * with an ID-less CSR, and from then on keeps the node SVID fresh over mutual TLS (`/v1/renew`).
 * `workloadSource` gives an X509Source per pod, kept fresh by its own SvidRotator (`/v1/svid`).
 * Every response carries the current bundle, so CA rotation reaches agents with their next SVID.
 * Private keys are generated in memory by the rotators and never leave the process.
 *
 * Errors: the authority's coded errors are rethrown as `IdentityError` with the same code;
 * `PODGATE_E_API_UNREACHABLE` for connection and TLS failures, `PODGATE_E_API_BAD_RESPONSE` for a
 * body that is not the documented shape, `PODGATE_E_API_BAD_URL` for a URL that is not https.
 */
import { request } from 'node:https';
import { BundleSet, X509Bundle } from '../../identity/bundle/x509-bundle.js';
import { IdentityError } from '../../identity/errors.js';
import { systemClock, type Clock } from '../../identity/clock.js';
import {
  SvidRotator,
  timerScheduler,
  type RetryPolicy,
  type RotatorEvent,
  type Scheduler,
  type X509Source,
} from '../../identity/source.js';
import { authorityServerId, type SpiffeId, type TrustDomain } from '../../identity/spiffe-id.js';
import { authorizeId, verifyX509Svid } from '../../identity/svid/verify.js';
import type { X509Svid } from '../../identity/svid/x509-svid.js';
import type { Certificate } from '../../identity/x509/certificate.js';
import { clientTlsOptions, type PeerVerification, type TrustOptions } from '../../identity/tls.js';
import {
  API_PATHS,
  ApiCode,
  apiError,
  readBundleBody,
  readErrorBody,
  readSvidResponse,
  type AttestRequest,
  type BundleBody,
  type PodSvidRequest,
  type RenewRequest,
  type SvidResponse,
} from './protocol.js';

export interface AgentClientOptions {
  /** `https://host:port` of the authority API. */
  readonly url: string;
  /** The authority's trust bundle, obtained out of band (for example `podgate identity bundle`). */
  readonly trustBundle: X509Bundle;
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
  readonly random?: () => number;
  readonly retry?: RetryPolicy;
  /** Per request; default 15 s. */
  readonly timeoutMs?: number;
  /** Rotation events of the node SVID and of every workload source. */
  readonly onEvent?: (event: AgentClientEvent) => void;
}

export type AgentClientEvent = RotatorEvent & { readonly source: 'node' | `pod ${string}/${string}` };

/** An X509Source that can be stopped (its renewals end). */
export interface WorkloadX509Source extends X509Source {
  close(): void;
}

/** Largest response body the client reads. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export class AgentClient {
  private readonly bundles: BundleSet;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly workloads = new Set<SvidRotator>();
  private attested = false;
  private readonly node: SvidRotator;
  private readonly base: URL;
  readonly trustDomain: TrustDomain;

  private constructor(
    private readonly options: AgentClientOptions,
    token: string,
  ) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw apiError('PODGATE_E_API_BAD_URL', `not a URL: ${options.url}`, 'pass https://host:port');
    }
    if (base.protocol !== 'https:') throw apiError('PODGATE_E_API_BAD_URL', `the authority URL must be https, got ${base.protocol}`, 'pass https://host:port');
    this.base = base;
    this.trustDomain = options.trustBundle.trustDomain;
    this.bundles = new BundleSet([options.trustBundle]);
    this.clock = options.clock ?? systemClock;
    this.scheduler = options.scheduler ?? timerScheduler(this.clock);
    this.node = this.rotator('node', async (csr) => {
      // The join token is single-use: attest once, renew with the node SVID afterwards.
      if (!this.attested) {
        const response = await this.post(API_PATHS.attest, { token, csr: csr.toString('base64') } satisfies AttestRequest, undefined);
        this.attested = true;
        return response;
      }
      return this.post(API_PATHS.renew, { csr: csr.toString('base64') } satisfies RenewRequest, this.node);
    });
  }

  /** Attests with a join token and returns a client holding a node SVID that it keeps fresh. */
  static async attest(options: AgentClientOptions & { readonly token: string }): Promise<AgentClient> {
    const client = new AgentClient(options, options.token);
    await client.node.start();
    return client;
  }

  /** The node SVID (`spiffe://td/podgate/agent/NODE`), kept fresh. */
  get nodeSource(): X509Source {
    return this.node;
  }

  get nodeId(): SpiffeId {
    return this.node.getX509Svid().id;
  }

  /** The trust bundle as last received from the authority. */
  bundle(): X509Bundle {
    return this.bundles.getX509BundleForTrustDomain(this.trustDomain)!;
  }

  /** Fetches the bundle (PEM and SPIFFE JWKS) and adopts it. */
  async fetchBundle(): Promise<BundleBody> {
    const body = readBundleBody(await this.call('GET', API_PATHS.bundle, undefined, this.node));
    this.adoptBundle(body);
    return body;
  }

  /**
   * An X509Source for a pod on this node, kept fresh by its own rotator. Rejects with the
   * authority's code when it refuses (for example a pod scheduled on another node).
   */
  async workloadSource(pod: { readonly namespace: string; readonly pod: string }): Promise<WorkloadX509Source> {
    const rotator = this.rotator(`pod ${pod.namespace}/${pod.pod}`, (csr) =>
      this.post(API_PATHS.svid, { namespace: pod.namespace, pod: pod.pod, csr: csr.toString('base64') } satisfies PodSvidRequest, this.node),
    );
    await rotator.start();
    this.workloads.add(rotator);
    return {
      getX509Svid: () => rotator.getX509Svid(),
      onChange: (listener: (svid: X509Svid) => void) => rotator.onChange(listener),
      close: () => {
        rotator.close();
        this.workloads.delete(rotator);
      },
    };
  }

  /** Stops every renewal (node and workloads). */
  close(): void {
    this.node.close();
    for (const w of this.workloads) w.close();
    this.workloads.clear();
  }

  private rotator(source: AgentClientEvent['source'], call: (csr: Buffer) => Promise<SvidResponse>): SvidRotator {
    const rotator = new SvidRotator({
      clock: this.clock,
      scheduler: this.scheduler,
      random: this.options.random ?? Math.random,
      ...(this.options.retry === undefined ? {} : { retry: this.options.retry }),
      // Adopt the bundle first: after a CA rotation the new SVID chains to the new root.
      fetch: async (csr) => {
        const response = await call(csr);
        this.adoptBundle(response.bundle);
        return response.chain.map((c) => Buffer.from(c, 'base64'));
      },
      check: (chain: readonly Certificate[]) => {
        verifyX509Svid(chain, this.bundles, { now: new Date(this.clock.now()) });
      },
    });
    const onEvent = this.options.onEvent;
    if (onEvent) rotator.onEvent((event) => onEvent({ ...event, source }));
    return rotator;
  }

  private adoptBundle(body: BundleBody): void {
    if (body.trustDomain !== this.trustDomain.name) {
      throw apiError(ApiCode.badResponse, `the authority sent a bundle for ${body.trustDomain}, expected ${this.trustDomain.name}`);
    }
    let bundle: X509Bundle;
    try {
      bundle = X509Bundle.parse(this.trustDomain, body.pem);
    } catch (cause) {
      throw new IdentityError(ApiCode.badResponse, `the authority sent an unreadable bundle: ${(cause as Error).message}`, undefined, { cause });
    }
    if (bundle.authorities.length === 0) throw apiError(ApiCode.badResponse, 'the authority sent an empty bundle');
    this.bundles.set(bundle);
  }

  private async post(path: string, body: AttestRequest | RenewRequest | PodSvidRequest, identity: X509Source | undefined): Promise<SvidResponse> {
    return readSvidResponse(await this.call('POST', path, body, identity));
  }

  private call(method: 'GET' | 'POST', path: string, body: object | undefined, identity: X509Source | undefined): Promise<unknown> {
    const trust: TrustOptions = { bundles: this.bundles, trustDomains: [this.trustDomain] };
    const verification: PeerVerification = { bundles: this.bundles, clock: this.clock, authorizer: authorizeId(authorityServerId(this.trustDomain)) };
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const timeoutMs = this.options.timeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.base),
        {
          method,
          // No connection reuse: every request handshakes with the current SVID and checks the server afresh.
          agent: false,
          ...clientTlsOptions(identity, trust, verification),
          headers: payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': payload.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) req.destroy(apiError(ApiCode.badResponse, `response larger than ${MAX_RESPONSE_BYTES} bytes`));
            else chunks.push(chunk);
          });
          res.on('error', (error) => reject(unreachable(error)));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              reject(apiError(ApiCode.badResponse, `HTTP ${status} with a body that is not JSON`));
              return;
            }
            if (status >= 200 && status < 300) {
              resolve(parsed);
              return;
            }
            const error = readErrorBody(parsed);
            reject(error ? new IdentityError(error.code, error.message, error.hint) : apiError(ApiCode.badResponse, `HTTP ${status} without an error body`));
          });
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(apiError(ApiCode.unreachable, `no answer from ${this.base.origin} within ${timeoutMs} ms`)));
      req.on('error', (error) => reject(unreachable(error)));
      req.end(payload);
    });
  }
}

// Our own coded errors (a refused server identity, a timeout) pass through; the rest are network failures.
function unreachable(error: Error): IdentityError {
  if (error instanceof IdentityError) return error;
  return new IdentityError(ApiCode.unreachable, `cannot reach the authority: ${error.message}`, 'check the URL, that the authority runs, and the trust bundle', { cause: error });
}
