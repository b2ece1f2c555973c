import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IdentityError } from './errors.js';
import { SpiffeId, TrustDomain, agentId, authorityServerId, validatePathSegment, workloadId } from './spiffe-id.js';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), '../../../../shared/fixtures/spiffe');

interface IdCase {
  kind: 'id' | 'trustDomain' | 'path' | 'segment';
  input: string;
  valid: boolean;
  error: string | null;
  trustDomain: string | null;
  path: string | null;
  test: string;
}

const cases = (JSON.parse(readFileSync(join(FIXTURES, 'spiffeid-cases.json'), 'utf8')) as { count: number; cases: IdCase[] }).cases;
const fixtureTd = TrustDomain.parse('trustdomain');

// One entry point per go-spiffe function the case exercised.
function run(c: IdCase): { trustDomain: string; path: string | null } {
  switch (c.kind) {
    case 'id': {
      const id = SpiffeId.parse(c.input);
      return { trustDomain: id.trustDomain.name, path: id.path };
    }
    case 'trustDomain':
      return { trustDomain: TrustDomain.parse(c.input).name, path: null };
    case 'path': {
      const id = SpiffeId.fromPath(fixtureTd, c.input);
      return { trustDomain: id.trustDomain.name, path: id.path };
    }
    case 'segment': {
      validatePathSegment(c.input);
      const id = SpiffeId.fromSegments(fixtureTd, c.input);
      return { trustDomain: id.trustDomain.name, path: id.path };
    }
  }
}

test('all 863 go-spiffe SPIFFE ID cases give go-spiffe answer', () => {
  assert.equal(cases.length, 863);
  for (const c of cases) {
    const label = `${c.test} ${JSON.stringify(c.input)}`;
    let got: { trustDomain: string; path: string | null } | undefined;
    let error: unknown;
    try {
      got = run(c);
    } catch (e) {
      error = e;
    }
    if (c.valid) {
      assert.equal(error, undefined, label);
      assert.deepEqual(got, { trustDomain: c.trustDomain, path: c.path }, label);
    } else {
      assert.ok(error instanceof IdentityError, label);
      assert.equal(error.code, 'PODGATE_E_SPIFFE_ID', label);
      assert.ok(error.message.includes(c.error ?? '\u0000'), `${label}: ${error.message} should contain ${c.error}`);
    }
  }
});

test('values render, compare and nest', () => {
  const td = TrustDomain.parse('cluster.local');
  assert.equal(td.idString(), 'spiffe://cluster.local');
  assert.equal(`${td}`, 'cluster.local');
  assert.ok(td.equals(TrustDomain.parse('spiffe://cluster.local/any/path')));
  const id = workloadId(td, 'shop', 'cart');
  assert.equal(id.toString(), 'spiffe://cluster.local/ns/shop/sa/cart');
  assert.ok(id.equals(SpiffeId.parse('spiffe://cluster.local/ns/shop/sa/cart')));
  assert.ok(id.memberOf(td));
  assert.ok(!id.memberOf(TrustDomain.parse('other.org')));
  assert.equal(JSON.stringify({ id }), '{"id":"spiffe://cluster.local/ns/shop/sa/cart"}');
  assert.equal(agentId(td, 'node-1').toString(), 'spiffe://cluster.local/podgate/agent/node-1');
  assert.equal(authorityServerId(td).toString(), 'spiffe://cluster.local/podgate/authority');
  assert.equal(SpiffeId.fromPath(td, '').toString(), 'spiffe://cluster.local');
});

test('helpers refuse names that are not path segments', () => {
  const td = TrustDomain.parse('cluster.local');
  for (const [ns, sa] of [['', 'sa'], ['a/b', 'sa'], ['ns', '..'], ['ns', 'Ünïcode']] as const) {
    assert.throws(() => workloadId(td, ns, sa), (e: unknown) => e instanceof IdentityError && e.code === 'PODGATE_E_SPIFFE_ID', `${ns}/${sa}`);
  }
});
