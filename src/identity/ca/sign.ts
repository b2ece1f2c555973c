/**
 * Signs X509-SVIDs from CSRs. Every certificate satisfies the X509-SVID MUSTs: exactly one URI
 * SAN (the granted ID, never one the CSR chose), CA:FALSE (critical), key usage digitalSignature
 * (critical; plus keyEncipherment for RSA keys, which TLS 1.2 RSA key transport uses), never
 * keyCertSign/cRLSign, EKU serverAuth+clientAuth, SKI and AKI, NotBefore backdated by 30 s but not
 * before the CA's, NotAfter clamped to the CA's.
 *
 * Hot path: the CSR is parsed and verified once; everything that depends only on the CA is built
 * once per CA and cached, so a signature costs one CSR verify, a few concatenations and one sign.
 *
 * Error codes: `PODGATE_E_CSR_*` (see x509/csr.ts), `PODGATE_E_CSR_ID_MISMATCH`,
 * `PODGATE_E_ISSUE_ID` (root ID or foreign trust domain), `PODGATE_E_ISSUE_TTL`,
 * `PODGATE_E_ISSUE_SERIAL`, `PODGATE_E_CA_EXPIRED`, `PODGATE_E_CA_NOT_YET_VALID`.
 */
import { IdentityError } from '../errors.js';
import type { SpiffeId } from '../spiffe-id.js';
import { parseCsr, type CertificateRequest } from '../x509/csr.js';
import { keyFamily, Oid, signatureAlgorithmFor, type SignatureAlgorithm } from './algorithms.js';
import { BACKDATE_MS, MAX_SERIAL, toDate, type CertificateAuthority } from './ca.js';
import * as der from './der.js';
import {
  algorithmIdentifier,
  authorityKeyIdExtension,
  basicConstraintsExtension,
  buildName,
  KeyUsageFlags,
  keyIdentifier,
  keyUsageExtension,
  signCertificate,
  subjectKeyIdExtension,
  SVID_EXT_KEY_USAGE,
  uriSanExtension,
  validity,
  wholeSeconds,
  X509_V3,
} from './certificate-builder.js';
import { subjectPublicKeyBits } from './spki.js';

/** Default X509-SVID lifetime (the issue's default TTL). */
export const DEFAULT_SVID_TTL_MS = 60 * 60 * 1000;
/** Shortest accepted TTL: certificate times have whole-second precision. */
export const MIN_SVID_TTL_MS = 1000;

export interface SignSvidOptions {
  readonly ca: CertificateAuthority;
  /** The DER CSR, or one already returned by `parseCsr`. */
  readonly csrDer: Uint8Array | CertificateRequest;
  /** The identity granted by policy; the CSR may only repeat it or leave the SAN empty. */
  readonly id: SpiffeId;
  readonly ttlMs: number;
  readonly now: Date | number;
  /** Positive, at most 20 octets; uniqueness is the caller's (the authority's counter). */
  readonly serial: bigint;
}

export interface SignedSvid {
  readonly id: SpiffeId;
  /** The leaf certificate, DER. */
  readonly der: Buffer;
  /** Leaf then the CA's intermediates (no self-signed root): what a workload presents. */
  readonly chain: readonly Buffer[];
  readonly serial: bigint;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

interface CaTemplate {
  readonly algorithm: SignatureAlgorithm;
  readonly algorithmId: Buffer;
  /** What follows the serial: signature algorithm and issuer Name. */
  readonly afterSerial: Buffer;
  readonly constantExtensions: { readonly signing: Buffer; readonly rsa: Buffer };
  readonly authorityKeyId: Buffer;
  readonly intermediates: readonly Buffer[];
}

const SVID_SUBJECT = buildName([{ type: Oid.organizationName, value: 'podgate' }]);
const LEAF_BASIC_CONSTRAINTS = basicConstraintsExtension(false);
const templates = new WeakMap<CertificateAuthority, CaTemplate>();

function templateFor(ca: CertificateAuthority): CaTemplate {
  let template = templates.get(ca);
  if (template !== undefined) return template;
  const algorithm = signatureAlgorithmFor(ca.keyType);
  const algorithmId = algorithmIdentifier(algorithm);
  const caKeyId = ca.certificate.subjectKeyId !== undefined ? Buffer.from(ca.certificate.subjectKeyId, 'hex') : keyIdentifier(subjectPublicKeyBits(ca.certificate.spki));
  template = {
    algorithm,
    algorithmId,
    afterSerial: Buffer.concat([algorithmId, ca.certificate.subjectDer]),
    constantExtensions: {
      signing: Buffer.concat([LEAF_BASIC_CONSTRAINTS, keyUsageExtension(KeyUsageFlags.digitalSignature), SVID_EXT_KEY_USAGE]),
      rsa: Buffer.concat([
        LEAF_BASIC_CONSTRAINTS,
        keyUsageExtension(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment),
        SVID_EXT_KEY_USAGE,
      ]),
    },
    authorityKeyId: authorityKeyIdExtension(caKeyId),
    intermediates: ca.intermediates.map((c) => c.der),
  };
  templates.set(ca, template);
  return template;
}

function issueError(code: string, message: string, hint: string): never {
  throw new IdentityError(code, message, hint);
}

/** Validity of an SVID signed at `now` for `ttlMs` by `ca` (backdated, clamped, whole seconds). */
function svidValidity(ca: CertificateAuthority, now: Date | number, ttlMs: number): { notBefore: Date; notAfter: Date } {
  const at = toDate(now).getTime();
  if (!Number.isFinite(ttlMs) || ttlMs < MIN_SVID_TTL_MS) {
    issueError('PODGATE_E_ISSUE_TTL', `SVID TTL must be at least ${MIN_SVID_TTL_MS} ms, got ${ttlMs}`, 'use a TTL such as 1h');
  }
  if (!Number.isFinite(at)) issueError('PODGATE_E_ISSUE_TTL', 'invalid signing time', 'check the clock');
  if (at < ca.notBefore.getTime()) {
    issueError('PODGATE_E_CA_NOT_YET_VALID', `the CA is not valid before ${ca.notBefore.toISOString()}`, 'check the system clock');
  }
  if (at >= ca.notAfter.getTime()) {
    issueError('PODGATE_E_CA_EXPIRED', `the CA expired at ${ca.notAfter.toISOString()}`, 'rotate the CA: prepare and activate a new one');
  }
  const notBefore = new Date(Math.max(wholeSeconds(at - BACKDATE_MS).getTime(), ca.notBefore.getTime()));
  const notAfter = new Date(Math.min(wholeSeconds(at + ttlMs).getTime(), ca.notAfter.getTime()));
  return { notBefore, notAfter };
}

/** The one check between a CSR and a grant: the CSR may ask for the granted ID or for nothing. */
function checkRequestedId(request: CertificateRequest, id: SpiffeId): void {
  const wanted = id.toString();
  if (request.uris.length === 0 || (request.uris.length === 1 && request.uris[0] === wanted)) return;
  issueError(
    'PODGATE_E_CSR_ID_MISMATCH',
    `CSR asks for ${request.uris.join(', ')} but the granted identity is ${wanted}`,
    `request ${wanted} (or leave the URI SAN out)`,
  );
}

/** Signs one X509-SVID. Bad input throws an IdentityError and never yields a certificate. */
export function signSvid(options: SignSvidOptions): SignedSvid {
  const { ca, id, serial } = options;
  if (!id.memberOf(ca.trustDomain)) {
    issueError('PODGATE_E_ISSUE_ID', `${id} is not in trust domain ${ca.trustDomain.name}`, `issue IDs under spiffe://${ca.trustDomain.name}/`);
  }
  if (id.path === '') issueError('PODGATE_E_ISSUE_ID', `${id} has no path; an SVID needs a non-root ID`, 'issue a workload ID such as spiffe://td/ns/NS/sa/SA');
  if (typeof serial !== 'bigint' || serial <= 0n || serial > MAX_SERIAL) {
    issueError('PODGATE_E_ISSUE_SERIAL', 'serial must be positive and at most 20 octets', 'use the authority serial counter');
  }
  const { notBefore, notAfter } = svidValidity(ca, options.now, options.ttlMs);
  const request = options.csrDer instanceof Uint8Array ? parseCsr(options.csrDer) : options.csrDer;
  checkRequestedId(request, id);

  const t = templateFor(ca);
  const extensions = der.explicit(
    3,
    der.sequence(
      keyFamily(request.keyType) === 'rsa' ? t.constantExtensions.rsa : t.constantExtensions.signing,
      subjectKeyIdExtension(keyIdentifier(request.subjectPublicKey)),
      t.authorityKeyId,
      uriSanExtension(id.toString()),
    ),
  );
  const tbs = der.sequence(
    X509_V3,
    der.integer(serial),
    t.afterSerial,
    validity(notBefore, notAfter),
    SVID_SUBJECT,
    request.spki,
    extensions,
  );
  const leaf = signCertificate(tbs, t.algorithmId, t.algorithm.hash, ca.privateKey);
  return { id, der: leaf, chain: [leaf, ...t.intermediates], serial, notBefore, notAfter };
}
