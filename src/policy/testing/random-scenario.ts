/**
 * Random clusters, policies and connections for differential testing and benchmarks. Everything is
 * generated as ordinary manifests, so the parsers are exercised along with the engines.
 */
import { namedEndpoint, type Endpoint } from '../../cluster/endpoint.js';
import type { External } from '../../cluster/model.js';
import type { ClusterState } from '../../cluster/state.js';
import { parseIp } from '../address.js';
import type { Protocol } from '../ports.js';
import type { Connection } from '../verdict.js';
import { Prng } from './prng.js';

type Manifest = Record<string, unknown>;

export interface RandomScenarioOptions {
  readonly namespaces?: number;
  readonly podsPerNamespace?: number;
  readonly policies?: number;
}

export interface ProbeSpec {
  readonly from: string;
  readonly to: string;
  readonly protocol: Protocol;
  readonly port: number;
  readonly http?: { readonly method: string; readonly path: string; readonly headers?: Record<string, string> };
}

const APPS = ['web', 'api', 'db', 'cache'];
const TIERS = ['front', 'back'];
const TEAMS = ['red', 'blue'];
const ENVS = ['prod', 'dev'];
const PORTS = [53, 80, 443, 5432, 8080, 8443, 9090];
const NAMED = ['http', 'metrics', 'dns'];

export const RANDOM_EXTERNALS: readonly External[] = [
  { name: 'internet', ip: parseIp('93.184.216.34')!, entity: 'world' },
  { name: 'resolver', ip: parseIp('8.8.8.8')!, entity: 'world' },
  { name: 'internet6', ip: parseIp('2001:db8::1')!, entity: 'world' },
  { name: 'apiserver', ip: parseIp('172.20.0.1')!, entity: 'kube-apiserver' },
  { name: 'host', entity: 'host' },
  { name: 'remote', entity: 'remote-node' },
];

export class RandomScenario {
  readonly random: Prng;
  readonly namespaces: string[] = [];
  readonly podNames: string[] = [];
  private policyCounter = 0;

  constructor(
    seed: number,
    private readonly options: RandomScenarioOptions = {},
  ) {
    this.random = new Prng(seed);
  }

  /** Cluster objects and policies as manifests, plus the externals to load them with. */
  manifests(): Manifest[] {
    const r = this.random;
    const out: Manifest[] = [];
    const namespaceCount = this.options.namespaces ?? r.int(2, 4);
    for (let n = 0; n < namespaceCount; n++) {
      const name = `ns-${n}`;
      this.namespaces.push(name);
      out.push(this.namespaceManifest(name));
    }
    for (let index = 1; index <= 2; index++) {
      out.push({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: `node-${index}`, labels: { zone: index === 1 ? 'a' : 'b', role: r.pick(['worker', 'edge']) } },
        status: { addresses: [{ type: 'InternalIP', address: `10.9.0.${index}` }] },
      });
    }
    this.namespaces.forEach((namespace, n) => {
      const count = this.options.podsPerNamespace ?? r.int(1, 4);
      for (let p = 0; p < count; p++) {
        const name = `pod-${p}`;
        this.podNames.push(`${namespace}/${name}`);
        out.push(this.podManifest(namespace, name, `10.${1 + Math.floor(n / 250)}.${n % 250}.${p + 1}`));
      }
      if (r.chance(0.5)) {
        out.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${r.pick(APPS)}`, namespace, labels: { exposed: r.pick(['yes', 'no']) } }, spec: { selector: { app: r.pick(APPS) }, ports: [{ port: 80, targetPort: 8080 }] } });
      }
    });
    const policyCount = this.options.policies ?? r.int(1, 8);
    for (let index = 0; index < policyCount; index++) out.push(this.policy());
    return out;
  }

  namespaceManifest(name: string): Manifest {
    const r = this.random;
    const labels: Record<string, string> = { team: r.pick(TEAMS) };
    if (r.chance(0.6)) labels['env'] = r.pick(ENVS);
    return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
  }

  podManifest(namespace: string, name: string, ip: string): Manifest {
    const r = this.random;
    const labels: Record<string, string> = { app: r.pick(APPS) };
    if (r.chance(0.6)) labels['tier'] = r.pick(TIERS);
    const ports = r.some(
      [
        { name: 'http', containerPort: 8080 },
        { name: 'metrics', containerPort: 9090 },
        { name: 'dns', containerPort: 53, protocol: 'UDP' },
      ],
      3,
    );
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels },
      spec: { serviceAccountName: r.pick(['default', 'app']), nodeName: r.pick(['node-1', 'node-2']), containers: [{ name: 'main', ports }] },
      status: { podIP: ip },
    };
  }

  /** A pod with new labels (for incremental updates). */
  relabeledPod(namespaceAndName: string, ip: string): Manifest {
    const [namespace, name] = namespaceAndName.split('/') as [string, string];
    return this.podManifest(namespace, name, ip);
  }

  policy(): Manifest {
    const r = this.random;
    const kind = r.pick(['NetworkPolicy', 'NetworkPolicy', 'CiliumNetworkPolicy', 'CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'ClusterNetworkPolicy', 'ClusterNetworkPolicy', 'AdminNetworkPolicy', 'BaselineAdminNetworkPolicy']);
    const name = `p-${this.policyCounter++}`;
    switch (kind) {
      case 'NetworkPolicy':
        return this.networkPolicy(name);
      case 'CiliumNetworkPolicy':
      case 'CiliumClusterwideNetworkPolicy':
        return this.ciliumPolicy(kind, name);
      default:
        return this.tieredPolicy(kind, name);
    }
  }

  private labelSelector(keys: 'pod' | 'namespace'): Manifest {
    const r = this.random;
    const key = keys === 'pod' ? r.pick(['app', 'tier']) : r.pick(['team', 'env', 'kubernetes.io/metadata.name']);
    const values = keys === 'pod' ? (key === 'app' ? APPS : TIERS) : key === 'team' ? TEAMS : key === 'env' ? ENVS : this.namespaces;
    switch (r.int(0, 5)) {
      case 0:
        return {};
      case 1:
      case 2:
        return { matchLabels: { [key]: r.pick(values) } };
      case 3:
        return { matchExpressions: [{ key, operator: r.pick(['In', 'NotIn']), values: r.some(values, 2).concat(r.pick(values)) }] };
      default:
        return { matchExpressions: [{ key, operator: r.pick(['Exists', 'DoesNotExist']) }] };
    }
  }

  private k8sPorts(): Manifest[] | undefined {
    const r = this.random;
    if (r.chance(0.35)) return undefined;
    const choices: Manifest[] = [
      { port: r.pick(PORTS) },
      { protocol: 'UDP', port: 53 },
      { port: r.pick(NAMED) },
      { protocol: 'UDP', port: 'dns' },
      { port: 8000, endPort: 9100 },
      { protocol: r.pick(['TCP', 'UDP', 'SCTP']) },
    ];
    return r.some(choices, 2).concat([r.pick(choices)]);
  }

  private networkPolicy(name: string): Manifest {
    const r = this.random;
    const namespace = r.pick(this.namespaces);
    const peer = (): Manifest => {
      switch (r.int(0, 4)) {
        case 0:
          return { podSelector: this.labelSelector('pod') };
        case 1:
          return { namespaceSelector: this.labelSelector('namespace') };
        case 2:
          return { namespaceSelector: this.labelSelector('namespace'), podSelector: this.labelSelector('pod') };
        case 3:
          return { ipBlock: r.pick([{ cidr: '10.0.0.0/8', except: ['10.1.1.0/24'] }, { cidr: '93.184.216.0/24' }, { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] }, { cidr: '10.9.0.0/24' }]) };
        default:
          return { podSelector: {} };
      }
    };
    const rules = (peerKey: 'from' | 'to'): Manifest[] =>
      Array.from({ length: r.int(0, 2) }, () => {
        const rule: Manifest = {};
        if (r.chance(0.75)) rule[peerKey] = Array.from({ length: r.int(1, 2) }, peer);
        const ports = this.k8sPorts();
        if (ports) rule['ports'] = ports;
        return rule;
      });
    const spec: Manifest = { podSelector: this.labelSelector('pod') };
    const ingress = rules('from');
    const egress = rules('to');
    if (r.chance(0.8)) spec['ingress'] = ingress;
    if (r.chance(0.6)) spec['egress'] = egress;
    if (r.chance(0.6)) spec['policyTypes'] = r.pick([['Ingress'], ['Egress'], ['Ingress', 'Egress']]);
    return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
  }

  private ciliumSelector(): Manifest {
    const r = this.random;
    const base = this.labelSelector('pod');
    switch (r.int(0, 6)) {
      case 0:
        return { matchLabels: { ...((base['matchLabels'] as Manifest | undefined) ?? {}), 'k8s:io.kubernetes.pod.namespace': r.pick(this.namespaces) } };
      case 1:
        return { matchLabels: { [`io.cilium.k8s.namespace.labels.team`]: r.pick(TEAMS) } };
      case 2:
        return { matchLabels: { 'reserved:host': '' } };
      default:
        return base;
    }
  }

  private ciliumPorts(allowL7: boolean): Manifest[] {
    const r = this.random;
    const portRule = (): Manifest => {
      const port = r.pick([{ port: String(r.pick(PORTS)), protocol: r.pick(['TCP', 'UDP', 'ANY']) }, { port: '53' }, { port: 'http', protocol: 'TCP' }, { port: '8000', endPort: 9100 }, { port: '0', protocol: 'UDP' }]);
      const rule: Manifest = { ports: [port] };
      if (allowL7 && r.chance(0.4)) {
        rule['ports'] = [{ port: '8080', protocol: 'TCP' }];
        rule['rules'] = { http: r.some<Manifest>([{ method: 'GET', path: '/api/.*' }, { method: 'POST', path: '/submit' }, { path: '/health', headers: ['X-Probe: yes'] }, {}], 2).concat([{ method: 'GET' }]) };
      }
      return rule;
    };
    return Array.from({ length: r.int(1, 2) }, portRule);
  }

  private ciliumRule(direction: 'ingress' | 'egress', deny: boolean): Manifest {
    const r = this.random;
    const prefix = direction === 'ingress' ? 'from' : 'to';
    const rule: Manifest = {};
    if (r.chance(0.1)) return rule;
    const l3 = r.int(0, 7);
    if (l3 <= 2) rule[`${prefix}Endpoints`] = Array.from({ length: r.int(1, 2) }, () => this.ciliumSelector());
    else if (l3 === 3) rule[`${prefix}Entities`] = r.some(['world', 'cluster', 'host', 'remote-node', 'kube-apiserver', 'all', 'world-ipv4'], 2).concat([r.pick(['world', 'host'])]);
    else if (l3 === 4) rule[`${prefix}CIDRSet`] = [r.pick([{ cidr: '93.184.216.0/24' }, { cidr: '0.0.0.0/0', except: ['8.8.8.0/24'] }, { cidr: '10.0.0.0/8' }, { cidr: '2001:db8::/32' }])];
    else if (l3 === 5) rule[`${prefix}CIDR`] = ['8.8.8.8/32', '172.20.0.1'];
    else if (l3 === 6 && direction === 'egress' && !deny) rule['toServices'] = [{ k8sServiceSelector: { selector: { matchLabels: { exposed: 'yes' } } } }];
    else if (l3 === 6) rule[`${prefix}Nodes`] = [{ matchLabels: { zone: r.pick(['a', 'b']) } }];
    if (r.chance(0.6) || l3 === 7) rule['toPorts'] = this.ciliumPorts(!deny);
    if (!deny && r.chance(0.3)) rule['authentication'] = { mode: r.pick(['required', 'disabled']) };
    return rule;
  }

  private ciliumPolicy(kind: string, name: string): Manifest {
    const r = this.random;
    const spec = (): Manifest => {
      const rule: Manifest = kind === 'CiliumClusterwideNetworkPolicy' && r.chance(0.15) ? { nodeSelector: { matchLabels: { zone: r.pick(['a', 'b']) } } } : { endpointSelector: this.labelSelector('pod') };
      for (const section of ['ingress', 'egress', 'ingressDeny', 'egressDeny'] as const) {
        const chance = section.endsWith('Deny') ? 0.25 : 0.6;
        if (r.chance(chance)) rule[section] = Array.from({ length: r.int(1, 2) }, () => this.ciliumRule(section.startsWith('ingress') ? 'ingress' : 'egress', section.endsWith('Deny')));
      }
      if (!['ingress', 'egress', 'ingressDeny', 'egressDeny'].some((section) => section in rule)) rule['ingress'] = [this.ciliumRule('ingress', false)];
      if (r.chance(0.15)) rule['enableDefaultDeny'] = { ingress: r.chance(0.5), egress: r.chance(0.5) };
      return rule;
    };
    const metadata: Manifest = { name };
    if (kind === 'CiliumNetworkPolicy') metadata['namespace'] = r.pick(this.namespaces);
    const manifest: Manifest = { apiVersion: 'cilium.io/v2', kind, metadata };
    if (r.chance(0.2)) manifest['specs'] = [spec(), spec()];
    else manifest['spec'] = spec();
    return manifest;
  }

  private tieredPolicy(kind: string, name: string): Manifest {
    const r = this.random;
    const cnp = kind === 'ClusterNetworkPolicy';
    const subject = r.chance(0.5) ? { namespaces: this.labelSelector('namespace') } : { pods: { namespaceSelector: this.labelSelector('namespace'), podSelector: this.labelSelector('pod') } };
    const actions = kind === 'BaselineAdminNetworkPolicy' ? ['Allow', 'Deny'] : cnp ? ['Accept', 'Deny', 'Pass'] : ['Allow', 'Deny', 'Pass'];
    const peer = (direction: 'ingress' | 'egress'): Manifest => {
      const choice = r.int(0, direction === 'ingress' ? 1 : 3);
      if (choice === 0) return { namespaces: this.labelSelector('namespace') };
      if (choice === 1) return { pods: { namespaceSelector: this.labelSelector('namespace'), podSelector: this.labelSelector('pod') } };
      if (choice === 2) return { networks: [r.pick(['93.184.216.0/24', '10.0.0.0/8', '0.0.0.0/0', '10.9.0.1/32'])] };
      return { nodes: { matchLabels: { zone: r.pick(['a', 'b']) } } };
    };
    const ports = (): Manifest[] | undefined => {
      if (r.chance(0.5)) return undefined;
      if (cnp) return [r.pick([{ tcp: { destinationPort: { number: r.pick(PORTS) } } }, { udp: { destinationPort: { number: 53 } } }, { tcp: { destinationPort: { range: { start: 8000, end: 9100 } } } }, { destinationNamedPort: 'http' }])];
      return [r.pick([{ portNumber: { protocol: 'TCP', port: r.pick(PORTS) } }, { portNumber: { protocol: 'UDP', port: 53 } }, { portRange: { protocol: 'TCP', start: 8000, end: 9100 } }, { namedPort: 'http' }])];
    };
    const rules = (direction: 'ingress' | 'egress'): Manifest[] =>
      Array.from({ length: r.int(0, 3) }, () => {
        const rule: Manifest = { action: r.pick(actions), [direction === 'ingress' ? 'from' : 'to']: [peer(direction)] };
        const p = ports();
        if (p) rule[cnp ? 'protocols' : 'ports'] = p;
        return rule;
      });
    const spec: Manifest = { subject, ingress: rules('ingress'), egress: rules('egress') };
    if (cnp) {
      spec['tier'] = r.pick(['Admin', 'Baseline']);
      spec['priority'] = r.int(0, 3);
    } else if (kind === 'AdminNetworkPolicy') spec['priority'] = r.int(0, 3);
    const apiVersion = cnp ? 'policy.networking.k8s.io/v1alpha2' : 'policy.networking.k8s.io/v1alpha1';
    return { apiVersion, kind, metadata: { name: kind === 'BaselineAdminNetworkPolicy' ? 'default' : name }, spec };
  }

  probe(): ProbeSpec {
    const r = this.random;
    const ends = [...this.podNames, ...RANDOM_EXTERNALS.map((external) => external.name), 'node:node-1', 'node:node-2'];
    const from = r.pick(ends);
    const to = r.pick(this.podNames.length > 0 && r.chance(0.8) ? this.podNames : ends);
    const protocol = r.pick<Protocol>(['TCP', 'TCP', 'UDP', 'SCTP']);
    const port = r.pick(PORTS);
    const http =
      protocol === 'TCP' && port === 8080 && r.chance(0.5)
        ? { method: r.pick(['GET', 'POST', 'DELETE']), path: r.pick(['/api/x', '/submit', '/health', '/']), ...(r.chance(0.3) ? { headers: { 'x-probe': 'yes' } } : {}) }
        : undefined;
    return { from, to, protocol, port, ...(http ? { http } : {}) };
  }
}

export function resolveProbeEnd(cluster: ClusterState, name: string): Endpoint | undefined {
  if (name.startsWith('node:')) {
    const node = cluster.node(name.slice(5));
    return node ? { kind: 'node', node } : undefined;
  }
  return namedEndpoint(cluster, name);
}

export function probeConnection(cluster: ClusterState, probe: ProbeSpec): Connection | undefined {
  const src = resolveProbeEnd(cluster, probe.from);
  const dst = resolveProbeEnd(cluster, probe.to);
  if (!src || !dst) return undefined;
  return { src, dst, protocol: probe.protocol, port: probe.port, ...(probe.http ? { http: probe.http } : {}) };
}
