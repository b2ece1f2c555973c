/**
 * Test and benchmark inputs for advise: a generated multi-namespace cluster (Deployments,
 * StatefulSets, CronJobs with controller labels, Services, cluster DNS) and manifests rebuilt from
 * the pods a flow capture names.
 */
import type { FlowEndpoint, FlowRecord } from '../flow/model.js';

type Manifest = Record<string, unknown>;

export interface MeshClusterOptions {
  readonly namespaces?: number;
  readonly workloadsPerNamespace?: number;
  readonly replicas?: number;
}

const PORTS = [8080, 9090, 5432, 6379, 3000];

/**
 * `namespaces` application namespaces (`team-0`, ...), each with Deployments (and one StatefulSet
 * and one CronJob) carrying app.kubernetes.io/name plus the labels their controllers add, a Service
 * per workload, and kube-system with CoreDNS behind the kube-dns Service (targetPort by name).
 */
export function meshClusterManifests(options: MeshClusterOptions = {}): Manifest[] {
  const namespaces = options.namespaces ?? 3;
  const perNamespace = options.workloadsPerNamespace ?? 4;
  const replicas = options.replicas ?? 2;
  const out: Manifest[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: 'kube-system' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { 'k8s-app': 'kube-dns' } },
        template: {
          metadata: { labels: { 'k8s-app': 'kube-dns' } },
          spec: { containers: [{ name: 'coredns', image: 'coredns', ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' }, { name: 'metrics', containerPort: 9153 }] }] },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system' },
      spec: { clusterIP: '10.96.0.10', selector: { 'k8s-app': 'kube-dns' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' }, { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 'dns-tcp' }] },
    },
  ];
  let serviceIp = 100;
  for (let n = 0; n < namespaces; n++) {
    const namespace = `team-${n}`;
    out.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { team: `t${n}` } } });
    for (let w = 0; w < perNamespace; w++) {
      const name = `svc-${w}`;
      const port = PORTS[(n + w) % PORTS.length]!;
      const kind = w === perNamespace - 1 && perNamespace > 2 ? 'StatefulSet' : 'Deployment';
      const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': namespace, tier: w % 2 === 0 ? 'front' : 'back' };
      out.push({
        apiVersion: 'apps/v1',
        kind,
        metadata: { name, namespace },
        spec: {
          replicas,
          ...(kind === 'StatefulSet' ? { serviceName: name } : {}),
          selector: { matchLabels: { 'app.kubernetes.io/name': name } },
          template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'app', ports: [{ name: 'http', containerPort: port }, { name: 'metrics', containerPort: 9100 }] }] } },
        },
      });
      out.push({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace },
        spec: { clusterIP: `10.96.${Math.floor(serviceIp / 250)}.${(serviceIp++ % 250) + 1}`, selector: { 'app.kubernetes.io/name': name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
      });
    }
    out.push({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'nightly', namespace },
      spec: { schedule: '0 2 * * *', jobTemplate: { spec: { template: { metadata: { labels: { 'app.kubernetes.io/name': 'nightly' } }, spec: { restartPolicy: 'Never', containers: [{ name: 'job', image: 'job' }] } } } } },
    });
  }
  return out;
}

/**
 * Namespaces and Pods (name, labels, address) for every pod a capture names, plus kube-dns when
 * pods labelled k8s-app=kube-dns appear: the cluster state a real capture came from, as far as the
 * flows tell it. The first address seen for a pod wins; a second pod claiming it gets none.
 */
export function manifestsFromFlows(records: readonly FlowRecord[]): Manifest[] {
  const namespaces = new Set<string>();
  const pods = new Map<string, { namespace: string; name: string; labels: Record<string, string>; ip?: string }>();
  const usedIps = new Set<string>();
  const visit = (endpoint: FlowEndpoint | undefined, ip: string | undefined): void => {
    if (!endpoint || typeof endpoint.namespace !== 'string' || typeof endpoint.pod_name !== 'string' || endpoint.pod_name === '') return;
    namespaces.add(endpoint.namespace);
    const key = `${endpoint.namespace}/${endpoint.pod_name}`;
    if (pods.has(key)) return;
    const labels: Record<string, string> = {};
    for (const label of endpoint.labels ?? []) {
      if (!label.startsWith('k8s:')) continue;
      const text = label.slice(4);
      const equals = text.indexOf('=');
      const name = equals === -1 ? text : text.slice(0, equals);
      if (name.startsWith('io.cilium.') || name === 'io.kubernetes.pod.namespace') continue;
      labels[name] = equals === -1 ? '' : text.slice(equals + 1);
    }
    const free = ip !== undefined && !usedIps.has(ip);
    if (free) usedIps.add(ip);
    pods.set(key, { namespace: endpoint.namespace, name: endpoint.pod_name, labels, ...(free ? { ip } : {}) });
  };
  for (const record of records) {
    const flow = record.flow;
    if (!flow) continue;
    visit(flow.source, flow.IP?.source);
    visit(flow.destination, flow.IP?.destination);
  }
  const out: Manifest[] = [...namespaces].sort().map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
  for (const pod of [...pods.values()].sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1))) {
    out.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod.name, namespace: pod.namespace, labels: pod.labels },
      spec: { containers: [{ name: 'c', image: 'i' }] },
      ...(pod.ip ? { status: { podIP: pod.ip } } : {}),
    });
  }
  if ([...pods.values()].some((pod) => pod.namespace === 'kube-system' && pod.labels['k8s-app'] === 'kube-dns')) {
    out.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'kube-dns', namespace: 'kube-system' }, spec: { selector: { 'k8s-app': 'kube-dns' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 }, { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 }] } });
  }
  return out;
}
