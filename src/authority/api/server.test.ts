import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { SpiffeBundle } from '../../identity/bundle/spiffe-bundle.js';
import { BundleSet } from '../../identity/bundle/x509-bundle.js';
import { authorizeAny } from '../../identity/svid/verify.js';
import { clientTlsOptions } from '../../identity/tls.js';
import { StaticX509Source } from '../../identity/source.js';
import { agentId, authorityServerId, TrustDomain, workloadId, type SpiffeId } from '../../identity/spiffe-id.js';
import { parseCertificates } from '../../identity/x509/certificate.js';
import { createCsr } from '../../identity/x509/csr.js';
import { Authority } from '../authority.js';
import { MAX_BODY_BYTES, statusForCode } from './protocol.js';
import { directSvid, errorCode, keepAliveClient, rawRequest, startTestAuthority, type RawRequest, type TestAuthority } from './testing.js';

const td = TrustDomain.parse('cluster.local');
const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const csr = (id?: SpiffeId): string => createCsr(key, id).toString('base64');
const json = (value: unknown): Pick<RawRequest, 'body' | 'headers'> => ({ body: JSON.stringify(value), headers: { 'Content-Type': 'application/json' } });

describe('authority API server', () => {
  let t: TestAuthority;
  let agent: StaticX509Source;
  let workload: StaticX509Source;

  before(async () => {
    t = await startTestAuthority(td);
    agent = new StaticX509Source(directSvid(t.authority, agentId(td, 'node-a')));
    workload = new StaticX509Source(directSvid(t.authority, workloadId(td, 'default', 'app')));
    t.pods.set('default', 'web-1', { serviceAccount: 'web', nodeName: 'node-a' });
    t.pods.set('default', 'db-1', { serviceAccount: 'db', nodeName: 'node-b' });
  });
  after(() => t.cleanup());

  it('presents an SVID for the authority server ID', () => {
    assert.equal(t.server.source.getX509Svid().id.toString(), authorityServerId(td).toString());
    assert.match(t.server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('GET /v1/bundle: PEM and SPIFFE bundle of the same authorities', async () => {
    const res = await rawRequest(t, { method: 'GET', path: '/v1/bundle' });
    assert.equal(res.status, 200);
    const body = res.json as { trustDomain: string; pem: string; spiffe: object };
    assert.equal(body.trustDomain, 'cluster.local');
    const pem = parseCertificates(body.pem).map((c) => c.der.toString('hex'));
    const jwks = SpiffeBundle.parse(td, JSON.stringify(body.spiffe)).x509.authorities.map((c) => c.der.toString('hex'));
    assert.deepEqual(jwks, pem);
    assert.deepEqual(pem, t.authority.bundle().authorities.map((c) => c.der.toString('hex')));
  });

  it('POST /v1/svid with a node SVID: the SVID of a pod on that node', async () => {
    const res = await rawRequest(t, { method: 'POST', path: '/v1/svid', identity: agent, ...json({ namespace: 'default', pod: 'web-1', csr: csr() }) });
    assert.equal(res.status, 200, res.text);
    const body = res.json as { spiffeId: string; chain: string[]; expiresAt: string };
    assert.equal(body.spiffeId, 'spiffe://cluster.local/ns/default/sa/web');
    assert.equal(body.chain.length, 1);
    assert.ok(Date.parse(body.expiresAt) > t.clock.now());
  });

  it('POST /v1/renew with a node SVID: a new SVID for the same agent ID', async () => {
    const res = await rawRequest(t, { method: 'POST', path: '/v1/renew', identity: agent, ...json({ csr: csr() }) });
    assert.equal(res.status, 200, res.text);
    assert.equal((res.json as { spiffeId: string }).spiffeId, agentId(td, 'node-a').toString());
  });

  it('audits renewals as agent SVIDs and its own SVID as the authority', () => {
    const renewed = t.authority.issued({ spiffeId: agentId(td, 'node-a').toString() })[0]!;
    assert.equal(renewed.kind, 'agent');
    assert.equal(renewed.requester, agentId(td, 'node-a').toString());
    const own = t.authority.issued({ spiffeId: authorityServerId(td).toString() });
    assert.equal(own.length, 1);
    assert.equal(own[0]!.kind, 'authority');
    assert.equal(own[0]!.serial, t.server.source.getX509Svid().certificates[0]!.serialHex);
  });

  it('POST /v1/attest with a join token, once', async () => {
    const { token } = t.authority.createJoinToken('node-c', 60_000);
    const first = await rawRequest(t, { method: 'POST', path: '/v1/attest', ...json({ token, csr: csr() }) });
    assert.equal(first.status, 200, first.text);
    assert.equal((first.json as { spiffeId: string }).spiffeId, agentId(td, 'node-c').toString());
    const again = await rawRequest(t, { method: 'POST', path: '/v1/attest', ...json({ token, csr: csr() }) });
    assert.equal(again.status, 401);
    assert.equal(errorCode(again), 'PODGATE_E_ATTESTATION');
  });

  // Every row: the request, the status and the stable code. The server must answer all of them and keep serving.
  const bad: { name: string; request: () => RawRequest; status: number; code: string }[] = [
    { name: 'unknown path', request: () => ({ method: 'GET', path: '/v2/nothing' }), status: 404, code: 'PODGATE_E_API_NOT_FOUND' },
    { name: 'wrong method', request: () => ({ method: 'GET', path: '/v1/attest' }), status: 405, code: 'PODGATE_E_API_METHOD' },
    { name: 'POST to the bundle', request: () => ({ method: 'POST', path: '/v1/bundle', ...json({}) }), status: 405, code: 'PODGATE_E_API_METHOD' },
    { name: 'not JSON content type', request: () => ({ method: 'POST', path: '/v1/attest', body: 'token=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }), status: 415, code: 'PODGATE_E_API_MEDIA_TYPE' },
    { name: 'malformed JSON', request: () => ({ method: 'POST', path: '/v1/attest', body: '{"token": ', headers: { 'Content-Type': 'application/json' } }), status: 400, code: 'PODGATE_E_API_MALFORMED_JSON' },
    { name: 'JSON that is not an object', request: () => ({ method: 'POST', path: '/v1/attest', ...json([1, 2]) }), status: 400, code: 'PODGATE_E_API_BAD_REQUEST' },
    { name: 'JSON null', request: () => ({ method: 'POST', path: '/v1/attest', ...json(null) }), status: 400, code: 'PODGATE_E_API_BAD_REQUEST' },
    { name: 'missing token', request: () => ({ method: 'POST', path: '/v1/attest', ...json({ csr: csr() }) }), status: 400, code: 'PODGATE_E_API_BAD_REQUEST' },
    { name: 'token of the wrong type', request: () => ({ method: 'POST', path: '/v1/attest', ...json({ token: 42, csr: csr() }) }), status: 400, code: 'PODGATE_E_API_BAD_REQUEST' },
    { name: 'CSR not base64', request: () => ({ method: 'POST', path: '/v1/attest', ...json({ token: 'x'.repeat(43), csr: 'not base64!' }) }), status: 400, code: 'PODGATE_E_API_BAD_REQUEST' },
    { name: 'unknown join token', request: () => ({ method: 'POST', path: '/v1/attest', ...json({ token: 'A'.repeat(43), csr: csr() }) }), status: 401, code: 'PODGATE_E_ATTESTATION' },
    {
      name: 'a CSR that is not DER',
      request: () => ({ method: 'POST', path: '/v1/svid', identity: agent, ...json({ namespace: 'default', pod: 'web-1', csr: Buffer.from('junk junk junk').toString('base64') }) }),
      status: 400,
      code: 'PODGATE_E_CSR_MALFORMED',
    },
    {
      name: 'a CSR with a broken signature',
      request: () => {
        const der = createCsr(key);
        der[der.length - 1]! ^= 0x01;
        return { method: 'POST', path: '/v1/svid', identity: agent, ...json({ namespace: 'default', pod: 'web-1', csr: der.toString('base64') }) };
      },
      status: 400,
      code: 'PODGATE_E_CSR_SIGNATURE',
    },
    {
      name: 'a CSR asking for another ID than the one granted',
      request: () => ({ method: 'POST', path: '/v1/svid', identity: agent, ...json({ namespace: 'default', pod: 'web-1', csr: csr(workloadId(td, 'kube-system', 'admin')) }) }),
      status: 400,
      code: 'PODGATE_E_CSR_ID_MISMATCH',
    },
    {
      name: 'renewal CSR for another agent',
      request: () => ({ method: 'POST', path: '/v1/renew', identity: agent, ...json({ csr: csr(agentId(td, 'node-b')) }) }),
      status: 400,
      code: 'PODGATE_E_CSR_ID_MISMATCH',
    },
    { name: 'pod SVID without a client certificate', request: () => ({ method: 'POST', path: '/v1/svid', ...json({ namespace: 'default', pod: 'web-1', csr: csr() }) }), status: 401, code: 'PODGATE_E_API_UNAUTHENTICATED' },
    { name: 'renewal without a client certificate', request: () => ({ method: 'POST', path: '/v1/renew', ...json({ csr: csr() }) }), status: 401, code: 'PODGATE_E_API_UNAUTHENTICATED' },
    {
      name: 'pod SVID with a workload (not agent) SVID',
      request: () => ({ method: 'POST', path: '/v1/svid', identity: workload, ...json({ namespace: 'default', pod: 'web-1', csr: csr() }) }),
      status: 403,
      code: 'PODGATE_E_API_NOT_AGENT',
    },
    {
      name: 'a pod on another node',
      request: () => ({ method: 'POST', path: '/v1/svid', identity: agent, ...json({ namespace: 'default', pod: 'db-1', csr: csr() }) }),
      status: 403,
      code: 'PODGATE_E_NOT_AUTHORIZED',
    },
    {
      name: 'an unknown pod',
      request: () => ({ method: 'POST', path: '/v1/svid', identity: agent, ...json({ namespace: 'default', pod: 'ghost', csr: csr() }) }),
      status: 403,
      code: 'PODGATE_E_NOT_AUTHORIZED',
    },
    {
      name: 'an oversized body with Content-Length',
      request: () => ({ method: 'POST', path: '/v1/attest', ...json({ token: 'x', csr: 'A'.repeat(MAX_BODY_BYTES) }) }),
      status: 413,
      code: 'PODGATE_E_API_BODY_TOO_LARGE',
    },
    {
      name: 'an oversized chunked body',
      request: () => ({ method: 'POST', path: '/v1/attest', chunked: 8192, ...json({ token: 'x', csr: 'A'.repeat(MAX_BODY_BYTES) }) }),
      status: 413,
      code: 'PODGATE_E_API_BODY_TOO_LARGE',
    },
  ];
  for (const { name, request, status, code } of bad) {
    it(`refuses ${name}: ${status} ${code}`, async () => {
      const res = await rawRequest(t, request());
      assert.equal(res.status, status, res.text);
      assert.equal(errorCode(res), code);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(statusForCode(code), status, 'statusForCode agrees with the server');
      if (status === 405) assert.ok(res.headers.allow);
    });
  }

  it('logs refusals of pods on other nodes in the authority', () => {
    const refusals = t.authority.refusals();
    assert.ok(refusals.some((r) => r.requester === agentId(td, 'node-a').toString() && /db-1/.test(r.detail)));
  });

  it('reports every answer through onEvent, with the code and the peer', () => {
    const notAgent = t.events.find((e) => e.type === 'response' && e.code === 'PODGATE_E_API_NOT_AGENT');
    assert.ok(notAgent && notAgent.type === 'response');
    assert.equal(notAgent.peer, workloadId(td, 'default', 'app').toString());
    assert.equal(notAgent.status, 403);
  });

  it('refuses a deny-listed node SVID at handshake', async () => {
    const denied = new StaticX509Source(directSvid(t.authority, agentId(td, 'node-d')));
    t.authority.deny(denied.getX509Svid().certificates[0]!.serial, 'node decommissioned');
    await assert.rejects(rawRequest(t, { method: 'POST', path: '/v1/renew', identity: denied, ...json({ csr: csr() }) }));
    assert.ok(t.events.some((e) => e.type === 'handshake-refused' && e.code === 'PODGATE_E_SVID_REVOKED'));
  });

  it('survives a client that speaks plain HTTP and one that sends a broken TLS hello', async () => {
    for (const payload of ['GET / HTTP/1.1\r\n\r\n', '\x16\x03\x01\x00\xffgarbage']) {
      const socket = connect(t.server.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.end(payload);
      await new Promise((resolve) => socket.on('close', resolve));
    }
    const res = await rawRequest(t, { method: 'GET', path: '/v1/bundle' });
    assert.equal(res.status, 200);
  });

  it('survives a client that leaves mid-body', async () => {
    const bundles = new BundleSet([t.authority.bundle()]);
    const options = clientTlsOptions(undefined, { bundles, trustDomains: [td] }, { bundles, clock: t.clock, authorizer: authorizeAny() });
    const socket = tlsConnect({ host: '127.0.0.1', port: t.server.port, ...options });
    socket.on('error', () => undefined);
    await once(socket, 'secureConnect');
    // "Expect: 100-continue" makes the server say when it has the headers; then half a body, then gone.
    socket.write('POST /v1/attest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n');
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    assert.match(chunk.toString(), /^HTTP\/1\.1 100 Continue/);
    const answered = t.nextEvent((e) => e.type === 'response' && e.path === '/v1/attest');
    socket.write('{"token": "ab');
    socket.destroy();
    const event = await answered;
    assert.equal(event.type === 'response' && event.code, 'PODGATE_E_API_BAD_REQUEST');
    assert.equal(event.type === 'response' && event.status, 400);
    const res = await rawRequest(t, { method: 'GET', path: '/v1/bundle' });
    assert.equal(res.status, 200);
  });

  it('keeps serving after all of the above', async () => {
    const res = await rawRequest(t, { method: 'POST', path: '/v1/svid', identity: agent, ...json({ namespace: 'default', pod: 'web-1', csr: csr() }) });
    assert.equal(res.status, 200);
    assert.ok(!t.events.some((e) => e.type === 'internal-error'), 'no internal errors');
  });
});

describe('authority API server: a connection outlives its handshake', () => {
  // Each row takes the agent's standing away between two requests on one kept-alive connection.
  const cases: { name: string; revoke: (t: TestAuthority, serial: bigint, notAfter: Date) => void; because: string }[] = [
    { name: 'deny-listed by this process', revoke: (t, serial) => t.authority.deny(serial, 'node decommissioned'), because: 'PODGATE_E_SVID_REVOKED' },
    {
      name: 'deny-listed by another process (podgate identity deny)',
      revoke: (t, serial) => {
        const cli = Authority.open(t.stateDir, { clock: t.clock });
        try {
          cli.deny(serial, 'node decommissioned');
        } finally {
          cli.close();
        }
      },
      because: 'PODGATE_E_SVID_REVOKED',
    },
    { name: 'expired at the injected clock', revoke: (t, _serial, notAfter) => t.clock.set(notAfter.getTime() + 1), because: 'PODGATE_E_SVID_EXPIRED' },
  ];
  for (const c of cases) {
    it(`refuses the next request on the same connection: ${c.name}`, async () => {
      const t = await startTestAuthority(td);
      const node = new StaticX509Source(directSvid(t.authority, agentId(td, 'node-k')));
      const client = keepAliveClient(t, node);
      try {
        const renew = { method: 'POST', path: '/v1/renew', ...json({ csr: csr() }) };
        const first = await client.request(renew);
        assert.equal(first.status, 200, first.text);
        const leaf = node.getX509Svid().certificates[0]!;
        c.revoke(t, leaf.serial, leaf.notAfter);

        const second = await client.request(renew);
        assert.equal(second.reused, true, 'same connection as the first request');
        assert.equal(second.status, 403, second.text);
        assert.equal(errorCode(second), 'PODGATE_E_API_PEER_REFUSED');
        assert.equal(statusForCode('PODGATE_E_API_PEER_REFUSED'), 403);
        assert.match(second.text, new RegExp(c.because));
        assert.equal(second.headers.connection, 'close');
        assert.equal(t.authority.issued({ spiffeId: agentId(td, 'node-k').toString() }).length, 2, 'only the first renewal signed anything');
      } finally {
        client.close();
        await t.cleanup();
      }
    });
  }
});

describe('authority API server: CA rotation by another process', () => {
  it('serves an agent whose SVID the new CA signed, without refreshTrust', async () => {
    const t = await startTestAuthority(td);
    const cli = Authority.open(t.stateDir, { clock: t.clock });
    try {
      cli.prepareRotation();
      // Forced: OpenSSL checks validity against the real clock, so the injected one cannot move an SVID lifetime ahead here.
      cli.activatePrepared({ force: true });
      const node = new StaticX509Source(directSvid(cli, agentId(td, 'node-n')));
      assert.notEqual(node.getX509Svid().certificates[0]!.issuer, t.server.source.getX509Svid().certificates[0]!.issuer, 'signed by the new CA');

      // The client trusts what the other process published; nothing in this test touches the serving authority first.
      const res = await rawRequest(t, { method: 'POST', path: '/v1/renew', identity: node, trustBundle: cli.bundle(), ...json({ csr: csr() }) });
      assert.equal(res.status, 200, res.text);
      assert.equal(parseCertificates((res.json as { bundle: { pem: string } }).bundle.pem).length, 2, 'both roots in the bundle');
      assert.ok(!t.events.some((e) => e.type === 'handshake-refused'), 'no handshake was refused');
    } finally {
      cli.close();
      await t.cleanup();
    }
  });
});
