/**
 * Mutual TLS with X509-SVIDs over Node's `tls` option objects. Building options is pure; this
 * module imports `node:tls` for types only, so it stays free of I/O.
 *
 * Two layers of checks, both before any application byte:
 * - Node/OpenSSL path validation against `ca` (the trust bundle), TLS 1.3 minimum.
 * - The SPIFFE checks on the peer's chain (exactly one URI SAN, leaf not a CA, key usage, a bundle
 *   for the leaf's trust domain, every signature and validity window at the injected time, the
 *   deny-list, and the caller's authorizer) through `verifyX509Svid`.
 * Client side, the SPIFFE check runs as `checkServerIdentity`, so Node destroys the socket before
 * 'secureConnect'. Server side, `verifiedConnectionListener` (or `refuseUnverifiedPeers` for
 * https) runs it in 'secureConnection' before the application and destroys the socket on failure. Either way the peer is "refused at handshake": the application
 * never sees the connection. A resumed session is checked again on the server (time and
 * deny-list), but Node skips `checkServerIdentity` for a client resuming a session. A connection
 * lives longer than a handshake: `recheckPeer` checks a verified peer again (time, deny-list,
 * bundle) for each later request on it.
 *
 * Peer certificates are parsed on every handshake unless they belonged to a chain that verified:
 * only those are remembered (`VerifiedCertificateCache`, bounded by count and bytes), so an
 * anonymous or refused client cannot fill memory. OpenSSL does not keep the peer's intermediates
 * in a TLS 1.3 resumption ticket, so for a resumed session Node reports the leaf alone; the cache
 * completes it with the intermediates that leaf was verified with (the chain is verified again).
 *
 * With a client certificate required (the default), OpenSSL failures (unknown issuer, expiry) make
 * Node drop the socket itself before 'secureConnection', without a reason; with anonymous clients
 * allowed, OpenSSL lets them through and the guard refuses them with a code.
 *
 * Error codes: those of `verifyX509Svid` and the authorizers, plus `PODGATE_E_TLS_NO_PEER_CERT`
 * (the peer sent no certificate where one is required), `PODGATE_E_TLS_PEER_CERT` (the peer's
 * certificate could not be read) and `PODGATE_E_TLS_PATH_VALIDATION` (the SPIFFE checks passed but
 * OpenSSL's path validation did not).
 */
import { createHash } from 'node:crypto';
import type {
  ConnectionOptions,
  DetailedPeerCertificate,
  PeerCertificate,
  SecureContextOptions,
  TlsOptions,
  TLSSocket,
} from 'node:tls';
import type { BundleSource } from './bundle/x509-bundle.js';
import { IdentityError } from './errors.js';
import type { Clock } from './clock.js';
import type { X509Source } from './source.js';
import type { SpiffeId, TrustDomain } from './spiffe-id.js';
import { verifyX509Svid, type Authorizer } from './svid/verify.js';
import { marshalX509Svid } from './svid/x509-svid.js';
import { parseCertificate, type Certificate } from './x509/certificate.js';
import { encodePem } from './x509/pem.js';

/** Which peers to trust: the bundles, and the trust domains whose authorities go into `ca`. */
export interface TrustOptions {
  readonly bundles: BundleSource;
  readonly trustDomains: readonly TrustDomain[];
}

/** What a peer's SVID is checked against after the handshake. */
export interface PeerVerification {
  readonly bundles: BundleSource;
  readonly clock: Clock;
  readonly authorizer: Authorizer;
  /** The deny-list: a revoked leaf is refused until it expires. */
  readonly isRevoked?: (leaf: Certificate) => boolean;
}

export interface VerifiedPeer {
  readonly id: SpiffeId;
  readonly chain: readonly Certificate[];
}

/** The authorities of the given trust domains, as PEM strings for `ca`. */
function trustedAuthoritiesPem(trust: TrustOptions): string[] {
  const pems: string[] = [];
  for (const td of trust.trustDomains) {
    for (const authority of trust.bundles.getX509BundleForTrustDomain(td)?.authorities ?? []) pems.push(encodePem('CERTIFICATE', authority.der));
  }
  return pems;
}

/**
 * Context options (credentials, `ca`, TLS 1.3 minimum) for `tls.createSecureContext` or
 * `server.setSecureContext`. The SVID's PEM chain (leaf first) and PKCS#8 key stay in memory.
 */
export function secureContextOptions(source: X509Source | undefined, trust: TrustOptions): SecureContextOptions {
  const options: SecureContextOptions = { minVersion: 'TLSv1.3', ca: trustedAuthoritiesPem(trust) };
  if (source === undefined) return options;
  const { certificatesPem, keyPem } = marshalX509Svid(source.getX509Svid());
  return { ...options, cert: certificatesPem, key: keyPem };
}

export interface ServerTlsSettings {
  /** false lets clients without a certificate finish the handshake (they are then anonymous); default true. */
  readonly requireClientCertificate?: boolean;
}

/** `tls.createServer` / `https.createServer` options: present our SVID, ask for the client's. */
export function serverTlsOptions(source: X509Source, trust: TrustOptions, settings: ServerTlsSettings = {}): TlsOptions {
  const required = settings.requireClientCertificate ?? true;
  return {
    ...secureContextOptions(source, trust),
    requestCert: true,
    // When anonymous clients are allowed, OpenSSL must not refuse them; refuseUnverifiedPeers checks presented chains.
    rejectUnauthorized: required,
  };
}

/**
 * `tls.connect` / `https.request` options: present our SVID (if any), validate the server's chain
 * against `ca`, and replace the host name check (SVIDs carry no DNS names) with the SPIFFE check.
 * Build them per connection so a rotated SVID is picked up.
 */
export function clientTlsOptions(source: X509Source | undefined, trust: TrustOptions, verification: PeerVerification): ConnectionOptions {
  return {
    ...secureContextOptions(source, trust),
    rejectUnauthorized: true,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      try {
        verifyPeerCertificate(cert, verification);
        return undefined;
      } catch (error) {
        return error instanceof Error ? error : new Error(String(error));
      }
    },
  };
}

export interface CertificateCacheLimits {
  readonly maxEntries: number;
  /** Total DER bytes of the cached certificates. */
  readonly maxBytes: number;
  /** Larger certificates are never cached (SVIDs and CA certificates are well under 2 KiB). */
  readonly maxCertificateBytes: number;
}

export const DEFAULT_CERTIFICATE_CACHE_LIMITS: CertificateCacheLimits = { maxEntries: 4096, maxBytes: 4 * 1024 * 1024, maxCertificateBytes: 8 * 1024 };

interface CachedCertificate {
  readonly cert: Certificate;
  /** Keys of the intermediates presented after this certificate when it was a verified leaf. */
  readonly issuers: readonly string[];
}

function certificateKey(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64');
}

/**
 * Certificates of verified peer chains by SHA-256 of their DER, least recently used dropped first.
 * Peers present the same SVID on every handshake for its whole lifetime, so this turns a parse
 * into a hash and a lookup, and the verifier's signature cache (keyed by these objects) hits too.
 */
export class VerifiedCertificateCache {
  private readonly entries = new Map<string, CachedCertificate>();
  private totalBytes = 0;

  constructor(private readonly limits: CertificateCacheLimits = DEFAULT_CERTIFICATE_CACHE_LIMITS) {}

  /** The remembered certificate with this DER, or undefined. */
  get(der: Uint8Array): Certificate | undefined {
    return this.touch(certificateKey(der))?.cert;
  }

  /** The intermediates `leaf` was verified with, or undefined when it is unknown or any of them was dropped. */
  issuersOf(leaf: Certificate): Certificate[] | undefined {
    const entry = this.touch(certificateKey(leaf.der));
    if (entry === undefined) return undefined;
    const issuers: Certificate[] = [];
    for (const key of entry.issuers) {
      const issuer = this.touch(key);
      if (issuer === undefined) return undefined;
      issuers.push(issuer.cert);
    }
    return issuers;
  }

  /** Remembers a presented chain (leaf first) that verified. */
  remember(chain: readonly Certificate[]): void {
    const keys = chain.map((cert) => certificateKey(cert.der));
    // Intermediates first, so the leaf is the most recently used and its issuers are evicted after it.
    for (let i = chain.length - 1; i >= 0; i--) {
      const cert = chain[i]!;
      if (cert.der.length > this.limits.maxCertificateBytes) continue;
      const key = keys[i]!;
      const known = this.entries.get(key);
      if (known !== undefined) {
        this.entries.delete(key);
        this.totalBytes -= known.cert.der.length;
      }
      this.entries.set(key, { cert: known?.cert ?? cert, issuers: i === 0 ? keys.slice(1) : (known?.issuers ?? []) });
      this.totalBytes += cert.der.length;
    }
    while (this.entries.size > this.limits.maxEntries || this.totalBytes > this.limits.maxBytes) {
      const [oldest, entry] = this.entries.entries().next().value as [string, CachedCertificate];
      this.entries.delete(oldest);
      this.totalBytes -= entry.cert.der.length;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** DER bytes held. */
  get bytes(): number {
    return this.totalBytes;
  }

  private touch(key: string): CachedCertificate | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }
}

/** The certificates of every peer chain this process verified (see `VerifiedCertificateCache`). */
export const verifiedPeerCertificates = new VerifiedCertificateCache();

function isDetailed(cert: PeerCertificate): cert is DetailedPeerCertificate {
  return 'issuerCertificate' in cert;
}

/**
 * The peer's chain, leaf first, as Node reports it. Node appends issuers it found in its own
 * store; self-issued certificates after the leaf are dropped, since roots come from the bundle.
 * A lone leaf that was verified before (a resumed session) gets the intermediates it came with.
 */
export function peerChain(cert: PeerCertificate | undefined): Certificate[] {
  if (cert === undefined || !Buffer.isBuffer(cert.raw) || cert.raw.length === 0) return [];
  const chain: Certificate[] = [];
  const seen = new Set<string>();
  let at: PeerCertificate | undefined = cert;
  while (at !== undefined && Buffer.isBuffer(at.raw) && at.raw.length > 0) {
    const key = at.raw.toString('base64');
    if (seen.has(key)) break;
    seen.add(key);
    let parsed: Certificate;
    try {
      parsed = verifiedPeerCertificates.get(at.raw) ?? parseCertificate(at.raw);
    } catch (cause) {
      throw new IdentityError('PODGATE_E_TLS_PEER_CERT', `cannot read the peer certificate: ${(cause as Error).message}`, undefined, { cause });
    }
    if (chain.length === 0 || !parsed.subjectDer.equals(parsed.issuerDer)) chain.push(parsed);
    at = isDetailed(at) ? at.issuerCertificate : undefined;
  }
  if (chain.length === 1) chain.push(...(verifiedPeerCertificates.issuersOf(chain[0]!) ?? []));
  return chain;
}

/** The SPIFFE checks on a peer certificate Node reports (detailed form, with issuers). Throws IdentityError. */
function verifyPeerCertificate(cert: PeerCertificate | undefined, verification: PeerVerification): VerifiedPeer {
  const chain = peerChain(cert);
  if (chain.length === 0) throw new IdentityError('PODGATE_E_TLS_NO_PEER_CERT', 'the peer presented no certificate', 'present an X509-SVID');
  const peer = verifyChain(chain, verification);
  verifiedPeerCertificates.remember(chain);
  return peer;
}

function verifyChain(chain: readonly Certificate[], verification: PeerVerification): VerifiedPeer {
  const { id, chain: verified } = verifyX509Svid(chain, verification.bundles, {
    now: new Date(verification.clock.now()),
    ...(verification.isRevoked === undefined ? {} : { isRevoked: verification.isRevoked }),
  });
  verification.authorizer(id, verified);
  return { id, chain: verified };
}

/**
 * Checks a peer verified at handshake again, for a later request on the same connection: its
 * validity at `clock`, the deny-list and the current bundle. Throws IdentityError.
 */
export function recheckPeer(peer: VerifiedPeer, verification: PeerVerification): VerifiedPeer {
  return verifyChain(peer.chain, verification);
}

/** The peer of a connected TLS socket, verified as an SVID. Throws IdentityError. */
export function verifyPeer(socket: Pick<TLSSocket, 'getPeerCertificate'>, verification: PeerVerification): VerifiedPeer {
  return verifyPeerCertificate(socket.getPeerCertificate(true), verification);
}

/** Node gives an empty object when the peer sent no certificate. */
function hasPeerCertificate(socket: Pick<TLSSocket, 'getPeerCertificate'>): boolean {
  const cert = socket.getPeerCertificate();
  return Buffer.isBuffer(cert.raw) && cert.raw.length > 0;
}

const verifiedPeers = new WeakMap<object, VerifiedPeer>();

/** The identity `refuseUnverifiedPeers` verified for this socket; undefined for an anonymous client. */
export function peerOf(socket: object): VerifiedPeer | undefined {
  return verifiedPeers.get(socket);
}

type SecureConnectionListener = (socket: TLSSocket) => void;

/** The part of `tls.Server` / `https.Server` the guard needs. */
export interface TlsServerLike {
  prependListener(event: 'secureConnection', listener: SecureConnectionListener): unknown;
  removeListener(event: 'secureConnection', listener: SecureConnectionListener): unknown;
}

export interface PeerGuardOptions extends PeerVerification {
  /** Accept clients that sent no certificate (as anonymous); default false. */
  readonly allowAnonymous?: boolean;
  readonly onVerified?: (socket: TLSSocket, peer: VerifiedPeer) => void;
  readonly onRefused?: (socket: TLSSocket, error: IdentityError) => void;
}

// Verifies one freshly handshaken socket; destroys it on failure. Returns whether it may proceed.
function admit(socket: TLSSocket, options: PeerGuardOptions): boolean {
  try {
    if (options.allowAnonymous && !hasPeerCertificate(socket)) return true;
    const peer = verifyPeer(socket, options);
    // Both layers must pass; this matters when OpenSSL was told to let failures through (anonymous clients allowed).
    if (socket.authorized === false) {
      throw new IdentityError('PODGATE_E_TLS_PATH_VALIDATION', `OpenSSL path validation failed: ${String(socket.authorizationError)}`, 'the peer chain must lead to the trust bundle');
    }
    verifiedPeers.set(socket, peer);
    options.onVerified?.(socket, peer);
    return true;
  } catch (error) {
    const refused = error instanceof IdentityError ? error : new IdentityError('PODGATE_E_TLS_PEER_CERT', `peer verification failed: ${String(error)}`);
    socket.destroy();
    try {
      options.onRefused?.(socket, refused);
    } catch {
      // A failing observer must not turn a refusal into a crash.
    }
    return false;
  }
}

/**
 * A `tls.createServer` connection listener that hands `listener` only verified peers (`peer` is
 * undefined for an allowed anonymous client); any other client is refused at handshake.
 */
export function verifiedConnectionListener(
  options: PeerGuardOptions,
  listener: (socket: TLSSocket, peer: VerifiedPeer | undefined) => void,
): SecureConnectionListener {
  return (socket) => {
    if (admit(socket, options)) listener(socket, peerOf(socket));
  };
}

/**
 * For servers whose connection listener is not ours (`https.Server`): verifies every client
 * ahead of the server's own listeners and destroys the socket of any client that fails, so no
 * request is parsed from it. Returns the remover.
 */
export function refuseUnverifiedPeers(server: TlsServerLike, options: PeerGuardOptions): () => void {
  const listener: SecureConnectionListener = (socket) => {
    admit(socket, options);
  };
  server.prependListener('secureConnection', listener);
  return () => {
    server.removeListener('secureConnection', listener);
  };
}

export interface ContextRefreshOptions {
  readonly server: { setSecureContext(options: SecureContextOptions): void };
  readonly source: X509Source;
  readonly trust: TrustOptions;
  /** Subscribes to bundle changes (CA rotation), when the bundle can change. */
  readonly onBundleChange?: (listener: () => void) => () => void;
  readonly onError?: (error: unknown) => void;
}

/** Swaps the server's SecureContext on every SVID or bundle change; new handshakes use it. Returns the stopper. */
export function keepServerContextFresh(options: ContextRefreshOptions): () => void {
  const refresh = (): void => {
    try {
      options.server.setSecureContext(secureContextOptions(options.source, options.trust));
    } catch (error) {
      options.onError?.(error);
    }
  };
  const stops = [options.source.onChange(refresh)];
  if (options.onBundleChange) stops.push(options.onBundleChange(refresh));
  return () => {
    for (const stop of stops) stop();
  };
}
