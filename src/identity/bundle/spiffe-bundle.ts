/**
 * SPIFFE bundles (JWKS JSON, SPIFFE Trust Domain and Bundle spec) with go-spiffe's parsing
 * semantics: `keys` required; `x509-svid` entries carry exactly one x5c certificate whose key must
 * match the JWK; `jwt-svid` / `wit-svid` entries need a `kid` and are kept as public JWKs; other
 * uses are ignored. Errors carry go-spiffe's text and a code:
 * - PODGATE_E_BUNDLE_MALFORMED       not JSON, a JWK that is not a public key, x5c not a certificate
 * - PODGATE_E_BUNDLE_NO_AUTHORITIES  no `keys` member
 * - PODGATE_E_BUNDLE_X5C_COUNT       x509-svid entry without exactly one certificate
 * - PODGATE_E_BUNDLE_MISSING_KID     jwt-svid / wit-svid entry without `kid`
 */
import { createPublicKey, type JsonWebKey as NodeJwk, type KeyObject } from 'node:crypto';
import { isRecord } from '../../manifest/document.js';
import { IdentityError } from '../errors.js';
import type { TrustDomain } from '../spiffe-id.js';
import { parseCertificate, type Certificate } from '../x509/certificate.js';
import { X509Bundle, type BundleSource } from './x509-bundle.js';

/** A public JWK as it appears in the bundle (members kept verbatim). */
export type Jwk = { kty: string; kid?: string; use?: string } & Record<string, unknown>;

export interface JwtAuthority {
  keyId: string;
  jwk: Jwk;
  publicKey: KeyObject;
}

const X509_SVID_USE = 'x509-svid';
const JWT_SVID_USE = 'jwt-svid';
const WIT_SVID_USE = 'wit-svid';

function bundleError(code: string, prefix: string, message: string, cause?: unknown): IdentityError {
  return new IdentityError(code, `${prefix}: ${message}`, 'a SPIFFE bundle is a JWKS document with a "keys" array', cause === undefined ? undefined : { cause });
}

// JWK members that carry private key material.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

function publicKeyOf(entry: Record<string, unknown>, index: number, prefix: string): KeyObject {
  if (typeof entry.kty !== 'string') throw bundleError('PODGATE_E_BUNDLE_MALFORMED', prefix, `unable to parse JWKS: entry ${index} has no "kty"`);
  if (PRIVATE_MEMBERS.some((m) => m in entry)) throw bundleError('PODGATE_E_BUNDLE_MALFORMED', prefix, `unable to parse JWKS: entry ${index} is not a public key`);
  try {
    return createPublicKey({ key: entry as NodeJwk, format: 'jwk' });
  } catch (e) {
    throw bundleError('PODGATE_E_BUNDLE_MALFORMED', prefix, `unable to parse JWKS: entry ${index}: invalid ${entry.kty} key`, e);
  }
}

function readDocument(json: string | Uint8Array, prefix: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof json === 'string' ? json : Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8'));
  } catch (e) {
    throw bundleError('PODGATE_E_BUNDLE_MALFORMED', prefix, `unable to parse JWKS: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  if (!isRecord(doc)) throw bundleError('PODGATE_E_BUNDLE_MALFORMED', prefix, 'unable to parse JWKS: document is not a JSON object');
  if (doc.keys !== undefined && doc.keys !== null && !Array.isArray(doc.keys)) throw bundleError('PODGATE_E_BUNDLE_MALFORMED', prefix, 'unable to parse JWKS: "keys" is not an array');
  return doc;
}

function entries(doc: Record<string, unknown>, prefix: string): Record<string, unknown>[] {
  const keys = (doc.keys ?? []) as unknown[];
  return keys.map((entry, i) => {
    if (!isRecord(entry)) throw bundleError('PODGATE_E_BUNDLE_MALFORMED', prefix, `unable to parse JWKS: entry ${i} is not an object`);
    return entry;
  });
}

function optionalInteger(doc: Record<string, unknown>, member: string, min: number): number | undefined {
  const value = doc[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw bundleError('PODGATE_E_BUNDLE_MALFORMED', 'spiffebundle', `unable to parse JWKS: "${member}" must be an integer >= ${min}`);
  }
  return value;
}

function x5cCertificate(entry: Record<string, unknown>, index: number, key: KeyObject): Certificate {
  const x5c = Array.isArray(entry.x5c) ? entry.x5c : [];
  if (x5c.length !== 1) throw bundleError('PODGATE_E_BUNDLE_X5C_COUNT', 'spiffebundle', `expected a single certificate in ${X509_SVID_USE} entry ${index}; got ${x5c.length}`);
  const b64 = x5c[0];
  if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw bundleError('PODGATE_E_BUNDLE_MALFORMED', 'spiffebundle', `unable to parse JWKS: entry ${index}: x5c is not base64`);
  let cert: Certificate;
  try {
    cert = parseCertificate(Buffer.from(b64, 'base64'));
  } catch (e) {
    throw bundleError('PODGATE_E_BUNDLE_MALFORMED', 'spiffebundle', `unable to parse JWKS: entry ${index}: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  if (cert.publicKey.asymmetricKeyType !== key.asymmetricKeyType || !cert.publicKey.equals(key)) {
    throw bundleError('PODGATE_E_BUNDLE_MALFORMED', 'spiffebundle', `unable to parse JWKS: entry ${index}: JWK public key does not match x5c certificate`);
  }
  return cert;
}

function authorityOf(entry: Record<string, unknown>, key: KeyObject): JwtAuthority {
  return { keyId: entry.kid as string, jwk: { ...entry } as Jwk, publicKey: key };
}

export interface SpiffeBundleOptions {
  x509Authorities?: Iterable<Certificate>;
  jwtAuthorities?: Iterable<JwtAuthority>;
  witAuthorities?: Iterable<JwtAuthority>;
  /** Seconds, `spiffe_refresh_hint`. */
  refreshHintSeconds?: number;
  /** `spiffe_sequence`. */
  sequenceNumber?: number;
}

export class SpiffeBundle implements BundleSource {
  readonly x509: X509Bundle;
  readonly jwtAuthorities: ReadonlyMap<string, JwtAuthority>;
  readonly witAuthorities: ReadonlyMap<string, JwtAuthority>;
  readonly refreshHintSeconds: number | undefined;
  readonly sequenceNumber: number | undefined;

  private constructor(
    readonly trustDomain: TrustDomain,
    options: SpiffeBundleOptions,
  ) {
    this.x509 = X509Bundle.of(trustDomain, options.x509Authorities ?? []);
    this.jwtAuthorities = new Map([...(options.jwtAuthorities ?? [])].map((a) => [a.keyId, a]));
    this.witAuthorities = new Map([...(options.witAuthorities ?? [])].map((a) => [a.keyId, a]));
    this.refreshHintSeconds = options.refreshHintSeconds;
    this.sequenceNumber = options.sequenceNumber;
  }

  static of(trustDomain: TrustDomain, options: SpiffeBundleOptions = {}): SpiffeBundle {
    return new SpiffeBundle(trustDomain, options);
  }

  /** go-spiffe `spiffebundle.Parse`: same acceptance, same error texts (see the file comment for codes). */
  static parse(trustDomain: TrustDomain, json: string | Uint8Array): SpiffeBundle {
    const doc = readDocument(json, 'spiffebundle');
    const refreshHintSeconds = optionalInteger(doc, 'spiffe_refresh_hint', Number.MIN_SAFE_INTEGER);
    const sequenceNumber = optionalInteger(doc, 'spiffe_sequence', 0);
    if (doc.keys === undefined || doc.keys === null) throw bundleError('PODGATE_E_BUNDLE_NO_AUTHORITIES', 'spiffebundle', 'no authorities found');
    const x509Authorities: Certificate[] = [];
    const jwtAuthorities: JwtAuthority[] = [];
    const witAuthorities: JwtAuthority[] = [];
    // Every entry is decoded first (as go-jose does while unmarshalling), then sorted by use.
    const decoded = entries(doc, 'spiffebundle').map((entry, i) => ({ entry, key: publicKeyOf(entry, i, 'spiffebundle') }));
    decoded.forEach(({ entry, key }, i) => {
      const kid = typeof entry.kid === 'string' ? entry.kid : '';
      switch (entry.use) {
        case X509_SVID_USE:
          x509Authorities.push(x5cCertificate(entry, i, key));
          break;
        case JWT_SVID_USE:
          if (kid === '') throw bundleError('PODGATE_E_BUNDLE_MISSING_KID', 'spiffebundle', `error adding authority ${i} of JWKS: keyID cannot be empty`);
          jwtAuthorities.push(authorityOf(entry, key));
          break;
        case WIT_SVID_USE:
          if (kid === '') throw bundleError('PODGATE_E_BUNDLE_MISSING_KID', 'spiffebundle', `error adding WIT authority ${i} of JWKS: keyID cannot be empty`);
          witAuthorities.push(authorityOf(entry, key));
          break;
      }
    });
    return new SpiffeBundle(trustDomain, {
      x509Authorities,
      jwtAuthorities,
      witAuthorities,
      ...(refreshHintSeconds === undefined ? {} : { refreshHintSeconds }),
      ...(sequenceNumber === undefined ? {} : { sequenceNumber }),
    });
  }

  /** The JWKS document: x509-svid entries (no kid, one x5c) first, then jwt-svid and wit-svid entries. */
  toJson(): string {
    const keys: Record<string, unknown>[] = [];
    for (const cert of this.x509.authorities) {
      keys.push({ use: X509_SVID_USE, ...cert.publicKey.export({ format: 'jwk' }), x5c: [cert.der.toString('base64')] });
    }
    for (const [use, map] of [[JWT_SVID_USE, this.jwtAuthorities], [WIT_SVID_USE, this.witAuthorities]] as const) {
      for (const a of map.values()) keys.push({ ...a.publicKey.export({ format: 'jwk' }), kid: a.keyId, use });
    }
    const doc: Record<string, unknown> = { keys };
    if (this.sequenceNumber !== undefined) doc.spiffe_sequence = this.sequenceNumber;
    if (this.refreshHintSeconds !== undefined) doc.spiffe_refresh_hint = this.refreshHintSeconds;
    return JSON.stringify(doc);
  }

  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined {
    return this.trustDomain.equals(td) ? this.x509 : undefined;
  }
}

/** go-spiffe `jwtbundle.Parse`: every key needs a `kid`, `use` is not looked at. */
export function parseJwtBundle(trustDomain: TrustDomain, json: string | Uint8Array): { trustDomain: TrustDomain; authorities: ReadonlyMap<string, JwtAuthority> } {
  const doc = readDocument(json, 'jwtbundle');
  const authorities = new Map<string, JwtAuthority>();
  entries(doc, 'jwtbundle').forEach((entry, i) => {
    const key = publicKeyOf(entry, i, 'jwtbundle');
    if (typeof entry.kid !== 'string' || entry.kid === '') throw bundleError('PODGATE_E_BUNDLE_MISSING_KID', 'jwtbundle', `error adding authority ${i} of JWKS: keyID cannot be empty`);
    authorities.set(entry.kid, authorityOf(entry, key));
  });
  return { trustDomain, authorities };
}
