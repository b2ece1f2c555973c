import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { opensslMissing, Scratch } from '../openssl-testing.js';
import { SpiffeId, TrustDomain } from '../spiffe-id.js';
import { checkSvidShape, parseX509Svid, svidSpecViolations } from '../svid/x509-svid.js';
import { KeyUsage, parseCertificate, signedBy } from '../x509/certificate.js';
import { createCsr, parseCsr } from '../x509/csr.js';
import { encodePem } from '../x509/pem.js';
import { createRootCa, loadCa, MAX_SERIAL, type CertificateAuthority } from './ca.js';
import { signSvid, type SignSvidOptions } from './sign.js';
import { thrownCode } from '../testing.js';

const td = TrustDomain.parse('example.org');
const id = SpiffeId.parse('spiffe://example.org/ns/shop/sa/cart');
const NOW = Date.parse('2030-03-01T12:00:00.700Z');
const HOUR = 3_600_000;
const scratch = new Scratch();
after(() => scratch.cleanup());

const root = createRootCa({ trustDomain: td, now: NOW - 24 * HOUR, ttlMs: 30 * 24 * HOUR });
scratch.write('root.pem', encodePem('CERTIFICATE', root.certificate.der));

const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const p256Csr = createCsr(p256, id);

function sign(overrides: Partial<SignSvidOptions> = {}) {
  return signSvid({ ca: root, csrDer: p256Csr, id, ttlMs: HOUR, now: NOW, serial: 42n, ...overrides });
}

describe('signSvid: certificate shape', () => {
  const keyTypes: { name: string; key: KeyObject; keyUsage: number; opensslUsage: string }[] = [
    { name: 'ECDSA P-256', key: p256, keyUsage: KeyUsage.digitalSignature, opensslUsage: 'Digital Signature\n' },
    { name: 'ECDSA P-384', key: generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, keyUsage: KeyUsage.digitalSignature, opensslUsage: 'Digital Signature\n' },
    { name: 'RSA 2048', key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, keyUsage: KeyUsage.digitalSignature | KeyUsage.keyEncipherment, opensslUsage: 'Digital Signature, Key Encipherment\n' },
    { name: 'Ed25519', key: generateKeyPairSync('ed25519').privateKey, keyUsage: KeyUsage.digitalSignature, opensslUsage: 'Digital Signature\n' },
  ];
  keyTypes.forEach((c, i) => {
    it(`${c.name}: every X509-SVID MUST holds, openssl agrees`, async (t) => {
      const svid = signSvid({ ca: root, csrDer: createCsr(c.key, id), id, ttlMs: HOUR, now: NOW, serial: 1000n + BigInt(i) });
      const cert = parseCertificate(svid.der);
      assert.deepEqual(cert.uris, [id.toString()]);
      assert.equal(cert.isCA, false);
      assert.equal(cert.hasBasicConstraints, true);
      assert.equal(cert.keyUsage, c.keyUsage);
      assert.equal(cert.keyUsageCritical, true);
      assert.deepEqual(cert.extKeyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
      assert.equal(cert.authorityKeyId, root.certificate.subjectKeyId);
      assert.ok(cert.subjectKeyId !== undefined);
      assert.equal(cert.serial, 1000n + BigInt(i));
      assert.ok(cert.spki.equals(createPublicKey(c.key).export({ type: 'spki', format: 'der' })));
      assert.ok(signedBy(cert, root.certificate));
      assert.ok(cert.issuerDer.equals(root.certificate.subjectDer));
      assert.equal(checkSvidShape([cert]).toString(), id.toString());
      assert.deepEqual(svidSpecViolations([cert]), []);
      assert.deepEqual(svid.chain, [svid.der]);

      await t.test('openssl x509 -text and verify agree', { skip: opensslMissing }, () => {
        scratch.write(`svid${i}.pem`, encodePem('CERTIFICATE', svid.der));
        const text = scratch.opensslOk('x509', '-in', `svid${i}.pem`, '-text', '-noout');
        assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
        assert.ok(text.includes(`Key Usage: critical\n                ${c.opensslUsage}`), text);
        assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
        assert.equal(text.match(/URI:/g)?.length, 1);
        assert.match(text, /URI:spiffe:\/\/example\.org\/ns\/shop\/sa\/cart/);
        assert.doesNotMatch(text, /Certificate Sign|CRL Sign/);
        // openssl's verify uses the real clock; the root's window covers it only if NOW is near now, so pin the time.
        const verify = scratch.openssl('verify', '-attime', String(Math.floor(NOW / 1000)), '-CAfile', 'root.pem', `svid${i}.pem`);
        assert.equal(verify.status, 0, verify.stderr + verify.stdout);
      });
    });
  });

  it('backdates NotBefore 30 s and sets NotAfter to now + TTL, in whole seconds', () => {
    const svid = sign();
    assert.equal(svid.notBefore.toISOString(), '2030-03-01T11:59:30.000Z');
    assert.equal(svid.notAfter.toISOString(), '2030-03-01T13:00:00.000Z');
    const cert = parseCertificate(svid.der);
    assert.deepEqual(cert.notBefore, svid.notBefore);
    assert.deepEqual(cert.notAfter, svid.notAfter);
  });

  it('clamps NotAfter to the CA and NotBefore to the CA', () => {
    const shortCa = createRootCa({ trustDomain: td, now: NOW, ttlMs: 10 * 60_000 });
    const late = signSvid({ ca: shortCa, csrDer: p256Csr, id, ttlMs: HOUR, now: NOW + 5 * 60_000, serial: 1n });
    assert.deepEqual(late.notAfter, shortCa.notAfter);
    const early = signSvid({ ca: shortCa, csrDer: p256Csr, id, ttlMs: HOUR, now: shortCa.notBefore.getTime() + 1000, serial: 2n });
    assert.deepEqual(early.notBefore, shortCa.notBefore);
  });

  it('accepts a CSR without URI SAN (made by openssl) and puts the granted ID in', { skip: opensslMissing }, () => {
    scratch.opensslOk('req', '-new', '-key', scratch.write('nosan.key', p256.export({ type: 'pkcs8', format: 'pem' })), '-subj', '/O=x', '-outform', 'DER', '-out', 'nosan.csr');
    const svid = sign({ csrDer: scratch.read('nosan.csr') });
    assert.deepEqual(parseCertificate(svid.der).uris, [id.toString()]);
  });

  it('accepts a pre-parsed CSR and a 20-octet serial', () => {
    const svid = sign({ csrDer: parseCsr(p256Csr), serial: MAX_SERIAL });
    assert.equal(parseCertificate(svid.der).serial, MAX_SERIAL);
  });

  it('self-check: 200 signatures in a row are all distinct, well-formed and verify', () => {
    const csr = parseCsr(p256Csr);
    const seen = new Set<string>();
    for (let serial = 1n; serial <= 200n; serial++) {
      const cert = parseCertificate(signSvid({ ca: root, csrDer: csr, id, ttlMs: HOUR, now: NOW, serial }).der);
      assert.equal(cert.serial, serial);
      assert.ok(signedBy(cert, root.certificate));
      seen.add(cert.der.toString('hex'));
    }
    assert.equal(seen.size, 200);
  });

  it('parseX509Svid accepts the chain with its key', () => {
    const svid = parseX509Svid(encodePem('CERTIFICATE', sign().der), p256.export({ type: 'pkcs8', format: 'pem' }).toString());
    assert.equal(svid.id.toString(), id.toString());
  });
});

describe('signSvid: refusals never yield a certificate', () => {
  const other = SpiffeId.parse('spiffe://example.org/ns/shop/sa/admin');
  const expiredCa = createRootCa({ trustDomain: td, now: NOW - 2 * HOUR, ttlMs: HOUR });
  const cases: { name: string; options: Partial<SignSvidOptions>; want: string }[] = [
    { name: 'CSR asks for another ID', options: { csrDer: createCsr(p256, other) }, want: 'PODGATE_E_CSR_ID_MISMATCH' },
    { name: 'CSR is garbage', options: { csrDer: Buffer.from('garbage') }, want: 'PODGATE_E_CSR_MALFORMED' },
    { name: 'ID of another trust domain', options: { id: SpiffeId.parse('spiffe://other.org/ns/shop/sa/cart') }, want: 'PODGATE_E_ISSUE_ID' },
    { name: 'trust domain root ID', options: { id: SpiffeId.parse('spiffe://example.org') }, want: 'PODGATE_E_ISSUE_ID' },
    { name: 'zero serial', options: { serial: 0n }, want: 'PODGATE_E_ISSUE_SERIAL' },
    { name: 'negative serial', options: { serial: -5n }, want: 'PODGATE_E_ISSUE_SERIAL' },
    { name: '21-octet serial', options: { serial: MAX_SERIAL + 1n }, want: 'PODGATE_E_ISSUE_SERIAL' },
    { name: 'zero TTL', options: { ttlMs: 0 }, want: 'PODGATE_E_ISSUE_TTL' },
    { name: 'infinite TTL', options: { ttlMs: Number.POSITIVE_INFINITY }, want: 'PODGATE_E_ISSUE_TTL' },
    { name: 'expired CA', options: { ca: expiredCa }, want: 'PODGATE_E_CA_EXPIRED' },
    { name: 'CA not valid yet', options: { now: root.notBefore.getTime() - 1000 }, want: 'PODGATE_E_CA_NOT_YET_VALID' },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.want}`, () => {
      assert.equal(thrownCode(() => sign(c.options)), c.want);
    });
  }
  // createCsr asks for one ID at most, so openssl writes this CSR.
  it('CSR asks for two IDs → PODGATE_E_CSR_ID_MISMATCH', { skip: opensslMissing }, () => {
    scratch.write('two.key', p256.export({ type: 'pkcs8', format: 'pem' }));
    scratch.opensslOk('req', '-new', '-key', 'two.key', '-subj', '/O=x', '-addext', `subjectAltName=URI:${id},URI:${other}`, '-outform', 'DER', '-out', 'two.csr');
    assert.equal(thrownCode(() => sign({ csrDer: scratch.read('two.csr') })), 'PODGATE_E_CSR_ID_MISMATCH');
  });
});

describe('signSvid with an operator-supplied intermediate made by openssl', { skip: opensslMissing }, () => {
  it('openssl verify -CAfile root -untrusted intermediate passes', () => {
    const s = scratch;
    s.write('ext.cnf', '[int]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nsubjectAltName=URI:spiffe://example.org\n');
    s.opensslOk('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'op-root.key', '-out', 'op-root.pem', '-subj', '/O=Operator/CN=Root', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    s.opensslOk('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'op-int.key', '-out', 'op-int.csr', '-subj', '/O=Operator/CN=Intermediate');
    s.opensslOk('x509', '-req', '-in', 'op-int.csr', '-CA', 'op-root.pem', '-CAkey', 'op-root.key', '-set_serial', '77', '-out', 'op-int.pem', '-days', '10', '-extfile', 'ext.cnf', '-extensions', 'int');
    // The operator's certificates carry the real current time, so this test signs at the real time.
    const now = Date.now();
    const ca: CertificateAuthority = loadCa({ trustDomain: td, certificatesPem: s.read('op-int.pem'), bundlePem: s.read('op-root.pem'), keyPem: s.read('op-int.key'), now });
    assert.equal(ca.keyType, 'rsa-2048');
    const svid = signSvid({ ca, csrDer: p256Csr, id, ttlMs: HOUR, now, serial: 9n });
    assert.equal(svid.chain.length, 2);
    assert.ok(svid.chain[1]!.equals(ca.certificate.der));
    assert.equal(parseCertificate(svid.der).signatureAlgorithm, '1.2.840.113549.1.1.11');
    s.write('op-svid.pem', encodePem('CERTIFICATE', svid.der));
    const ok = s.openssl('verify', '-CAfile', 'op-root.pem', '-untrusted', 'op-int.pem', 'op-svid.pem');
    assert.equal(ok.status, 0, ok.stderr + ok.stdout);
    const withoutIntermediate = s.openssl('verify', '-CAfile', 'op-root.pem', 'op-svid.pem');
    assert.notEqual(withoutIntermediate.status, 0);
  });
});
