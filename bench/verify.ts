/**
 * `npm run bench -- verify`: `podgate verify` on 1,000,000 flows of the payments example against
 * Debian's `jq` merely parsing the same file, side by side in the same run; and `podgate advise` on
 * 1,000,000 flows of a 2,000-pod cluster.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultWorkers } from '../src/advise/parallel.js';
import { quote, requireJq, round, seconds, shell } from './measure.js';
import { figureLog, type Figure } from './report.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'podgate');
const PAYMENTS = join(ROOT, 'examples', 'payments');
const FLOWS = 1_000_000;
const NAMESPACES = 200;
const APPS = 5;
const REPLICAS = 2;

type Manifest = Record<string, unknown>;

/**
 * A cluster before its rollout: 200 namespaces of five two-replica apps, each behind a Service,
 * cluster DNS, and no policies yet (advise is what writes them).
 */
export function adviseCluster(): Manifest[] {
  const out: Manifest[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system' } } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'kube-dns', namespace: 'kube-system' }, spec: { selector: { 'k8s-app': 'kube-dns' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 }, { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 }] } },
  ];
  for (let replica = 0; replica < 2; replica++) {
    out.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `coredns-${replica}`, namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
      spec: { containers: [{ name: 'coredns', ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' }] }] },
      status: { podIP: `10.96.0.${10 + replica}` },
    });
  }
  for (let n = 0; n < NAMESPACES; n++) {
    const namespace = `team-${n}`;
    out.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'kubernetes.io/metadata.name': namespace } } });
    for (let app = 0; app < APPS; app++) {
      const name = `app-${app}`;
      out.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
      for (let replica = 0; replica < REPLICAS; replica++) {
        const index = app * REPLICAS + replica;
        out.push({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `${name}-7f9c8d${app}-${replica}x`, namespace, labels: { app: name, 'pod-template-hash': `7f9c8d${app}` } },
          spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] },
          status: { podIP: `10.${100 + Math.floor(n / 250)}.${n % 250}.${index + 1}` },
        });
      }
    }
  }
  return out;
}

export function runVerifyBenchmark(log: (line: string) => void): Figure[] {
  const { figures, add } = figureLog(log);
  requireJq();
  const dir = mkdtempSync(join(tmpdir(), 'podgate-bench-verify-'));
  try {
    // verify: the payments flows against the payments policies, and jq parsing the same file.
    const flows = join(dir, 'payments.jsonl');
    shell(`node ${quote(BIN)} flows generate -f ${quote(PAYMENTS)} --profile payments --duration 168h --count ${FLOWS} --seed 1 --out ${quote(flows)} && sync`);
    const report = join(dir, 'verify.json');
    let verifyStatus = 0;
    const verify = seconds(() => {
      verifyStatus = shell(`node ${quote(BIN)} verify --flows ${quote(flows)} --policies ${quote(PAYMENTS)} --output json > ${quote(report)}`, [0, 1]).status;
    });
    const jqParse = seconds(() => shell(`jq -c . ${quote(flows)} > /dev/null`));
    add({
      name: 'verify_payments',
      flows: FLOWS,
      bytes: statSync(flows).size,
      podgate_flows_per_s: Math.round(FLOWS / verify),
      jq_parse_flows_per_s: Math.round(FLOWS / jqParse),
      ratio: round(jqParse / verify),
      podgate_s: round(verify),
      jq_s: round(jqParse),
      verify_exit: verifyStatus,
      target_ratio: 1,
      meets_target: jqParse / verify >= 1,
    });

    // advise: 1,000,000 flows of a 2,000-pod cluster with no policies yet.
    const cluster = join(dir, 'cluster.json');
    writeFileSync(cluster, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: adviseCluster() }));
    const meshFlows = join(dir, 'mesh.jsonl');
    const generate = seconds(() => shell(`node ${quote(BIN)} flows generate -f ${quote(cluster)} --profile mesh --duration 168h --count ${FLOWS} --seed 2 --out ${quote(meshFlows)} && sync`));
    const out = join(dir, 'advised');
    const advise = seconds(() => shell(`node ${quote(BIN)} advise --flows ${quote(meshFlows)} -f ${quote(cluster)} --out ${quote(out)}`, [0, 1]));
    const onePassOut = join(dir, 'advised-one-pass');
    const onePass = seconds(() => shell(`node ${quote(BIN)} advise --flows ${quote(meshFlows)} -f ${quote(cluster)} --out ${quote(onePassOut)} --workers 1`, [0, 1]));
    const same = spawnSync('diff', ['-r', out, onePassOut], { stdio: 'ignore' }).status === 0;
    const files = spawnSync('bash', ['-c', `ls ${quote(out)} | wc -l`], { encoding: 'utf8' }).stdout.trim();
    add({
      name: 'advise_2000_pods',
      pods: NAMESPACES * APPS * REPLICAS + 2,
      flows: FLOWS,
      bytes: statSync(meshFlows).size,
      generate_s: round(generate),
      advise_s: round(advise),
      advise_flows_per_s: Math.round(FLOWS / advise),
      workers: defaultWorkers(),
      advise_one_pass_s: round(onePass),
      same_output: same,
      files_written: Number(files),
      target_s: 10,
      meets_target: advise <= 10,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}
