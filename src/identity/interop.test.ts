/**
 * Interop with the real `openssl` CLI: SVIDs podgate signs verify with `openssl verify`, show the
 * X509-SVID MUSTs in `openssl x509 -text`, and authenticate a TLS 1.3 handshake between a Node
 * `tls` server and `openssl s_client`; expired, foreign and CA:TRUE leaves are refused at
 * handshake. Skipped (with the reason) when `openssl` is not on PATH.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createServer, type Server } from 'node:tls';
import { BundleSet, X509Bundle } from './bundle/x509-bundle.js';
import { createRootCa, loadCa, type CertificateAuthority } from './ca/ca.js';
import { systemClock } from './clock.js';
import { signSvid } from './ca/sign.js';
import type { IdentityError } from './errors.js';
import { opensslMissing } from './openssl-testing.js';
import { StaticX509Source } from './source.js';
import { TrustDomain, workloadId, type SpiffeId } from './spiffe-id.js';
import { authorizeMemberOf } from './svid/verify.js';
import { marshalX509Svid, type X509Svid } from './svid/x509-svid.js';
import { makeCertificate } from './testing.js';
import { serverTlsOptions, verifiedConnectionListener, type VerifiedPeer } from './tls.js';
import { KeyUsage, parseCertificate } from './x509/certificate.js';
import { createCsr } from './x509/csr.js';
import { certificatesToPem, encodePem } from './x509/pem.js';


// OpenSSL checks validity against the real clock, so "now" is the real time here.
const NOW = Date.now();
const HOUR = 3_600_000;
const td = TrustDomain.parse('example.org');
const foreignTd = TrustDomain.parse('elsewhere.test');

let serial = 1n;
function issue(ca: CertificateAuthority, id: SpiffeId, options: { now?: number; ttlMs?: number } = {}): X509Svid {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signed = signSvid({ ca, csrDer: createCsr(privateKey, id), id, ttlMs: options.ttlMs ?? HOUR, now: options.now ?? NOW, serial: serial++ });
  return { id, certificates: signed.chain.map((d) => parseCertificate(d)), privateKey };
}

/** Runs openssl asynchronously (the TLS server lives in this process); resolves when it exits. */
function opensslAsync(args: string[], cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // A safety net against a hung handshake, not a synchronization device.
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(guard);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('openssl interop', { skip: opensslMissing }, () => {
  let dir: string;
  let ca: CertificateAuthority;
  let foreignCa: CertificateAuthority;
  const file = (name: string, content: string): string => {
    writeFileSync(join(dir, name), content);
    return name;
  };
  const openssl = (...args: string[]) => spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  const writeSvid = (name: string, svid: X509Svid): { cert: string; key: string } => {
    const { certificatesPem, keyPem } = marshalX509Svid(svid);
    return { cert: file(`${name}.pem`, certificatesPem), key: file(`${name}-key.pem`, keyPem) };
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'podgate-interop-'));
    ca = createRootCa({ trustDomain: td, now: NOW - 4 * HOUR, ttlMs: 48 * HOUR });
    foreignCa = createRootCa({ trustDomain: foreignTd, now: NOW - HOUR, ttlMs: 48 * HOUR });
    file('bundle.pem', certificatesToPem(ca.roots));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('openssl verify and x509 -text', () => {
    it('openssl verify -CAfile bundle.pem svid.pem passes, for TLS client and server purposes', () => {
      const { cert } = writeSvid('svid', issue(ca, workloadId(td, 'default', 'app')));
      for (const extra of [[], ['-purpose', 'sslclient'], ['-purpose', 'sslserver']]) {
        const result = openssl('verify', ...extra, '-CAfile', 'bundle.pem', cert);
        assert.equal(result.status, 0, result.stderr + result.stdout);
        assert.match(result.stdout, /svid\.pem: OK/);
      }
    });

    it('openssl verify refuses an SVID from another trust domain and an expired one', () => {
      const foreign = writeSvid('foreign', issue(foreignCa, workloadId(foreignTd, 'default', 'app')));
      const expired = writeSvid('expired', issue(ca, workloadId(td, 'default', 'app'), { now: NOW - 2 * HOUR }));
      for (const [cert, reason] of [[foreign.cert, /unable to get local issuer certificate/], [expired.cert, /certificate has expired/]] as const) {
        const result = openssl('verify', '-CAfile', 'bundle.pem', cert);
        assert.notEqual(result.status, 0);
        assert.match(result.stdout + result.stderr, reason);
      }
    });

    it('openssl x509 -text shows one URI SAN, CA:FALSE, critical key usage with Digital Signature only, both EKUs', () => {
      const id = workloadId(td, 'default', 'app');
      const { cert } = writeSvid('svid', issue(ca, id));
      const result = openssl('x509', '-in', cert, '-text', '-noout');
      assert.equal(result.status, 0, result.stderr);
      const text = result.stdout;
      assert.equal(text.match(/URI:/g)?.length, 1, 'exactly one URI SAN');
      assert.match(text, new RegExp(`X509v3 Subject Alternative Name:[^\\n]*\\n\\s*URI:${id.toString().replace(/[.]/g, '\\.')}\\s*\\n`));
      assert.match(text, /X509v3 Basic Constraints: critical\s*\n\s*CA:FALSE/);
      assert.match(text, /X509v3 Key Usage: critical\s*\n\s*Digital Signature\s*\n/);
      assert.doesNotMatch(text, /Certificate Sign|CRL Sign/);
      assert.match(text, /X509v3 Extended Key Usage:\s*\n\s*TLS Web Server Authentication, TLS Web Client Authentication/);
      assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
      assert.match(text, /NIST CURVE: P-256|ASN1 OID: prime256v1/);
    });

    it('a chain through an operator intermediate verifies with -untrusted', () => {
      const root = makeCertificate({ commonName: 'operator root', uris: [td.idString()], isCA: true, keyUsage: KeyUsage.keyCertSign | KeyUsage.cRLSign, notBefore: new Date(NOW - HOUR), notAfter: new Date(NOW + 48 * HOUR) });
      const intermediate = makeCertificate({ commonName: 'operator intermediate', issuer: root, uris: [td.idString()], isCA: true, keyUsage: KeyUsage.keyCertSign | KeyUsage.cRLSign, notBefore: new Date(NOW - HOUR), notAfter: new Date(NOW + 48 * HOUR) });
      const operatorCa = loadCa({ trustDomain: td, certificatesPem: intermediate.pem, bundlePem: root.pem, keyPem: intermediate.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), now: NOW });
      const svid = issue(operatorCa, workloadId(td, 'default', 'app'));
      assert.equal(svid.certificates.length, 2, 'leaf and intermediate');
      file('operator-root.pem', root.pem);
      file('operator-leaf.pem', encodePem('CERTIFICATE', svid.certificates[0]!.der));
      file('operator-chain.pem', encodePem('CERTIFICATE', svid.certificates[1]!.der));
      const result = openssl('verify', '-CAfile', 'operator-root.pem', '-untrusted', 'operator-chain.pem', 'operator-leaf.pem');
      assert.equal(result.status, 0, result.stderr + result.stdout);
    });
  });

  /** A CA:TRUE "leaf" signed by the real CA; no key identifiers, so OpenSSL finds the issuer by name. */
  const caTrueLeaf = (): X509Svid => {
    const issuer = { cert: ca.certificate, der: ca.certificate.der, pem: '', privateKey: ca.privateKey, publicKey: ca.certificate.publicKey };
    const id = workloadId(td, 'default', 'client');
    const leaf = makeCertificate({ issuer, noKeyIds: true, commonName: '', uris: [id.toString()], isCA: true, keyUsage: KeyUsage.digitalSignature, notBefore: new Date(NOW - HOUR), notAfter: new Date(NOW + HOUR) });
    return { id, certificates: [leaf.cert], privateKey: leaf.privateKey };
  };

  // Certificate required: OpenSSL refuses what it can (Node drops the socket without a reason) and the SPIFFE check the rest.
  // Anonymous allowed: OpenSSL lets every client through, so each refusal carries the SPIFFE check's code.
  const modes = [
    { name: 'client certificate required (OpenSSL + SPIFFE checks)', requireClientCertificate: true, codes: { expired: undefined, foreign: undefined, caTrue: 'PODGATE_E_SVID_LEAF_CA' } },
    { name: 'anonymous allowed (SPIFFE checks alone)', requireClientCertificate: false, codes: { expired: 'PODGATE_E_SVID_EXPIRED', foreign: 'PODGATE_E_SVID_NO_BUNDLE', caTrue: 'PODGATE_E_SVID_LEAF_CA' } },
  ] as const;

  for (const mode of modes) {
    describe(`TLS 1.3 between a Node tls server and openssl s_client, ${mode.name}`, () => {
      let server: Server;
      let port = 0;
      const verified: VerifiedPeer[] = [];
      const refused: string[] = [];
      let dropped = 0;
      const serverId = workloadId(td, 'infra', 'server');

      before(async () => {
        const trust = { bundles: new BundleSet([X509Bundle.of(td, ca.roots)]), trustDomains: [td] };
        const source = new StaticX509Source(issue(ca, serverId));
        server = createServer(
          serverTlsOptions(source, trust, { requireClientCertificate: mode.requireClientCertificate }),
          verifiedConnectionListener(
            { bundles: trust.bundles, clock: systemClock, authorizer: authorizeMemberOf(td), onRefused: (_s, e: IdentityError) => refused.push(e.code) },
            (socket, peer) => {
              if (peer) verified.push(peer);
              socket.end(`hello ${peer?.id.toString() ?? 'anonymous'}\n`);
            },
          ),
        );
        // A socket Node dropped after OpenSSL's verdict surfaces only as a client error.
        server.on('tlsClientError', () => dropped++);
        server.listen(0, '127.0.0.1');
        await once(server, 'listening');
        port = (server.address() as AddressInfo).port;
      });
      after(() => server.close());

      const sClient = (client: { cert: string; key: string }) =>
        opensslAsync(['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-cert', client.cert, '-key', client.key, '-CAfile', 'bundle.pem', '-verify_return_error', '-brief', '-ign_eof'], dir);

      it('succeeds for a valid SVID: the server sees the client SPIFFE ID', { timeout: 30_000 }, async () => {
        const clientId = workloadId(td, 'default', 'client');
        const before = verified.length;
        const result = await sClient(writeSvid('client', issue(ca, clientId)));
        const output = result.stderr + result.stdout;
        assert.match(output, /Protocol version: TLSv1\.3/);
        assert.match(output, /Verification: OK/, 's_client verified the server SVID against the bundle');
        assert.match(result.stdout, new RegExp(`hello ${clientId.toString().replace(/[.]/g, '\\.')}`));
        assert.deepEqual(verified.slice(before).map((p) => p.id.toString()), [clientId.toString()]);
      });

      const cases = [
        { name: 'an expired leaf', code: mode.codes.expired, client: () => issue(ca, workloadId(td, 'default', 'client'), { now: NOW - 2 * HOUR }) },
        { name: 'a wrong-trust-domain leaf', code: mode.codes.foreign, client: () => issue(foreignCa, workloadId(foreignTd, 'default', 'client')) },
        { name: 'a CA:TRUE leaf', code: mode.codes.caTrue, client: caTrueLeaf },
      ];
      for (const { name, code, client } of cases) {
        it(`fails for ${name} (${code ?? 'dropped by OpenSSL verification'})`, { timeout: 30_000 }, async () => {
          const counts = { verified: verified.length, refused: refused.length, dropped };
          const drop = code === undefined ? once(server, 'tlsClientError') : undefined;
          const result = await sClient(writeSvid('bad-client', client()));
          await drop;
          assert.doesNotMatch(result.stdout, /hello/, 'no application byte reaches the client');
          assert.equal(verified.length, counts.verified, 'the server accepted no identity');
          if (code === undefined) {
            assert.equal(refused.length, counts.refused, 'OpenSSL refused it before the SPIFFE check');
            assert.equal(dropped, counts.dropped + 1);
          } else {
            assert.deepEqual(refused.slice(counts.refused), [code]);
          }
        });
      }
    });
  }
});
