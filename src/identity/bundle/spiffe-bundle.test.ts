import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IdentityError } from '../errors.js';
import { TrustDomain } from '../spiffe-id.js';
import { makeChain } from '../testing.js';
import { SpiffeBundle, parseJwtBundle } from './spiffe-bundle.js';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), '../../../../../shared/fixtures/spiffe');
const td = TrustDomain.parse('example.org');

interface FixtureCase {
  file: string;
  api: string | null;
  accepted: boolean | null;
  expectedErrorContains: string | null;
  expect?: { keysCount?: number; witKeysCount?: number; refreshHint?: string; sequenceNumber?: number };
}

const cases = (JSON.parse(readFileSync(join(FIXTURES, 'cases.json'), 'utf8')) as { cases: FixtureCase[] }).cases;

const CODES: Record<string, string> = {
  'keyID cannot be empty': 'PODGATE_E_BUNDLE_MISSING_KID',
  'no authorities found': 'PODGATE_E_BUNDLE_NO_AUTHORITIES',
  'expected a single certificate': 'PODGATE_E_BUNDLE_X5C_COUNT',
};

function codeFor(message: string): string | undefined {
  return Object.entries(CODES).find(([needle]) => message.includes(needle))?.[1];
}

test('every go-spiffe spiffebundle and jwtbundle fixture case', () => {
  const spiffe = cases.filter((c) => c.api === 'spiffebundle.Load/Parse');
  const jwt = cases.filter((c) => c.api === 'jwtbundle.Load/Parse');
  assert.equal(spiffe.length, 6);
  assert.equal(jwt.length, 3);
  for (const c of [...spiffe, ...jwt]) {
    const input = readFileSync(join(FIXTURES, 'go-spiffe', c.file));
    const parse = c.api === 'jwtbundle.Load/Parse' ? () => parseJwtBundle(td, input).authorities.size : () => SpiffeBundle.parse(td, input);
    if (!c.accepted) {
      assert.throws(parse, (e: unknown) => e instanceof IdentityError && e.message.includes(c.expectedErrorContains!) && e.code === codeFor(c.expectedErrorContains!), c.file);
      continue;
    }
    if (c.api === 'jwtbundle.Load/Parse') {
      assert.equal(parseJwtBundle(td, input).authorities.size, c.expect?.keysCount, c.file);
      continue;
    }
    const bundle = SpiffeBundle.parse(td, input);
    assert.equal(bundle.jwtAuthorities.size, c.expect?.keysCount, c.file);
    assert.equal(bundle.witAuthorities.size, c.expect?.witKeysCount ?? 0, c.file);
    assert.equal(bundle.x509.authorities.length, 1, c.file);
    assert.equal(bundle.refreshHintSeconds, c.expect?.refreshHint === undefined ? undefined : Number.parseInt(c.expect.refreshHint, 10), c.file);
    assert.equal(bundle.sequenceNumber, c.expect?.sequenceNumber, c.file);
    const again = SpiffeBundle.parse(td, bundle.toJson());
    assert.ok(again.x509.equals(bundle.x509), `${c.file} round trip`);
    assert.deepEqual([...again.jwtAuthorities.keys()].sort(), [...bundle.jwtAuthorities.keys()].sort(), `${c.file} round trip`);
    assert.equal(again.refreshHintSeconds, bundle.refreshHintSeconds);
  }
});

test('emitted JWKS follows the spec: use x509-svid, one x5c, no kid', () => {
  const chain = makeChain({ trustDomain: 'example.org', now: new Date('2026-01-01T00:00:00Z') });
  const bundle = SpiffeBundle.of(td, { x509Authorities: [chain.root.cert], refreshHintSeconds: 300, sequenceNumber: 7 });
  const doc = JSON.parse(bundle.toJson()) as { keys: Record<string, unknown>[]; spiffe_refresh_hint: number; spiffe_sequence: number };
  assert.equal(doc.keys.length, 1);
  const [key] = doc.keys;
  assert.equal(key?.use, 'x509-svid');
  assert.equal(key?.kty, 'EC');
  assert.equal(key?.kid, undefined);
  assert.deepEqual(key?.x5c, [chain.root.der.toString('base64')]);
  assert.equal(doc.spiffe_refresh_hint, 300);
  assert.equal(doc.spiffe_sequence, 7);
  assert.equal(bundle.getX509BundleForTrustDomain(td)?.authorities[0], chain.root.cert);
});

test('malformed bundles give PODGATE_E_BUNDLE_MALFORMED', () => {
  const chain = makeChain({ trustDomain: 'example.org', now: new Date('2026-01-01T00:00:00Z') });
  const good = JSON.parse(SpiffeBundle.of(td, { x509Authorities: [chain.root.cert] }).toJson()) as { keys: Record<string, unknown>[] };
  const otherKey = chain.leaf.publicKey.export({ format: 'jwk' });
  const rows: [string, string][] = [
    ['not json', '{'],
    ['array document', '[]'],
    ['keys not array', '{"keys":{}}'],
    ['entry not object', '{"keys":[1]}'],
    ['no kty', '{"keys":[{"use":"jwt-svid","kid":"a"}]}'],
    ['bad EC point', '{"keys":[{"use":"jwt-svid","kid":"a","kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}'],
    ['private JWK', JSON.stringify({ keys: [{ ...chain.leaf.privateKey.export({ format: 'jwk' }), use: 'jwt-svid', kid: 'k' }] })],
    ['x5c not a certificate', JSON.stringify({ keys: [{ ...good.keys[0], x5c: ['AAAA'] }] })],
    ['x5c key mismatch', JSON.stringify({ keys: [{ ...good.keys[0], ...otherKey }] })],
    ['negative sequence', '{"keys":[],"spiffe_sequence":-1}'],
    ['string refresh hint', '{"keys":[],"spiffe_refresh_hint":"60"}'],
  ];
  for (const [label, json] of rows) {
    assert.throws(() => SpiffeBundle.parse(td, json), (e: unknown) => e instanceof IdentityError && e.code === 'PODGATE_E_BUNDLE_MALFORMED' && e.message.startsWith('spiffebundle: '), label);
  }
  assert.equal(SpiffeBundle.parse(td, '{"keys":[]}').x509.authorities.length, 0, 'an empty keys array is allowed');
  assert.equal(SpiffeBundle.parse(td, JSON.stringify({ keys: [{ ...good.keys[0], use: 'other' }] })).x509.authorities.length, 0, 'unknown uses are ignored');
});
