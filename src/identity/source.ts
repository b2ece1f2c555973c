/**
 * X509 sources: a one-method view of "the current SVID" with change notifications (as go-spiffe's
 * x509svid.Source), and `SvidRotator`, which keeps one SVID fresh by generating a key in memory,
 * sending a CSR through an injected `fetch`, and renewing at half-life with jitter. Time and
 * timers are injected (`Clock`, `Scheduler`), so rotation is tested without sleeping.
 *
 * Error codes: `PODGATE_E_SOURCE_NOT_READY` (no SVID fetched yet), `PODGATE_E_SOURCE_CLOSED`,
 * `PODGATE_E_SOURCE_BAD_SVID` (the fetched chain is not an SVID for our key or expected ID); a
 * failed fetch rejects with whatever `fetch` threw.
 */
import { systemClock, type Clock } from './clock.js';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { rotationTime } from './ca/rotation.js';
import { IdentityError } from './errors.js';
import type { SpiffeId } from './spiffe-id.js';
import { checkSvidShape, type X509Svid } from './svid/x509-svid.js';
import { parseCertificate, type Certificate } from './x509/certificate.js';
import { createCsr } from './x509/csr.js';

/** The current X509-SVID of one identity, and a way to hear when it changes. */
export interface X509Source {
  /** The latest SVID; throws `PODGATE_E_SOURCE_NOT_READY` before the first one arrives. */
  getX509Svid(): X509Svid;
  /** Calls `listener` with every new SVID; returns the unsubscribe function. */
  onChange(listener: (svid: X509Svid) => void): () => void;
}

/** An X509Source whose SVID is set by hand (a loaded file, a test); `update` notifies listeners. */
export class StaticX509Source implements X509Source {
  private readonly listeners = new Set<(svid: X509Svid) => void>();

  constructor(private svid: X509Svid) {}

  getX509Svid(): X509Svid {
    return this.svid;
  }

  onChange(listener: (svid: X509Svid) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  update(svid: X509Svid): void {
    this.svid = svid;
    for (const listener of [...this.listeners]) listener(svid);
  }
}


/** Runs `fn` at the absolute time `atMs` (per the paired clock); returns a cancel function. */
export interface Scheduler {
  setTimer(atMs: number, fn: () => void): () => void;
}

/** Sends a DER CSR to the authority; resolves to the DER chain, leaf first. */
export type FetchSvid = (csrDer: Buffer) => Promise<readonly Uint8Array[]>;

export interface RetryPolicy {
  /** Delay before the first retry; doubles per failure. */
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { initialMs: 1_000, maxMs: 60_000 };

/** Never renew more often than this, even for SVIDs with a tiny lifetime. */
export const MIN_ROTATION_INTERVAL_MS = 1_000;

export interface SvidRotatorOptions {
  readonly fetch: FetchSvid;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  /** Uniform in [0, 1): rotation jitter and retry jitter. */
  readonly random: () => number;
  /** When known, the CSR asks for it and every fetched leaf must carry it; otherwise the authority decides. */
  readonly id?: SpiffeId;
  readonly retry?: RetryPolicy;
  /** Extra validation of a fetched chain (for example against the trust bundle); throw to refuse it. */
  readonly check?: (chain: readonly Certificate[]) => void;
}

export type RotatorEvent =
  | { readonly type: 'rotated'; readonly svid: X509Svid; readonly nextRotation: Date }
  | { readonly type: 'fetch-failed'; readonly error: unknown; readonly attempt: number; readonly retryAt: Date; readonly svidExpired: boolean }
  | { readonly type: 'listener-failed'; readonly error: unknown };

// setTimeout's delay is a signed 32-bit millisecond count; longer waits re-arm.
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** A `Scheduler` over `setTimeout` (unref'd, so a pending renewal never keeps a process alive). */
export function timerScheduler(clock: Clock = systemClock): Scheduler {
  return {
    setTimer(atMs, fn) {
      let handle: ReturnType<typeof setTimeout> | undefined;
      let cancelled = false;
      const arm = (): void => {
        const delay = atMs - clock.now();
        if (delay <= 0) {
          handle = undefined;
          fn();
          return;
        }
        handle = setTimeout(arm, Math.min(delay, MAX_TIMEOUT_MS));
        handle.unref();
      };
      handle = setTimeout(arm, Math.max(0, Math.min(atMs - clock.now(), MAX_TIMEOUT_MS)));
      handle.unref();
      return () => {
        if (cancelled) return;
        cancelled = true;
        if (handle !== undefined) clearTimeout(handle);
      };
    },
  };
}

function sourceError(code: string, message: string, hint?: string, cause?: unknown): IdentityError {
  return new IdentityError(code, message, hint, cause === undefined ? undefined : { cause });
}

/**
 * Keeps one SVID fresh. `start()` fetches the first SVID (and rejects if that fails); afterwards
 * the rotator renews at half-life minus jitter, retries failures with exponential backoff while
 * serving the previous SVID, and notifies listeners on each new SVID. A fresh ECDSA P-256 key is
 * generated for every renewal and exists only in memory.
 */
export class SvidRotator implements X509Source {
  private current: X509Svid | undefined;
  private inFlight: Promise<X509Svid> | undefined;
  private cancelTimer: (() => void) | undefined;
  private failures = 0;
  private closed = false;
  private next: Date | undefined;
  private readonly listeners = new Set<(svid: X509Svid) => void>();
  private readonly eventListeners = new Set<(event: RotatorEvent) => void>();
  private readonly retry: RetryPolicy;

  constructor(private readonly options: SvidRotatorOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  /** Fetches the first SVID; on success renewal is scheduled, on failure nothing is. */
  start(): Promise<X509Svid> {
    return this.rotateNow();
  }

  /** Renews now (joining a renewal already under way); rejects if this attempt fails. */
  rotateNow(): Promise<X509Svid> {
    if (this.closed) return Promise.reject(sourceError('PODGATE_E_SOURCE_CLOSED', 'the SVID source is closed'));
    if (this.inFlight) return this.inFlight;
    this.clearTimer();
    const attempt = this.renew().finally(() => {
      this.inFlight = undefined;
    });
    this.inFlight = attempt;
    return attempt;
  }

  getX509Svid(): X509Svid {
    if (this.closed) throw sourceError('PODGATE_E_SOURCE_CLOSED', 'the SVID source is closed');
    if (!this.current) throw sourceError('PODGATE_E_SOURCE_NOT_READY', 'no SVID has been fetched yet', 'await start() before using the source');
    return this.current;
  }

  onChange(listener: (svid: X509Svid) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Rotation and failure events, for logs and metrics. */
  onEvent(listener: (event: RotatorEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => {
      this.eventListeners.delete(listener);
    };
  }

  /** When the next renewal or retry is scheduled, if any. */
  get nextAttempt(): Date | undefined {
    return this.next;
  }

  /** Stops renewing; the source refuses further reads and an in-flight result is dropped. */
  close(): void {
    this.closed = true;
    this.clearTimer();
    this.listeners.clear();
    this.eventListeners.clear();
  }

  private clearTimer(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.next = undefined;
  }

  private schedule(at: number): void {
    this.clearTimer();
    this.next = new Date(at);
    this.cancelTimer = this.options.scheduler.setTimer(at, () => {
      this.cancelTimer = undefined;
      this.next = undefined;
      // A scheduled renewal reports through events; nobody awaits it.
      this.rotateNow().catch(() => undefined);
    });
  }

  private async renew(): Promise<X509Svid> {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let svid: X509Svid;
    try {
      // With the URI SAN when the identity is known, else ID-less (the authority fills it in).
      const chain = await this.options.fetch(createCsr(privateKey, this.options.id ?? this.current?.id));
      svid = this.accept(chain, privateKey);
    } catch (error) {
      if (!this.closed) this.failed(error);
      throw error;
    }
    if (this.closed) throw sourceError('PODGATE_E_SOURCE_CLOSED', 'the SVID source was closed during renewal');
    this.failures = 0;
    this.current = svid;
    const leaf = svid.certificates[0]!;
    const now = this.options.clock.now();
    const due = rotationTime({ notBefore: leaf.notBefore, notAfter: leaf.notAfter, random: this.options.random }).getTime();
    this.schedule(Math.max(due, now + MIN_ROTATION_INTERVAL_MS));
    this.emit({ type: 'rotated', svid, nextRotation: this.next! });
    for (const listener of [...this.listeners]) {
      try {
        listener(svid);
      } catch (error) {
        this.emit({ type: 'listener-failed', error });
      }
    }
    return svid;
  }

  // Retries only once there is an SVID to serve meanwhile; the first failure goes to start()'s caller.
  private failed(error: unknown): void {
    if (!this.current) return;
    this.failures++;
    const now = this.options.clock.now();
    const base = Math.min(this.retry.maxMs, this.retry.initialMs * 2 ** (this.failures - 1));
    // Between half and all of the backoff, so agents cut off together do not return together.
    const delay = Math.max(1, Math.round(base * (0.5 + 0.5 * this.options.random())));
    this.schedule(now + delay);
    const svidExpired = now >= this.current.certificates[0]!.notAfter.getTime();
    this.emit({ type: 'fetch-failed', error, attempt: this.failures, retryAt: this.next!, svidExpired });
  }

  private accept(chainDer: readonly Uint8Array[], privateKey: KeyObject): X509Svid {
    let certificates: Certificate[];
    let id: SpiffeId;
    try {
      certificates = chainDer.map((d) => parseCertificate(d));
      id = checkSvidShape(certificates);
    } catch (cause) {
      throw sourceError('PODGATE_E_SOURCE_BAD_SVID', `the authority returned an invalid SVID: ${(cause as Error).message}`, undefined, cause);
    }
    const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    if (!certificates[0]!.spki.equals(spki)) {
      throw sourceError('PODGATE_E_SOURCE_BAD_SVID', 'the returned SVID is not for the key in our CSR');
    }
    const expected = this.options.id;
    if (expected !== undefined && !id.equals(expected)) {
      throw sourceError('PODGATE_E_SOURCE_BAD_SVID', `the returned SVID is for ${id}, expected ${expected}`);
    }
    this.options.check?.(certificates);
    return { id, certificates, privateKey };
  }

  private emit(event: RotatorEvent): void {
    for (const listener of [...this.eventListeners]) {
      try {
        listener(event);
      } catch {
        // An observer's failure must not stop renewal.
      }
    }
  }
}
