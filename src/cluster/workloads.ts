/** Expands workload templates into the pods a controller would create, deterministically. */
import { createHash } from 'node:crypto';
import { selects } from '../policy/selector.js';
import type { Node, Pod, Workload } from './model.js';

// The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alike characters).
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function safeHash(text: string, length: number): string {
  const digest = createHash('sha256').update(text).digest();
  let out = '';
  for (let index = 0; index < length; index++) out += SAFE_ALPHABET[(digest[index] ?? 0) % SAFE_ALPHABET.length];
  return out;
}

/** Workloads whose selector matches no given pod in their namespace are expanded into pods. */
export function expandWorkloads(workloads: readonly Workload[], pods: readonly Pod[], nodes: readonly Node[]): Pod[] {
  const out: Pod[] = [];
  for (const workload of workloads) {
    const covered = pods.some((pod) => pod.namespace === workload.namespace && selects(workload.selector, pod.labels));
    if (!covered) out.push(...podsOf(workload, nodes));
  }
  return out;
}

export function podsOf(workload: Workload, nodes: readonly Node[]): Pod[] {
  const { template } = workload;
  const templateHash = safeHash(`${workload.namespace}/${workload.name}/${JSON.stringify([...template.labels])}`, 10);
  const pods: Pod[] = [];
  const base = (name: string, extra: Record<string, string>, nodeName: string | undefined): Pod => ({
    namespace: workload.namespace,
    name,
    labels: new Map([...template.labels, ...Object.entries(extra)]),
    serviceAccount: template.serviceAccount,
    ips: [],
    hostNetwork: template.hostNetwork,
    containerPorts: template.containerPorts,
    owner: { kind: workload.kind, name: workload.name },
    ...(nodeName === undefined ? {} : { nodeName }),
  });
  switch (workload.kind) {
    case 'StatefulSet':
      for (let ordinal = 0; ordinal < workload.replicas; ordinal++) {
        const name = `${workload.name}-${ordinal}`;
        pods.push(
          base(name, { 'controller-revision-hash': `${workload.name}-${templateHash}`, 'statefulset.kubernetes.io/pod-name': name, 'apps.kubernetes.io/pod-index': String(ordinal) }, template.nodeName),
        );
      }
      break;
    case 'DaemonSet': {
      const eligible = nodes.filter((node) => [...(workload.nodeSelector ?? [])].every(([key, value]) => node.labels.get(key) === value));
      const placements = eligible.length > 0 ? eligible.map((node) => node.name) : [template.nodeName];
      for (const nodeName of placements) {
        pods.push(base(`${workload.name}-${safeHash(`${workload.name}/${nodeName ?? ''}`, 5)}`, { 'controller-revision-hash': templateHash, 'pod-template-generation': '1' }, nodeName));
      }
      break;
    }
    case 'Job':
    case 'CronJob': {
      const jobName = workload.kind === 'CronJob' ? `${workload.name}-${safeHash(workload.name, 8).replace(/\D/g, '7')}` : workload.name;
      const uid = safeHash(`uid/${jobName}`, 12);
      for (let index = 0; index < workload.replicas; index++) {
        pods.push(
          base(`${jobName}-${safeHash(`${jobName}/${index}`, 5)}`, { 'batch.kubernetes.io/job-name': jobName, 'job-name': jobName, 'batch.kubernetes.io/controller-uid': uid, 'controller-uid': uid }, template.nodeName),
        );
      }
      break;
    }
    case 'Deployment':
    case 'ReplicaSet':
      for (let index = 0; index < workload.replicas; index++) {
        const prefix = workload.kind === 'Deployment' ? `${workload.name}-${templateHash}` : workload.name;
        pods.push(base(`${prefix}-${safeHash(`${workload.name}/${index}`, 5)}`, workload.kind === 'Deployment' ? { 'pod-template-hash': templateHash } : {}, template.nodeName));
      }
      break;
  }
  return pods;
}

/** The controller a pod belongs to; a ReplicaSet made by a Deployment counts as the Deployment. */
export function workloadOf(pod: Pod): { kind: string; name: string } {
  const owner = pod.owner;
  if (!owner) return { kind: 'Pod', name: pod.name };
  const hash = pod.labels.get('pod-template-hash');
  if (owner.kind === 'ReplicaSet' && hash !== undefined && owner.name.endsWith(`-${hash}`)) return { kind: 'Deployment', name: owner.name.slice(0, -hash.length - 1) };
  if (owner.kind === 'Job' && pod.labels.has('batch.kubernetes.io/cronjob-name')) return { kind: 'CronJob', name: pod.labels.get('batch.kubernetes.io/cronjob-name')! };
  return owner;
}
