import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IdentityError } from '../errors.js';
import { TrustDomain } from '../spiffe-id.js';
import { makeChain } from '../testing.js';
import { BundleSet, X509Bundle } from './x509-bundle.js';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), '../../../../../shared/fixtures/spiffe');
const td = TrustDomain.parse('example.org');

interface FixtureCase {
  file: string;
  api: string | null;
  accepted: boolean | null;
  expectedErrorContains: string | null;
  test: string | null;
  expect?: { expNumAuthorities?: number };
}

const cases = (JSON.parse(readFileSync(join(FIXTURES, 'cases.json'), 'utf8')) as { cases: FixtureCase[] }).cases.filter((c) => c.api === 'x509bundle.Parse');

test('every go-spiffe x509bundle.Parse fixture case', () => {
  assert.equal(cases.length, 5);
  const codes: Record<string, string> = { 'not-pem.pem': 'PODGATE_E_PEM_NO_BLOCKS', 'corrupted.pem': 'PODGATE_E_X509_MALFORMED' };
  for (const c of cases) {
    const input = readFileSync(join(FIXTURES, 'go-spiffe', c.file));
    if (c.accepted) {
      const bundle = X509Bundle.parse(td, input);
      assert.equal(bundle.authorities.length, c.expect?.expNumAuthorities, c.test ?? c.file);
      assert.equal(X509Bundle.parse(td, bundle.toPem()).authorities.length, bundle.authorities.length, `${c.file} round trip`);
      continue;
    }
    const name = c.file.split('/').pop()!;
    assert.throws(
      () => X509Bundle.parse(td, input),
      (e: unknown) => e instanceof IdentityError && e.message.includes(c.expectedErrorContains!) && e.code === codes[name],
      c.test ?? c.file,
    );
  }
  // key.pem holds only a PRIVATE KEY block: blocks were found, no certificate, so an empty bundle as in go-spiffe.
  assert.equal(X509Bundle.parse(td, readFileSync(join(FIXTURES, 'go-spiffe/bundle/x509bundle/testdata/key.pem'))).authorities.length, 0);
});

test('bundles are values: with/without, lookup by subject, sets per trust domain', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const a = makeChain({ trustDomain: 'example.org', now });
  const b = makeChain({ trustDomain: 'other.org', now });
  const empty = X509Bundle.of(td, []);
  const one = empty.withAuthority(a.root.cert);
  assert.equal(empty.authorities.length, 0);
  assert.equal(one.withAuthority(a.root.cert), one, 'adding a present authority changes nothing');
  const two = one.withAuthority(a.intermediate.cert);
  assert.equal(two.authorities.length, 2);
  assert.ok(two.withoutAuthority(a.intermediate.cert).equals(one));
  assert.deepEqual(two.authoritiesWithSubject(a.intermediate.cert.issuerDer), [a.root.cert]);
  assert.deepEqual(two.authoritiesWithSubject(b.root.cert.subjectDer).length, 1, 'CN=root of the other chain has the same subject DER');
  assert.equal(X509Bundle.of(td, [a.root.cert, a.root.cert]).authorities.length, 1);
  assert.throws(() => (two.authorities as unknown as unknown[]).push(a.leaf.cert));

  const other = X509Bundle.of(TrustDomain.parse('other.org'), [b.root.cert]);
  const set = new BundleSet([one, other]);
  assert.equal(set.getX509BundleForTrustDomain(td), one);
  assert.equal(set.getX509BundleForTrustDomain(TrustDomain.parse('other.org')), other);
  assert.equal(set.getX509BundleForTrustDomain(TrustDomain.parse('third.org')), undefined);
  assert.equal(one.getX509BundleForTrustDomain(TrustDomain.parse('other.org')), undefined);
  set.delete(td);
  assert.equal(set.size, 1);
});
