import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { BundleSet, X509Bundle } from './bundle/x509-bundle.js';
import { createRootCa, loadCa, type CertificateAuthority } from './ca/ca.js';
import { signSvid } from './ca/sign.js';
import { IdentityError } from './errors.js';
import { StaticX509Source, type X509Source } from './source.js';
import { TrustDomain, workloadId, type SpiffeId } from './spiffe-id.js';
import { authorizeAny, authorizeId, authorizeMemberOf, type Authorizer } from './svid/verify.js';
import type { X509Svid } from './svid/x509-svid.js';
import { makeCertificate, makeChain, type TestCert } from './testing.js';
import {
  clientTlsOptions,
  keepServerContextFresh,
  peerChain,
  VerifiedCertificateCache,
  verifiedPeerCertificates,
  serverTlsOptions,
  verifiedConnectionListener,
  refuseUnverifiedPeers,
  verifyPeer,
  type PeerGuardOptions,
  type TrustOptions,
  type VerifiedPeer,
} from './tls.js';
import { KeyUsage, parseCertificate } from './x509/certificate.js';
import { createCsr } from './x509/csr.js';

// OpenSSL checks validity against the real clock, so certificates are made around the real now.
const NOW = Date.now();
const HOUR = 3_600_000;
const td = TrustDomain.parse('example.org');
const otherTd = TrustDomain.parse('other.example');
const serverId = workloadId(td, 'infra', 'server');
const clientId = workloadId(td, 'default', 'client');

let serial = 100n;
function issue(ca: CertificateAuthority, id: SpiffeId, now = NOW): X509Svid {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signed = signSvid({ ca, csrDer: createCsr(privateKey, id), id, ttlMs: HOUR, now, serial: serial++ });
  return { id, certificates: signed.chain.map((d) => parseCertificate(d)), privateKey };
}

/** A CA:TRUE "leaf" with a workload URI SAN, signed by the real CA (only a test factory builds this). */
function caTrueLeaf(ca: CertificateAuthority, id: SpiffeId): X509Svid {
  const issuer: TestCert = { cert: ca.certificate, der: ca.certificate.der, pem: '', privateKey: ca.privateKey, publicKey: ca.certificate.publicKey };
  const made = makeCertificate({
    issuer,
    // Without key identifiers OpenSSL finds the issuer by name, so CA:TRUE is the leaf's only defect.
    noKeyIds: true,
    commonName: '',
    uris: [id.toString()],
    isCA: true,
    keyUsage: KeyUsage.digitalSignature,
    notBefore: new Date(NOW - HOUR),
    notAfter: new Date(NOW + HOUR),
  });
  return { id, certificates: [made.cert], privateKey: made.privateKey };
}

/** A well-formed SVID whose authority key ID is not the CA's key ID: our verifier chains it by signature, OpenSSL does not. */
function mismatchedAkiLeaf(ca: CertificateAuthority, id: SpiffeId): X509Svid {
  const issuer: TestCert = { cert: ca.certificate, der: ca.certificate.der, pem: '', privateKey: ca.privateKey, publicKey: ca.certificate.publicKey };
  const made = makeCertificate({
    issuer,
    commonName: '',
    uris: [id.toString()],
    isCA: false,
    keyUsage: KeyUsage.digitalSignature,
    extKeyUsage: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
    notBefore: new Date(NOW - HOUR),
    notAfter: new Date(NOW + HOUR),
  });
  assert.notEqual(made.cert.authorityKeyId, ca.certificate.subjectKeyId);
  return { id, certificates: [made.cert], privateKey: made.privateKey };
}

const clock = (ms: number) => ({ now: () => ms });

interface ServerRun {
  server: Server;
  port: number;
  verified: VerifiedPeer[];
  refused: IdentityError[];
  anonymous: number;
}

async function startServer(source: X509Source, trust: TrustOptions, guard: Omit<PeerGuardOptions, 'onVerified' | 'onRefused'>, requireClientCertificate: boolean): Promise<ServerRun> {
  const run: ServerRun = { server: undefined as unknown as Server, port: 0, verified: [], refused: [], anonymous: 0 };
  const server = createServer(
    serverTlsOptions(source, trust, { requireClientCertificate }),
    verifiedConnectionListener({ ...guard, onRefused: (_s, e) => run.refused.push(e) }, (socket, peer) => {
      if (peer) run.verified.push(peer);
      else run.anonymous++;
      socket.end(`hello ${peer?.id.toString() ?? 'anonymous'}\n`);
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  run.server = server;
  run.port = (server.address() as AddressInfo).port;
  return run;
}

interface ClientOutcome {
  secure: boolean;
  data: string;
  error: Error | undefined;
  serverPeer: VerifiedPeer | undefined;
}

/** Connects, reads until the server closes; never rejects (the outcome says what happened). */
async function runClient(port: number, source: X509Source | undefined, trust: TrustOptions, authorizer: Authorizer, extra: object = {}): Promise<ClientOutcome> {
  const verification = { bundles: trust.bundles, clock: clock(NOW), authorizer };
  const outcome: ClientOutcome = { secure: false, data: '', error: undefined, serverPeer: undefined };
  const socket: TLSSocket = connect({ host: '127.0.0.1', port, ...clientTlsOptions(source, trust, verification), ...extra });
  socket.on('secureConnect', () => {
    outcome.secure = true;
    outcome.serverPeer = verifyPeer(socket, verification);
  });
  socket.on('data', (chunk: Buffer) => (outcome.data += chunk.toString()));
  socket.on('error', (e) => (outcome.error = e));
  // Not events.once: it would reject on the 'error' this function means to report.
  await new Promise((resolve) => socket.on('close', resolve));
  return outcome;
}

describe('mutual TLS with SVIDs (node:tls, 127.0.0.1)', () => {
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let trust: TrustOptions;
  let serverSource: StaticX509Source;

  before(() => {
    ca = createRootCa({ trustDomain: td, now: NOW - HOUR, ttlMs: 48 * HOUR });
    otherCa = createRootCa({ trustDomain: otherTd, now: NOW - HOUR, ttlMs: 48 * HOUR });
    trust = { bundles: new BundleSet([X509Bundle.of(td, ca.roots)]), trustDomains: [td] };
    serverSource = new StaticX509Source(issue(ca, serverId));
  });

  it('a valid client SVID: both sides learn the peer SPIFFE ID over TLS 1.3', async () => {
    const run = await startServer(serverSource, trust, { bundles: trust.bundles, clock: clock(NOW), authorizer: authorizeMemberOf(td) }, true);
    try {
      const out = await runClient(run.port, new StaticX509Source(issue(ca, clientId)), trust, authorizeId(serverId));
      assert.equal(out.error, undefined);
      assert.equal(out.data, `hello ${clientId}\n`);
      assert.equal(out.serverPeer?.id.toString(), serverId.toString());
      assert.deepEqual(run.verified.map((p) => p.id.toString()), [clientId.toString()]);
      assert.deepEqual(run.refused, []);
    } finally {
      run.server.close();
    }
  });

  // The server lets anonymous handshakes through OpenSSL, so every refusal below is the SPIFFE check's.
  const refusals: { name: string; client: () => X509Svid | undefined; guard?: Partial<PeerGuardOptions>; code: string }[] = [
    { name: 'a leaf from another trust domain', client: () => issue(otherCa, workloadId(otherTd, 'default', 'client')), code: 'PODGATE_E_SVID_NO_BUNDLE' },
    { name: 'a CA:TRUE leaf', client: () => caTrueLeaf(ca, clientId), code: 'PODGATE_E_SVID_LEAF_CA' },
    { name: 'a leaf expired at the injected time', client: () => issue(ca, clientId), guard: { clock: clock(NOW + 2 * HOUR) }, code: 'PODGATE_E_SVID_EXPIRED' },
    { name: 'a deny-listed leaf', client: () => issue(ca, clientId), guard: { isRevoked: () => true }, code: 'PODGATE_E_SVID_REVOKED' },
    { name: 'an ID the authorizer refuses', client: () => issue(ca, clientId), guard: { authorizer: authorizeId(serverId) }, code: 'PODGATE_E_SVID_UNAUTHORIZED' },
    { name: 'no certificate when anonymous clients are not allowed', client: () => undefined, code: 'PODGATE_E_TLS_NO_PEER_CERT' },
    { name: 'a leaf OpenSSL cannot chain (authority key ID names another key)', client: () => mismatchedAkiLeaf(ca, clientId), code: 'PODGATE_E_TLS_PATH_VALIDATION' },
  ];
  for (const { name, client, guard, code } of refusals) {
    it(`refuses at handshake: ${name} (${code})`, async () => {
      const run = await startServer(serverSource, trust, { bundles: trust.bundles, clock: clock(NOW), authorizer: authorizeAny(), ...guard }, false);
      try {
        const svid = client();
        const out = await runClient(run.port, svid && new StaticX509Source(svid), trust, authorizeId(serverId));
        assert.equal(out.data, '', 'no application byte reaches a refused client');
        assert.deepEqual(run.verified, []);
        assert.equal(run.anonymous, 0);
        assert.deepEqual(run.refused.map((e) => e.code), [code]);
      } finally {
        run.server.close();
      }
    });
  }

  it('allows anonymous clients only when asked to, with no identity', async () => {
    const run = await startServer(serverSource, trust, { bundles: trust.bundles, clock: clock(NOW), authorizer: authorizeAny(), allowAnonymous: true }, false);
    try {
      const out = await runClient(run.port, undefined, trust, authorizeId(serverId));
      assert.equal(out.data, 'hello anonymous\n');
      assert.equal(run.anonymous, 1);
    } finally {
      run.server.close();
    }
  });

  it('OpenSSL path validation refuses a foreign client when a certificate is required', async () => {
    const run = await startServer(serverSource, trust, { bundles: trust.bundles, clock: clock(NOW), authorizer: authorizeAny() }, true);
    const tlsErrors: Error[] = [];
    run.server.on('tlsClientError', (e) => tlsErrors.push(e));
    try {
      const out = await runClient(run.port, new StaticX509Source(issue(otherCa, workloadId(otherTd, 'ns', 'x'))), trust, authorizeId(serverId));
      assert.equal(out.data, '');
      assert.deepEqual(run.verified, []);
      assert.equal(tlsErrors.length, 1);
    } finally {
      run.server.close();
    }
  });

  it('the client refuses a server whose SVID its authorizer does not accept, before secureConnect', async () => {
    const run = await startServer(serverSource, trust, { bundles: trust.bundles, clock: clock(NOW), authorizer: authorizeAny() }, true);
    try {
      const out = await runClient(run.port, new StaticX509Source(issue(ca, clientId)), trust, authorizeId(workloadId(td, 'infra', 'someone-else')));
      assert.equal(out.secure, false);
      assert.equal((out.error as IdentityError | undefined)?.code, 'PODGATE_E_SVID_UNAUTHORIZED');
      assert.equal(out.data, '');
    } finally {
      run.server.close();
    }
  });

  it('the client refuses a TLS 1.2-only server', async () => {
    const server = createServer({ ...serverTlsOptions(serverSource, trust), minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }, (s) => s.end('x'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const out = await runClient((server.address() as AddressInfo).port, new StaticX509Source(issue(ca, clientId)), trust, authorizeAny());
      assert.equal(out.secure, false);
      assert.ok(out.error, 'handshake fails');
      assert.equal(out.data, '');
    } finally {
      server.close();
    }
  });

  it('keepServerContextFresh: new handshakes see the rotated server SVID', async () => {
    const source = new StaticX509Source(issue(ca, serverId));
    const run = await startServer(source, trust, { bundles: trust.bundles, clock: clock(NOW), authorizer: authorizeAny() }, true);
    const stop = keepServerContextFresh({ server: run.server, source, trust });
    try {
      const client = new StaticX509Source(issue(ca, clientId));
      const before = await runClient(run.port, client, trust, authorizeId(serverId));
      const rotated = issue(ca, serverId);
      source.update(rotated);
      const after = await runClient(run.port, client, trust, authorizeId(serverId));
      assert.notEqual(before.serverPeer?.chain[0]?.serialHex, after.serverPeer?.chain[0]?.serialHex);
      assert.equal(after.serverPeer?.chain[0]?.serialHex, rotated.certificates[0]!.serialHex);
    } finally {
      stop();
      run.server.close();
    }
  });

  describe('https server guarded by refuseUnverifiedPeers', () => {
    let server: ReturnType<typeof createHttpsServer>;
    let port = 0;
    const refused: string[] = [];
    let requests = 0;
    before(async () => {
      server = createHttpsServer(serverTlsOptions(serverSource, trust, { requireClientCertificate: false }), (_req, res) => {
        requests++;
        res.end('ok');
      });
      refuseUnverifiedPeers(server, { bundles: trust.bundles, clock: clock(NOW), authorizer: authorizeMemberOf(td), allowAnonymous: true, onRefused: (_s, e) => refused.push(e.code) });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      port = (server.address() as AddressInfo).port;
    });
    after(() => server.close());

    const get = (svid: X509Svid | undefined): Promise<{ status?: number; error?: Error }> =>
      new Promise((resolve) => {
        const options = clientTlsOptions(svid && new StaticX509Source(svid), trust, { bundles: trust.bundles, clock: clock(NOW), authorizer: authorizeId(serverId) });
        const req = httpsRequest({ host: '127.0.0.1', port, path: '/', method: 'GET', agent: false, ...options }, (res) => {
          res.resume();
          res.on('end', () => resolve({ ...(res.statusCode === undefined ? {} : { status: res.statusCode }) }));
        });
        req.on('error', (error) => resolve({ error }));
        req.end();
      });

    it('serves a verified client and an anonymous one, and never parses a request from a refused client', async () => {
      assert.equal((await get(issue(ca, clientId))).status, 200);
      assert.equal((await get(undefined)).status, 200);
      assert.equal(requests, 2);
      const bad = await get(caTrueLeaf(ca, clientId));
      assert.ok(bad.error, 'the refused client gets a connection error, not a response');
      assert.equal(requests, 2);
      assert.deepEqual(refused, ['PODGATE_E_SVID_LEAF_CA']);
    });
  });
});

describe('peerChain', () => {
  it('reads nothing from an absent or empty certificate', () => {
    assert.deepEqual(peerChain(undefined), []);
    assert.deepEqual(peerChain({} as never), []);
  });

  it('refuses an unreadable certificate with a code', () => {
    assert.throws(() => peerChain({ raw: Buffer.from('junk') } as never), { code: 'PODGATE_E_TLS_PEER_CERT' });
  });
});

describe('VerifiedCertificateCache', () => {
  let leaves: ReturnType<typeof parseCertificate>[];
  before(() => {
    const ca = createRootCa({ trustDomain: td, now: NOW - HOUR, ttlMs: 48 * HOUR });
    leaves = [0, 1, 2].map((i) => issue(ca, workloadId(td, 'cache', `w${i}`)).certificates[0]!);
  });
  const unbounded = { maxEntries: 1000, maxBytes: 1 << 30, maxCertificateBytes: 1 << 20 };

  it('drops the least recently used entry beyond maxEntries', () => {
    const cache = new VerifiedCertificateCache({ ...unbounded, maxEntries: 2 });
    const [a, b, c] = leaves as [typeof leaves[0], typeof leaves[0], typeof leaves[0]];
    cache.remember([a]);
    cache.remember([b]);
    assert.equal(cache.get(a.der), a, 'a is now the most recently used');
    cache.remember([c]);
    assert.deepEqual([cache.get(a.der), cache.get(b.der), cache.get(c.der)], [a, undefined, c]);
  });

  it('keeps the total DER bytes under maxBytes', () => {
    const [a, b, c] = leaves as [typeof leaves[0], typeof leaves[0], typeof leaves[0]];
    const cache = new VerifiedCertificateCache({ ...unbounded, maxBytes: b.der.length + c.der.length });
    for (const leaf of [a, b, c]) cache.remember([leaf]);
    assert.ok(cache.bytes <= b.der.length + c.der.length);
    assert.deepEqual([cache.get(a.der), cache.get(b.der), cache.get(c.der)], [undefined, b, c]);
  });

  it('never keeps a certificate larger than maxCertificateBytes', () => {
    const cache = new VerifiedCertificateCache({ ...unbounded, maxCertificateBytes: leaves[0]!.der.length - 1 });
    cache.remember([leaves[0]!]);
    assert.equal(cache.size, 0);
    assert.equal(cache.bytes, 0);
  });

  it('completes a lone leaf with its intermediates only while all of them are kept', () => {
    const chain = makeChain({ trustDomain: td.name, now: new Date(NOW) });
    const cache = new VerifiedCertificateCache({ ...unbounded, maxEntries: 2 });
    cache.remember([chain.leaf.cert, chain.intermediate.cert]);
    assert.deepEqual(cache.issuersOf(chain.leaf.cert), [chain.intermediate.cert]);
    assert.equal(cache.issuersOf(leaves[0]!), undefined, 'unknown leaf');
    assert.equal(cache.get(chain.leaf.cert.der), chain.leaf.cert);
    cache.remember([leaves[0]!]);
    assert.equal(cache.get(chain.intermediate.cert.der), undefined, 'the intermediate was the least recently used');
    assert.equal(cache.issuersOf(chain.leaf.cert), undefined);
  });
});

describe('peer certificates are remembered only from verified chains', () => {
  let ca: CertificateAuthority;
  let trust: TrustOptions;
  let run: ServerRun;
  before(async () => {
    ca = createRootCa({ trustDomain: td, now: NOW - HOUR, ttlMs: 48 * HOUR });
    trust = { bundles: new BundleSet([X509Bundle.of(td, ca.roots)]), trustDomains: [td] };
    // Anonymous clients allowed: OpenSSL lets every chain through, as on the authority server.
    run = await startServer(new StaticX509Source(issue(ca, serverId)), trust, { bundles: trust.bundles, clock: clock(NOW), authorizer: authorizeMemberOf(td), allowAnonymous: true }, false);
  });
  after(() => run.server.close());

  const refused: { name: string; client: () => X509Svid; code: string }[] = [
    { name: 'a chain from an unknown CA', client: () => issue(createRootCa({ trustDomain: td, now: NOW - HOUR, ttlMs: 48 * HOUR }), clientId), code: 'PODGATE_E_SVID_CHAIN_INCOMPLETE' },
    { name: 'a CA:TRUE leaf', client: () => caTrueLeaf(ca, clientId), code: 'PODGATE_E_SVID_LEAF_CA' },
  ];
  for (const c of refused) {
    it(`forgets ${c.name}`, async () => {
      const svid = c.client();
      const refusedBefore = run.refused.length;
      await runClient(run.port, new StaticX509Source(svid), trust, authorizeId(serverId));
      assert.deepEqual(run.refused.slice(refusedBefore).map((e) => e.code), [c.code]);
      assert.equal(verifiedPeerCertificates.get(svid.certificates[0]!.der), undefined);
    });
  }

  it('keeps a verified peer, so its next handshake does not parse it again', async () => {
    const client = new StaticX509Source(issue(ca, clientId));
    const der = client.getX509Svid().certificates[0]!.der;
    await runClient(run.port, client, trust, authorizeId(serverId));
    const remembered = verifiedPeerCertificates.get(der);
    assert.ok(remembered, 'remembered after it verified');
    await runClient(run.port, client, trust, authorizeId(serverId));
    const [first, second] = run.verified.slice(-2);
    assert.equal(first!.chain[0], remembered);
    assert.equal(second!.chain[0], remembered, 'the same parsed object, not a second parse');
  });
});

describe('resumed TLS 1.3 sessions with an operator intermediate', () => {
  it('the server still sees the full chain: OpenSSL reports only the leaf, the verified cache completes it', async () => {
    const operator = makeChain({ trustDomain: td.name, now: new Date(NOW) });
    const ca = loadCa({
      trustDomain: td,
      certificatesPem: operator.intermediate.pem,
      bundlePem: operator.root.pem,
      keyPem: operator.intermediate.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      now: NOW,
    });
    const trust: TrustOptions = { bundles: new BundleSet([X509Bundle.of(td, ca.roots)]), trustDomains: [td] };
    const client = new StaticX509Source(issue(ca, clientId));
    assert.equal(client.getX509Svid().certificates.length, 2, 'leaf and intermediate are presented');
    const handshakes: { reused: boolean; chainLength: number }[] = [];
    const refused: string[] = [];
    const guard = { bundles: trust.bundles, clock: clock(NOW), authorizer: authorizeMemberOf(td), onRefused: (_s: TLSSocket, e: IdentityError) => refused.push(e.code) };
    const server = createServer(
      serverTlsOptions(new StaticX509Source(issue(ca, serverId)), trust),
      verifiedConnectionListener(guard, (socket, peer) => {
        handshakes.push({ reused: socket.isSessionReused(), chainLength: peer?.chain.length ?? 0 });
        socket.end('hello\n');
      }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as AddressInfo).port;
      const verification = { bundles: trust.bundles, clock: clock(NOW), authorizer: authorizeId(serverId) };
      let session: Buffer | undefined;
      for (let i = 0; i < 2; i++) {
        const socket = connect({ host: '127.0.0.1', port, ...clientTlsOptions(client, trust, verification), ...(session === undefined ? {} : { session }) });
        socket.on('session', (ticket: Buffer) => (session = ticket));
        socket.on('data', () => undefined);
        socket.on('error', () => undefined);
        await new Promise((resolve) => socket.on('close', resolve));
        assert.ok(session, 'the server sent a session ticket');
      }
      assert.deepEqual(refused, []);
      assert.deepEqual(handshakes, [
        { reused: false, chainLength: 3 },
        { reused: true, chainLength: 3 },
      ]);
    } finally {
      server.close();
    }
  });
});
