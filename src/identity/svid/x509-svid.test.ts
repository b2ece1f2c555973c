import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IdentityError } from '../errors.js';
import { SpiffeId } from '../spiffe-id.js';
import { parseCertificates } from '../x509/certificate.js';
import { checkSvidShape, marshalX509Svid, parseX509Svid, svidSpecViolations } from './x509-svid.js';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), '../../../../../shared/fixtures/spiffe');

interface FixtureCase {
  file: string;
  role: string;
  api: string | null;
  pairedWith: string | null;
  accepted: boolean | null;
  expectedErrorContains: string | null;
  test: string | null;
  expect?: { expID?: string; expNumCerts?: number };
}

const allCases = (JSON.parse(readFileSync(join(FIXTURES, 'cases.json'), 'utf8')) as { cases: FixtureCase[] }).cases;
const svidCases = allCases.filter((c) => c.api?.startsWith('x509svid.Parse'));
const fixture = (path: string): Buffer => readFileSync(join(FIXTURES, 'go-spiffe', path));

// Expected substrings whose tail is Go stdlib text: we match go-spiffe's prefix and pin our own code.
const GO_STDLIB_TAILS: Record<string, { prefix: string; code: string }> = {
  'x509svid: cannot parse PEM encoded private key: asn1: structure error:': {
    prefix: 'x509svid: cannot parse PEM encoded private key: ',
    code: 'PODGATE_E_KEY_MALFORMED',
  },
};

const EXPECTED_CODES: Record<string, string> = {
  'no certificates found': 'PODGATE_E_SVID_NO_CERTIFICATES',
  'no private key found': 'PODGATE_E_SVID_NO_PRIVATE_KEY',
  'no PEM blocks found': 'PODGATE_E_PEM_NO_BLOCKS',
  'x509: malformed certificate': 'PODGATE_E_X509_MALFORMED',
  'does not match private key': 'PODGATE_E_SVID_KEY_MISMATCH',
  'contains no URI SAN': 'PODGATE_E_SVID_NO_URI_SAN',
  'leaf certificate must not have CA flag': 'PODGATE_E_SVID_LEAF_CA',
  "must have 'digitalSignature'": 'PODGATE_E_SVID_LEAF_NO_DIGITAL_SIGNATURE',
  "must not have 'keyCertSign'": 'PODGATE_E_SVID_LEAF_KEY_CERT_SIGN',
  "must not have 'cRLSign'": 'PODGATE_E_SVID_LEAF_CRL_SIGN',
  'signing certificate must have CA flag': 'PODGATE_E_SVID_SIGNING_NOT_CA',
  "signing certificate must have 'keyCertSign'": 'PODGATE_E_SVID_SIGNING_NO_KEY_CERT_SIGN',
};

test('every go-spiffe x509svid.Parse fixture case is accepted or rejected as go-spiffe does', () => {
  assert.equal(svidCases.length, 20);
  for (const c of svidCases) {
    const certsFile = c.role.startsWith('key') ? c.pairedWith! : c.file;
    const keyFile = c.role.startsWith('key') ? c.file : c.pairedWith!;
    const label = `${c.test}: ${certsFile} + ${keyFile}`;
    let result: ReturnType<typeof parseX509Svid> | undefined;
    let error: unknown;
    try {
      result = parseX509Svid(fixture(certsFile), fixture(keyFile));
    } catch (e) {
      error = e;
    }
    if (c.accepted) {
      assert.equal(error, undefined, label);
      if (c.expect?.expID !== undefined) assert.equal(result?.id.toString(), c.expect.expID, label);
      if (c.expect?.expNumCerts !== undefined) assert.equal(result?.certificates.length, c.expect.expNumCerts, label);
      continue;
    }
    assert.ok(error instanceof IdentityError, `${label}: ${String(error)}`);
    const expected = c.expectedErrorContains!;
    const tail = GO_STDLIB_TAILS[expected];
    if (tail) {
      assert.ok(error.message.startsWith(tail.prefix), `${label}: ${error.message}`);
      assert.equal(error.code, tail.code, label);
      continue;
    }
    assert.ok(error.message.includes(expected), `${label}: "${error.message}" should contain "${expected}"`);
    const code = Object.entries(EXPECTED_CODES).find(([needle]) => expected.includes(needle))?.[1];
    assert.equal(error.code, code, label);
  }
});

test('checkSvidShape and the spec report agree on the fixture defects', () => {
  const table: { file: string; code: string | undefined }[] = [
    { file: 'good-leaf-only.pem', code: undefined },
    { file: 'good-leaf-and-intermediate.pem', code: undefined },
    { file: 'wrong-leaf-empty-id.pem', code: 'PODGATE_E_SVID_NO_URI_SAN' },
    { file: 'wrong-leaf-ca-true.pem', code: 'PODGATE_E_SVID_LEAF_CA' },
    { file: 'wrong-leaf-no-digital-signature.pem', code: 'PODGATE_E_SVID_LEAF_NO_DIGITAL_SIGNATURE' },
    { file: 'wrong-leaf-cert-sign.pem', code: 'PODGATE_E_SVID_LEAF_KEY_CERT_SIGN' },
    { file: 'wrong-leaf-crl-sign.pem', code: 'PODGATE_E_SVID_LEAF_CRL_SIGN' },
    { file: 'wrong-intermediate-no-ca.pem', code: 'PODGATE_E_SVID_SIGNING_NOT_CA' },
    { file: 'wrong-intermediate-no-key-cert-sign.pem', code: 'PODGATE_E_SVID_SIGNING_NO_KEY_CERT_SIGN' },
  ];
  for (const row of table) {
    const chain = parseCertificates(fixture(`svid/x509svid/testdata/${row.file}`));
    const codes = svidSpecViolations(chain).map((v) => v.code);
    if (row.code === undefined) {
      assert.ok(checkSvidShape(chain) instanceof SpiffeId, row.file);
      continue;
    }
    assert.throws(() => checkSvidShape(chain), (e: unknown) => e instanceof IdentityError && e.code === row.code && e.message.startsWith('x509svid: '), row.file);
    assert.ok(codes.includes(row.code), `${row.file}: ${codes.join(',')}`);
  }
  // go-spiffe stops at the first problem; the report lists the leaf's keyCertSign and cRLSign too.
  const both = svidSpecViolations(parseCertificates(fixture('svid/x509svid/testdata/wrong-leaf-no-digital-signature.pem'))).map((v) => v.code);
  assert.ok(both.includes('PODGATE_E_SVID_LEAF_KEY_CERT_SIGN') && both.includes('PODGATE_E_SVID_LEAF_CRL_SIGN'), both.join(','));
});

test('an SVID round-trips through marshal and parse', () => {
  const svid = parseX509Svid(fixture('svid/x509svid/testdata/good-leaf-and-intermediate.pem'), fixture('svid/x509svid/testdata/key-pkcs8-ecdsa.pem'));
  const { certificatesPem, keyPem } = marshalX509Svid(svid);
  const again = parseX509Svid(certificatesPem, keyPem);
  assert.ok(again.id.equals(svid.id));
  assert.deepEqual(
    again.certificates.map((c) => c.der),
    svid.certificates.map((c) => c.der),
  );
  assert.ok(parseX509Svid(certificatesPem + keyPem, certificatesPem + keyPem).id.equals(svid.id));
});

test('bad inputs give a code, never a crash', () => {
  const leaf = fixture('svid/x509svid/testdata/good-leaf-only.pem');
  const key = fixture('svid/x509svid/testdata/key-pkcs8-rsa.pem');
  const rows: { certs: string | Buffer; key: string | Buffer; code: string }[] = [
    { certs: '', key, code: 'PODGATE_E_PEM_NO_BLOCKS' },
    { certs: leaf, key: '', code: 'PODGATE_E_PEM_NO_BLOCKS' },
    { certs: '-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n', key, code: 'PODGATE_E_X509_MALFORMED' },
    { certs: leaf, key: '-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n', code: 'PODGATE_E_KEY_MALFORMED' },
    { certs: leaf.subarray(0, 300), key, code: 'PODGATE_E_PEM_NO_BLOCKS' },
  ];
  for (const [i, row] of rows.entries()) {
    assert.throws(() => parseX509Svid(row.certs, row.key), (e: unknown) => e instanceof IdentityError && e.code === row.code, `row ${i}`);
  }
});
