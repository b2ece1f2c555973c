/**
 * The signing certificate authority: a self-signed root podgate creates (ECDSA P-256), or an
 * operator-supplied CA or intermediate loaded from PEM. Pure: keys and certificates come in as
 * values; where they are stored is the authority service's business.
 *
 * Error codes: `PODGATE_E_CA_INVALID` (not a usable CA certificate), `PODGATE_E_CA_KEY_INVALID`,
 * `PODGATE_E_CA_KEY_MISMATCH`, `PODGATE_E_CA_KEY_TYPE`, `PODGATE_E_CA_CHAIN` (a certificate does
 * not sign the one before it), `PODGATE_E_CA_NO_ROOT`, `PODGATE_E_CA_TRUST_DOMAIN`,
 * `PODGATE_E_CA_EXPIRED`, `PODGATE_E_CA_NOT_YET_VALID`, `PODGATE_E_CA_TTL`.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { IdentityError } from '../errors.js';
import type { TrustDomain } from '../spiffe-id.js';
import { parseCertificate, parseCertificates, signedBy, KeyUsage, type Certificate } from '../x509/certificate.js';
import { certificatesToPem } from '../x509/pem.js';
import { classifyKey, Oid, signatureAlgorithmFor, type KeyType } from './algorithms.js';
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
  uriSanExtension,
  validity,
  wholeSeconds,
  X509_V3,
} from './certificate-builder.js';
import { subjectPublicKeyBits } from './spki.js';

export interface CertificateAuthority {
  readonly trustDomain: TrustDomain;
  /** The certificate whose key signs SVIDs. */
  readonly certificate: Certificate;
  /** Sent after each SVID: the signing CA and its issuers up to (not including) a self-signed root. */
  readonly intermediates: readonly Certificate[];
  /** Trust anchors for the bundle; for a podgate root this is `[certificate]`. */
  readonly roots: readonly Certificate[];
  readonly privateKey: KeyObject;
  readonly keyType: KeyType;
  /** Signing window: the CA certificate's NotBefore and the earliest NotAfter along its chain. */
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Clock skew allowance: certificates start this long before they are signed. */
export const BACKDATE_MS = 30_000;

/** The largest serial that fits 20 octets as a positive DER INTEGER (RFC 5280 4.1.2.2). */
export const MAX_SERIAL = (1n << 159n) - 1n;

export function toDate(now: Date | number): Date {
  return typeof now === 'number' ? new Date(now) : now;
}

function caError(code: string, message: string, hint: string, cause?: unknown): never {
  throw new IdentityError(code, message, hint, cause === undefined ? undefined : { cause });
}

/** A random positive 127-bit serial for CA certificates created without a caller-chosen serial. */
export function randomSerial(): bigint {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return BigInt('0x' + bytes.toString('hex'));
}

export interface CreateRootCaOptions {
  readonly trustDomain: TrustDomain;
  readonly now: Date | number;
  readonly ttlMs: number;
  /** Defaults to a fresh ECDSA P-256 key. */
  readonly key?: KeyObject;
  /** Defaults to `randomSerial()`. */
  readonly serial?: bigint;
}

/** A self-signed root: URI SAN `spiffe://td`, CA:TRUE and keyCertSign|cRLSign (both critical), SKI/AKI. */
export function createRootCa(options: CreateRootCaOptions): CertificateAuthority {
  const now = toDate(options.now).getTime();
  if (!Number.isFinite(options.ttlMs) || options.ttlMs < 60_000) {
    caError('PODGATE_E_CA_TTL', `CA TTL must be at least one minute, got ${options.ttlMs} ms`, 'choose a CA TTL such as 30d');
  }
  const privateKey = options.key ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const keyType = caKeyType(privateKey);
  const serial = options.serial ?? randomSerial();
  if (serial <= 0n || serial > MAX_SERIAL) caError('PODGATE_E_CA_INVALID', 'CA serial must be positive and at most 20 octets', 'let podgate choose the serial');
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const keyId = keyIdentifier(subjectPublicKeyBits(spki));
  // A serial-bearing name keeps successive roots distinct for issuer lookup during rotation.
  const name = buildName([
    { type: Oid.organizationName, value: 'podgate' },
    { type: '2.5.4.5', value: serial.toString(16) },
  ]);
  const algorithm = signatureAlgorithmFor(keyType);
  const algorithmId = algorithmIdentifier(algorithm);
  const tbs = der.sequence(
    X509_V3,
    der.integer(serial),
    algorithmId,
    name,
    validity(wholeSeconds(now - BACKDATE_MS), wholeSeconds(now + options.ttlMs)),
    name,
    spki,
    der.explicit(
      3,
      der.sequence(
        basicConstraintsExtension(true),
        keyUsageExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign),
        subjectKeyIdExtension(keyId),
        authorityKeyIdExtension(keyId),
        uriSanExtension(options.trustDomain.idString()),
      ),
    ),
  );
  const certificate = parseCertificate(signCertificate(tbs, algorithmId, algorithm.hash, privateKey));
  return {
    trustDomain: options.trustDomain,
    certificate,
    intermediates: [],
    roots: [certificate],
    privateKey,
    keyType,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
  };
}

function caKeyType(key: KeyObject): KeyType {
  try {
    return classifyKey(key);
  } catch (cause) {
    return caError('PODGATE_E_CA_KEY_TYPE', (cause as Error).message, 'use an ECDSA P-256 CA key (or P-384, RSA 2048-8192, Ed25519)', cause);
  }
}

export interface LoadCaOptions {
  readonly trustDomain: TrustDomain;
  /** The signing CA first, then its issuers (a self-signed root last, if included). */
  readonly certificatesPem: string | Uint8Array;
  readonly keyPem: string | Uint8Array;
  /** Roots the chain leads to, when `certificatesPem` does not end in one. */
  readonly bundlePem?: string | Uint8Array;
  /** When given, every certificate on the path must be valid at this time (left out when reloading stored state). */
  readonly now?: Date | number;
}

function isSelfSigned(cert: Certificate): boolean {
  return cert.subjectDer.equals(cert.issuerDer) && signedBy(cert, cert);
}

function parseCaCertificates(pem: string | Uint8Array, what: string): Certificate[] {
  try {
    return parseCertificates(pem);
  } catch (cause) {
    return caError('PODGATE_E_CA_INVALID', `cannot parse the ${what}: ${(cause as Error).message}`, 'pass PEM CERTIFICATE blocks', cause);
  }
}

function checkSigningCertificate(cert: Certificate, trustDomain: TrustDomain): void {
  const hint = 'the CA certificate needs basicConstraints CA:TRUE and keyUsage keyCertSign';
  if (!cert.hasBasicConstraints || !cert.isCA) caError('PODGATE_E_CA_INVALID', 'the signing certificate is not a CA (CA:TRUE missing)', hint);
  if (cert.keyUsage === undefined || (cert.keyUsage & KeyUsage.keyCertSign) === 0) {
    caError('PODGATE_E_CA_INVALID', "the signing certificate lacks the 'keyCertSign' key usage", hint);
  }
  if (cert.pathLenConstraint !== undefined && cert.pathLenConstraint < 0) caError('PODGATE_E_CA_INVALID', 'negative path length', hint);
  if (cert.unhandledCriticalExtensions.length > 0) {
    caError('PODGATE_E_CA_INVALID', `the signing certificate has unsupported critical extensions: ${cert.unhandledCriticalExtensions.join(', ')}`, hint);
  }
  // X509-SVID 3: a signing certificate's SPIFFE ID, if any, is the bare trust domain ID.
  if (cert.uris.length > 0 && (cert.uris.length !== 1 || cert.uris[0] !== trustDomain.idString())) {
    caError('PODGATE_E_CA_TRUST_DOMAIN', `the CA certificate's URI SAN ${cert.uris.join(', ')} is not ${trustDomain.idString()}`, 'use a CA issued for this trust domain, or none');
  }
}

function checkWindow(cert: Certificate, now: Date, role: string): void {
  if (now.getTime() < cert.notBefore.getTime()) {
    caError('PODGATE_E_CA_NOT_YET_VALID', `the ${role} is not valid before ${cert.notBefore.toISOString()}`, 'check the system clock or the CA certificate');
  }
  if (now.getTime() >= cert.notAfter.getTime()) {
    caError('PODGATE_E_CA_EXPIRED', `the ${role} expired at ${cert.notAfter.toISOString()}`, 'supply a current CA certificate');
  }
}

/** Loads an operator-supplied CA or intermediate and its key; checks the key, CA flags, chain and validity. */
export function loadCa(options: LoadCaOptions): CertificateAuthority {
  const chain = parseCaCertificates(options.certificatesPem, 'CA certificates');
  const signing = chain[0];
  if (signing === undefined) caError('PODGATE_E_CA_INVALID', 'no CERTIFICATE block in the CA certificates', 'pass the CA certificate in PEM');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(typeof options.keyPem === 'string' ? options.keyPem : Buffer.from(options.keyPem));
  } catch (cause) {
    caError('PODGATE_E_CA_KEY_INVALID', `cannot read the CA private key: ${(cause as Error).message}`, 'pass an unencrypted PKCS#8, SEC1 or PKCS#1 PEM key', cause);
  }
  const keyType = caKeyType(privateKey);
  checkSigningCertificate(signing, options.trustDomain);
  if (!createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).equals(signing.spki)) {
    caError('PODGATE_E_CA_KEY_MISMATCH', 'the CA private key does not match the CA certificate', 'pass the key that belongs to the first certificate');
  }
  for (let i = 1; i < chain.length; i++) {
    const child = chain[i - 1]!;
    const parent = chain[i]!;
    if (!parent.isCA || !child.issuerDer.equals(parent.subjectDer) || !signedBy(child, parent)) {
      caError('PODGATE_E_CA_CHAIN', `certificate ${i + 1} did not issue certificate ${i}`, 'order the chain from the signing CA up to the root');
    }
  }
  const bundled = options.bundlePem === undefined ? [] : parseCaCertificates(options.bundlePem, 'CA bundle');
  const roots = [...chain.filter(isSelfSigned), ...bundled.filter((c) => c.isCA)];
  const top = chain[chain.length - 1]!;
  const anchor = roots.find((root) => root === top || (top.issuerDer.equals(root.subjectDer) && signedBy(top, root)));
  if (anchor === undefined) {
    caError('PODGATE_E_CA_NO_ROOT', 'the CA chain does not lead to a root certificate', 'append the root to the CA certificates or pass it as the bundle');
  }
  const path = anchor === top ? chain : [...chain, anchor];
  if (options.now !== undefined) {
    const now = toDate(options.now);
    path.forEach((cert, i) => checkWindow(cert, now, i === 0 ? 'CA certificate' : `CA chain certificate ${i + 1}`));
  }
  const notAfter = new Date(Math.min(...path.map((c) => c.notAfter.getTime())));
  return {
    trustDomain: options.trustDomain,
    certificate: signing,
    intermediates: chain.filter((c) => !isSelfSigned(c)),
    roots: roots.filter((root, i) => roots.findIndex((other) => other.der.equals(root.der)) === i),
    privateKey,
    keyType,
    notBefore: signing.notBefore,
    notAfter,
  };
}

/** PEM forms of a CA for storage: its chain (signing CA first), roots, and PKCS#8 key. */
export function caToPem(ca: CertificateAuthority): { certificatesPem: string; rootsPem: string; keyPem: string } {
  const chain = [ca.certificate, ...ca.intermediates.filter((c) => c !== ca.certificate)];
  return {
    certificatesPem: certificatesToPem(chain),
    rootsPem: certificatesToPem(ca.roots),
    keyPem: ca.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
