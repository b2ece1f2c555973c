/**
 * Test helpers for the authority API: an authority in a scratch state directory, a scheduler
 * whose timers fire only on request, and a raw HTTPS request that reports status and JSON body.
 * Test-only.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import { BundleSet, type X509Bundle } from '../../identity/bundle/x509-bundle.js';
import type { Scheduler, X509Source } from '../../identity/source.js';
import { authorityServerId, type SpiffeId, type TrustDomain } from '../../identity/spiffe-id.js';
import { authorizeId } from '../../identity/svid/verify.js';
import type { X509Svid } from '../../identity/svid/x509-svid.js';
import { parseCertificate } from '../../identity/x509/certificate.js';
import { createCsr } from '../../identity/x509/csr.js';
import { clientTlsOptions } from '../../identity/tls.js';
import { Authority } from '../authority.js';
import { StaticPodDirectory } from '../pod-directory.js';
import { ManualClock } from '../testing.js';
import { AuthorityServer, type ApiEvent } from './server.js';

/** Timers run only when `fireAll` is called (the rotators do not look at the clock when fired). */
export class ManualScheduler implements Scheduler {
  private timers: { at: number; fn: () => void; live: boolean }[] = [];

  setTimer(at: number, fn: () => void): () => void {
    const timer = { at, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }

  pending(): number {
    return this.timers.filter((t) => t.live).length;
  }

  /** Fires every live timer once (timers they set are kept for the next call). */
  fireAll(): number {
    const due = this.timers.filter((t) => t.live);
    this.timers = [];
    for (const t of due) {
      t.live = false;
      t.fn();
    }
    return due.length;
  }
}

export interface TestAuthority {
  readonly authority: Authority;
  /** The authority's state directory (open a second `Authority` on it to act as another process). */
  readonly stateDir: string;
  readonly server: AuthorityServer;
  readonly pods: StaticPodDirectory;
  readonly clock: ManualClock;
  readonly scheduler: ManualScheduler;
  readonly events: ApiEvent[];
  /** Resolves with the next event from now on that matches. */
  nextEvent(match: (event: ApiEvent) => boolean): Promise<ApiEvent>;
  cleanup(): Promise<void>;
}

/**
 * An authority (state in a temporary directory) served on 127.0.0.1, port 0. The clock starts at
 * the real time because OpenSSL checks certificate validity against the real clock.
 */
export async function startTestAuthority(trustDomain: TrustDomain): Promise<TestAuthority> {
  const dir = mkdtempSync(join(tmpdir(), 'podgate-api-'));
  const clock = new ManualClock(Date.now());
  const pods = new StaticPodDirectory();
  const stateDir = join(dir, 'state');
  const authority = Authority.init(stateDir, { trustDomain, clock, pods });
  const scheduler = new ManualScheduler();
  const events: ApiEvent[] = [];
  const waiters: { match: (event: ApiEvent) => boolean; resolve: (event: ApiEvent) => void }[] = [];
  const onEvent = (event: ApiEvent): void => {
    events.push(event);
    for (const w of [...waiters]) {
      if (!w.match(event)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(event);
    }
  };
  const server = await AuthorityServer.start({ authority, clock, scheduler, random: () => 0, onEvent });
  return {
    authority,
    stateDir,
    server,
    pods,
    clock,
    scheduler,
    events,
    nextEvent(match) {
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    async cleanup() {
      await server.close();
      authority.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An SVID for any ID straight from the authority (key in memory), for clients the API must judge. */
export function directSvid(authority: Authority, id: SpiffeId): X509Svid {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issued = authority.issue({ id, csrDer: createCsr(privateKey, id) });
  return { id, certificates: issued.chain.map((der) => parseCertificate(der)), privateKey };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly json: unknown;
  readonly text: string;
}

export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly body?: string | Buffer;
  readonly headers?: Record<string, string | number>;
  /** Send the body as chunked transfer encoding in pieces of this size. */
  readonly chunked?: number;
  readonly identity?: X509Source;
  /** The client's trust bundle; default the test authority's (reading it makes that authority catch up with the state). */
  readonly trustBundle?: X509Bundle;
}

/** One HTTPS request to the test authority, trusting its bundle and checking its server ID. */
export function rawRequest(t: TestAuthority, r: RawRequest): Promise<RawResponse> {
  return send(t, r, false);
}

export interface KeepAliveClient {
  /** `reused` is true when the request went over the connection an earlier request opened. */
  request(r: Omit<RawRequest, 'identity'>): Promise<RawResponse & { readonly reused: boolean }>;
  close(): void;
}

/** Requests with one identity over one kept-alive connection (a new one only after the server closed it). */
export function keepAliveClient(t: TestAuthority, identity: X509Source): KeepAliveClient {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    request: (r) => send(t, { ...r, identity }, agent),
    close: () => agent.destroy(),
  };
}

function send(t: TestAuthority, r: RawRequest, agent: Agent | false): Promise<RawResponse & { readonly reused: boolean }> {
  const td = t.authority.trustDomain;
  const bundles = new BundleSet([r.trustBundle ?? t.authority.bundle()]);
  const tls = clientTlsOptions(r.identity, { bundles, trustDomains: [td] }, { bundles, clock: t.clock, authorizer: authorizeId(authorityServerId(td)) });
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(r.headers ?? {}) };
    const req = request({ host: '127.0.0.1', port: t.server.port, method: r.method, path: r.path, agent, headers, ...tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json, text, reused: req.reusedSocket });
      });
    });
    req.on('error', reject);
    const body = r.body === undefined ? undefined : Buffer.from(r.body);
    if (body !== undefined && r.chunked !== undefined) {
      for (let i = 0; i < body.length; i += r.chunked) req.write(body.subarray(i, i + r.chunked));
      req.end();
    } else {
      if (body !== undefined && headers['Content-Length'] === undefined) req.setHeader('Content-Length', body.length);
      req.end(body);
    }
  });
}

/** The `error.code` of a JSON error body, or undefined. */
export function errorCode(response: RawResponse): string | undefined {
  const error = (response.json as { error?: { code?: unknown } } | undefined)?.error;
  return typeof error?.code === 'string' ? error.code : undefined;
}
