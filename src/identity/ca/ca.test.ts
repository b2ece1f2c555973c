import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { opensslMissing, Scratch } from '../openssl-testing.js';
import { TrustDomain } from '../spiffe-id.js';
import { HOUR, makeCertificate, makeChain, thrownCode, type TestCert } from '../testing.js';
import { KeyUsage, signedBy } from '../x509/certificate.js';
import { encodePem } from '../x509/pem.js';
import { caToPem, createRootCa, loadCa, MAX_SERIAL } from './ca.js';

const td = TrustDomain.parse('example.org');
const NOW = Date.parse('2030-03-01T12:00:00.250Z');
const DAY = 24 * HOUR;
const scratch = new Scratch();
after(() => scratch.cleanup());

const keyPem = (cert: TestCert): string => cert.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('createRootCa', () => {
  const ca = createRootCa({ trustDomain: td, now: NOW, ttlMs: 30 * DAY, serial: 7n });
  const cert = ca.certificate;

  it('is a self-signed SPIFFE signing certificate', () => {
    assert.equal(cert.isCA, true);
    assert.equal(cert.hasBasicConstraints, true);
    assert.equal(cert.keyUsage, KeyUsage.keyCertSign | KeyUsage.cRLSign);
    assert.equal(cert.keyUsageCritical, true);
    assert.deepEqual(cert.uris, ['spiffe://example.org']);
    assert.ok(cert.subjectKeyId !== undefined && cert.subjectKeyId === cert.authorityKeyId);
    assert.ok(cert.subjectDer.equals(cert.issuerDer));
    assert.ok(signedBy(cert, cert));
    assert.equal(cert.serial, 7n);
    assert.equal(ca.keyType, 'ecdsa-p256');
    assert.deepEqual(ca.intermediates, []);
    assert.deepEqual(ca.roots, [cert]);
  });

  it('backdates NotBefore by 30 s and truncates to whole seconds', () => {
    assert.equal(cert.notBefore.toISOString(), '2030-03-01T11:59:30.000Z');
    assert.equal(cert.notAfter.toISOString(), '2030-03-31T12:00:00.000Z');
    assert.deepEqual(ca.notAfter, cert.notAfter);
  });

  it('shows the required fields in openssl x509 -text', { skip: opensslMissing }, () => {
    scratch.write('root.pem', encodePem('CERTIFICATE', cert.der));
    const text = scratch.opensslOk('x509', '-in', 'root.pem', '-text', '-noout');
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE/);
    assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
    assert.match(text, /URI:spiffe:\/\/example\.org\n/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /Subject Key Identifier/);
  });

  it('uses a caller-supplied key and gives successive roots distinct subjects', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    const other = createRootCa({ trustDomain: td, now: NOW, ttlMs: DAY, key });
    assert.equal(other.keyType, 'ecdsa-p384');
    assert.equal(other.certificate.signatureAlgorithm, '1.2.840.10045.4.3.3');
    assert.ok(!other.certificate.subjectDer.equals(cert.subjectDer));
  });

  const refused: { name: string; options: Partial<Parameters<typeof createRootCa>[0]>; want: string }[] = [
    { name: 'TTL under a minute', options: { ttlMs: 1000 }, want: 'PODGATE_E_CA_TTL' },
    { name: 'NaN TTL', options: { ttlMs: Number.NaN }, want: 'PODGATE_E_CA_TTL' },
    { name: 'P-521 key', options: { key: generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey }, want: 'PODGATE_E_CA_KEY_TYPE' },
    { name: 'zero serial', options: { serial: 0n }, want: 'PODGATE_E_CA_INVALID' },
    { name: '21-octet serial', options: { serial: MAX_SERIAL + 1n }, want: 'PODGATE_E_CA_INVALID' },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => {
      assert.equal(thrownCode(() => createRootCa({ trustDomain: td, now: NOW, ttlMs: DAY, ...c.options })), c.want);
    });
  }
});

describe('loadCa', () => {
  const now = new Date(NOW);
  const chain = makeChain({ trustDomain: 'example.org', now });
  const { root, intermediate } = chain;

  it('loads an intermediate with its root appended', () => {
    const ca = loadCa({ trustDomain: td, certificatesPem: intermediate.pem + root.pem, keyPem: keyPem(intermediate), now });
    assert.ok(ca.certificate.der.equals(intermediate.der));
    assert.deepEqual(ca.intermediates.map((c) => c.der), [intermediate.der]);
    assert.deepEqual(ca.roots.map((c) => c.der), [root.der]);
  });

  it('loads an intermediate whose root comes as the bundle, clamping NotAfter to the chain', () => {
    const shortRoot = makeCertificate({ commonName: 'short root', isCA: true, keyUsage: KeyUsage.keyCertSign, notBefore: new Date(NOW - HOUR), notAfter: new Date(NOW + 2 * HOUR) });
    const longIntermediate = makeCertificate({ commonName: 'long int', isCA: true, keyUsage: KeyUsage.keyCertSign, issuer: shortRoot, notBefore: new Date(NOW - HOUR), notAfter: new Date(NOW + 10 * HOUR) });
    const ca = loadCa({ trustDomain: td, certificatesPem: longIntermediate.pem, bundlePem: shortRoot.pem, keyPem: keyPem(longIntermediate), now });
    assert.equal(ca.notAfter.getTime(), Math.floor((NOW + 2 * HOUR) / 1000) * 1000);
    assert.deepEqual(ca.roots.map((c) => c.der), [shortRoot.der]);
  });

  it('round-trips through caToPem', () => {
    const original = createRootCa({ trustDomain: td, now: NOW, ttlMs: DAY });
    const pem = caToPem(original);
    const loaded = loadCa({ trustDomain: td, certificatesPem: pem.certificatesPem, bundlePem: pem.rootsPem, keyPem: pem.keyPem });
    assert.ok(loaded.certificate.der.equals(original.certificate.der));
    assert.equal(loaded.roots.length, 1);
    assert.deepEqual(loaded.intermediates, []);
    assert.ok(loaded.privateKey.equals(original.privateKey));
  });

  const foreign = makeChain({ trustDomain: 'other.org', now });
  const leafCert = chain.leaf;
  const noCertSign = makeCertificate({ commonName: 'no sign', isCA: true, keyUsage: KeyUsage.cRLSign, issuer: root, notBefore: new Date(NOW - HOUR), notAfter: new Date(NOW + HOUR) });
  const expired = makeCertificate({ commonName: 'old', isCA: true, keyUsage: KeyUsage.keyCertSign, issuer: root, notBefore: new Date(NOW - 3 * HOUR), notAfter: new Date(NOW - HOUR) });
  const future = makeCertificate({ commonName: 'future', isCA: true, keyUsage: KeyUsage.keyCertSign, issuer: root, notBefore: new Date(NOW + HOUR), notAfter: new Date(NOW + 3 * HOUR) });
  const critical = makeCertificate({ commonName: 'crit', isCA: true, keyUsage: KeyUsage.keyCertSign, issuer: root, unknownCritical: ['1.2.3.4'], notBefore: new Date(NOW - HOUR), notAfter: new Date(NOW + HOUR) });
  const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
  const p521Ca = makeCertificate({ commonName: 'p521', isCA: true, keyUsage: KeyUsage.keyCertSign, issuer: root, keyPair: p521, notBefore: new Date(NOW - HOUR), notAfter: new Date(NOW + HOUR) });

  const cases: { name: string; certs: string; key: string; bundle?: string; want: string }[] = [
    { name: 'no certificate', certs: 'not pem', key: keyPem(intermediate), want: 'PODGATE_E_CA_INVALID' },
    { name: 'corrupt certificate', certs: encodePem('CERTIFICATE', intermediate.der.subarray(0, 120)) + root.pem, key: keyPem(intermediate), want: 'PODGATE_E_CA_INVALID' },
    { name: 'garbage key', certs: intermediate.pem + root.pem, key: 'nope', want: 'PODGATE_E_CA_KEY_INVALID' },
    { name: 'key of another certificate', certs: intermediate.pem + root.pem, key: keyPem(root), want: 'PODGATE_E_CA_KEY_MISMATCH' },
    { name: 'a leaf (CA:FALSE)', certs: leafCert.pem + intermediate.pem + root.pem, key: keyPem(leafCert), want: 'PODGATE_E_CA_INVALID' },
    { name: 'no keyCertSign', certs: noCertSign.pem + root.pem, key: keyPem(noCertSign), want: 'PODGATE_E_CA_INVALID' },
    { name: 'unknown critical extension', certs: critical.pem + root.pem, key: keyPem(critical), want: 'PODGATE_E_CA_INVALID' },
    { name: 'unsupported CA key', certs: p521Ca.pem + root.pem, key: p521.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), want: 'PODGATE_E_CA_KEY_TYPE' },
    { name: 'another trust domain', certs: foreign.intermediate.pem + foreign.root.pem, key: keyPem(foreign.intermediate), want: 'PODGATE_E_CA_TRUST_DOMAIN' },
    { name: 'chain out of order', certs: intermediate.pem + foreign.root.pem, key: keyPem(intermediate), want: 'PODGATE_E_CA_CHAIN' },
    { name: 'no root', certs: intermediate.pem, key: keyPem(intermediate), want: 'PODGATE_E_CA_NO_ROOT' },
    { name: 'unrelated bundle', certs: intermediate.pem, key: keyPem(intermediate), bundle: foreign.root.pem, want: 'PODGATE_E_CA_NO_ROOT' },
    { name: 'expired', certs: expired.pem + root.pem, key: keyPem(expired), want: 'PODGATE_E_CA_EXPIRED' },
    { name: 'not yet valid', certs: future.pem + root.pem, key: keyPem(future), want: 'PODGATE_E_CA_NOT_YET_VALID' },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} → ${c.want}`, () => {
      const options = { trustDomain: td, certificatesPem: c.certs, keyPem: c.key, now, ...(c.bundle === undefined ? {} : { bundlePem: c.bundle }) };
      assert.equal(thrownCode(() => loadCa(options)), c.want);
    });
  }
});
