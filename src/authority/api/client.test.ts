import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { X509Bundle } from '../../identity/bundle/x509-bundle.js';
import { createRootCa } from '../../identity/ca/ca.js';
import { IdentityError } from '../../identity/errors.js';
import { agentId, TrustDomain, workloadId } from '../../identity/spiffe-id.js';
import { verifyX509Svid } from '../../identity/svid/verify.js';
import type { X509Svid } from '../../identity/svid/x509-svid.js';
import { SpiffeBundle } from '../../identity/bundle/spiffe-bundle.js';
import { AgentClient, type AgentClientEvent } from './client.js';
import { startTestAuthority, type TestAuthority } from './testing.js';

const td = TrustDomain.parse('cluster.local');

describe('AgentClient', () => {
  let t: TestAuthority;
  const clients: AgentClient[] = [];

  before(async () => {
    t = await startTestAuthority(td);
    t.pods.set('shop', 'web-1', { serviceAccount: 'web', nodeName: 'node-a' });
    t.pods.set('shop', 'db-1', { serviceAccount: 'db', nodeName: 'node-b' });
  });
  after(async () => {
    for (const c of clients) c.close();
    await t.cleanup();
  });

  async function attest(node: string, events?: AgentClientEvent[]): Promise<AgentClient> {
    const { token } = t.authority.createJoinToken(node, 60_000);
    const client = await AgentClient.attest({
      url: t.server.url,
      token,
      // The bootstrap bundle, handed over out of band.
      trustBundle: X509Bundle.parse(td, t.authority.bundle().toPem()),
      clock: t.clock,
      scheduler: t.scheduler,
      random: () => 0,
      ...(events ? { onEvent: (e: AgentClientEvent) => events.push(e) } : {}),
    });
    clients.push(client);
    return client;
  }

  const verify = (svid: X509Svid) => verifyX509Svid(svid.certificates, t.authority.bundle(), { now: new Date(t.clock.now()) });

  it('attests with a join token and holds a verifiable node SVID', async () => {
    const client = await attest('node-a');
    assert.equal(client.nodeId.toString(), agentId(td, 'node-a').toString());
    assert.equal(verify(client.nodeSource.getX509Svid()).id.toString(), agentId(td, 'node-a').toString());
    assert.ok(t.authority.issued().some((r) => r.spiffeId === agentId(td, 'node-a').toString() && r.kind === 'agent'));
  });

  it('a used, unknown or foreign-bundle attestation fails with a code', async () => {
    const { token } = t.authority.createJoinToken('node-x', 60_000);
    const base = { url: t.server.url, clock: t.clock, scheduler: t.scheduler, trustBundle: t.authority.bundle() };
    clients.push(await AgentClient.attest({ ...base, token }));
    await assert.rejects(AgentClient.attest({ ...base, token }), { code: 'PODGATE_E_ATTESTATION' });
    await assert.rejects(AgentClient.attest({ ...base, token: 'B'.repeat(43) }), { code: 'PODGATE_E_ATTESTATION' });
    const stranger = createRootCa({ trustDomain: td, now: t.clock.now(), ttlMs: 3_600_000 });
    const fresh = t.authority.createJoinToken('node-y', 60_000).token;
    await assert.rejects(AgentClient.attest({ ...base, token: fresh, trustBundle: X509Bundle.of(td, stranger.roots) }), { code: 'PODGATE_E_API_UNREACHABLE' });
    await assert.rejects(AgentClient.attest({ ...base, token: fresh, url: 'http://127.0.0.1:1' }), { code: 'PODGATE_E_API_BAD_URL' });
  });

  it('workloadSource: an SVID for a pod on its node, renewed with change notifications', async () => {
    const client = await attest('node-a');
    const source = await client.workloadSource({ namespace: 'shop', pod: 'web-1' });
    const first = source.getX509Svid();
    assert.equal(first.id.toString(), workloadId(td, 'shop', 'web').toString());
    verify(first);
    const changes: X509Svid[] = [];
    source.onChange((svid) => changes.push(svid));
    const renewed = new Promise<X509Svid>((resolve) => source.onChange(resolve));
    // Fire every pending renewal (node and pod): the rotators renew as if half-life had come.
    t.scheduler.fireAll();
    const second = await renewed;
    assert.equal(changes.length, 1);
    assert.equal(second, source.getX509Svid());
    assert.notEqual(second.certificates[0]!.serialHex, first.certificates[0]!.serialHex);
    assert.equal(second.id.toString(), first.id.toString());
    source.close();
    assert.throws(() => source.getX509Svid(), { code: 'PODGATE_E_SOURCE_CLOSED' });
  });

  it('the node SVID is renewed over mutual TLS (not with the spent token)', async () => {
    const events: AgentClientEvent[] = [];
    const client = await attest('node-r', events);
    const before = client.nodeSource.getX509Svid();
    const renewed = new Promise<X509Svid>((resolve) => client.nodeSource.onChange(resolve));
    t.scheduler.fireAll();
    const after = await renewed;
    assert.equal(after.id.toString(), before.id.toString());
    assert.notEqual(after.certificates[0]!.serialHex, before.certificates[0]!.serialHex);
    assert.deepEqual(events.map((e) => `${e.source} ${e.type}`), ['node rotated', 'node rotated']);
    // The renewed node SVID still works for pod requests.
    t.pods.set('shop', 'cache-1', { serviceAccount: 'cache', nodeName: 'node-r' });
    const source = await client.workloadSource({ namespace: 'shop', pod: 'cache-1' });
    assert.equal(source.getX509Svid().id.toString(), workloadId(td, 'shop', 'cache').toString());
    source.close();
  });

  it('refuses a pod on another node, and the authority logs the refusal', async () => {
    const client = await attest('node-a');
    await assert.rejects(client.workloadSource({ namespace: 'shop', pod: 'db-1' }), (e: unknown) => {
      assert.ok(e instanceof IdentityError);
      assert.equal(e.code, 'PODGATE_E_NOT_AUTHORIZED');
      return true;
    });
    assert.ok(t.authority.refusals().some((r) => r.requester === agentId(td, 'node-a').toString() && /db-1/.test(r.detail)));
  });

  it('fetchBundle returns the PEM and SPIFFE bundle', async () => {
    const client = await attest('node-a');
    const body = await client.fetchBundle();
    assert.equal(body.trustDomain, 'cluster.local');
    assert.ok(SpiffeBundle.parse(td, JSON.stringify(body.spiffe)).x509.equals(t.authority.bundle()));
    assert.ok(client.bundle().equals(t.authority.bundle()));
  });

  it('follows CA rotation: the new root arrives with the next SVID, old SVIDs keep working', async () => {
    const client = await attest('node-a');
    const oldPod = await client.workloadSource({ namespace: 'shop', pod: 'web-1' });
    t.authority.prepareRotation();
    // Forced: OpenSSL checks validity against the real clock, so the injected one cannot move an SVID lifetime ahead here.
    t.authority.activatePrepared({ force: true });
    // No refreshTrust(): the server follows the bundle by itself.
    const newPod = await client.workloadSource({ namespace: 'shop', pod: 'web-1' });
    assert.equal(client.bundle().authorities.length, 2, 'both roots in the agent bundle');
    // Signed by the new CA, still verifiable by the agent; the old SVID too, until it expires.
    verifyX509Svid(newPod.getX509Svid().certificates, client.bundle(), { now: new Date(t.clock.now()) });
    verifyX509Svid(oldPod.getX509Svid().certificates, client.bundle(), { now: new Date(t.clock.now()) });
    assert.notEqual(newPod.getX509Svid().certificates[0]!.issuer, oldPod.getX509Svid().certificates[0]!.issuer);
    // The agent's node SVID (old CA) still authenticates it.
    await client.fetchBundle();
    oldPod.close();
    newPod.close();
  });

  it('a deny-listed node SVID is refused at handshake', async () => {
    const client = await attest('node-z');
    t.authority.deny(client.nodeSource.getX509Svid().certificates[0]!.serial, 'compromised');
    await assert.rejects(client.workloadSource({ namespace: 'shop', pod: 'web-1' }), { code: 'PODGATE_E_API_UNREACHABLE' });
    assert.ok(t.events.some((e) => e.type === 'handshake-refused' && e.code === 'PODGATE_E_SVID_REVOKED'));
  });
});
