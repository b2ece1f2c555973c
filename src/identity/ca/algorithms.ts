/**
 * Which keys podgate accepts and how each one signs.
 *
 * Accepted: ECDSA P-256 and P-384, RSA (rsaEncryption) 2048–8192 bits, and Ed25519. Ed25519 is
 * accepted because OpenSSL 3, Node's `tls` and Go's crypto/tls all negotiate it in TLS 1.3 (and
 * 1.2). Everything else (P-521, secp256k1, RSA-PSS-only keys, Ed448, DSA, X25519, short RSA) is
 * refused with `PODGATE_E_CSR_KEY_TYPE`, so an unusual key never reaches a signed certificate.
 */
import type { KeyObject } from 'node:crypto';
import { IdentityError } from '../errors.js';

export type KeyType = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | `rsa-${number}`;

export const KEY_TYPE_ERROR = 'PODGATE_E_CSR_KEY_TYPE';

export const RSA_MIN_BITS = 2048;
export const RSA_MAX_BITS = 8192;

export const Oid = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  ed25519: '1.3.101.112',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  nameConstraints: '2.5.29.30',
  certificatePolicies: '2.5.29.32',
  policyConstraints: '2.5.29.36',
  inhibitAnyPolicy: '2.5.29.54',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  organizationName: '2.5.4.10',
  commonName: '2.5.4.3',
  countryName: '2.5.4.6',
} as const;

/** A signature algorithm: its OID, the digest for `crypto.sign`, whether its parameters are NULL. */
export interface SignatureAlgorithm {
  readonly oid: string;
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
  readonly keyFamily: 'ec' | 'rsa' | 'ed25519';
  readonly nullParameters: boolean;
}

const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = [
  { oid: Oid.ecdsaWithSha256, hash: 'sha256', keyFamily: 'ec', nullParameters: false },
  { oid: Oid.ecdsaWithSha384, hash: 'sha384', keyFamily: 'ec', nullParameters: false },
  { oid: Oid.ecdsaWithSha512, hash: 'sha512', keyFamily: 'ec', nullParameters: false },
  { oid: Oid.sha256WithRsa, hash: 'sha256', keyFamily: 'rsa', nullParameters: true },
  { oid: Oid.sha384WithRsa, hash: 'sha384', keyFamily: 'rsa', nullParameters: true },
  { oid: Oid.sha512WithRsa, hash: 'sha512', keyFamily: 'rsa', nullParameters: true },
  { oid: Oid.ed25519, hash: null, keyFamily: 'ed25519', nullParameters: false },
];

/** The signature algorithm for an OID, or undefined (SHA-1, MD5, RSA-PSS, ... are not listed). */
export function signatureAlgorithmByOid(oid: string): SignatureAlgorithm | undefined {
  return SIGNATURE_ALGORITHMS.find((a) => a.oid === oid);
}

export function keyFamily(keyType: KeyType): SignatureAlgorithm['keyFamily'] {
  if (keyType === 'ed25519') return 'ed25519';
  return keyType.startsWith('rsa-') ? 'rsa' : 'ec';
}

/** The algorithm a key of this type signs with: the digest matches the curve strength. */
export function signatureAlgorithmFor(keyType: KeyType): SignatureAlgorithm {
  const oid =
    keyType === 'ecdsa-p256' ? Oid.ecdsaWithSha256
    : keyType === 'ecdsa-p384' ? Oid.ecdsaWithSha384
    : keyType === 'ed25519' ? Oid.ed25519
    : Oid.sha256WithRsa;
  return signatureAlgorithmByOid(oid)!;
}

/** Classifies a public or private key, refusing every type podgate does not accept. */
export function classifyKey(key: KeyObject): KeyType {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (details.namedCurve === 'prime256v1') return 'ecdsa-p256';
      if (details.namedCurve === 'secp384r1') return 'ecdsa-p384';
      return refuse(`ECDSA curve ${details.namedCurve ?? 'unknown'}`);
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) return refuse(`RSA ${bits}-bit`);
      return `rsa-${bits}`;
    }
    case 'ed25519':
      return 'ed25519';
    default:
      return refuse(key.asymmetricKeyType ?? key.type);
  }
}

function refuse(what: string): never {
  throw new IdentityError(
    KEY_TYPE_ERROR,
    `unsupported key type: ${what}`,
    `use ECDSA P-256 (recommended) or P-384, RSA ${RSA_MIN_BITS}-${RSA_MAX_BITS} bits, or Ed25519`,
  );
}
