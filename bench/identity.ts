/**
 * `npm run bench -- identity`: SVID issuance (CSR verify + sign) per second on one core, the time to
 * rotate 10,000 SVIDs, and mutual-TLS handshakes per second between two Node processes with SVIDs
 * against a plain self-signed TLS handshake measured in the same run.
 */
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Authority } from '../src/authority/authority.js';
import { createRootCa } from '../src/identity/ca/ca.js';
import { signSvid } from '../src/identity/ca/sign.js';
import { TrustDomain, workloadId } from '../src/identity/spiffe-id.js';
import { createCsr } from '../src/identity/x509/csr.js';
import { runHandshakeBenchmark } from './handshakes.js';
import { round } from './measure.js';
import { figureLog, type Figure } from './report.js';

const TRUST_DOMAIN = TrustDomain.parse('bench.example');
const DISTINCT_CSRS = 2_000;
const ISSUE_SECONDS = 3;
const ROTATE = 10_000;

/** CSRs of distinct keys and IDs, as agents send them: the authority never sees the same one twice in a row. */
function requests(count: number): { id: ReturnType<typeof workloadId>; csr: Buffer }[] {
  return Array.from({ length: count }, (_, index) => {
    const id = workloadId(TRUST_DOMAIN, `team-${index % 100}`, `app-${index}`);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { id, csr: createCsr(privateKey, id) };
  });
}

/** Runs `step` for at least `seconds`, returns operations per second. */
function rate(seconds: number, step: (index: number) => void): { perSecond: number; operations: number } {
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  let operations = 0;
  let now = start;
  while (now < deadline) {
    for (let batch = 0; batch < 50; batch++) step(operations++);
    now = process.hrtime.bigint();
  }
  return { perSecond: operations / (Number(now - start) / 1e9), operations };
}

/**
 * The floor for any signer: one ECDSA P-256 verify (the CSR's self-signature) and one sign (the
 * certificate) of same-sized messages with Node's crypto, nothing parsed or built.
 */
function rawVerifyAndSign(seconds: number): number {
  const pairs = Array.from({ length: 64 }, () => generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  const caKey: KeyObject = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const csrBody = Buffer.alloc(230, 1);
  const tbs = Buffer.alloc(480, 2);
  const signatures = pairs.map((pair) => sign('sha256', csrBody, pair.privateKey));
  const spkis = pairs.map((pair) => pair.publicKey.export({ format: 'der', type: 'spki' }));
  return rate(seconds, (index) => {
    const slot = index % pairs.length;
    // The signer imports each request's public key afresh, as it must for a new CSR.
    const key = createPublicKey({ key: spkis[slot]!, format: 'der', type: 'spki' });
    if (!verify('sha256', csrBody, key, signatures[slot]!)) throw new Error('raw verify failed');
    sign('sha256', tbs, caKey);
  }).perSecond;
}

export async function runIdentityBenchmark(log: (line: string) => void): Promise<Figure[]> {
  const { figures, add } = figureLog(log);
  const now = Date.now();
  const ca = createRootCa({ trustDomain: TRUST_DOMAIN, now, ttlMs: 24 * 3600_000 });
  const pending = requests(DISTINCT_CSRS);

  // Issuance: the signer alone (CSR parse + verify + certificate build + sign), then through the
  // authority (plus serial counter and audit row in SQLite), then the raw crypto floor.
  for (let warm = 0; warm < 200; warm++) signSvid({ ca, csrDer: pending[warm]!.csr, id: pending[warm]!.id, ttlMs: 3600_000, now, serial: BigInt(warm + 1) });
  const signer = rate(ISSUE_SECONDS, (index) => {
    const request = pending[index % pending.length]!;
    signSvid({ ca, csrDer: request.csr, id: request.id, ttlMs: 3600_000, now, serial: BigInt(index + 1) });
  });
  const floor = rawVerifyAndSign(ISSUE_SECONDS);
  const stateDir = mkdtempSync(join(tmpdir(), 'podgate-bench-identity-'));
  try {
    const authority = Authority.init(stateDir, { trustDomain: TRUST_DOMAIN });
    const served = rate(ISSUE_SECONDS, (index) => {
      const request = pending[index % pending.length]!;
      authority.issue({ id: request.id, csrDer: request.csr });
    });
    add({
      name: 'svid_issue',
      signer_per_s: Math.round(signer.perSecond),
      authority_per_s: Math.round(served.perSecond),
      raw_verify_sign_per_s: Math.round(floor),
      signer_ratio_to_raw: round(signer.perSecond / floor, 3),
      target_per_s: 1000,
      meets_target: served.perSecond >= 1000,
    });

    // Rotation: 10,000 workloads each get a new SVID, as at their half-life: the agent side makes a
    // fresh key and CSR, the authority verifies, signs and records it.
    const start = process.hrtime.bigint();
    let agentNs = 0n;
    for (let index = 0; index < ROTATE; index++) {
      const agentStart = process.hrtime.bigint();
      const id = workloadId(TRUST_DOMAIN, `team-${index % 100}`, `app-${index}`);
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const csr = createCsr(privateKey, id);
      agentNs += process.hrtime.bigint() - agentStart;
      authority.issue({ id, csrDer: csr });
    }
    const totalS = Number(process.hrtime.bigint() - start) / 1e9;
    add({ name: 'rotate_10000_svids', svids: ROTATE, seconds: round(totalS), agent_keygen_and_csr_s: round(Number(agentNs) / 1e9), authority_s: round(totalS - Number(agentNs) / 1e9), per_s: Math.round(ROTATE / totalS) });
    authority.close();
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }

  for (const figure of await runHandshakeBenchmark()) add(figure);
  return figures;
}
