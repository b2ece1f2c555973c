/**
 * A minimal DER writer and TLV reader for the signing hot path: an SVID's TBSCertificate is a
 * handful of per-certificate values spliced between fragments precomputed once per CA, which is
 * much cheaper than building and serializing a full ASN.1 object tree for every certificate.
 * Structured values that are built once (names, CA extensions) use `@peculiar/asn1-x509` instead.
 * The reader is strict DER (definite, minimal lengths); CSR and certificate parsing share it.
 */
import { IdentityError } from '../errors.js';

export const DER_ERROR = 'PODGATE_E_DER';

export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

function lengthBytes(length: number): Buffer {
  if (length < 0x80) return Buffer.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with the given tag around the concatenated parts. */
export function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  const content = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return Buffer.concat([Buffer.of(tag), lengthBytes(content.length), content]);
}

export function sequence(...parts: Uint8Array[]): Buffer {
  return tlv(Tag.sequence, ...parts);
}

/** `[n] EXPLICIT` (constructed context-specific tag). */
export function explicit(n: number, ...parts: Uint8Array[]): Buffer {
  return tlv(0xa0 | n, ...parts);
}

/** A non-negative INTEGER in minimal two's-complement form. */
export function integer(value: bigint): Buffer {
  if (value < 0n) throw new RangeError('negative INTEGER');
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = '0' + hex;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.of(0), bytes]);
  return tlv(Tag.integer, bytes);
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs.length < 2) throw new RangeError(`bad OID ${dotted}`);
  const out: number[] = [];
  const push = (arc: bigint): void => {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let rest = arc >> 7n; rest > 0n; rest >>= 7n) chunk.unshift(Number(rest & 0x7fn) | 0x80);
    out.push(...chunk);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const arc of arcs.slice(2)) push(arc);
  return tlv(Tag.oid, Buffer.from(out));
}

export function octetString(bytes: Uint8Array): Buffer {
  return tlv(Tag.octetString, bytes);
}

export function bitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  return tlv(Tag.bitString, Buffer.of(unusedBits), bytes);
}

export function boolean(value: boolean): Buffer {
  return tlv(Tag.boolean, Buffer.of(value ? 0xff : 0x00));
}

export function ia5String(text: string): Buffer {
  return tlv(Tag.ia5String, Buffer.from(text, 'latin1'));
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, whole seconds, Zulu. */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const year = date.getUTCFullYear();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  if (year >= 1950 && year < 2050) return tlv(Tag.utcTime, Buffer.from(digits.slice(2) + 'Z', 'latin1'));
  return tlv(Tag.generalizedTime, Buffer.from(digits + 'Z', 'latin1'));
}

/** One parsed TLV header: `bytes.subarray(start, end)` is the whole element. */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

function malformed(what: string): never {
  throw new IdentityError(DER_ERROR, `malformed DER: ${what}`, 'the input is not valid DER; check it was not truncated or corrupted');
}

/** Reads the TLV at `offset`; it must end at or before `limit`. Single-byte tags, minimal lengths only (enough for X.509). */
export function readTlv(bytes: Uint8Array, offset: number, limit = bytes.length): Tlv {
  if (offset + 2 > limit) malformed('truncated header');
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) malformed('multi-byte tag');
  let length = bytes[offset + 1]!;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) malformed('unsupported length form');
    if (contentStart + count > limit) malformed('truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[contentStart + i]!;
    if (length < 0x80 || (count > 1 && bytes[contentStart] === 0)) malformed('non-minimal length');
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > limit) malformed('element runs past its container');
  return { tag, start: offset, contentStart, end };
}

/** The direct children of a constructed element. */
export function childrenOf(bytes: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const child = readTlv(bytes, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

/**
 * Runs `read`; a malformed-DER error from this reader (code `PODGATE_E_DER`) is handed to the
 * caller's `malformed` with its detail, so each format fails with one code of its own.
 */
export function readingDer<T>(read: () => T, malformed: (detail: string, cause: unknown) => never): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof IdentityError && e.code === DER_ERROR) malformed(e.message.replace(/^malformed DER: /, ''), e);
    throw e;
  }
}
