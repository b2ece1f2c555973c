/**
 * Test-only certificate factory: builds X.509 certificates with exactly the defects a test asks
 * for (any key usage, CA flag, SANs, validity, broken signature), using @peculiar/asn1-x509 and
 * node:crypto. Not for production issuing: no input checks, no safe defaults. Also `thrownCode`,
 * the error code a call throws, for table tests.
 */
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate as AsnCertificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  GeneralSubtree,
  GeneralSubtrees,
  KeyIdentifier,
  KeyUsage as AsnKeyUsage,
  Name,
  NameConstraints,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { IdentityError } from './errors.js';
import { KeyUsage, parseCertificate, type Certificate } from './x509/certificate.js';
import { encodePem } from './x509/pem.js';

export interface TestCert {
  cert: Certificate;
  der: Buffer;
  pem: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface TestCertOptions {
  /** Common name; an empty string gives an empty subject. */
  commonName?: string;
  /** Signs with this certificate's key and names it as issuer; self-signed when absent. */
  issuer?: TestCert;
  keyPair?: { privateKey: KeyObject; publicKey: KeyObject };
  uris?: string[];
  dnsNames?: string[];
  sanCritical?: boolean;
  /** undefined: no basic constraints extension. */
  isCA?: boolean | undefined;
  pathLen?: number;
  /** `KeyUsage` flags; undefined: no key usage extension. */
  keyUsage?: number | undefined;
  extKeyUsage?: string[];
  notBefore: Date;
  notAfter: Date;
  serial?: bigint;
  permittedUris?: string[];
  excludedUris?: string[];
  /** Extra critical extension OIDs with empty NULL content (for unhandled-critical tests). */
  unknownCritical?: string[];
  /** Flip a bit of the signature after signing. */
  breakSignature?: boolean;
  /** Skip the subject/authority key identifiers. */
  noKeyIds?: boolean;
}

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
let nextSerial = 1000n;

export function newKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function nameOf(commonName: string): Name {
  if (commonName === '') return new Name([]);
  return new Name([new RelativeDistinguishedName([new AttributeTypeAndValue({ type: '2.5.4.3', value: new AttributeValue({ utf8String: commonName }) })])]);
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

function serialBytes(serial: bigint): ArrayBuffer {
  let hex = serial.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = '00' + hex;
  return new Uint8Array(Buffer.from(hex, 'hex')).buffer;
}

function keyId(spki: Buffer): Buffer {
  return createHash('sha1').update(spki).digest();
}

/** Builds and signs one certificate (ECDSA P-256 / SHA-256) with the given content. */
export function makeCertificate(options: TestCertOptions): TestCert {
  const keys = options.keyPair ?? newKeyPair();
  const spkiDer = keys.publicKey.export({ format: 'der', type: 'spki' });
  const subject = nameOf(options.commonName ?? 'podgate test');
  const issuerName = options.issuer ? AsnConvert.parse(options.issuer.cert.subjectDer, Name) : subject;
  const signingKey = options.issuer?.privateKey ?? keys.privateKey;
  const issuerSpki = options.issuer?.cert.spki ?? spkiDer;

  const exts: Extension[] = [];
  if (options.isCA !== undefined) exts.push(extension('2.5.29.19', true, new BasicConstraints({ cA: options.isCA, ...(options.pathLen === undefined ? {} : { pathLenConstraint: options.pathLen }) })));
  if (options.keyUsage !== undefined) exts.push(extension('2.5.29.15', true, new AsnKeyUsage(options.keyUsage)));
  if (options.extKeyUsage) exts.push(extension('2.5.29.37', false, new ExtendedKeyUsage(options.extKeyUsage)));
  const sans = [...(options.uris ?? []).map((u) => new GeneralName({ uniformResourceIdentifier: u })), ...(options.dnsNames ?? []).map((d) => new GeneralName({ dNSName: d }))];
  if (sans.length > 0) exts.push(extension('2.5.29.17', options.sanCritical ?? false, new SubjectAlternativeName(sans)));
  if (!options.noKeyIds) {
    exts.push(extension('2.5.29.14', false, new SubjectKeyIdentifier(keyId(spkiDer))));
    exts.push(extension('2.5.29.35', false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyId(issuerSpki)) })));
  }
  if (options.permittedUris || options.excludedUris) {
    const subtrees = (uris: string[] | undefined): GeneralSubtrees | undefined =>
      uris ? new GeneralSubtrees(uris.map((u) => new GeneralSubtree({ base: new GeneralName({ uniformResourceIdentifier: u }) }))) : undefined;
    const permitted = subtrees(options.permittedUris);
    const excluded = subtrees(options.excludedUris);
    exts.push(extension('2.5.29.30', true, new NameConstraints({ ...(permitted ? { permittedSubtrees: permitted } : {}), ...(excluded ? { excludedSubtrees: excluded } : {}) })));
  }
  for (const oid of options.unknownCritical ?? []) exts.push(new Extension({ extnID: oid, critical: true, extnValue: new OctetString(new Uint8Array([0x05, 0x00])) }));

  const algorithm = new AlgorithmIdentifier({ algorithm: ECDSA_SHA256 });
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialBytes(options.serial ?? nextSerial++),
    signature: algorithm,
    issuer: issuerName,
    validity: new Validity({ notBefore: options.notBefore, notAfter: options.notAfter }),
    subject,
    subjectPublicKeyInfo: AsnConvert.parse(spkiDer, SubjectPublicKeyInfo),
    ...(exts.length > 0 ? { extensions: new Extensions(exts) } : {}),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = sign('sha256', tbsDer, signingKey);
  if (options.breakSignature) signature[signature.length - 1]! ^= 0x01;
  const der = Buffer.from(AsnConvert.serialize(new AsnCertificate({ tbsCertificate: tbs, signatureAlgorithm: algorithm, signatureValue: new Uint8Array(signature).buffer })));
  return { cert: parseCertificate(der), der, pem: encodePem('CERTIFICATE', der), privateKey: keys.privateKey, publicKey: keys.publicKey };
}

export const HOUR = 3_600_000;

/** The code of the IdentityError `fn` throws, or 'ok' when it returns; any other exception fails the test. */
export function thrownCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof IdentityError, `expected IdentityError, got ${String(e)}`);
    return e.code;
  }
  return 'ok';
}

/** A root → intermediate → leaf chain for `td`, valid one hour either side of `now`, with per-level overrides. */
export function makeChain(options: {
  trustDomain: string;
  leafPath?: string;
  now: Date;
  root?: Partial<TestCertOptions>;
  intermediate?: Partial<TestCertOptions>;
  leaf?: Partial<TestCertOptions>;
}): { root: TestCert; intermediate: TestCert; leaf: TestCert } {
  const notBefore = new Date(options.now.getTime() - HOUR);
  const notAfter = new Date(options.now.getTime() + HOUR);
  const td = `spiffe://${options.trustDomain}`;
  const root = makeCertificate({ commonName: 'root', uris: [td], isCA: true, keyUsage: KeyUsage.keyCertSign | KeyUsage.cRLSign, notBefore, notAfter, ...options.root });
  const intermediate = makeCertificate({ commonName: 'intermediate', uris: [td], isCA: true, keyUsage: KeyUsage.keyCertSign | KeyUsage.cRLSign, notBefore, notAfter, issuer: root, ...options.intermediate });
  const leaf = makeCertificate({
    commonName: 'leaf',
    uris: [td + (options.leafPath ?? '/ns/default/sa/app')],
    isCA: false,
    keyUsage: KeyUsage.digitalSignature,
    extKeyUsage: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
    notBefore,
    notAfter,
    issuer: intermediate,
    ...options.leaf,
  });
  return { root, intermediate, leaf };
}
