import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { after, describe, it } from 'node:test';
import { SpiffeBundle } from '../identity/bundle/spiffe-bundle.js';
import { IdentityError } from '../identity/errors.js';
import { opensslMissing, Scratch } from '../identity/openssl-testing.js';
import { agentId, authorityServerId, SpiffeId, TrustDomain, workloadId } from '../identity/spiffe-id.js';
import { verifyX509Svid } from '../identity/svid/verify.js';
import { makeChain, thrownCode } from '../identity/testing.js';
import { parseCertificate, parseCertificates } from '../identity/x509/certificate.js';
import { createCsr } from '../identity/x509/csr.js';
import { Authority, type AuthorityEvent, type IssuedSvid } from './authority.js';
import { StaticPodDirectory } from './pod-directory.js';
import { DATABASE_FILE, KEY_DIRECTORY } from './store.js';
import { ManualClock } from './testing.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2030-06-01T08:00:00Z');
const td = TrustDomain.parse('cluster.local');
const dirs: string[] = [];
const scratch = new Scratch();
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  scratch.cleanup();
});

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'podgate-authority-'));
  dirs.push(dir);
  return join(dir, 'state');
}

const key: KeyObject = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const csrFor = (id: SpiffeId): Buffer => createCsr(key, id);

function verify(authority: Authority, svid: IssuedSvid, now: number, isRevoked?: (serial: bigint) => boolean) {
  return verifyX509Svid(parseCertificates(svid.chainPem), authority.bundle(), {
    now: new Date(now),
    ...(isRevoked === undefined ? {} : { isRevoked: (leaf) => isRevoked(leaf.serial) }),
  });
}

function newAuthority(clock: ManualClock, extra: { pods?: StaticPodDirectory; events?: AuthorityEvent[] } = {}) {
  const dir = stateDir();
  const authority = Authority.init(dir, {
    trustDomain: td,
    clock,
    caTtlMs: 30 * DAY,
    ...(extra.pods === undefined ? {} : { pods: extra.pods }),
    ...(extra.events === undefined ? {} : { onEvent: (e: AuthorityEvent) => extra.events!.push(e) }),
  });
  return { dir, authority };
}

describe('Authority: init, issue, bundle', () => {
  it('creates a 0700 state dir, a 0600 CA key, and issues verifiable SVIDs', async (t) => {
    const clock = new ManualClock(T0);
    const { dir, authority } = newAuthority(clock);
    try {
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      const keys = readdirSync(join(dir, KEY_DIRECTORY));
      assert.equal(keys.length, 1);
      assert.equal(statSync(join(dir, KEY_DIRECTORY, keys[0]!)).mode & 0o777, 0o600);

      const id = workloadId(td, 'shop', 'cart');
      const svid = authority.issue({ id, csrDer: csrFor(id) });
      assert.equal(svid.notAfter.getTime() - svid.notBefore.getTime(), HOUR + 30_000);
      assert.equal(verify(authority, svid, T0).id.toString(), id.toString());
      assert.equal(authority.bundle().authorities.length, 1);
      assert.ok(authority.bundle().authorities[0]!.der.equals(authority.activeCa().certificate.der));
      assert.equal(authority.issued()[0]!.serial, svid.serialHex);
      assert.equal(authority.issued()[0]!.kind, 'direct');

      await t.test('openssl verify accepts the SVID against the bundle', { skip: opensslMissing }, () => {
        scratch.write('bundle.pem', authority.bundlePem());
        scratch.write('svid.pem', svid.chainPem);
        const result = scratch.openssl('verify', '-attime', String(T0 / 1000), '-CAfile', 'bundle.pem', 'svid.pem');
        assert.equal(result.status, 0, result.stderr);
      });

      const jwks = SpiffeBundle.parse(td, authority.spiffeBundle().toJson());
      assert.equal(jwks.x509.authorities.length, 1);
      assert.equal(jwks.sequenceNumber, authority.bundleSequence());
    } finally {
      authority.close();
    }
  });

  it('uses 16-octet serials that share the instance prefix and count up', () => {
    const clock = new ManualClock(T0);
    const { authority } = newAuthority(clock);
    try {
      const id = workloadId(td, 'a', 'b');
      const serials = [1, 2, 3].map(() => authority.issue({ id, csrDer: csrFor(id) }).serial);
      for (const s of serials) {
        assert.equal(s.toString(16).length, 32);
        assert.equal(s >> 64n, serials[0]! >> 64n);
      }
      assert.deepEqual(serials.map((s) => s & ((1n << 64n) - 1n)), [2n, 3n, 4n]); // serial 1 went to the root CA
      assert.equal(authority.serialCounter(), 4n);
    } finally {
      authority.close();
    }
  });

  it('refuses a second init in the same directory and opening an empty one', () => {
    const clock = new ManualClock(T0);
    const { dir, authority } = newAuthority(clock);
    authority.close();
    assert.equal(thrownCode(() => Authority.init(dir, { trustDomain: td, clock })), 'PODGATE_E_AUTHORITY_EXISTS');
    assert.equal(thrownCode(() => Authority.open(stateDir(), { clock })), 'PODGATE_E_AUTHORITY_NOT_INITIALIZED');
    const bogus = stateDir();
    mkdirSync(bogus, { recursive: true });
    writeFileSync(join(bogus, DATABASE_FILE), 'not sqlite at all');
    assert.equal(thrownCode(() => Authority.open(bogus, { clock })), 'PODGATE_E_AUTHORITY_STATE');
  });

  it('signs with an operator-supplied intermediate and publishes its root', () => {
    const clock = new ManualClock(T0);
    const chain = makeChain({ trustDomain: 'cluster.local', now: new Date(T0) });
    const dir = stateDir();
    const authority = Authority.init(dir, {
      trustDomain: 'cluster.local',
      clock,
      ca: { certificatesPem: chain.intermediate.pem, bundlePem: chain.root.pem, keyPem: chain.intermediate.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() },
    });
    try {
      const id = workloadId(td, 'shop', 'cart');
      const svid = authority.issue({ id, csrDer: csrFor(id) });
      assert.equal(svid.chain.length, 2);
      assert.ok(authority.bundle().authorities[0]!.der.equals(chain.root.der));
      assert.equal(verify(authority, svid, T0).chain.length, 3);
      // The test chain is valid for one hour around T0, so the SVID is clamped to it.
      assert.ok(svid.notAfter.getTime() <= chain.intermediate.cert.notAfter.getTime());
    } finally {
      authority.close();
    }
  });
});

describe('Authority: CA key permissions', () => {
  const modes: { mode: number; want: string }[] = [
    { mode: 0o600, want: 'ok' },
    { mode: 0o400, want: 'ok' },
    { mode: 0o640, want: 'PODGATE_E_CA_KEY_PERMISSIONS' },
    { mode: 0o604, want: 'PODGATE_E_CA_KEY_PERMISSIONS' },
    { mode: 0o660, want: 'PODGATE_E_CA_KEY_PERMISSIONS' },
    { mode: 0o644, want: 'PODGATE_E_CA_KEY_PERMISSIONS' },
  ];
  for (const c of modes) {
    it(`key file mode ${c.mode.toString(8)} → ${c.want}`, () => {
      const clock = new ManualClock(T0);
      const { dir, authority } = newAuthority(clock);
      authority.close();
      const keyFile = join(dir, KEY_DIRECTORY, readdirSync(join(dir, KEY_DIRECTORY))[0]!);
      chmodSync(keyFile, c.mode);
      let error: unknown;
      try {
        Authority.open(dir, { clock }).close();
      } catch (e) {
        error = e;
      }
      if (c.want === 'ok') {
        assert.equal(error, undefined);
        return;
      }
      assert.ok(error instanceof IdentityError);
      assert.equal(error.code, c.want);
      assert.equal(error.hint, `chmod 600 ${keyFile}`);
    });
  }

  it('a missing key file is reported, not crashed on', () => {
    const clock = new ManualClock(T0);
    const { dir, authority } = newAuthority(clock);
    authority.close();
    rmSync(join(dir, KEY_DIRECTORY, readdirSync(join(dir, KEY_DIRECTORY))[0]!));
    assert.equal(thrownCode(() => Authority.open(dir, { clock })), 'PODGATE_E_CA_KEY_MISSING');
  });
});

describe('Authority: state survives restart', () => {
  it('keeps CA, serial counter, issued audit, deny-list, refusals and rotation state', () => {
    const clock = new ManualClock(T0);
    const pods = new StaticPodDirectory([{ namespace: 'shop', pod: 'cart-1', serviceAccount: 'cart', nodeName: 'node-b' }]);
    const { dir, authority } = newAuthority(clock, { pods });
    const id = workloadId(td, 'shop', 'cart');
    const first = authority.issue({ id, csrDer: csrFor(id) });
    authority.deny(first.serial, 'key leaked');
    assert.equal(thrownCode(() => authority.issueForPod({ agent: agentId(td, 'node-a'), namespace: 'shop', pod: 'cart-1', csrDer: csrFor(id) })), 'PODGATE_E_NOT_AUTHORIZED');
    authority.prepareRotation();
    const caDer = authority.activeCa().certificate.der;
    const counter = authority.serialCounter();
    const bundlePem = authority.bundlePem();
    authority.close();

    clock.advance(60_000);
    const reopened = Authority.open(dir, { clock, pods });
    try {
      assert.ok(reopened.activeCa().certificate.der.equals(caDer));
      assert.equal(reopened.serialCounter(), counter);
      assert.equal(reopened.bundlePem(), bundlePem);
      assert.deepEqual(reopened.cas().map((c) => c.state), ['active', 'prepared']);
      assert.deepEqual(reopened.issued().map((r) => r.serial), [first.serialHex]);
      assert.equal(reopened.isDenied(first.serial), true);
      assert.equal(reopened.denied()[0]!.reason, 'key leaked');
      assert.equal(reopened.refusals().length, 1);
      const second = reopened.issue({ id, csrDer: csrFor(id) });
      assert.equal(second.serial, first.serial + (counter - (first.serial & ((1n << 64n) - 1n))) + 1n);
      assert.equal(reopened.serialCounter(), counter + 1n);
      // The prepared CA was loaded too: activation works after the restart, once agents had time to fetch it.
      clock.advance(HOUR);
      assert.equal(reopened.activatePrepared().state, 'active');
    } finally {
      reopened.close();
    }
  });
});

describe('Authority: CA rotation without an outage (injected clock)', () => {
  it('prepares, publishes, activates, keeps the old root until its SVIDs expire, then prunes', () => {
    const clock = new ManualClock(T0);
    const events: AuthorityEvent[] = [];
    const { authority } = newAuthority(clock, { events });
    try {
      const id = workloadId(td, 'shop', 'cart');
      const oldCa = authority.activeCa();
      const before = authority.issue({ id, csrDer: csrFor(id) });
      const seq0 = authority.bundleSequence();

      clock.advance(10 * 60_000);
      const prepared = authority.prepareRotation();
      assert.equal(prepared.state, 'prepared');
      assert.equal(authority.bundle().authorities.length, 2, 'the new root is published before it signs');
      assert.ok(authority.bundleSequence() > seq0);
      assert.ok(authority.activeCa() === oldCa, 'the old CA still signs');
      assert.equal(thrownCode(() => authority.prepareRotation()), 'PODGATE_E_CA_ROTATION');
      clock.advance(HOUR - 5 * 60_000);
      const stillOld = authority.issue({ id, csrDer: csrFor(id) });
      assert.equal(stillOld.caId, before.caId);

      // Activation waits one SVID lifetime after the new root entered the bundle.
      clock.advance(5 * 60_000);
      authority.activatePrepared();
      const after = authority.issue({ id, csrDer: csrFor(id) });
      assert.notEqual(after.caId, before.caId);
      assert.equal(authority.cas().find((c) => c.id === before.caId)!.state, 'retired');
      // Both generations verify against the one published bundle: no outage.
      const now = clock.now();
      assert.equal(verify(authority, stillOld, now).id.toString(), id.toString());
      assert.equal(verify(authority, after, now).id.toString(), id.toString());
      assert.equal(thrownCode(() => authority.activatePrepared()), 'PODGATE_E_CA_ROTATION');

      // Until the last SVID of the old CA (stillOld) expires, its root stays.
      clock.set(stillOld.notAfter.getTime());
      assert.deepEqual(authority.pruneRetired(), []);
      assert.equal(authority.bundle().authorities.length, 2);
      clock.advance(1000);
      assert.deepEqual(authority.pruneRetired(), [before.caId]);
      assert.equal(authority.bundle().authorities.length, 1);
      assert.ok(authority.bundle().authorities[0]!.der.equals(authority.activeCa().certificate.der));
      assert.equal(verify(authority, authority.issue({ id, csrDer: csrFor(id) }), clock.now()).id.toString(), id.toString());
      assert.deepEqual(
        events.filter((e) => e.type.startsWith('ca-')).map((e) => e.type),
        ['ca-prepared', 'ca-retired', 'ca-activated', 'ca-pruned'],
      );
    } finally {
      authority.close();
    }
  });

  it('a retired CA that signed nothing is pruned at once', () => {
    const clock = new ManualClock(T0);
    const { authority } = newAuthority(clock);
    try {
      const first = authority.cas()[0]!.id;
      authority.prepareRotation();
      clock.advance(HOUR);
      authority.activatePrepared();
      assert.deepEqual(authority.pruneRetired(), [first]);
    } finally {
      authority.close();
    }
  });

  it('maintain() prepares at half-life, activates at five sixths, prunes after', () => {
    const clock = new ManualClock(T0);
    const { authority } = newAuthority(clock);
    try {
      const ca = authority.activeCa();
      const start = ca.notBefore.getTime();
      const life = ca.notAfter.getTime() - start;
      clock.set(start + life / 2 - 1000);
      assert.deepEqual(authority.maintain(), { pruned: [] });
      clock.set(start + life / 2);
      const prepared = authority.maintain().prepared;
      assert.ok(prepared !== undefined);
      clock.set(start + (life * 5) / 6 - 1000);
      assert.deepEqual(authority.maintain(), { pruned: [] });
      clock.set(start + (life * 5) / 6);
      const step = authority.maintain();
      assert.equal(step.activated, prepared);
      assert.equal(step.pruned.length, 1, 'the old CA signed nothing, so it goes at once');
    } finally {
      authority.close();
    }
  });

  it('SVIDs are clamped to the CA, so a CA near its end hands out shorter SVIDs', () => {
    const clock = new ManualClock(T0);
    const { authority } = newAuthority(clock);
    try {
      clock.set(authority.activeCa().notAfter.getTime() - 10 * 60_000);
      const id = workloadId(td, 'a', 'b');
      assert.deepEqual(authority.issue({ id, csrDer: csrFor(id) }).notAfter, authority.activeCa().notAfter);
      clock.set(authority.activeCa().notAfter.getTime() + 1);
      assert.equal(thrownCode(() => authority.issue({ id, csrDer: csrFor(id) })), 'PODGATE_E_CA_EXPIRED');
    } finally {
      authority.close();
    }
  });
});

describe('Authority: join-token attestation', () => {
  const clock = new ManualClock(T0);
  const events: AuthorityEvent[] = [];
  const { dir, authority } = newAuthority(clock, { events });
  after(() => authority.close());
  const agent = agentId(td, 'node-a');

  it('issues the node SVID once, stores only the token hash', () => {
    const { token, agent: granted, expiresAt } = authority.createJoinToken('node-a', HOUR);
    assert.equal(granted.toString(), agent.toString());
    assert.equal(expiresAt.getTime(), T0 + HOUR);
    const svid = authority.attestAgent({ token, csrDer: csrFor(agent) });
    assert.equal(svid.id.toString(), 'spiffe://cluster.local/podgate/agent/node-a');
    assert.equal(parseCertificate(svid.certificate).uris[0], agent.toString());
    assert.equal(authority.issued()[0]!.kind, 'agent');
    const raw = readdirSync(dir)
      .filter((f) => f.startsWith(DATABASE_FILE))
      .map((f) => readFileSync(join(dir, f)).toString('latin1'))
      .join('');
    assert.ok(raw.length > 0);
    assert.equal(raw.includes(token), false, 'the plain token is not in the database');
    assert.equal(thrownCode(() => authority.attestAgent({ token, csrDer: csrFor(agent) })), 'PODGATE_E_ATTESTATION');
  });

  it('refuses unknown, malformed, expired and used tokens; stores only refusals of real tokens', () => {
    const expiring = authority.createJoinToken('node-b', 60_000).token;
    const used = authority.createJoinToken('node-u', HOUR).token;
    authority.attestAgent({ token: used, csrDer: csrFor(agentId(td, 'node-u')) });
    // Junk costs the caller nothing, so it must not cost a database row: events only.
    const cases: { name: string; token: string; advance?: number; detail: string; stored: boolean }[] = [
      { name: 'unknown', token: 'A'.repeat(43), detail: 'unknown join token', stored: false },
      { name: 'malformed', token: 'short', detail: 'unknown join token', stored: false },
      { name: 'used', token: used, detail: 'join token already used', stored: true },
      { name: 'expired', token: expiring, advance: 60_000, detail: 'join token expired', stored: true },
    ];
    for (const c of cases) {
      if (c.advance !== undefined) clock.advance(c.advance);
      const rowsBefore = authority.refusals().length;
      const eventsBefore = events.length;
      assert.equal(thrownCode(() => authority.attestAgent({ token: c.token, csrDer: csrFor(agentId(td, 'node-b')) })), 'PODGATE_E_ATTESTATION', c.name);
      assert.equal(authority.refusals().length, rowsBefore + (c.stored ? 1 : 0), c.name);
      if (c.stored) assert.equal(authority.refusals()[0]!.detail, c.detail, c.name);
      const emitted = events.slice(eventsBefore);
      assert.deepEqual(emitted.map((e) => e.type), ['attestation-refused'], c.name);
      assert.equal(emitted[0]!.type === 'attestation-refused' && emitted[0]!.detail, c.detail, c.name);
    }
  });

  it('does not consume the token when the CSR is bad or asks for another ID', () => {
    const { token } = authority.createJoinToken('node-c', HOUR);
    assert.equal(thrownCode(() => authority.attestAgent({ token, csrDer: Buffer.from('junk') })), 'PODGATE_E_CSR_MALFORMED');
    assert.equal(thrownCode(() => authority.attestAgent({ token, csrDer: csrFor(agentId(td, 'node-z')) })), 'PODGATE_E_CSR_ID_MISMATCH');
    assert.equal(authority.attestAgent({ token, csrDer: csrFor(agentId(td, 'node-c')) }).id.toString(), agentId(td, 'node-c').toString());
  });

  it('refuses a node name that is not a valid path segment', () => {
    assert.equal(thrownCode(() => authority.createJoinToken('node/../x')), 'PODGATE_E_SPIFFE_ID');
  });
});

describe('Authority: pod SVIDs only for the agent on the pod node', () => {
  const clock = new ManualClock(T0);
  const events: AuthorityEvent[] = [];
  const pods = new StaticPodDirectory([
    { namespace: 'shop', pod: 'cart-1', serviceAccount: 'cart', nodeName: 'node-a' },
    { namespace: 'shop', pod: 'pending', serviceAccount: 'cart' },
  ]);
  const { authority } = newAuthority(clock, { pods, events });
  after(() => authority.close());
  const cartId = workloadId(td, 'shop', 'cart');

  it('signs the service-account ID for a pod on the agent node', () => {
    const svid = authority.issueForPod({ agent: agentId(td, 'node-a'), namespace: 'shop', pod: 'cart-1', csrDer: csrFor(cartId) });
    assert.equal(svid.id.toString(), 'spiffe://cluster.local/ns/shop/sa/cart');
    assert.equal(authority.issued()[0]!.requester, 'spiffe://cluster.local/podgate/agent/node-a');
    assert.equal(authority.issued()[0]!.kind, 'workload');
  });

  const refused: { name: string; agent: SpiffeId; namespace: string; pod: string }[] = [
    { name: 'pod on another node', agent: agentId(td, 'node-b'), namespace: 'shop', pod: 'cart-1' },
    { name: 'unknown pod', agent: agentId(td, 'node-a'), namespace: 'shop', pod: 'ghost' },
    { name: 'unscheduled pod', agent: agentId(td, 'node-a'), namespace: 'shop', pod: 'pending' },
    { name: 'requester is a workload, not an agent', agent: cartId, namespace: 'shop', pod: 'cart-1' },
    { name: 'agent of another trust domain', agent: SpiffeId.parse('spiffe://other.org/podgate/agent/node-a'), namespace: 'shop', pod: 'cart-1' },
  ];
  for (const c of refused) {
    it(`refuses and records: ${c.name}`, () => {
      const before = authority.refusals().length;
      const eventsBefore = events.length;
      assert.equal(thrownCode(() => authority.issueForPod({ agent: c.agent, namespace: c.namespace, pod: c.pod, csrDer: csrFor(cartId) })), 'PODGATE_E_NOT_AUTHORIZED');
      const latest = authority.refusals()[0]!;
      assert.equal(authority.refusals().length, before + 1);
      assert.equal(latest.kind, 'issue');
      assert.equal(latest.requester, c.agent.toString());
      assert.match(latest.detail, new RegExp(`${c.namespace}/${c.pod}`));
      assert.deepEqual(events.slice(eventsBefore).map((e) => e.type), ['issue-refused']);
    });
  }

  it('refuses a CSR asking for another service account than the pod runs as', () => {
    assert.equal(
      thrownCode(() => authority.issueForPod({ agent: agentId(td, 'node-a'), namespace: 'shop', pod: 'cart-1', csrDer: csrFor(workloadId(td, 'shop', 'admin')) })),
      'PODGATE_E_CSR_ID_MISMATCH',
    );
  });

  it('refuses every pod when no directory is configured', () => {
    const { authority: bare } = newAuthority(new ManualClock(T0));
    try {
      assert.equal(thrownCode(() => bare.issueForPod({ agent: agentId(td, 'node-a'), namespace: 'shop', pod: 'cart-1', csrDer: csrFor(cartId) })), 'PODGATE_E_NOT_AUTHORIZED');
    } finally {
      bare.close();
    }
  });
});

describe('Authority: deny-list', () => {
  it('denies until NotAfter, is consulted by the verifier, then pruned', () => {
    const clock = new ManualClock(T0);
    const { authority } = newAuthority(clock);
    try {
      const id = workloadId(td, 'shop', 'cart');
      const svid = authority.issue({ id, csrDer: csrFor(id) });
      const other = authority.issue({ id, csrDer: csrFor(id) });
      assert.equal(authority.isDenied(svid.serial), false);
      authority.deny(svid.serialHex.toUpperCase(), 'compromised node');
      const forms: (bigint | string)[] = [svid.serial, svid.serialHex, svid.serialHex.match(/../g)!.join(':')];
      for (const form of forms) assert.equal(authority.isDenied(form), true, String(form));
      assert.equal(authority.isDenied(other.serial), false);
      assert.equal(authority.isDenied('not hex'), false);
      assert.equal(thrownCode(() => verify(authority, svid, clock.now(), (s) => authority.isDenied(s))), 'PODGATE_E_SVID_REVOKED');
      assert.equal(verify(authority, other, clock.now(), (s) => authority.isDenied(s)).id.toString(), id.toString());
      assert.equal(thrownCode(() => authority.deny(12345n, 'x')), 'PODGATE_E_UNKNOWN_SERIAL');

      clock.set(svid.notAfter.getTime());
      assert.equal(authority.isDenied(svid.serial), true, 'still denied at NotAfter');
      assert.deepEqual(authority.pruneExpired().denied, []);
      clock.advance(1);
      assert.equal(authority.isDenied(svid.serial), false);
      assert.deepEqual(authority.pruneExpired().denied, [svid.serialHex]);
      assert.deepEqual(authority.denied(), []);
    } finally {
      authority.close();
    }
  });
});

describe('Authority: observers', () => {
  it('a throwing onEvent hook does not stop issuance', () => {
    const dir = stateDir();
    const authority = Authority.init(dir, { trustDomain: td, clock: new ManualClock(T0), onEvent: () => { throw new Error('observer bug'); } });
    try {
      const id = workloadId(td, 'a', 'b');
      assert.equal(authority.issue({ id, csrDer: csrFor(id) }).id.toString(), id.toString());
    } finally {
      authority.close();
    }
  });
});


describe('Authority: another process shares the state directory', () => {
  it('sees deny, prepare, activate and prune made by a second instance, and reports bundle changes', () => {
    const clock = new ManualClock(T0);
    const { dir, authority: serving } = newAuthority(clock);
    const cli = Authority.open(dir, { clock });
    let bundleChanges = 0;
    const stop = serving.onBundleChange(() => bundleChanges++);
    try {
      const id = workloadId(td, 'shop', 'cart');
      const svid = serving.issue({ id, csrDer: csrFor(id) });
      const firstCa = svid.caId;

      cli.deny(svid.serial, 'key leaked');
      assert.equal(serving.isDenied(svid.serial), true, 'podgate identity deny reaches the server');

      cli.prepareRotation();
      assert.equal(serving.bundle().authorities.length, 2, 'the prepared root is published by the server');
      assert.equal(bundleChanges, 1);
      assert.equal(thrownCode(() => serving.prepareRotation()), 'PODGATE_E_CA_ROTATION');

      clock.advance(HOUR);
      cli.activatePrepared();
      const next = serving.issue({ id, csrDer: csrFor(id) });
      assert.notEqual(next.caId, firstCa, 'the server signs with the CA the other process activated');
      assert.ok(serving.activeCa().certificate.der.equals(cli.activeCa().certificate.der));
      assert.equal(bundleChanges, 1, 'activation does not change the bundle');

      clock.set(svid.notAfter.getTime() + 1);
      assert.deepEqual(cli.pruneRetired(), [firstCa]);
      assert.equal(serving.bundle().authorities.length, 1, 'the pruned root leaves the server bundle');
      assert.equal(bundleChanges, 2);
      assert.equal(serving.isDenied(svid.serial), false);
    } finally {
      stop();
      cli.close();
      serving.close();
    }
  });

  it('changes nothing in memory when the state did not change', () => {
    const clock = new ManualClock(T0);
    const { authority } = newAuthority(clock);
    try {
      const before = authority.activeCa();
      const bundle = authority.bundle().authorities[0]!;
      authority.sync();
      assert.equal(authority.activeCa(), before, 'the same loaded CA object');
      assert.equal(authority.bundle().authorities[0], bundle, 'the same parsed root');
    } finally {
      authority.close();
    }
  });
});

describe('Authority: activation waits until agents can have the new root', () => {
  it('refuses activation before one SVID lifetime in the bundle, names the time and --force, and allows force', () => {
    const clock = new ManualClock(T0);
    const { authority } = newAuthority(clock);
    try {
      const prepared = authority.prepareRotation();
      assert.deepEqual(prepared.activatableAt, new Date(T0 + HOUR));
      clock.advance(HOUR - 1);
      let refused: unknown;
      try {
        authority.activatePrepared();
      } catch (e) {
        refused = e;
      }
      assert.ok(refused instanceof IdentityError);
      assert.equal(refused.code, 'PODGATE_E_CA_ROTATION');
      assert.match(refused.hint ?? '', new RegExp(new Date(T0 + HOUR).toISOString().replace(/\./g, '\\.')));
      assert.match(refused.hint ?? '', /--force/);
      assert.equal(authority.cas().find((c) => c.id === prepared.id)!.state, 'prepared');

      assert.equal(authority.activatePrepared({ force: true }).state, 'active');
    } finally {
      authority.close();
    }
  });

  it('activates without force once the prepared root has been in the bundle for the SVID TTL', () => {
    const clock = new ManualClock(T0);
    const dir = stateDir();
    const authority = Authority.init(dir, { trustDomain: td, clock, svidTtlMs: 10 * 60_000 });
    try {
      authority.prepareRotation();
      clock.advance(10 * 60_000);
      assert.equal(authority.activatePrepared().state, 'active');
    } finally {
      authority.close();
    }
  });
});

describe('Authority: operator-supplied CAs are not auto-rotated', () => {
  it('maintain() emits ca-rotation-needed at half-life and five sixths, once each, and never creates a podgate root', () => {
    const clock = new ManualClock(T0);
    const events: AuthorityEvent[] = [];
    const operator = (now: number) => {
      const chain = makeChain({ trustDomain: 'cluster.local', now: new Date(now) });
      return { certificatesPem: chain.intermediate.pem, bundlePem: chain.root.pem, keyPem: chain.intermediate.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    };
    const dir = stateDir();
    const authority = Authority.init(dir, { trustDomain: td, clock, ca: operator(T0), onEvent: (e) => events.push(e) });
    const needed = () => events.filter((e) => e.type === 'ca-rotation-needed').map((e) => (e.type === 'ca-rotation-needed' ? e.step : ''));
    try {
      assert.equal(authority.cas()[0]!.origin, 'operator');
      const ca = authority.activeCa();
      const start = ca.notBefore.getTime();
      const life = ca.notAfter.getTime() - start;
      const bundle = authority.bundlePem();

      clock.set(start + life / 2);
      assert.deepEqual(authority.maintain(), { pruned: [] });
      assert.deepEqual(authority.maintain(), { pruned: [] });
      assert.deepEqual(needed(), ['prepare'], 'once per CA and step');
      assert.equal(authority.cas().length, 1, 'no podgate root was prepared');
      assert.equal(authority.bundlePem(), bundle);

      // The operator stages the successor; podgate still does not switch by itself.
      authority.prepareRotation({ ca: operator(clock.now()) });
      clock.set(start + (life * 5) / 6);
      assert.deepEqual(authority.maintain(), { pruned: [] });
      assert.deepEqual(needed(), ['prepare', 'activate']);
      assert.deepEqual(authority.cas().map((c) => c.state), ['active', 'prepared']);
      const last = events.at(-1)!;
      assert.ok(last.type === 'ca-rotation-needed' && last.notAfter === ca.notAfter.getTime() && /podgate identity ca activate/.test(last.detail));
    } finally {
      authority.close();
    }
  });
});

describe('Authority: CA key files are found by name inside the state directory', () => {
  it('opens and signs after the state directory moved', () => {
    const clock = new ManualClock(T0);
    const { dir, authority } = newAuthority(clock);
    authority.close();
    const moved = join(dirname(dir), 'moved');
    renameSync(dir, moved);
    const reopened = Authority.open(moved, { clock });
    try {
      const id = workloadId(td, 'a', 'b');
      assert.equal(reopened.issue({ id, csrDer: csrFor(id) }).id.toString(), id.toString());
    } finally {
      reopened.close();
    }
  });

  it('a copy that rotates its CA leaves the original key in place', () => {
    const clock = new ManualClock(T0);
    const { dir, authority } = newAuthority(clock);
    authority.close();
    const [originalKey] = readdirSync(join(dir, KEY_DIRECTORY));
    const copy = join(dirname(dir), 'copy');
    cpSync(dir, copy, { recursive: true });
    const copied = Authority.open(copy, { clock });
    try {
      copied.prepareRotation();
      clock.advance(HOUR);
      copied.activatePrepared();
      assert.equal(readdirSync(join(copy, KEY_DIRECTORY)).includes(originalKey!), false, 'the copy deleted its own old key');
    } finally {
      copied.close();
    }
    assert.deepEqual(readdirSync(join(dir, KEY_DIRECTORY)), [originalKey]);
    Authority.open(dir, { clock }).close();
  });

  const stored: { name: string; keyFile: (dir: string, name: string) => string; want: string }[] = [
    { name: 'an absolute path (older databases): its file name is used', keyFile: (_dir, name) => join('/somewhere/else/ca', name), want: 'ok' },
    { name: 'a path with a directory', keyFile: (_dir, name) => `sub/${name}`, want: 'PODGATE_E_AUTHORITY_STATE' },
    { name: 'a name that climbs out', keyFile: () => '../authority.db', want: 'PODGATE_E_AUTHORITY_STATE' },
    { name: 'dot-dot', keyFile: () => '..', want: 'PODGATE_E_AUTHORITY_STATE' },
  ];
  for (const c of stored) {
    it(`key_file holding ${c.name} → ${c.want}`, () => {
      const clock = new ManualClock(T0);
      const { dir, authority } = newAuthority(clock);
      authority.close();
      const [name] = readdirSync(join(dir, KEY_DIRECTORY));
      const db = new Database(join(dir, DATABASE_FILE));
      db.prepare('UPDATE cas SET key_file = ?').run(c.keyFile(dir, name!));
      db.close();
      assert.equal(thrownCode(() => Authority.open(dir, { clock }).close()), c.want);
    });
  }
});

describe('Authority: issuance kinds in the audit log', () => {
  it('renewAgent is an agent issuance, issueServerSvid the authority, issue direct', () => {
    const clock = new ManualClock(T0);
    const { authority } = newAuthority(clock);
    try {
      const agent = agentId(td, 'node-a');
      const renewed = authority.renewAgent({ agent, csrDer: csrFor(agent) });
      const server = authority.issueServerSvid({ csrDer: csrFor(authorityServerId(td)) });
      const direct = authority.issue({ id: workloadId(td, 'a', 'b'), csrDer: csrFor(workloadId(td, 'a', 'b')) });
      const kinds = new Map(authority.issued().map((r) => [r.serial, [r.kind, r.requester]]));
      assert.deepEqual(kinds.get(renewed.serialHex), ['agent', agent.toString()]);
      assert.deepEqual(kinds.get(server.serialHex), ['authority', 'authority-api']);
      assert.deepEqual(kinds.get(direct.serialHex), ['direct', 'local']);
      const workload = workloadId(td, 'shop', 'cart');
      assert.equal(thrownCode(() => authority.renewAgent({ agent: workload, csrDer: csrFor(workload) })), 'PODGATE_E_NOT_AUTHORIZED');
    } finally {
      authority.close();
    }
  });
});
