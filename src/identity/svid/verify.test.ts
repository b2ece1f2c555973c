import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BundleSet, X509Bundle } from '../bundle/x509-bundle.js';
import { IdentityError } from '../errors.js';
import { SpiffeId, TrustDomain } from '../spiffe-id.js';
import { HOUR, makeCertificate, makeChain, type TestCert } from '../testing.js';
import { KeyUsage, type Certificate } from '../x509/certificate.js';
import { authorizeAll, authorizeAny, authorizeId, authorizeMemberOf, authorizeOneOf, verifyX509Svid, type BundleSource } from './verify.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const MINUTE = 60_000;
const at = (offsetMs: number): Date => new Date(NOW.getTime() + offsetMs);
const td = TrustDomain.parse('example.org');

interface Setup {
  presented: Certificate[];
  bundles: BundleSource;
  now?: Date;
  isRevoked?: (leaf: Certificate) => boolean;
}

function bundleOf(...certs: TestCert[]): BundleSet {
  return new BundleSet([X509Bundle.of(td, certs.map((c) => c.cert))]);
}

// Each row builds its own certificates so that every defect sits in an otherwise valid chain.
const rows: { name: string; setup: () => Setup; code?: string; pathLength?: number }[] = [
  {
    name: 'root → intermediate → leaf',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    pathLength: 3,
  },
  {
    name: 'leaf signed by the root directly',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW });
      const leaf = makeCertificate({ uris: ['spiffe://example.org/ns/a/sa/b'], isCA: false, keyUsage: KeyUsage.digitalSignature, notBefore: at(-HOUR), notAfter: at(HOUR), issuer: c.root });
      return { presented: [leaf.cert], bundles: bundleOf(c.root) };
    },
    pathLength: 2,
  },
  {
    name: 'unused extra certificate after the leaf is ignored',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW });
      const stray = makeChain({ trustDomain: 'example.org', now: NOW, intermediate: { commonName: 'stray' } });
      return { presented: [c.leaf.cert, stray.intermediate.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    pathLength: 3,
  },
  {
    name: 'valid at exactly NotAfter',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, leaf: { notAfter: NOW } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    pathLength: 3,
  },
  {
    name: 'expired leaf',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, leaf: { notBefore: at(-2 * HOUR), notAfter: at(-MINUTE) } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_EXPIRED',
  },
  {
    name: 'not-yet-valid leaf',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, leaf: { notBefore: at(MINUTE), notAfter: at(HOUR) } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_NOT_YET_VALID',
  },
  {
    name: 'expired intermediate',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, intermediate: { notBefore: at(-2 * HOUR), notAfter: at(-MINUTE) } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_EXPIRED',
  },
  {
    name: 'expired root in the bundle',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, root: { notBefore: at(-2 * HOUR), notAfter: at(-MINUTE) } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_EXPIRED',
  },
  {
    name: 'wrong trust domain: no bundle for it',
    setup: () => {
      const c = makeChain({ trustDomain: 'other.org', now: NOW });
      const ours = makeChain({ trustDomain: 'example.org', now: NOW });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(ours.root) };
    },
    code: 'PODGATE_E_SVID_NO_BUNDLE',
  },
  {
    name: 'wrong trust domain: claims example.org, signed by the other.org CA',
    setup: () => {
      const theirs = makeChain({ trustDomain: 'other.org', now: NOW, leafPath: '/x', leaf: { uris: ['spiffe://example.org/ns/default/sa/app'] } });
      const ours = makeChain({ trustDomain: 'example.org', now: NOW });
      return { presented: [theirs.leaf.cert, theirs.intermediate.cert], bundles: bundleOf(ours.root) };
    },
    code: 'PODGATE_E_SVID_UNTRUSTED',
  },
  {
    name: 'CA:TRUE leaf',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, leaf: { isCA: true } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_LEAF_CA',
  },
  {
    name: 'leaf without digitalSignature',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, leaf: { keyUsage: KeyUsage.keyEncipherment } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_LEAF_NO_DIGITAL_SIGNATURE',
  },
  {
    name: 'leaf without key usage extension',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, leaf: { keyUsage: undefined } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_LEAF_NO_DIGITAL_SIGNATURE',
  },
  {
    name: 'presented signing certificate without keyCertSign',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, intermediate: { keyUsage: KeyUsage.cRLSign } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_SIGNING_NO_KEY_CERT_SIGN',
  },
  {
    name: 'bundle authority without keyCertSign',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, root: { keyUsage: KeyUsage.cRLSign } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_ISSUER_NOT_CA',
  },
  {
    name: 'two URI SANs',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, leaf: { uris: ['spiffe://example.org/a', 'spiffe://example.org/b'] } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_MULTIPLE_URI_SANS',
  },
  {
    name: 'leaf ID without a path',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, leaf: { uris: ['spiffe://example.org'] } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_ROOT_PATH_ID',
  },
  {
    name: 'untrusted root of the same name',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW });
      const impostor = makeChain({ trustDomain: 'example.org', now: NOW });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(impostor.root) };
    },
    code: 'PODGATE_E_SVID_UNTRUSTED',
  },
  {
    name: 'untrusted self-signed root presented in the chain',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, root: { commonName: 'evil root' } });
      const ours = makeChain({ trustDomain: 'example.org', now: NOW });
      return { presented: [c.leaf.cert, c.intermediate.cert, c.root.cert], bundles: bundleOf(ours.root) };
    },
    code: 'PODGATE_E_SVID_UNTRUSTED',
  },
  {
    name: 'broken leaf signature',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, leaf: { breakSignature: true } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_BAD_SIGNATURE',
  },
  {
    name: 'broken intermediate signature',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, intermediate: { breakSignature: true } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_BAD_SIGNATURE',
  },
  {
    name: 'truncated chain: intermediate missing',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW });
      return { presented: [c.leaf.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_CHAIN_INCOMPLETE',
  },
  {
    name: 'revoked leaf',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW });
      const serial = c.leaf.cert.serial;
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root), isRevoked: (leaf) => leaf.serial === serial };
    },
    code: 'PODGATE_E_SVID_REVOKED',
  },
  {
    name: 'path length exceeded',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, root: { pathLen: 0 } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_PATH_LEN',
  },
  {
    name: 'name constraints permit the trust domain',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, intermediate: { permittedUris: ['example.org'] } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    pathLength: 3,
  },
  {
    name: 'name constraints exclude the leaf',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, intermediate: { permittedUris: ['other.org'] } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_NAME_CONSTRAINTS',
  },
  {
    name: 'unknown critical extension on the leaf',
    setup: () => {
      const c = makeChain({ trustDomain: 'example.org', now: NOW, leaf: { unknownCritical: ['1.3.6.1.4.1.99999.1'] } });
      return { presented: [c.leaf.cert, c.intermediate.cert], bundles: bundleOf(c.root) };
    },
    code: 'PODGATE_E_SVID_UNHANDLED_CRITICAL',
  },
  {
    name: 'empty chain',
    setup: () => ({ presented: [], bundles: new BundleSet() }),
    code: 'PODGATE_E_SVID_NO_CERTIFICATES',
  },
];

test('chain verification: one code per defect', () => {
  for (const row of rows) {
    const s = row.setup();
    const options = { now: s.now ?? NOW, ...(s.isRevoked ? { isRevoked: s.isRevoked } : {}) };
    if (row.code === undefined) {
      const result = verifyX509Svid(s.presented, s.bundles, options);
      assert.equal(result.chain.length, row.pathLength, row.name);
      assert.equal(result.chain[0], s.presented[0], row.name);
      assert.ok(result.id.equals(SpiffeId.parse(s.presented[0]!.uris[0]!)), row.name);
      continue;
    }
    assert.throws(
      () => verifyX509Svid(s.presented, s.bundles, options),
      (e: unknown) => {
        assert.ok(e instanceof IdentityError, `${row.name}: ${String(e)}`);
        assert.equal(e.code, row.code, `${row.name}: ${e.message}`);
        assert.ok(e.message.startsWith('x509svid: '), e.message);
        return true;
      },
      row.name,
    );
  }
});

test('the deny-list is consulted only for a proven chain, and time is only what the caller says', () => {
  const c = makeChain({ trustDomain: 'example.org', now: NOW });
  const consulted: Certificate[] = [];
  const isRevoked = (leaf: Certificate): boolean => {
    consulted.push(leaf);
    return false;
  };
  const impostor = makeChain({ trustDomain: 'example.org', now: NOW });
  assert.throws(() => verifyX509Svid([c.leaf.cert, c.intermediate.cert], bundleOf(impostor.root), { now: NOW, isRevoked }));
  assert.equal(consulted.length, 0);
  verifyX509Svid([c.leaf.cert, c.intermediate.cert], bundleOf(c.root), { now: NOW, isRevoked });
  assert.deepEqual(consulted, [c.leaf.cert]);
  // The same certificates an hour and a minute later: expired, no sleeping involved.
  assert.throws(() => verifyX509Svid([c.leaf.cert, c.intermediate.cert], bundleOf(c.root), { now: at(HOUR + MINUTE) }), (e: unknown) => e instanceof IdentityError && e.code === 'PODGATE_E_SVID_EXPIRED');
  // Repeat verification of the same objects (signature cache) gives the same answer.
  for (let i = 0; i < 3; i++) assert.equal(verifyX509Svid([c.leaf.cert, c.intermediate.cert], bundleOf(c.root), { now: NOW }).chain.length, 3);
});

test('CA rotation: a bundle with old and new roots accepts SVIDs of both', () => {
  const old = makeChain({ trustDomain: 'example.org', now: NOW });
  const next = makeChain({ trustDomain: 'example.org', now: NOW, root: { commonName: 'root 2' }, intermediate: { commonName: 'intermediate 2' } });
  const both = bundleOf(old.root, next.root);
  assert.equal(verifyX509Svid([old.leaf.cert, old.intermediate.cert], both, { now: NOW }).chain[2], old.root.cert);
  assert.equal(verifyX509Svid([next.leaf.cert, next.intermediate.cert], both, { now: NOW }).chain[2], next.root.cert);
  assert.throws(() => verifyX509Svid([old.leaf.cert, old.intermediate.cert], bundleOf(next.root), { now: NOW }), (e: unknown) => e instanceof IdentityError && e.code === 'PODGATE_E_SVID_CHAIN_INCOMPLETE');
});

test('authorizers compose', () => {
  const id = SpiffeId.parse('spiffe://example.org/ns/shop/sa/cart');
  const other = SpiffeId.parse('spiffe://example.org/ns/shop/sa/web');
  const foreign = SpiffeId.parse('spiffe://other.org/ns/shop/sa/cart');
  const table: { authorizer: ReturnType<typeof authorizeAny>; accepts: SpiffeId[]; refuses: SpiffeId[] }[] = [
    { authorizer: authorizeAny(), accepts: [id, other, foreign], refuses: [] },
    { authorizer: authorizeId(id), accepts: [id], refuses: [other, foreign] },
    { authorizer: authorizeOneOf(id, other), accepts: [id, other], refuses: [foreign] },
    { authorizer: authorizeMemberOf(td), accepts: [id, other], refuses: [foreign] },
    { authorizer: authorizeAll(authorizeMemberOf(td), authorizeOneOf(id, foreign)), accepts: [id], refuses: [other, foreign] },
  ];
  for (const [i, row] of table.entries()) {
    for (const ok of row.accepts) row.authorizer(ok, []);
    for (const bad of row.refuses) {
      assert.throws(() => row.authorizer(bad, []), (e: unknown) => e instanceof IdentityError && e.code === 'PODGATE_E_SVID_UNAUTHORIZED', `row ${i}: ${bad}`);
    }
  }
});
