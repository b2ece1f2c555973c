import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IdentityError } from '../errors.js';
import { makeChain } from '../testing.js';
import { KeyUsage, parseCertificate, parseCertificates, signedBy, type Certificate } from './certificate.js';
import { decodePem } from './pem.js';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), '../../../../../shared/fixtures/spiffe/go-spiffe');
const SVID_DIR = join(FIXTURES, 'svid/x509svid/testdata');
const NOW = new Date('2026-03-01T12:00:00Z');

const fixtureCerts = readdirSync(SVID_DIR)
  .filter((f) => f.startsWith('good') || f.startsWith('wrong'))
  .flatMap((f) => decodePem(readFileSync(join(SVID_DIR, f))).filter((b) => b.type === 'CERTIFICATE').map((b, i) => ({ name: `${f}#${i}`, der: b.der })));

test('fields agree with Node X509Certificate (OpenSSL) for every fixture certificate', () => {
  assert.ok(fixtureCerts.length >= 14);
  for (const { name, der } of fixtureCerts) {
    const ours = parseCertificate(der);
    const openssl = new X509Certificate(der);
    assert.equal(ours.serial, BigInt('0x' + openssl.serialNumber), name);
    assert.equal(BigInt('0x' + ours.serialHex), ours.serial, name);
    assert.equal(ours.notBefore.getTime(), new Date(openssl.validFrom).getTime(), name);
    assert.equal(ours.notAfter.getTime(), new Date(openssl.validTo).getTime(), name);
    // OpenSSL's `ca` also demands keyCertSign when key usage is present; ours is the basic-constraints flag, as Go's IsCA.
    if ((ours.keyUsage ?? KeyUsage.keyCertSign) & KeyUsage.keyCertSign) assert.equal(ours.isCA, openssl.ca, name);
    assert.ok(ours.publicKey.equals(openssl.publicKey), name);
    assert.deepEqual(ours.uris, (openssl.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4)), name);
    assert.deepEqual(ours.extKeyUsage, openssl.keyUsage, name);
    assert.equal(ours.subject.replace(/, /g, '\n'), openssl.subject, name);
    assert.ok(ours.der.equals(der) && ours.tbs.length < der.length, name);
  }
});

test('key usage flags and extensions from the fixtures', () => {
  const table: { file: string; keyUsage: number; isCA: boolean; uris: string[] }[] = [
    { file: 'good-leaf-only.pem', keyUsage: KeyUsage.digitalSignature, isCA: false, uris: ['spiffe://example.org/workload-1'] },
    { file: 'good-key-and-cert.pem', keyUsage: KeyUsage.digitalSignature | KeyUsage.keyEncipherment | KeyUsage.keyAgreement, isCA: false, uris: ['spiffe://example.org/workload-1'] },
    { file: 'wrong-leaf-no-digital-signature.pem', keyUsage: KeyUsage.keyCertSign | KeyUsage.cRLSign, isCA: false, uris: ['spiffe://example.org/workload-1'] },
    { file: 'wrong-leaf-ca-true.pem', keyUsage: KeyUsage.digitalSignature, isCA: true, uris: ['spiffe://example.org/workload-1'] },
    { file: 'wrong-leaf-empty-id.pem', keyUsage: KeyUsage.digitalSignature, isCA: false, uris: [] },
  ];
  for (const row of table) {
    const [leaf] = parseCertificates(readFileSync(join(SVID_DIR, row.file)));
    assert.equal(leaf?.keyUsage, row.keyUsage, row.file);
    assert.equal(leaf?.isCA, row.isCA, row.file);
    assert.equal(leaf?.hasBasicConstraints, true, row.file);
    assert.deepEqual(leaf?.uris, row.uris, row.file);
  }
  const [leaf, intermediate] = parseCertificates(readFileSync(join(SVID_DIR, 'good-leaf-and-intermediate.pem')));
  assert.equal(leaf?.authorityKeyId, intermediate?.subjectKeyId);
  assert.ok(signedBy(leaf!, intermediate!));
  assert.ok(!signedBy(intermediate!, leaf!));
});

test('signature checks: right issuer, wrong issuer, broken signature', () => {
  const good = makeChain({ trustDomain: 'example.org', now: NOW });
  const broken = makeChain({ trustDomain: 'example.org', now: NOW, leaf: { breakSignature: true } });
  assert.ok(signedBy(good.leaf.cert, good.intermediate.cert));
  assert.ok(signedBy(good.root.cert, good.root.cert));
  assert.ok(!signedBy(good.leaf.cert, good.root.cert));
  assert.ok(!signedBy(broken.leaf.cert, broken.intermediate.cert));
  const unsupported: Certificate = { ...good.leaf.cert, signatureAlgorithm: '1.2.840.113549.1.1.5' };
  assert.ok(!signedBy(unsupported, good.intermediate.cert), 'SHA-1 RSA is refused');
});

test('every truncation and many byte flips of a certificate give a certificate or PODGATE_E_X509_*, never a raw exception', () => {
  const { der } = makeChain({ trustDomain: 'example.org', now: NOW }).leaf;
  const inputs: Buffer[] = [];
  for (let len = 0; len < der.length; len++) inputs.push(der.subarray(0, len));
  for (let i = 0; i < der.length; i += 3) {
    const flipped = Buffer.from(der);
    flipped[i] = flipped[i]! ^ 0xff;
    inputs.push(flipped);
  }
  inputs.push(Buffer.concat([der, Buffer.from([0])]));
  for (const [i, input] of inputs.entries()) {
    try {
      parseCertificate(input);
    } catch (e) {
      assert.ok(e instanceof IdentityError && e.code.startsWith('PODGATE_E_X509_'), `input ${i}: ${String(e)}`);
    }
  }
  assert.throws(() => parseCertificate(Buffer.concat([der, Buffer.from([0])])), (e: unknown) => e instanceof IdentityError && e.code === 'PODGATE_E_X509_MALFORMED', 'trailing data');
  assert.throws(() => parseCertificate(der.subarray(0, 100)), (e: unknown) => e instanceof IdentityError && e.message.startsWith('x509: malformed certificate'));
});

test('a length in non-minimal long form (BER, not DER) is malformed', () => {
  const { der } = makeChain({ trustDomain: 'example.org', now: NOW }).leaf;
  const length = der.length - 4; // a leaf is 256 bytes to 64 KiB: header 30 82 hi lo
  assert.equal(der[1], 0x82);
  const ber = Buffer.concat([Buffer.of(0x30, 0x83, 0, length >> 8, length & 0xff), der.subarray(4)]);
  assert.throws(() => parseCertificate(ber), (e: unknown) => e instanceof IdentityError && e.code === 'PODGATE_E_X509_MALFORMED' && /non-minimal length/.test(e.message));
});

test('parseCertificates reads PEM and concatenated DER', () => {
  const c = makeChain({ trustDomain: 'example.org', now: NOW });
  const fromPem = parseCertificates(c.leaf.pem + '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' + c.intermediate.pem);
  assert.deepEqual(fromPem.map((x) => x.serial), [c.leaf.cert.serial, c.intermediate.cert.serial]);
  const fromDer = parseCertificates(Buffer.concat([c.leaf.der, c.intermediate.der]));
  assert.deepEqual(fromDer.map((x) => x.serialHex), [c.leaf.cert.serialHex, c.intermediate.cert.serialHex]);
  assert.deepEqual(parseCertificates('no pem here'), []);
  assert.ok(Object.isFrozen(fromPem[0]));
});
