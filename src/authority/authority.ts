/**
 * The SPIFFE authority service: signs X509-SVIDs from CSRs, publishes the trust bundle, rotates
 * its CA without an outage, attests agents with join tokens and signs pod SVIDs only for the
 * agent that runs the pod. State lives in an `AuthorityStore` (survives restarts); time comes
 * from an injected `Clock`, so expiry and rotation are tested without sleeping.
 *
 * CA rotation: `prepareRotation()` creates the next CA and adds it to the bundle before it signs
 * anything; `activatePrepared()` switches signing to it once it has been in the bundle for one SVID
 * lifetime (agents fetch the bundle with every renewal, at half-life), or at once with `force`, and
 * retires the old CA (its key file is deleted, its certificate stays in the bundle);
 * `pruneRetired()` drops a retired CA from the bundle once every SVID it signed has expired.
 * `maintain()` runs that schedule by itself for CAs podgate created: prepare at half the active
 * CA's life, activate at five sixths, prune whenever possible. An operator-supplied CA is never
 * replaced by a podgate root: at those two points `maintain()` emits `ca-rotation-needed` (once
 * per CA and step) and the operator prepares the successor (`prepareRotation({ ca })`).
 *
 * Several processes may share a state directory (`podgate identity serve` and the CLI commands).
 * The authority keeps CAs, bundle anchors and the deny-list in memory and compares the store's
 * state version (one read) before signing, `isDenied` and `bundle()`, reloading when another
 * process changed them; `onBundleChange` tells the TLS server when the bundle moved.
 *
 * Error codes (besides the identity/ca and CSR ones): `PODGATE_E_ATTESTATION`,
 * `PODGATE_E_NOT_AUTHORIZED`, `PODGATE_E_CA_ROTATION`, `PODGATE_E_UNKNOWN_SERIAL`,
 * `PODGATE_E_CA_KEY_PERMISSIONS`, `PODGATE_E_CA_KEY_MISSING`, `PODGATE_E_AUTHORITY_EXISTS`,
 * `PODGATE_E_AUTHORITY_NOT_INITIALIZED`, `PODGATE_E_AUTHORITY_STATE`.
 */
import { systemClock, type Clock } from '../identity/clock.js';
import { SpiffeBundle } from '../identity/bundle/spiffe-bundle.js';
import { X509Bundle } from '../identity/bundle/x509-bundle.js';
import { caToPem, createRootCa, loadCa, type CertificateAuthority } from '../identity/ca/ca.js';
import { DEFAULT_SVID_TTL_MS, signSvid } from '../identity/ca/sign.js';
import { IdentityError } from '../identity/errors.js';
import { agentId, authorityServerId, SpiffeId, TrustDomain, workloadId } from '../identity/spiffe-id.js';
import { parseCertificates, type Certificate } from '../identity/x509/certificate.js';
import { parseCsr } from '../identity/x509/csr.js';
import { certificatesToPem } from '../identity/x509/pem.js';
import { agentNode, attestationError, DEFAULT_JOIN_TOKEN_TTL_MS, isWellFormedJoinToken, newJoinToken } from './attestation.js';
import type { PodDirectory } from './pod-directory.js';
import {
  AuthorityStore,
  hashToken,
  serialHex,
  type CaOrigin,
  type DeniedRecord,
  type IssuedKind,
  type IssuedRecord,
  type RefusalRecord,
  type StoredCa,
} from './store.js';


/** Default lifetime of a CA the authority creates. */
export const DEFAULT_CA_TTL_MS = 365 * 24 * 60 * 60 * 1000;

export type AuthorityEvent =
  | { readonly type: 'svid-issued'; readonly at: number; readonly id: string; readonly serial: string; readonly kind: IssuedKind; readonly requester: string }
  | { readonly type: 'issue-refused'; readonly at: number; readonly requester: string; readonly detail: string }
  | { readonly type: 'attestation-refused'; readonly at: number; readonly requester: string; readonly detail: string }
  | { readonly type: 'svid-denied'; readonly at: number; readonly serial: string; readonly reason: string }
  | { readonly type: 'ca-prepared' | 'ca-activated' | 'ca-retired' | 'ca-pruned'; readonly at: number; readonly caId: number }
  /** An operator-supplied CA reached a rotation point; podgate does not replace it by itself. */
  | { readonly type: 'ca-rotation-needed'; readonly at: number; readonly caId: number; readonly step: 'prepare' | 'activate'; readonly notAfter: number; readonly detail: string };

/** An operator-supplied CA or intermediate (PEM), see `loadCa`. */
export interface OperatorCa {
  readonly certificatesPem: string | Uint8Array;
  readonly keyPem: string | Uint8Array;
  readonly bundlePem?: string | Uint8Array;
}

export interface AuthorityOptions {
  readonly clock?: Clock;
  /** Needed by `issueForPod`; without it every pod request is refused. */
  readonly pods?: PodDirectory;
  /** Observability hook; a throwing hook never affects issuance. */
  readonly onEvent?: (event: AuthorityEvent) => void;
  /** Default SVID lifetime (1 h). */
  readonly svidTtlMs?: number;
  /** Lifetime of CAs this authority creates (365 days). */
  readonly caTtlMs?: number;
}

export interface InitOptions extends AuthorityOptions {
  readonly trustDomain: TrustDomain | string;
  /** Sign with this CA instead of creating a root. */
  readonly ca?: OperatorCa;
}

export interface IssuedSvid {
  readonly id: SpiffeId;
  readonly serial: bigint;
  readonly serialHex: string;
  /** The leaf, DER. */
  readonly certificate: Buffer;
  /** Leaf then intermediates (no root), DER. */
  readonly chain: readonly Buffer[];
  readonly chainPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly caId: number;
}

export interface CaStatus {
  readonly id: number;
  readonly state: StoredCa['state'];
  readonly origin: CaOrigin;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subject: string;
  /** Latest NotAfter of the SVIDs it signed. */
  readonly lastSvidExpiry: Date | undefined;
  /** For a prepared CA: when `activatePrepared()` accepts it without `force`. */
  readonly activatableAt: Date | undefined;
}

export interface ActivateOptions {
  /** Activate even though agents may not have fetched the new root yet (they then fail to verify new SVIDs until they do). */
  readonly force?: boolean;
}

interface LoadedCa {
  readonly stored: StoredCa;
  readonly ca: CertificateAuthority;
}

interface Anchors {
  readonly pem: string;
  readonly roots: readonly Certificate[];
}

function notAuthorized(message: string): IdentityError {
  return new IdentityError('PODGATE_E_NOT_AUTHORIZED', message, 'an agent may only request SVIDs for pods scheduled on its own node');
}

export class Authority {
  private active!: LoadedCa;
  private prepared: LoadedCa | undefined;
  /** Bundle anchors per CA id (prepared, active, retired). */
  private anchors = new Map<number, Anchors>();
  /** serial → NotAfter: `isDenied` runs per handshake, so it reads memory, not the database. */
  private deniedSerials = new Map<string, number>();
  /** The store's state version the memory above reflects. */
  private loadedVersion = -1;
  private readonly bundleListeners = new Set<() => void>();
  /** `caId:step` of the `ca-rotation-needed` events already emitted. */
  private readonly rotationNotices = new Set<string>();
  private readonly clock: Clock;
  private readonly svidTtlMs: number;
  private readonly caTtlMs: number;

  private constructor(
    private readonly store: AuthorityStore,
    readonly trustDomain: TrustDomain,
    private readonly options: AuthorityOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.svidTtlMs = options.svidTtlMs ?? DEFAULT_SVID_TTL_MS;
    this.caTtlMs = options.caTtlMs ?? DEFAULT_CA_TTL_MS;
    this.reload();
  }

  /** Creates a new authority in `stateDir` with a fresh ECDSA P-256 root, or the operator's CA. */
  static init(stateDir: string, options: InitOptions): Authority {
    const trustDomain = typeof options.trustDomain === 'string' ? TrustDomain.parse(options.trustDomain) : options.trustDomain;
    const now = (options.clock ?? systemClock).now();
    // Validate the operator CA before anything touches the disk.
    const operatorCa = options.ca === undefined ? undefined : loadCa({ trustDomain, ...options.ca, now });
    const store = AuthorityStore.create(stateDir, { trustDomain: trustDomain.name, now });
    try {
      store.transaction(() => {
        const ca = operatorCa ?? createRootCa({ trustDomain, now, ttlMs: options.caTtlMs ?? DEFAULT_CA_TTL_MS, serial: store.nextSerial() });
        const id = insertCa(store, { ca, state: 'active', origin: operatorCa === undefined ? 'podgate' : 'operator', now });
        store.activateCa(id, now);
      });
      return new Authority(store, trustDomain, options);
    } catch (e) {
      store.close();
      throw e;
    }
  }

  /** Opens an existing authority; refuses CA key files readable by group or others. */
  static open(stateDir: string, options: AuthorityOptions = {}): Authority {
    const store = AuthorityStore.open(stateDir);
    try {
      const authority = new Authority(store, TrustDomain.parse(store.meta('trust_domain')), options);
      authority.pruneExpired();
      return authority;
    } catch (e) {
      store.close();
      throw e;
    }
  }

  close(): void {
    this.store.close();
  }

  /**
   * Catches up with changes to CAs and the deny-list made by this or another process sharing the
   * state directory. Cheap when nothing changed (one prepared read); called before signing,
   * `isDenied` and `bundle()`, and by the API server before each handshake.
   */
  sync(): void {
    if (this.store.stateVersion() !== this.loadedVersion) this.reload();
  }

  /** Calls `listener` after the bundle's authorities changed (here or in another process, seen by `sync`). Returns the remover. */
  onBundleChange(listener: () => void): () => void {
    this.bundleListeners.add(listener);
    return () => {
      this.bundleListeners.delete(listener);
    };
  }

  // Reads CAs and deny-list from one snapshot; parsed CAs and keys that did not change are kept.
  private reload(): void {
    const anchorsBefore = [...this.anchors.keys()].join(',');
    this.store.read(() => {
      const version = this.store.stateVersion();
      const cas = this.store.cas();
      const anchors = new Map<number, Anchors>();
      for (const stored of cas) {
        const known = this.anchors.get(stored.id);
        // Parsed once per CA: the same Certificate objects keep the verifier's signature cache warm.
        anchors.set(stored.id, known !== undefined && known.pem === stored.rootsPem ? known : { pem: stored.rootsPem, roots: parseCertificates(stored.rootsPem) });
      }
      const active = cas.filter((c) => c.state === 'active').at(-1);
      if (active === undefined) throw new IdentityError('PODGATE_E_AUTHORITY_STATE', 'the authority has no active CA', 'restore the state directory from backup');
      const prepared = cas.filter((c) => c.state === 'prepared').at(-1);
      const nextActive = this.loaded(active);
      const nextPrepared = prepared === undefined ? undefined : this.loaded(prepared);
      const denied = new Map<string, number>();
      for (const d of this.store.denied()) denied.set(d.serial, d.notAfter);
      this.active = nextActive;
      this.prepared = nextPrepared;
      this.anchors = anchors;
      this.deniedSerials = denied;
      this.loadedVersion = version;
    });
    if ([...this.anchors.keys()].join(',') === anchorsBefore) return;
    for (const listener of [...this.bundleListeners]) {
      try {
        listener();
      } catch {
        // A listener's failure must not change what the authority does.
      }
    }
  }

  private loaded(stored: StoredCa): LoadedCa {
    for (const known of [this.active, this.prepared]) {
      // `active` is unset only during the first load.
      if (known !== undefined && known.stored.id === stored.id && known.stored.certificatesPem === stored.certificatesPem) return { stored, ca: known.ca };
    }
    if (stored.keyFile === null) throw new IdentityError('PODGATE_E_AUTHORITY_STATE', `CA ${stored.id} has no key file`, 'restore the state directory from backup');
    const keyPem = this.store.readKeyFile(stored.keyFile);
    const ca = loadCa({ trustDomain: this.trustDomain, certificatesPem: stored.certificatesPem, bundlePem: stored.rootsPem, keyPem });
    return { stored, ca };
  }

  private emit(event: AuthorityEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // An observer's failure must not change what the authority does.
    }
  }

  // --- bundle ----------------------------------------------------------------------------------

  /** Every authority that may still have live SVIDs: prepared, active, and retired until pruned. */
  bundle(): X509Bundle {
    this.sync();
    const seen = new Set<string>();
    const certs: Certificate[] = [];
    for (const { roots } of this.anchors.values()) {
      for (const cert of roots) {
        const key = cert.der.toString('base64');
        if (seen.has(key)) continue;
        seen.add(key);
        certs.push(cert);
      }
    }
    return X509Bundle.of(this.trustDomain, certs);
  }

  bundlePem(): string {
    return this.bundle().toPem();
  }

  /** The bundle as a SPIFFE bundle; `spiffe_sequence` bumps on every change of its authorities. */
  spiffeBundle(): SpiffeBundle {
    return SpiffeBundle.of(this.trustDomain, {
      x509Authorities: this.bundle().authorities,
      sequenceNumber: this.store.bundleSequence(),
      refreshHintSeconds: Math.max(1, Math.floor(this.svidTtlMs / 2 / 1000)),
    });
  }

  /** Revision of the bundle: consumers ask "am I current?" instead of diffing. */
  bundleSequence(): number {
    return this.store.bundleSequence();
  }

  // --- CA rotation -------------------------------------------------------------------------------

  cas(): CaStatus[] {
    return this.store.cas().map((stored) => {
      const cert = parseCertificates(stored.certificatesPem)[0];
      const last = this.store.lastExpiryOfCa(stored.id);
      return {
        id: stored.id,
        state: stored.state,
        origin: stored.origin,
        notBefore: new Date(stored.notBefore),
        notAfter: new Date(stored.notAfter),
        subject: cert?.subject ?? '',
        lastSvidExpiry: last === undefined ? undefined : new Date(last),
        activatableAt: stored.state === 'prepared' ? new Date(this.activatableAt(stored)) : undefined,
      };
    });
  }

  // Agents fetch the bundle with every renewal (at half-life), so one SVID lifetime after the new
  // root entered the bundle every agent that still holds a valid SVID has it.
  private activatableAt(stored: StoredCa): number {
    return Math.max(stored.createdAt + this.svidTtlMs, stored.notBefore);
  }

  private caStatus(id: number): CaStatus {
    const status = this.cas().find((c) => c.id === id);
    if (status === undefined) throw new IdentityError('PODGATE_E_AUTHORITY_STATE', `CA ${id} vanished from the state`, 'another process changed the authority; run podgate identity ca status');
    return status;
  }

  /** Creates the next CA (or loads the operator's) and publishes it in the bundle; it signs nothing yet. */
  prepareRotation(options: { ca?: OperatorCa } = {}): CaStatus {
    this.sync();
    const now = this.clock.now();
    const alreadyPrepared = (id: number): IdentityError =>
      new IdentityError('PODGATE_E_CA_ROTATION', `CA ${id} is already prepared`, 'activate it first (podgate identity ca activate)');
    if (this.prepared !== undefined) throw alreadyPrepared(this.prepared.stored.id);
    // Validate the operator CA before anything touches the disk.
    const operatorCa = options.ca === undefined ? undefined : loadCa({ trustDomain: this.trustDomain, ...options.ca, now });
    const id = this.store.transaction(() => {
      const raced = this.store.caInState('prepared');
      if (raced !== undefined) throw alreadyPrepared(raced.id);
      const ca = operatorCa ?? createRootCa({ trustDomain: this.trustDomain, now, ttlMs: this.caTtlMs, serial: this.store.nextSerial() });
      const caId = insertCa(this.store, { ca, state: 'prepared', origin: operatorCa === undefined ? 'podgate' : 'operator', now });
      this.store.bumpBundleSequence();
      return caId;
    });
    this.sync();
    this.emit({ type: 'ca-prepared', at: now, caId: id });
    return this.caStatus(id);
  }

  /**
   * Switches signing to the prepared CA; the old one is retired (key deleted, still in the bundle).
   * Refused (`PODGATE_E_CA_ROTATION`) until the prepared CA has been in the bundle for one SVID
   * lifetime, unless `force` is set.
   */
  activatePrepared(options: ActivateOptions = {}): CaStatus {
    this.sync();
    const next = this.prepared;
    if (next === undefined) throw new IdentityError('PODGATE_E_CA_ROTATION', 'no CA is prepared', 'prepare one first (podgate identity ca prepare)');
    const now = this.clock.now();
    if (now < next.ca.notBefore.getTime()) {
      throw new IdentityError('PODGATE_E_CA_NOT_YET_VALID', `the prepared CA is not valid before ${next.ca.notBefore.toISOString()}`, 'activate it later');
    }
    const ready = this.activatableAt(next.stored);
    if (now < ready && options.force !== true) {
      throw new IdentityError(
        'PODGATE_E_CA_ROTATION',
        `CA ${next.stored.id} entered the bundle at ${new Date(next.stored.createdAt).toISOString()}; agents that renew by half-life may not have it until ${new Date(ready).toISOString()}`,
        `activate at or after ${new Date(ready).toISOString()}, or now with --force if every agent already has the new bundle`,
      );
    }
    const old = this.active;
    this.store.transaction(() => {
      const current = this.store.caInState('prepared');
      if (current?.id !== next.stored.id) throw new IdentityError('PODGATE_E_CA_ROTATION', `CA ${next.stored.id} is no longer prepared`, 'another process changed the rotation; run podgate identity ca status');
      this.store.retireCa(old.stored.id, now);
      this.store.activateCa(next.stored.id, now);
    });
    if (old.stored.keyFile !== null) this.store.removeKeyFile(old.stored.keyFile);
    this.sync();
    this.emit({ type: 'ca-retired', at: now, caId: old.stored.id });
    this.emit({ type: 'ca-activated', at: now, caId: next.stored.id });
    return this.caStatus(next.stored.id);
  }

  /** Drops retired CAs whose SVIDs have all expired from the bundle; returns their ids. */
  pruneRetired(): number[] {
    const now = this.clock.now();
    const pruned: number[] = [];
    this.store.transaction(() => {
      for (const stored of this.store.cas()) {
        if (stored.state !== 'retired') continue;
        const last = this.store.lastExpiryOfCa(stored.id);
        // An SVID is valid through its NotAfter, so its CA stays until strictly after that.
        if (last !== undefined && last >= now) continue;
        this.store.deleteCa(stored.id);
        pruned.push(stored.id);
      }
      if (pruned.length > 0) this.store.bumpBundleSequence();
    });
    this.sync();
    for (const id of pruned) this.emit({ type: 'ca-pruned', at: now, caId: id });
    return pruned;
  }

  /** Drops expired deny-list entries and expired join tokens. */
  pruneExpired(): { denied: string[]; joinTokens: number } {
    const now = this.clock.now();
    const denied = this.store.pruneDenied(now);
    this.sync();
    return { denied, joinTokens: this.store.pruneJoinTokens(now) };
  }

  /**
   * Runs the CA schedule: prepare at 1/2 of the active CA's life, activate at 5/6 (once the
   * prepared CA is activatable), then prune. Only CAs podgate created are rotated; for an
   * operator-supplied active CA the same points emit `ca-rotation-needed` instead.
   */
  maintain(): { prepared?: number; activated?: number; pruned: number[] } {
    this.sync();
    const now = this.clock.now();
    const active = this.active;
    const start = active.ca.notBefore.getTime();
    const life = active.ca.notAfter.getTime() - start;
    const prepareAt = start + life / 2;
    const activateAt = start + (life * 5) / 6;
    const out: { prepared?: number; activated?: number; pruned: number[] } = { pruned: [] };
    if (active.stored.origin === 'podgate') {
      if (this.prepared === undefined && now >= prepareAt) out.prepared = this.prepareRotation().id;
      const next = this.prepared;
      if (next !== undefined && now >= activateAt && now >= this.activatableAt(next.stored)) out.activated = this.activatePrepared().id;
    } else if (this.prepared === undefined && now >= prepareAt) {
      this.rotationNeeded(active, 'prepare', 'prepare its successor: podgate identity ca prepare (with the new operator CA), then activate it');
    } else if (this.prepared !== undefined && now >= activateAt) {
      this.rotationNeeded(active, 'activate', `activate prepared CA ${this.prepared.stored.id}: podgate identity ca activate`);
    }
    out.pruned = this.pruneRetired();
    this.pruneExpired();
    return out;
  }

  private rotationNeeded(active: LoadedCa, step: 'prepare' | 'activate', todo: string): void {
    const key = `${active.stored.id}:${step}`;
    if (this.rotationNotices.has(key)) return;
    this.rotationNotices.add(key);
    const notAfter = active.ca.notAfter.getTime();
    this.emit({
      type: 'ca-rotation-needed',
      at: this.clock.now(),
      caId: active.stored.id,
      step,
      notAfter,
      detail: `operator-supplied CA ${active.stored.id} expires ${new Date(notAfter).toISOString()}; podgate does not replace it by itself; ${todo}`,
    });
  }

  // --- issuing -----------------------------------------------------------------------------------

  private sign(args: { id: SpiffeId; csrDer: Uint8Array; ttlMs: number; kind: IssuedKind; requester: string; before?: () => void }): IssuedSvid {
    const request = parseCsr(args.csrDer);
    this.sync();
    const now = this.clock.now();
    const { ca, stored } = this.active;
    const issued = this.store.transaction(() => {
      args.before?.();
      const signed = signSvid({ ca, csrDer: request, id: args.id, ttlMs: args.ttlMs, now, serial: this.store.nextSerial() });
      const hex = serialHex(signed.serial);
      this.store.recordIssued({
        serial: hex,
        spiffeId: args.id.toString(),
        caId: stored.id,
        kind: args.kind,
        requester: args.requester,
        notBefore: signed.notBefore.getTime(),
        notAfter: signed.notAfter.getTime(),
        issuedAt: now,
      });
      return {
        id: args.id,
        serial: signed.serial,
        serialHex: hex,
        certificate: signed.der,
        chain: signed.chain,
        chainPem: certificatesToPem(signed.chain),
        notBefore: signed.notBefore,
        notAfter: signed.notAfter,
        caId: stored.id,
      };
    });
    this.emit({ type: 'svid-issued', at: now, id: issued.id.toString(), serial: issued.serialHex, kind: args.kind, requester: args.requester });
    return issued;
  }

  /** Signs an SVID for `id` directly (local operator use: `podgate identity issue`). */
  issue(options: { id: SpiffeId; csrDer: Uint8Array; ttlMs?: number; requester?: string }): IssuedSvid {
    return this.sign({ id: options.id, csrDer: options.csrDer, ttlMs: options.ttlMs ?? this.svidTtlMs, kind: 'direct', requester: options.requester ?? 'local' });
  }

  /** Renews an attested agent's node SVID (`POST /v1/renew`); the caller has verified that `agent` presented a valid node SVID. */
  renewAgent(options: { agent: SpiffeId; csrDer: Uint8Array; ttlMs?: number }): IssuedSvid {
    if (agentNode(options.agent, this.trustDomain) === undefined) {
      throw new IdentityError('PODGATE_E_NOT_AUTHORIZED', `${options.agent.toString()} is not an agent of ${this.trustDomain.name}`, 'only node agents renew node SVIDs');
    }
    const requester = options.agent.toString();
    return this.sign({ id: options.agent, csrDer: options.csrDer, ttlMs: options.ttlMs ?? this.svidTtlMs, kind: 'agent', requester });
  }

  /** An SVID for the authority API server (`spiffe://td/podgate/authority`) from its CSR. */
  issueServerSvid(options: { csrDer: Uint8Array; requester?: string }): IssuedSvid {
    const id = authorityServerId(this.trustDomain);
    return this.sign({ id, csrDer: options.csrDer, ttlMs: this.svidTtlMs, kind: 'authority', requester: options.requester ?? 'authority-api' });
  }

  // --- attestation -------------------------------------------------------------------------------

  /** A single-use join token for the agent on `node`; only its hash is stored. */
  createJoinToken(node: string, ttlMs: number = DEFAULT_JOIN_TOKEN_TTL_MS): { token: string; agent: SpiffeId; expiresAt: Date } {
    const agent = agentId(this.trustDomain, node);
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new IdentityError('PODGATE_E_ATTESTATION_TTL', `join token TTL must be positive, got ${ttlMs}`, 'use a TTL such as 1h');
    const now = this.clock.now();
    const token = newJoinToken();
    this.store.insertJoinToken(hashToken(token), node, now, now + ttlMs);
    return { token, agent, expiresAt: new Date(now + ttlMs) };
  }

  /** Exchanges a join token and a CSR for the node's agent SVID. Token consumed only if signing succeeds. */
  attestAgent(options: { token: string; csrDer: Uint8Array; ttlMs?: number }): IssuedSvid {
    const now = this.clock.now();
    const hash = isWellFormedJoinToken(options.token) ? hashToken(options.token) : undefined;
    const record = hash === undefined ? undefined : this.store.joinToken(hash);
    const requester = record === undefined ? 'join-token:unknown' : `join-token:${record.node}`;
    const refuse = (detail: string): never => {
      // Only refusals tied to a real token are stored: junk tokens cost the caller nothing and must not grow the database.
      if (record !== undefined) this.store.recordRefusal({ at: now, kind: 'attestation', requester, detail });
      this.emit({ type: 'attestation-refused', at: now, requester, detail });
      throw attestationError(detail);
    };
    if (hash === undefined || record === undefined) return refuse('unknown join token');
    if (record.usedAt !== null) return refuse('join token already used');
    if (now >= record.expiresAt) return refuse('join token expired');
    let raced = false;
    const id = agentId(this.trustDomain, record.node);
    try {
      return this.sign({
        id,
        csrDer: options.csrDer,
        ttlMs: options.ttlMs ?? this.svidTtlMs,
        kind: 'agent',
        requester,
        before: () => {
          if (!this.store.useJoinToken(hash, now)) {
            raced = true;
            throw attestationError('join token already used');
          }
        },
      });
    } catch (e) {
      if (raced) return refuse('join token already used');
      throw e;
    }
  }

  /** Signs a pod's SVID for the agent that runs it; any other request is refused and recorded. */
  issueForPod(options: { agent: SpiffeId; namespace: string; pod: string; csrDer: Uint8Array; ttlMs?: number }): IssuedSvid {
    const now = this.clock.now();
    const requester = options.agent.toString();
    const refuse = (detail: string): never => {
      this.store.recordRefusal({ at: now, kind: 'issue', requester, detail });
      this.emit({ type: 'issue-refused', at: now, requester, detail });
      throw notAuthorized(detail);
    };
    const target = `pod ${options.namespace}/${options.pod}`;
    const node = agentNode(options.agent, this.trustDomain);
    if (node === undefined) return refuse(`${requester} is not an agent of ${this.trustDomain.name}; refused ${target}`);
    if (this.options.pods === undefined) return refuse(`no pod directory configured; refused ${target} for node ${node}`);
    const placement = this.options.pods.lookup(options.namespace, options.pod);
    if (placement === undefined) return refuse(`${target} not found; refused for node ${node}`);
    if (placement.nodeName !== node) return refuse(`${target} is not scheduled on node ${node}`);
    const id = workloadId(this.trustDomain, options.namespace, placement.serviceAccount);
    return this.sign({ id, csrDer: options.csrDer, ttlMs: options.ttlMs ?? this.svidTtlMs, kind: 'workload', requester });
  }

  // --- deny-list and audit -----------------------------------------------------------------------

  /** Deny-lists an SVID this authority issued until it expires; persists. */
  deny(serial: bigint | string, reason: string): DeniedRecord {
    const hex = serialHex(serial);
    const issued = this.store.issuedBySerial(hex);
    if (issued === undefined) throw new IdentityError('PODGATE_E_UNKNOWN_SERIAL', `no SVID with serial ${hex} was issued by this authority`, 'list issued SVIDs to find the serial');
    const now = this.clock.now();
    const record: DeniedRecord = { serial: hex, reason, deniedAt: now, notAfter: issued.notAfter };
    this.store.insertDenied(record);
    this.sync();
    this.emit({ type: 'svid-denied', at: now, serial: hex, reason });
    return record;
  }

  /** True while a deny-listed SVID has not expired (it is refused at handshake until then). */
  isDenied(serial: bigint | string): boolean {
    let hex: string;
    try {
      hex = serialHex(serial);
    } catch {
      return false;
    }
    this.sync();
    const notAfter = this.deniedSerials.get(hex);
    return notAfter !== undefined && this.clock.now() <= notAfter;
  }

  denied(): DeniedRecord[] {
    return this.store.denied();
  }

  issued(options: { limit?: number; spiffeId?: string } = {}): IssuedRecord[] {
    return this.store.issued(options);
  }

  refusals(options: { limit?: number } = {}): RefusalRecord[] {
    return this.store.refusals(options);
  }

  /** How many serials this authority has handed out (CAs included). */
  serialCounter(): bigint {
    return this.store.serialCounter();
  }

  /** The CA that signs now. */
  activeCa(): CertificateAuthority {
    this.sync();
    return this.active.ca;
  }
}

function insertCa(store: AuthorityStore, args: { ca: CertificateAuthority; state: 'active' | 'prepared'; origin: CaOrigin; now: number }): number {
  const { ca, state, origin, now } = args;
  const pem = caToPem(ca);
  const keyFile = store.writeKeyFile(`ca-${ca.certificate.serialHex}-${now}`, pem.keyPem);
  return store.insertCa({
    state,
    origin,
    certificatesPem: pem.certificatesPem,
    rootsPem: pem.rootsPem,
    keyFile,
    notBefore: ca.notBefore.getTime(),
    notAfter: ca.notAfter.getTime(),
    createdAt: now,
    activatedAt: null,
    retiredAt: null,
  });
}
