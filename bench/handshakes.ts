/**
 * Handshakes per second between two Node processes: mutual TLS with X509-SVIDs (both sides run
 * the SPIFFE checks) against plain TLS with a self-signed server certificate, full handshakes and
 * resumed sessions, measured one after the other in the same run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createSecureContext, type ConnectionOptions } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Authority } from '../src/authority/authority.js';
import { systemClock } from '../src/identity/clock.js';
import { StaticX509Source } from '../src/identity/source.js';
import { authorityServerId, TrustDomain, workloadId } from '../src/identity/spiffe-id.js';
import { authorizeId } from '../src/identity/svid/verify.js';
import { parseX509Svid } from '../src/identity/svid/x509-svid.js';
import { clientTlsOptions, secureContextOptions } from '../src/identity/tls.js';
import { createCsr } from '../src/identity/x509/csr.js';
import { round } from './measure.js';
import type { PeerConfig } from './tls-peer.js';
import type { Figure } from './report.js';

const SECONDS = 4;
const IN_FLIGHT = 8;
const PEER = fileURLToPath(new URL('./tls-peer.js', import.meta.url));

async function startPeer(config: PeerConfig): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [...(process.env['PODGATE_BENCH_PEER_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['PODGATE_BENCH_PEER_PROF']}`] : []), PEER], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin!.end(JSON.stringify(config));
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /listening (\d+)/.exec(text);
      if (match) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`tls peer exited with ${code}`)));
  });
  return { port, child };
}

/** Handshakes completed per second with IN_FLIGHT connections open at a time; `resume` reuses a session ticket. */
async function measure(port: number, options: ConnectionOptions, resume: boolean): Promise<{ perSecond: number; handshakes: number; resumedShare: number }> {
  let session: Buffer | undefined;
  let handshakes = 0;
  let resumed = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(SECONDS * 1e9);
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket = connect({ ...options, host: '127.0.0.1', port, ...(resume && session ? { session } : {}) });
      let reply = '';
      socket.on('session', (ticket: Buffer) => {
        session = ticket;
      });
      socket.on('data', (chunk: Buffer) => {
        reply += chunk.toString();
      });
      socket.on('end', () => {
        if (reply !== 'ok') return reject(new Error(`unexpected reply "${reply}"`));
        handshakes++;
        if (socket.isSessionReused()) resumed++;
        socket.destroy();
        resolve();
      });
      socket.on('error', reject);
    });
  // One connection first, so resumption has a ticket from the start.
  await one();
  handshakes = 0;
  resumed = 0;
  const lanes = Array.from({ length: IN_FLIGHT }, async () => {
    while (process.hrtime.bigint() < deadline) await one();
  });
  await Promise.all(lanes);
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  return { perSecond: handshakes / elapsed, handshakes, resumedShare: handshakes === 0 ? 0 : resumed / handshakes };
}

export async function runHandshakeBenchmark(): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'podgate-bench-tls-'));
  const children: ChildProcess[] = [];
  try {
    const trustDomain = TrustDomain.parse('bench.example');
    const authority = Authority.init(join(dir, 'authority'), { trustDomain });
    const svid = (id: ReturnType<typeof workloadId>): { certPem: string; keyPem: string } => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const issued = authority.issue({ id, csrDer: createCsr(privateKey, id) });
      return { certPem: issued.chainPem, keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
    };
    const serverId = authorityServerId(trustDomain);
    const clientId = workloadId(trustDomain, 'bench', 'client');
    const serverSvid = svid(serverId);
    const clientSvid = svid(clientId);
    const bundlePem = authority.bundlePem();
    const bundles = authority.bundle();
    authority.close();

    // The baseline's self-signed certificate: ECDSA P-256 like the SVIDs, made by openssl.
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '1', '-keyout', join(dir, 'plain.key'), '-out', join(dir, 'plain.pem')], { stdio: 'pipe' });
    if (made.status !== 0) throw new Error(`openssl req failed: ${made.stderr.toString()}`);
    const plainCert = readFileSync(join(dir, 'plain.pem'), 'utf8');

    const spiffe = await startPeer({ mode: 'spiffe', ...serverSvid, bundlePem, trustDomain: trustDomain.name, clientId: clientId.toString() });
    children.push(spiffe.child);
    const plain = await startPeer({ mode: 'plain', certPem: plainCert, keyPem: readFileSync(join(dir, 'plain.key'), 'utf8') });
    children.push(plain.child);

    const source = new StaticX509Source(parseX509Svid(clientSvid.certPem, clientSvid.keyPem));
    // Both clients build their context (credentials, trusted roots) once, as a long-running agent does.
    const trust = { bundles, trustDomains: [trustDomain] };
    const spiffeOptions: ConnectionOptions = { ...clientTlsOptions(source, trust, { bundles, clock: systemClock, authorizer: authorizeId(serverId) }), secureContext: createSecureContext(secureContextOptions(source, trust)) };
    const plainOptions: ConnectionOptions = { secureContext: createSecureContext({ ca: plainCert, minVersion: 'TLSv1.3' }), servername: 'localhost', minVersion: 'TLSv1.3' };

    const figures: Figure[] = [];
    for (const resume of [false, true]) {
      const baseline = await measure(plain.port, plainOptions, resume);
      const mutual = await measure(spiffe.port, spiffeOptions, resume);
      figures.push({
        name: resume ? 'handshakes_resumed' : 'handshakes_full',
        mtls_svid_per_s: Math.round(mutual.perSecond),
        plain_self_signed_per_s: Math.round(baseline.perSecond),
        ratio_to_plain: round(mutual.perSecond / baseline.perSecond, 3),
        mtls_handshakes: mutual.handshakes,
        plain_handshakes: baseline.handshakes,
        ...(resume ? { mtls_resumed_share: round(mutual.resumedShare, 3), plain_resumed_share: round(baseline.resumedShare, 3) } : {}),
        in_flight: IN_FLIGHT,
      });
    }
    return figures;
  } finally {
    for (const child of children) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
