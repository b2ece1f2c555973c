/**
 * X509-SVID parsing with go-spiffe's `x509svid.Parse` checks in go-spiffe's order (first failure
 * wins): certificate PEM, key PEM, leaf ID, leaf CA flag, leaf key usage, signing certificates,
 * private key presence and match. Messages carry go-spiffe's text; callers branch on the codes:
 *
 * - PODGATE_E_PEM_NO_BLOCKS            input has no PEM block at all ("no PEM blocks found")
 * - PODGATE_E_X509_MALFORMED           a CERTIFICATE block is not a certificate (Go: "x509: malformed certificate")
 * - PODGATE_E_X509_UNSUPPORTED_KEY     a certificate's public key cannot be used
 * - PODGATE_E_KEY_MALFORMED            a PRIVATE KEY block is not PKCS#8 (Go's tail "asn1: structure error:" differs)
 * - PODGATE_E_SVID_NO_CERTIFICATES     no CERTIFICATE block
 * - PODGATE_E_SVID_NO_URI_SAN          leaf has no URI SAN
 * - PODGATE_E_SVID_MULTIPLE_URI_SANS   leaf has more than one URI SAN
 * - PODGATE_E_SVID_BAD_ID              leaf URI SAN is not a valid SPIFFE ID
 * - PODGATE_E_SVID_ROOT_PATH_ID        leaf ID has no path
 * - PODGATE_E_SVID_LEAF_CA             leaf has CA:TRUE
 * - PODGATE_E_SVID_LEAF_NO_DIGITAL_SIGNATURE / _LEAF_KEY_CERT_SIGN / _LEAF_CRL_SIGN   leaf key usage
 * - PODGATE_E_SVID_SIGNING_NOT_CA / _SIGNING_NO_KEY_CERT_SIGN                       intermediates
 * - PODGATE_E_SVID_NO_PRIVATE_KEY      no PRIVATE KEY block
 * - PODGATE_E_SVID_KEY_MISMATCH        key does not belong to the leaf
 * - PODGATE_E_SVID_UNSUPPORTED_KEY     key type other than ECDSA, RSA, Ed25519
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { IdentityError } from '../errors.js';
import { SpiffeId } from '../spiffe-id.js';
import { ExtKeyUsageOid, KeyUsage, parsePemCertificates, type Certificate } from '../x509/certificate.js';
import { certificatesToPem, decodePem, encodePem } from '../x509/pem.js';

export interface X509Svid {
  id: SpiffeId;
  /** Leaf first, then the intermediates that lead towards the trust bundle. */
  certificates: Certificate[];
  privateKey: KeyObject;
}

/** Why a chain is not an X509-SVID: a stable code and go-spiffe's text without any prefix. */
class ShapeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const SUPPORTED_KEY_TYPES = new Set(['ec', 'rsa', 'ed25519']);

/** The SPIFFE ID in a certificate's single URI SAN (go-spiffe `IDFromCert`). */
export function idFromCertificate(cert: Certificate): SpiffeId {
  try {
    return idOf(cert);
  } catch (e) {
    throw e instanceof ShapeError ? new IdentityError(e.code, `x509svid: ${e.message}`) : e;
  }
}

function idOf(cert: Certificate): SpiffeId {
  if (cert.uris.length === 0) throw new ShapeError('PODGATE_E_SVID_NO_URI_SAN', 'certificate contains no URI SAN');
  if (cert.uris.length > 1) throw new ShapeError('PODGATE_E_SVID_MULTIPLE_URI_SANS', 'certificate contains more than one URI SAN');
  try {
    return SpiffeId.parse(cert.uris[0]!);
  } catch (e) {
    throw new ShapeError('PODGATE_E_SVID_BAD_ID', e instanceof Error ? e.message : String(e));
  }
}

function leafId(leaf: Certificate): SpiffeId {
  let id: SpiffeId;
  try {
    id = idOf(leaf);
  } catch (e) {
    if (e instanceof ShapeError) throw new ShapeError(e.code, `cannot get leaf certificate SPIFFE ID: ${e.message}`);
    throw e;
  }
  if (id.path === '') throw new ShapeError('PODGATE_E_SVID_ROOT_PATH_ID', 'leaf certificate SPIFFE ID must have a non-root path');
  if (leaf.isCA) throw new ShapeError('PODGATE_E_SVID_LEAF_CA', 'leaf certificate must not have CA flag set to true');
  const usage = leaf.keyUsage ?? 0;
  if (!(usage & KeyUsage.digitalSignature)) throw new ShapeError('PODGATE_E_SVID_LEAF_NO_DIGITAL_SIGNATURE', "leaf certificate must have 'digitalSignature' set as key usage");
  if (usage & KeyUsage.keyCertSign) throw new ShapeError('PODGATE_E_SVID_LEAF_KEY_CERT_SIGN', "leaf certificate must not have 'keyCertSign' set as key usage");
  if (usage & KeyUsage.cRLSign) throw new ShapeError('PODGATE_E_SVID_LEAF_CRL_SIGN', "leaf certificate must not have 'cRLSign' set as key usage");
  return id;
}

function shapeOf(chain: readonly Certificate[]): SpiffeId {
  const leaf = chain[0];
  if (!leaf) throw new ShapeError('PODGATE_E_SVID_NO_CERTIFICATES', 'no certificates found');
  const id = leafId(leaf);
  for (let i = 1; i < chain.length; i++) {
    const signer = chain[i]!;
    if (!signer.isCA) throw new ShapeError('PODGATE_E_SVID_SIGNING_NOT_CA', 'signing certificate must have CA flag set to true');
    if (!((signer.keyUsage ?? 0) & KeyUsage.keyCertSign)) throw new ShapeError('PODGATE_E_SVID_SIGNING_NO_KEY_CERT_SIGN', "signing certificate must have 'keyCertSign' set as key usage");
  }
  return id;
}

/**
 * The leaf and signing-certificate rules of go-spiffe's Parse (no signatures, no time, no trust):
 * returns the leaf's SPIFFE ID or throws `IdentityError` with a PODGATE_E_SVID_* code.
 */
export function checkSvidShape(chain: readonly Certificate[]): SpiffeId {
  try {
    return shapeOf(chain);
  } catch (e) {
    throw e instanceof ShapeError ? new IdentityError(e.code, `x509svid: ${e.message}`) : e;
  }
}

function svidError(code: string, message: string, hint?: string): IdentityError {
  return new IdentityError(code, `x509svid: ${message}`, hint);
}

// pemutil.ParsePrivateKey: first PKCS#8 "PRIVATE KEY" block, or none.
function privateKeyFromPem(text: string | Uint8Array): KeyObject | undefined {
  const blocks = decodePem(text);
  if (blocks.length === 0) throw svidError('PODGATE_E_PEM_NO_BLOCKS', 'cannot parse PEM encoded private key: no PEM blocks found', 'pass a PKCS#8 PEM "PRIVATE KEY"');
  const block = blocks.find((b) => b.type === 'PRIVATE KEY');
  if (!block) return undefined;
  try {
    return createPrivateKey({ key: block.der, format: 'der', type: 'pkcs8' });
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new IdentityError('PODGATE_E_KEY_MALFORMED', `x509svid: cannot parse PEM encoded private key: malformed PKCS#8 key (${detail})`, 'pass an intact PKCS#8 "PRIVATE KEY" block', { cause: e });
  }
}

// Types compared first: KeyObject.equals across key types leaves a stale OpenSSL error that a later key parse reports.
function keysMatch(privateKey: KeyObject, publicKey: KeyObject): boolean {
  if (privateKey.asymmetricKeyType !== publicKey.asymmetricKeyType) return false;
  return createPublicKey(privateKey).equals(publicKey);
}

/**
 * Parses PEM certificates (leaf first) and a PKCS#8 PEM key, as go-spiffe `x509svid.Parse`.
 * Both arguments may be the same text holding certificates and key.
 */
export function parseX509Svid(certsPem: Uint8Array | string, keyPem: Uint8Array | string): X509Svid {
  const certificates = parsePemCertificates(certsPem, 'x509svid: cannot parse PEM encoded certificate', 'pass PEM text with CERTIFICATE blocks');
  const privateKey = privateKeyFromPem(keyPem);
  let id: SpiffeId;
  try {
    id = shapeOf(certificates);
  } catch (e) {
    if (e instanceof ShapeError) throw svidError(e.code, `certificate validation failed: ${e.message}`);
    throw e;
  }
  if (!privateKey) throw svidError('PODGATE_E_SVID_NO_PRIVATE_KEY', 'private key validation failed: no private key found', 'add the PKCS#8 "PRIVATE KEY" block');
  const keyType = privateKey.asymmetricKeyType ?? 'unknown';
  if (!SUPPORTED_KEY_TYPES.has(keyType)) throw svidError('PODGATE_E_SVID_UNSUPPORTED_KEY', `private key validation failed: unsupported private key type ${keyType}`);
  if (!keysMatch(privateKey, certificates[0]!.publicKey)) {
    throw svidError('PODGATE_E_SVID_KEY_MISMATCH', 'private key validation failed: leaf certificate does not match private key', 'pair the certificate with the key it was issued for');
  }
  return { id, certificates, privateKey };
}

/** PEM of the chain (leaf first) and the PKCS#8 key, as go-spiffe `SVID.Marshal`. */
export function marshalX509Svid(svid: X509Svid): { certificatesPem: string; keyPem: string } {
  const key = svid.privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    certificatesPem: certificatesToPem(svid.certificates),
    keyPem: encodePem('PRIVATE KEY', key),
  };
}

export interface SpecViolation {
  code: string;
  /** Index in the chain (0 = leaf). */
  certificate: number;
  message: string;
}

/**
 * Every X509-SVID MUST rule the chain breaks (for `inspect`), including ones go-spiffe's Parse
 * does not enforce (critical key usage, EKU pair, signing-cert ID path, empty subject without
 * critical SAN). Reports, never throws.
 */
export function svidSpecViolations(chain: readonly Certificate[]): SpecViolation[] {
  const out: SpecViolation[] = [];
  const add = (code: string, certificate: number, message: string): void => {
    out.push({ code, certificate, message });
  };
  const leaf = chain[0];
  if (!leaf) {
    add('PODGATE_E_SVID_NO_CERTIFICATES', 0, 'no certificates found');
    return out;
  }
  try {
    const id = idOf(leaf);
    if (id.path === '') add('PODGATE_E_SVID_ROOT_PATH_ID', 0, 'leaf certificate SPIFFE ID must have a non-root path');
  } catch (e) {
    if (!(e instanceof ShapeError)) throw e;
    add(e.code, 0, e.message);
  }
  if (leaf.isCA) add('PODGATE_E_SVID_LEAF_CA', 0, 'leaf certificate must not have CA flag set to true');
  const usage = leaf.keyUsage ?? 0;
  if (!(usage & KeyUsage.digitalSignature)) add('PODGATE_E_SVID_LEAF_NO_DIGITAL_SIGNATURE', 0, "leaf certificate must have 'digitalSignature' set as key usage");
  if (usage & KeyUsage.keyCertSign) add('PODGATE_E_SVID_LEAF_KEY_CERT_SIGN', 0, "leaf certificate must not have 'keyCertSign' set as key usage");
  if (usage & KeyUsage.cRLSign) add('PODGATE_E_SVID_LEAF_CRL_SIGN', 0, "leaf certificate must not have 'cRLSign' set as key usage");
  const eku = leaf.extKeyUsage;
  if (eku && !eku.includes(ExtKeyUsageOid.any) && !(eku.includes(ExtKeyUsageOid.serverAuth) && eku.includes(ExtKeyUsageOid.clientAuth))) {
    add('PODGATE_E_SVID_LEAF_EKU', 0, 'leaf extended key usage must include both serverAuth and clientAuth');
  }
  chain.forEach((cert, index) => {
    if (cert.keyUsage === undefined) add('PODGATE_E_SVID_NO_KEY_USAGE', index, 'certificate must carry a key usage extension');
    else if (!cert.keyUsageCritical) add('PODGATE_E_SVID_KEY_USAGE_NOT_CRITICAL', index, 'key usage extension must be critical');
    if (cert.subjectDer.length <= 2 && cert.uris.length > 0 && !cert.sanCritical) add('PODGATE_E_SVID_SAN_NOT_CRITICAL', index, 'empty subject requires a critical subject alternative name extension');
    if (index === 0) return;
    if (!cert.isCA) add('PODGATE_E_SVID_SIGNING_NOT_CA', index, 'signing certificate must have CA flag set to true');
    if (!((cert.keyUsage ?? 0) & KeyUsage.keyCertSign)) add('PODGATE_E_SVID_SIGNING_NO_KEY_CERT_SIGN', index, "signing certificate must have 'keyCertSign' set as key usage");
    if (cert.uris.length > 0) {
      try {
        if (idOf(cert).path !== '') add('PODGATE_E_SVID_SIGNING_ID_PATH', index, 'signing certificate SPIFFE ID must have no path');
      } catch (e) {
        if (!(e instanceof ShapeError)) throw e;
        add(e.code, index, `signing certificate: ${e.message}`);
      }
    }
  });
  return out;
}
