/**
 * PKCS#10 certificate signing requests (RFC 2986) carrying a SPIFFE ID as a URI SAN in an
 * extensionRequest attribute, or no ID for the authority to fill in. Agents create them with keys
 * that never leave memory; the authority parses them once on the signing hot path with a strict
 * DER reader that keeps the signed bytes and the SubjectPublicKeyInfo as slices of the input
 * (nothing is re-serialized).
 *
 * Error codes:
 * - `PODGATE_E_CSR_MALFORMED`: not a DER CertificationRequest (truncated, trailing bytes, bad
 *   version, too large).
 * - `PODGATE_E_CSR_KEY_TYPE`: the public key is not one podgate accepts (see ca/algorithms.ts).
 * - `PODGATE_E_CSR_SIGNATURE_ALGORITHM`: the CSR is signed with an algorithm podgate does not
 *   accept, or one that does not fit its key (SHA-1, RSA-PSS, ECDSA OID on an RSA key, ...).
 * - `PODGATE_E_CSR_SIGNATURE`: the self-signature does not verify (proof of possession fails).
 * - `PODGATE_E_CSR_SAN`: a URI SAN is oversized or not ASCII, or there are too many SAN entries.
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Name } from '@peculiar/asn1-x509';
import { IdentityError } from '../errors.js';
import type { SpiffeId } from '../spiffe-id.js';
import {
  classifyKey,
  KEY_TYPE_ERROR,
  keyFamily,
  Oid,
  signatureAlgorithmByOid,
  signatureAlgorithmFor,
  type KeyType,
} from '../ca/algorithms.js';
import { algorithmIdentifier, uriSanExtension } from '../ca/certificate-builder.js';
import * as der from '../ca/der.js';
import { importSpki, type PublicKeyInfo } from '../ca/spki.js';

/** What the authority needs from a verified CSR. */
export interface CertificateRequest {
  readonly publicKey: KeyObject;
  /** The DER SubjectPublicKeyInfo exactly as the requester sent it. */
  readonly spki: Buffer;
  /** The subjectPublicKey BIT STRING contents (the input of a method-1 subject key identifier). */
  readonly subjectPublicKey: Buffer;
  /** URI SANs requested in the extensionRequest attribute, in order. */
  readonly uris: string[];
  readonly keyType: KeyType;
}

/** A CSR larger than this is refused before parsing (an RSA-8192 CSR is about 2.3 KiB). */
export const MAX_CSR_BYTES = 16 * 1024;
/** SPIFFE IDs longer than 2048 bytes need not be accepted (SPIFFE-ID spec). */
export const MAX_URI_BYTES = 2048;
export const MAX_SAN_ENTRIES = 16;

const EXTENSION_REQUEST = der.oid(Oid.extensionRequest);
const SUBJECT_ALT_NAME = der.oid(Oid.subjectAltName);
const URI_TAG = 0x86; // [6] IMPLICIT IA5String
const ATTRIBUTES_TAG = 0xa0; // [0] IMPLICIT SET OF Attribute

function csrError(code: string, message: string, hint: string): never {
  throw new IdentityError(code, message, hint);
}

function malformed(message: string, cause?: unknown): never {
  throw new IdentityError(
    'PODGATE_E_CSR_MALFORMED',
    `malformed CSR: ${message}`,
    'send a DER PKCS#10 CertificationRequest (openssl req -outform DER)',
    cause === undefined ? undefined : { cause },
  );
}

function expect(node: der.Tlv | undefined, tag: number, what: string): der.Tlv {
  if (node === undefined || node.tag !== tag) malformed(`expected ${what}`);
  return node;
}

/** Decodes an OID's content bytes to dotted form (for messages only). */
function oidText(bytes: Uint8Array, node: der.Tlv): string {
  const arcs: bigint[] = [];
  let value = 0n;
  for (let i = node.contentStart; i < node.end; i++) {
    const b = bytes[i]!;
    value = (value << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(value);
      value = 0n;
    }
  }
  const first = arcs.shift() ?? 0n;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs].join('.');
}

function sameBytes(bytes: Buffer, node: der.Tlv, expected: Buffer): boolean {
  return node.end - node.start === expected.length && bytes.compare(expected, 0, expected.length, node.start, node.end) === 0;
}

/** Collects URI SANs from the extensionRequest attribute values. */
function requestedUris(bytes: Buffer, attributes: der.Tlv): string[] {
  const uris: string[] = [];
  for (const attribute of der.childrenOf(bytes, attributes)) {
    const [type, values] = der.childrenOf(bytes, expect(attribute, der.Tag.sequence, 'Attribute'));
    if (!sameBytes(bytes, expect(type, der.Tag.oid, 'attribute type'), EXTENSION_REQUEST)) continue;
    for (const extensions of der.childrenOf(bytes, expect(values, der.Tag.set, 'attribute values'))) {
      for (const extension of der.childrenOf(bytes, expect(extensions, der.Tag.sequence, 'Extensions'))) {
        const parts = der.childrenOf(bytes, expect(extension, der.Tag.sequence, 'Extension'));
        if (!sameBytes(bytes, expect(parts[0], der.Tag.oid, 'extension id'), SUBJECT_ALT_NAME)) continue;
        const value = expect(parts[parts.length - 1], der.Tag.octetString, 'extension value');
        const names = der.readTlv(bytes, value.contentStart, value.end);
        if (names.end !== value.end) malformed('trailing bytes in subjectAltName');
        const entries = der.childrenOf(bytes, expect(names, der.Tag.sequence, 'GeneralNames'));
        if (entries.length > MAX_SAN_ENTRIES) {
          csrError('PODGATE_E_CSR_SAN', `CSR has ${entries.length} SAN entries (at most ${MAX_SAN_ENTRIES})`, 'request exactly one URI SAN: the SPIFFE ID');
        }
        for (const entry of entries) {
          if (entry.tag !== URI_TAG) continue;
          if (entry.end - entry.contentStart > MAX_URI_BYTES) {
            csrError('PODGATE_E_CSR_SAN', `URI SAN is ${entry.end - entry.contentStart} bytes (at most ${MAX_URI_BYTES})`, 'SPIFFE IDs are at most 2048 bytes');
          }
          const raw = bytes.subarray(entry.contentStart, entry.end);
          if (raw.some((b) => b > 0x7f)) csrError('PODGATE_E_CSR_SAN', 'URI SAN is not ASCII (IA5String)', 'request a valid SPIFFE ID');
          uris.push(raw.toString('latin1'));
        }
      }
    }
  }
  return uris;
}

/** Parses a DER CSR, verifies its self-signature and refuses unsupported keys and algorithms. */
export function parseCsr(input: Uint8Array): CertificateRequest {
  // Callers branch on one CSR code, not the DER reader's own.
  return der.readingDer(() => parseCsrUnchecked(input), malformed);
}

function parseCsrUnchecked(input: Uint8Array): CertificateRequest {
  if (input.length > MAX_CSR_BYTES) malformed(`${input.length} bytes (at most ${MAX_CSR_BYTES})`);
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.length);
  const outer = expect(der.readTlv(bytes, 0), der.Tag.sequence, 'CertificationRequest');
  if (outer.end !== bytes.length) malformed('trailing bytes after CertificationRequest');
  const [info, algorithm, signature, extra] = der.childrenOf(bytes, outer);
  if (extra !== undefined) malformed('unexpected element after signature');
  const infoParts = der.childrenOf(bytes, expect(info, der.Tag.sequence, 'CertificationRequestInfo'));
  const [version, subject, spkiNode, attributes, rest] = infoParts;
  const versionNode = expect(version, der.Tag.integer, 'version');
  if (versionNode.end - versionNode.contentStart !== 1 || bytes[versionNode.contentStart] !== 0) malformed('version must be v1 (0)');
  expect(subject, der.Tag.sequence, 'subject Name');
  const spkiTlv = expect(spkiNode, der.Tag.sequence, 'SubjectPublicKeyInfo');
  if (rest !== undefined) malformed('unexpected element after attributes');
  if (attributes !== undefined) expect(attributes, ATTRIBUTES_TAG, '[0] attributes');

  const [algorithmOid] = der.childrenOf(bytes, expect(algorithm, der.Tag.sequence, 'signatureAlgorithm'));
  const algorithmId = oidText(bytes, expect(algorithmOid, der.Tag.oid, 'signature algorithm OID'));
  const signatureNode = expect(signature, der.Tag.bitString, 'signature BIT STRING');
  if (signatureNode.end - signatureNode.contentStart < 2 || bytes[signatureNode.contentStart] !== 0) malformed('signature BIT STRING');

  const spki = bytes.subarray(spkiTlv.start, spkiTlv.end);
  let imported: PublicKeyInfo;
  try {
    imported = importSpki(spki);
  } catch (cause) {
    if (cause instanceof IdentityError) throw cause;
    csrError('PODGATE_E_CSR_KEY_TYPE', `cannot read the CSR's public key: ${(cause as Error).message}`, 'use an ECDSA P-256 key');
  }
  const publicKey = imported.key;
  const keyType = classifyKey(publicKey);
  const sigAlg = signatureAlgorithmByOid(algorithmId);
  if (sigAlg === undefined || sigAlg.keyFamily !== keyFamily(keyType)) {
    csrError(
      'PODGATE_E_CSR_SIGNATURE_ALGORITHM',
      `CSR signature algorithm ${algorithmId} is not accepted for a ${keyType} key`,
      'sign the CSR with SHA-256 or stronger (ECDSA, RSA PKCS#1 v1.5) or Ed25519',
    );
  }
  const signed = bytes.subarray(info!.start, info!.end);
  const signatureBytes = bytes.subarray(signatureNode.contentStart + 1, signatureNode.end);
  let valid = false;
  try {
    valid = verify(sigAlg.hash, signed, publicKey, signatureBytes);
  } catch {
    valid = false;
  }
  if (!valid) csrError('PODGATE_E_CSR_SIGNATURE', 'CSR signature does not verify', 'the CSR must be signed by the private key it carries');

  const uris = attributes === undefined ? [] : requestedUris(bytes, attributes);
  return { publicKey, spki: Buffer.from(spki), subjectPublicKey: Buffer.from(imported.subjectPublicKey), uris, keyType };
}

/**
 * Creates a DER CSR signed by `privateKey` with an empty subject and, when `id` is given, its URI
 * SAN in an extensionRequest; without one the authority fills in the identity it grants.
 * Refuses key types the authority would refuse.
 */
export function createCsr(privateKey: KeyObject, id?: SpiffeId): Buffer {
  if (privateKey.type !== 'private') throw new IdentityError(KEY_TYPE_ERROR, 'createCsr needs a private key', 'pass the SVID private key');
  const keyType = classifyKey(privateKey);
  const algorithm = signatureAlgorithmFor(keyType);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const info = der.sequence(
    der.integer(0n),
    Buffer.from(AsnConvert.serialize(new Name())),
    spki,
    der.tlv(ATTRIBUTES_TAG, ...(id === undefined ? [] : [extensionRequest(id)])),
  );
  const signature = sign(algorithm.hash, info, privateKey);
  return der.sequence(info, algorithmIdentifier(algorithm), der.bitString(signature));
}

// The extensionRequest attribute (RFC 2985) asking for the ID as the one URI SAN.
function extensionRequest(id: SpiffeId): Buffer {
  return der.sequence(EXTENSION_REQUEST, der.tlv(der.Tag.set, der.sequence(uriSanExtension(id.toString()))));
}
