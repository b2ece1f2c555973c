/**
 * X.509 certificate parsing into a flat, already-decoded view: everything a SPIFFE validator
 * reads per handshake is decoded once here. Structure comes from @peculiar/asn1-x509; the exact
 * signed bytes (tbs, names, SPKI) are sliced from the input with a small DER walker so nothing is
 * re-serialized. Any defect is `IdentityError('PODGATE_E_X509_MALFORMED', 'x509: malformed
 * certificate: ...')`, an unusable public key `PODGATE_E_X509_UNSUPPORTED_KEY`; never a raw exception.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate as AsnCertificate,
  ExtendedKeyUsage,
  GeneralName,
  Name,
  NameConstraints as AsnNameConstraints,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { Oid, signatureAlgorithmByOid } from '../ca/algorithms.js';
import { readingDer, readTlv as readDerTlv, type Tlv } from '../ca/der.js';
import { IdentityError } from '../errors.js';
import { decodePem } from './pem.js';

export const X509_MALFORMED = 'PODGATE_E_X509_MALFORMED';
export const X509_UNSUPPORTED_KEY = 'PODGATE_E_X509_UNSUPPORTED_KEY';

/** RFC 5280 KeyUsage bits as flags: bit n of the BIT STRING is `1 << n` (same values as Go's x509.KeyUsage). */
export const KeyUsage = {
  digitalSignature: 1 << 0,
  contentCommitment: 1 << 1,
  keyEncipherment: 1 << 2,
  dataEncipherment: 1 << 3,
  keyAgreement: 1 << 4,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
  encipherOnly: 1 << 7,
  decipherOnly: 1 << 8,
} as const;

export const ExtKeyUsageOid = {
  any: '2.5.29.37.0',
  serverAuth: Oid.serverAuth,
  clientAuth: Oid.clientAuth,
} as const;

/** URI and DNS subtrees of a name constraints extension; `otherForms` lists any other GeneralName kinds present. */
export interface NameConstraints {
  permittedUris: string[];
  excludedUris: string[];
  permittedDns: string[];
  excludedDns: string[];
  otherForms: string[];
}

export interface Certificate {
  der: Buffer;
  /** The signed TBSCertificate bytes, exactly as received. */
  tbs: Buffer;
  /** Outer signature algorithm OID (checked equal to the TBS one at parse time). */
  signatureAlgorithm: string;
  signature: Buffer;
  version: number;
  serial: bigint;
  /** Lower-case hex of the serial's magnitude, even length (`-` prefix if negative). */
  serialHex: string;
  subject: string;
  issuer: string;
  /** DER of the subject and issuer Names, for byte-exact issuer matching. */
  subjectDer: Buffer;
  issuerDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  hasBasicConstraints: boolean;
  /** undefined when the basic constraints carry no path length. */
  pathLenConstraint: number | undefined;
  /** `KeyUsage` flags; undefined when the extension is absent. */
  keyUsage: number | undefined;
  keyUsageCritical: boolean;
  extKeyUsage: string[] | undefined;
  uris: string[];
  dnsNames: string[];
  sanCritical: boolean;
  subjectKeyId?: string;
  authorityKeyId?: string;
  publicKey: KeyObject;
  spki: Buffer;
  hasNameConstraints: boolean;
  nameConstraints: NameConstraints | undefined;
  /** Critical extensions this parser does not understand; a verifier must refuse the certificate. */
  unhandledCriticalExtensions: string[];
}

// Critical extensions a verifier may accept even though only some are interpreted (as Go's x509).
const HANDLED_CRITICAL = new Set<string>([
  Oid.subjectKeyId,
  Oid.keyUsage,
  Oid.subjectAltName,
  Oid.basicConstraints,
  Oid.nameConstraints,
  Oid.certificatePolicies,
  Oid.policyConstraints,
  Oid.authorityKeyId,
  Oid.extKeyUsage,
  Oid.inhibitAnyPolicy,
]);

const DN_NAMES: Record<string, string> = {
  [Oid.commonName]: 'CN',
  [Oid.countryName]: 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  [Oid.organizationName]: 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

function malformed(detail: string, cause?: unknown): never {
  throw new IdentityError(X509_MALFORMED, `x509: malformed certificate: ${detail}`, 'check that the file holds an intact DER/PEM certificate', cause === undefined ? undefined : { cause });
}

// The shared strict DER reader, failing with this module's code.
function readTlv(buf: Uint8Array, offset: number, limit: number): Tlv {
  return readingDer(() => readDerTlv(buf, offset, limit), malformed);
}

function sliced(buf: Buffer, tlv: Tlv): Buffer {
  return buf.subarray(tlv.start, tlv.end);
}

interface RawParts {
  tbs: Buffer;
  serial: Buffer;
  issuer: Buffer;
  subject: Buffer;
  spki: Buffer;
}

// Walks Certificate → TBSCertificate to slice the byte ranges that are signed or compared.
function sliceParts(der: Buffer): RawParts {
  const outer = readTlv(der, 0, der.length);
  if (outer.tag !== 0x30) malformed('not a SEQUENCE');
  if (outer.end !== der.length) malformed('trailing data');
  const tbs = readTlv(der, outer.contentStart, outer.end);
  if (tbs.tag !== 0x30) malformed('TBSCertificate is not a SEQUENCE');
  let at = tbs.contentStart;
  let field = readTlv(der, at, tbs.end);
  if (field.tag === 0xa0) {
    at = field.end;
    field = readTlv(der, at, tbs.end);
  }
  if (field.tag !== 0x02) malformed('serial number is not an INTEGER');
  const serial = der.subarray(field.contentStart, field.end);
  const next = (expectTag: number, what: string): Tlv => {
    const t = readTlv(der, field.end, tbs.end);
    if (t.tag !== expectTag) malformed(`${what} has tag 0x${t.tag.toString(16)}`);
    field = t;
    return t;
  };
  next(0x30, 'signature algorithm');
  const issuer = next(0x30, 'issuer');
  next(0x30, 'validity');
  const subject = next(0x30, 'subject');
  const spki = next(0x30, 'subjectPublicKeyInfo');
  return { tbs: sliced(der, tbs), serial, issuer: sliced(der, issuer), subject: sliced(der, subject), spki: sliced(der, spki) };
}

function serialOf(bytes: Buffer): { serial: bigint; serialHex: string } {
  if (bytes.length === 0) malformed('empty serial number');
  const negative = (bytes[0]! & 0x80) !== 0;
  let value = BigInt('0x' + bytes.toString('hex'));
  if (negative) value -= 1n << BigInt(bytes.length * 8);
  let hex = (value < 0n ? -value : value).toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return { serial: value, serialHex: (value < 0n ? '-' : '') + hex };
}

/** `C=US, O=SPIFFE` in certificate order (OpenSSL's one-line order), multi-valued RDNs joined by `+`. */
export function formatName(name: Name): string {
  return name
    .map((rdn) => rdn.map((atv) => `${DN_NAMES[atv.type] ?? atv.type}=${atv.value.toString()}`).join('+'))
    .join(', ');
}

function keyUsageFlags(bits: Uint8Array): number {
  let flags = 0;
  for (let bit = 0; bit < 9; bit++) {
    const byte = bits[bit >> 3];
    if (byte !== undefined && byte & (0x80 >> (bit & 7))) flags |= 1 << bit;
  }
  return flags;
}

function generalNameKind(name: GeneralName): string {
  for (const key of ['otherName', 'rfc822Name', 'dNSName', 'x400Address', 'directoryName', 'ediPartyName', 'uniformResourceIdentifier', 'iPAddress', 'registeredID'] as const) {
    if (name[key] !== undefined) return key;
  }
  return 'unknown';
}

function nameConstraintsOf(nc: AsnNameConstraints): NameConstraints {
  const out: NameConstraints = { permittedUris: [], excludedUris: [], permittedDns: [], excludedDns: [], otherForms: [] };
  const collect = (subtrees: AsnNameConstraints['permittedSubtrees'], uris: string[], dns: string[]): void => {
    for (const subtree of subtrees ?? []) {
      const base = subtree.base;
      if (base.uniformResourceIdentifier !== undefined) uris.push(base.uniformResourceIdentifier);
      else if (base.dNSName !== undefined) dns.push(base.dNSName);
      else out.otherForms.push(generalNameKind(base));
    }
  };
  collect(nc.permittedSubtrees, out.permittedUris, out.permittedDns);
  collect(nc.excludedSubtrees, out.excludedUris, out.excludedDns);
  return out;
}

const hex = (data: ArrayBuffer | ArrayBufferView): string =>
  (ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data)).toString('hex');

/** Parses one DER certificate. Throws `PODGATE_E_X509_MALFORMED` / `PODGATE_E_X509_UNSUPPORTED_KEY`. */
export function parseCertificate(input: Uint8Array): Certificate {
  const der = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const parts = sliceParts(der);
  let asn: AsnCertificate;
  try {
    asn = AsnConvert.parse(der, AsnCertificate);
  } catch (e) {
    malformed(e instanceof Error ? e.message : 'undecodable', e);
  }
  const tbs = asn.tbsCertificate;
  if (tbs.signature.algorithm !== asn.signatureAlgorithm.algorithm) malformed('inner and outer signature algorithms differ');
  const version = tbs.version + 1;
  if (version < 1 || version > 3) malformed(`unsupported version ${version}`);
  const { serial, serialHex } = serialOf(parts.serial);

  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: parts.spki, format: 'der', type: 'spki' });
  } catch (e) {
    throw new IdentityError(X509_UNSUPPORTED_KEY, `x509: unsupported or invalid public key (${tbs.subjectPublicKeyInfo.algorithm.algorithm})`, 'use an ECDSA, RSA or Ed25519 key', { cause: e });
  }

  const cert: Certificate = {
    der,
    tbs: parts.tbs,
    signatureAlgorithm: asn.signatureAlgorithm.algorithm,
    signature: Buffer.from(asn.signatureValue),
    version,
    serial,
    serialHex,
    subject: formatName(tbs.subject),
    issuer: formatName(tbs.issuer),
    subjectDer: parts.subject,
    issuerDer: parts.issuer,
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
    isCA: false,
    hasBasicConstraints: false,
    pathLenConstraint: undefined,
    keyUsage: undefined,
    keyUsageCritical: false,
    extKeyUsage: undefined,
    uris: [],
    dnsNames: [],
    sanCritical: false,
    publicKey,
    spki: parts.spki,
    hasNameConstraints: false,
    nameConstraints: undefined,
    unhandledCriticalExtensions: [],
  };
  if (Number.isNaN(cert.notBefore.getTime()) || Number.isNaN(cert.notAfter.getTime())) malformed('invalid validity time');

  const seen = new Set<string>();
  for (const ext of tbs.extensions ?? []) {
    if (seen.has(ext.extnID)) malformed(`duplicate extension ${ext.extnID}`);
    seen.add(ext.extnID);
    const value = ext.extnValue.buffer;
    try {
      switch (ext.extnID) {
        case Oid.basicConstraints: {
          const bc = AsnConvert.parse(value, BasicConstraints);
          cert.hasBasicConstraints = true;
          cert.isCA = bc.cA;
          cert.pathLenConstraint = bc.pathLenConstraint;
          break;
        }
        case Oid.keyUsage: {
          const bits = readTlv(new Uint8Array(value), 0, value.byteLength);
          if (bits.tag !== 0x03 || bits.end - bits.contentStart < 1) malformed('key usage is not a BIT STRING');
          cert.keyUsage = keyUsageFlags(new Uint8Array(value, bits.contentStart + 1, bits.end - bits.contentStart - 1));
          cert.keyUsageCritical = ext.critical;
          break;
        }
        case Oid.extKeyUsage:
          cert.extKeyUsage = [...AsnConvert.parse(value, ExtendedKeyUsage)];
          break;
        case Oid.subjectAltName: {
          for (const name of AsnConvert.parse(value, SubjectAlternativeName)) {
            if (name.uniformResourceIdentifier !== undefined) cert.uris.push(name.uniformResourceIdentifier);
            else if (name.dNSName !== undefined) cert.dnsNames.push(name.dNSName);
          }
          cert.sanCritical = ext.critical;
          break;
        }
        case Oid.subjectKeyId:
          cert.subjectKeyId = hex(AsnConvert.parse(value, SubjectKeyIdentifier).buffer);
          break;
        case Oid.authorityKeyId: {
          const aki = AsnConvert.parse(value, AuthorityKeyIdentifier);
          if (aki.keyIdentifier) cert.authorityKeyId = hex(aki.keyIdentifier.buffer);
          break;
        }
        case Oid.nameConstraints:
          cert.hasNameConstraints = true;
          cert.nameConstraints = nameConstraintsOf(AsnConvert.parse(value, AsnNameConstraints));
          break;
        default:
          if (ext.critical && !HANDLED_CRITICAL.has(ext.extnID)) cert.unhandledCriticalExtensions.push(ext.extnID);
      }
    } catch (e) {
      if (e instanceof IdentityError) throw e;
      malformed(`extension ${ext.extnID}: ${e instanceof Error ? e.message : 'undecodable'}`, e);
    }
  }
  return Object.freeze(cert);
}

/**
 * Every CERTIFICATE in PEM text (other block types skipped), or the certificates of a DER
 * buffer (one or more concatenated). Throws `PODGATE_E_X509_MALFORMED` on the first bad one.
 */
export function parseCertificates(input: string | Uint8Array): Certificate[] {
  if (typeof input !== 'string' && input.length > 0 && input[0] === 0x30) {
    const der = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    const certs: Certificate[] = [];
    for (let at = 0; at < der.length; ) {
      const tlv = readTlv(der, at, der.length);
      certs.push(parseCertificate(der.subarray(at, tlv.end)));
      at = tlv.end;
    }
    return certs;
  }
  return decodePem(input)
    .filter((block) => block.type === 'CERTIFICATE')
    .map((block) => parseCertificate(block.der));
}

/**
 * go-spiffe's pemutil.ParseCertificates: every CERTIFICATE block of PEM text, other block types
 * skipped. No PEM block at all is `PODGATE_E_PEM_NO_BLOCKS`; a bad certificate keeps its code.
 * Messages start with the caller's go-spiffe `context` (`x509bundle: cannot parse certificate`).
 */
export function parsePemCertificates(pem: string | Uint8Array, context: string, noBlocksHint: string): Certificate[] {
  const blocks = decodePem(pem);
  if (blocks.length === 0) throw new IdentityError('PODGATE_E_PEM_NO_BLOCKS', `${context}: no PEM blocks found`, noBlocksHint);
  const certs: Certificate[] = [];
  for (const block of blocks) {
    if (block.type !== 'CERTIFICATE') continue;
    try {
      certs.push(parseCertificate(block.der));
    } catch (e) {
      if (!(e instanceof IdentityError)) throw e;
      throw new IdentityError(e.code, `${context}: ${e.message}`, e.hint, { cause: e });
    }
  }
  return certs;
}

/** True when `issuer`'s public key verifies the signature over `cert`'s TBS bytes. Never throws. */
export function signedBy(cert: Certificate, issuer: Certificate): boolean {
  // SHA-1, MD5 and RSA-PSS signatures are not listed, so they are refused as in Go.
  const algorithm = signatureAlgorithmByOid(cert.signatureAlgorithm);
  if (algorithm === undefined || issuer.publicKey.asymmetricKeyType !== algorithm.keyFamily) return false;
  try {
    return verify(algorithm.hash, cert.tbs, issuer.publicKey, cert.signature);
  } catch {
    return false;
  }
}
