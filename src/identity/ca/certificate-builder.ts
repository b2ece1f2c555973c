/**
 * Shared pieces for building X.509 v3 certificates: names, extensions, validity, the final
 * signature. Structured values built once (names, CA extensions) use `@peculiar/asn1-x509`;
 * the assembly uses the small DER writer so per-SVID work stays a few buffer concatenations.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
} from '@peculiar/asn1-x509';
import { Oid, type SignatureAlgorithm } from './algorithms.js';
import * as der from './der.js';

/** RFC 5280 key usage bits as `KeyUsageFlags` numbers (digitalSignature = 1, keyCertSign = 32, ...). */
export { KeyUsageFlags };

export const X509_V3 = der.explicit(0, der.integer(2n));

export function algorithmIdentifier(algorithm: SignatureAlgorithm): Buffer {
  return algorithm.nullParameters ? der.sequence(der.oid(algorithm.oid), der.tlv(der.Tag.null)) : der.sequence(der.oid(algorithm.oid));
}

/** A Name of single-valued RDNs; UTF8String except where X.520 asks for PrintableString. */
export function buildName(attributes: readonly { type: string; value: string }[]): Buffer {
  const rdns = attributes.map(({ type, value }) => {
    const printable = type === Oid.countryName || type === '2.5.4.5';
    const attributeValue = new AttributeValue(printable ? { printableString: value } : { utf8String: value });
    return new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: attributeValue })]);
  });
  return Buffer.from(AsnConvert.serialize(new Name(rdns)));
}

export function extension(oidText: string, critical: boolean, value: Uint8Array): Buffer {
  return critical
    ? der.sequence(der.oid(oidText), der.boolean(true), der.octetString(value))
    : der.sequence(der.oid(oidText), der.octetString(value));
}

export function basicConstraintsExtension(ca: boolean): Buffer {
  return extension(Oid.basicConstraints, true, Buffer.from(AsnConvert.serialize(new BasicConstraints({ cA: ca }))));
}

export function keyUsageExtension(flags: number): Buffer {
  return extension(Oid.keyUsage, true, Buffer.from(AsnConvert.serialize(new KeyUsage(flags))));
}

export function uriSanExtension(uri: string, critical = false): Buffer {
  const san = new SubjectAlternativeName([new GeneralName({ uniformResourceIdentifier: uri })]);
  return extension(Oid.subjectAltName, critical, Buffer.from(AsnConvert.serialize(san)));
}

export function subjectKeyIdExtension(keyId: Buffer): Buffer {
  return extension(Oid.subjectKeyId, false, der.octetString(keyId));
}

export function authorityKeyIdExtension(keyId: Buffer): Buffer {
  const aki = new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyId) });
  return extension(Oid.authorityKeyId, false, Buffer.from(AsnConvert.serialize(aki)));
}

export const SVID_EXT_KEY_USAGE = extension(Oid.extKeyUsage, false, der.sequence(der.oid(Oid.serverAuth), der.oid(Oid.clientAuth)));

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(subjectPublicKey: Uint8Array): Buffer {
  return createHash('sha1').update(subjectPublicKey).digest();
}

export function validity(notBefore: Date, notAfter: Date): Buffer {
  return der.sequence(der.time(notBefore), der.time(notAfter));
}

/** Signs a TBSCertificate and wraps it into a Certificate. */
export function signCertificate(tbs: Buffer, algorithmId: Buffer, hash: SignatureAlgorithm['hash'], key: KeyObject): Buffer {
  const signature = sign(hash, tbs, key);
  return der.sequence(tbs, algorithmId, der.bitString(signature));
}

/** Truncates to whole seconds: certificate times have no fractions. */
export function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}
