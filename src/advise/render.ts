/**
 * Plans → Kubernetes NetworkPolicy or CiliumNetworkPolicy YAML, one multi-document text per
 * namespace, every rule preceded by a comment with its evidence (yaml's Document API).
 */
import { Document, isMap, isSeq, type YAMLMap } from 'yaml';
import type { DnsPlan, Evidence, NamespacePlan, PolicyFormat, PortKey, RulePlan, WorkloadPlan } from './advise.js';
import { describeEvidence } from './advise.js';
import type { WorkloadGroup } from './labels.js';

export interface RenderedNamespace {
  readonly namespace: string;
  /** The namespace's policies as a YAML stream (documents separated by `---`), ending in a newline. */
  readonly text: string;
  readonly policies: number;
  /** Allow rules written (DNS included). */
  readonly allows: number;
}

type Json = Record<string, unknown>;

interface Built {
  readonly object: Json;
  readonly comment: string[];
  /** Evidence per rule: [direction, index, lines]. */
  readonly ruleComments: (readonly [direction: 'ingress' | 'egress', index: number, lines: readonly string[]])[];
}

const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
const CILIUM_NAMESPACE_LABEL = 'k8s:io.kubernetes.pod.namespace';

export function renderNamespace(plan: NamespacePlan, options: { format: PolicyFormat }): RenderedNamespace {
  const cilium = options.format === 'cilium';
  const built: Built[] = [];
  built.push(defaultDeny(plan, cilium));
  if (plan.dns) built.push(dnsEgress(plan, plan.dns, cilium));
  if (plan.dnsIngress) built.push(dnsIngress(plan, plan.dnsIngress.plan, plan.dnsIngress.evidence, cilium));
  for (const workload of plan.workloads) built.push(workloadPolicy(plan, workload, cilium));
  const texts = built.map((entry) => toYaml(entry));
  const allows = built.reduce((sum, entry) => sum + entry.ruleComments.length, 0);
  return { namespace: plan.namespace, text: texts.join('---\n'), policies: built.length, allows };
}

function toYaml(entry: Built): string {
  const document = new Document(entry.object);
  if (entry.comment.length > 0) document.commentBefore = commentText(entry.comment);
  for (const [direction, index, lines] of entry.ruleComments) {
    const node = document.getIn(['spec', direction, index], true);
    if (isMap(node) || isSeq(node)) (node as YAMLMap).commentBefore = commentText(lines);
  }
  return document.toString({ lineWidth: 0 });
}

/** yaml prefixes each comment line with `#`; a leading space keeps `# text`. */
function commentText(lines: readonly string[]): string {
  return lines.flatMap((line) => line.split('\n')).map((line) => ` ${line}`).join('\n');
}

function metadata(name: string, namespace: string): Json {
  return { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'podgate-advise' } };
}

function header(kind: string, cilium: boolean): { apiVersion: string; kind: string } {
  return cilium ? { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy' } : { apiVersion: 'networking.k8s.io/v1', kind };
}

function defaultDeny(plan: NamespacePlan, cilium: boolean): Built {
  const comment = [
    `podgate advise: policies for namespace ${plan.namespace}, ${cilium ? 'CiliumNetworkPolicy' : 'NetworkPolicy'} format.`,
    'Generated from observed flows: review, then check with `podgate verify` before applying.',
    '',
    'default-deny: every pod of the namespace is isolated for ingress and egress; the policies below allow what was observed.',
  ];
  for (const note of plan.notes) comment.push(`NOTE ${note}`);
  if (plan.hostNotes.length > 0) {
    comment.push('Traffic from nodes was observed; NetworkPolicy cannot select it (the CNI must allow it; Cilium and Calico allow a pod\'s own node by default):');
    for (const note of plan.hostNotes) comment.push(`  ${note}`);
  }
  const spec: Json = cilium ? { endpointSelector: {}, ingress: [{}], egress: [{}] } : { podSelector: {}, policyTypes: ['Ingress', 'Egress'] };
  return { object: { ...header('NetworkPolicy', cilium), metadata: metadata('default-deny', plan.namespace), spec }, comment, ruleComments: [] };
}

function dnsEgress(plan: NamespacePlan, dns: DnsPlan, cilium: boolean): Built {
  const selector = Object.fromEntries(dns.selector);
  const target = `Service ${dns.service.namespace}/${dns.service.name} (selector ${[...dns.selector].map(([key, value]) => `${key}=${value}`).join(',')}; ${dns.pods.length} pod${dns.pods.length === 1 ? '' : 's'}), target ports ${dns.ports.map(portText).join(', ')}`;
  const evidence = [`DNS for every pod, to the pods of ${target}`, `lookups observed from ${plan.namespace}: ${describeEvidence(dns.evidence)}`];
  let rule: Json;
  if (cilium) {
    evidence.push('rules.dns matchPattern "*" sends lookups through Cilium\'s DNS proxy: toFQDNs rules need it');
    rule = {
      toEndpoints: [{ matchLabels: { [CILIUM_NAMESPACE_LABEL]: dns.service.namespace, ...selector } }],
      toPorts: [{ ports: ciliumPorts(dns.ports), rules: { dns: [{ matchPattern: '*' }] } }],
    };
  } else {
    rule = { to: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: dns.service.namespace } }, podSelector: { matchLabels: selector } }], ports: kubernetesPorts(dns.ports) };
  }
  const spec: Json = cilium ? { endpointSelector: {}, egress: [rule] } : { podSelector: {}, policyTypes: ['Egress'], egress: [rule] };
  return { object: { ...header('NetworkPolicy', cilium), metadata: metadata('allow-dns', plan.namespace), spec }, comment: ['allow-dns: name resolution through the cluster DNS, selected as its Service selects it.'], ruleComments: [['egress', 0, evidence]] };
}

function dnsIngress(plan: NamespacePlan, dns: DnsPlan, evidence: Evidence, cilium: boolean): Built {
  const selector = Object.fromEntries(dns.selector);
  const lines = [`DNS lookups from every pod of the cluster to the pods of Service ${dns.service.namespace}/${dns.service.name}`, `observed: ${describeEvidence(evidence)}`];
  const rule: Json = cilium
    ? { fromEndpoints: [{ matchExpressions: [{ key: CILIUM_NAMESPACE_LABEL, operator: 'Exists' }] }], toPorts: [{ ports: ciliumPorts(dns.ports) }] }
    : { from: [{ namespaceSelector: {} }], ports: kubernetesPorts(dns.ports) };
  const spec: Json = cilium ? { endpointSelector: { matchLabels: selector }, ingress: [rule] } : { podSelector: { matchLabels: selector }, policyTypes: ['Ingress'], ingress: [rule] };
  return { object: { ...header('NetworkPolicy', cilium), metadata: metadata('allow-dns-ingress', plan.namespace), spec }, comment: ['allow-dns-ingress: the cluster DNS answers every pod.'], ruleComments: [['ingress', 0, lines]] };
}

function workloadPolicy(plan: NamespacePlan, workload: WorkloadPlan, cilium: boolean): Built {
  const group = workload.group;
  const comment = [`${workload.policyName}: what ${group.kind} ${group.namespace}/${group.name} (${group.pods.length} pod${group.pods.length === 1 ? '' : 's'}) was seen doing.`];
  if (!group.exact && group.note) comment.push(`NOTE ${group.note}`);
  const ruleComments: Built['ruleComments'][number][] = [];
  const ingress = workload.ingress.map((rule, index) => {
    ruleComments.push(['ingress', index, rule.evidence]);
    return cilium ? ciliumRule(plan.namespace, rule, 'ingress') : kubernetesRule(plan.namespace, rule, 'ingress');
  });
  const egress = workload.egress.map((rule, index) => {
    ruleComments.push(['egress', index, rule.evidence]);
    return cilium ? ciliumRule(plan.namespace, rule, 'egress') : kubernetesRule(plan.namespace, rule, 'egress');
  });
  const labels = Object.fromEntries(group.labels);
  let spec: Json;
  if (cilium) {
    spec = { endpointSelector: group.labels.size > 0 ? { matchLabels: labels } : {} };
    if (ingress.length > 0) spec['ingress'] = ingress;
    if (egress.length > 0) spec['egress'] = egress;
  } else {
    const policyTypes = [...(ingress.length > 0 ? ['Ingress'] : []), ...(egress.length > 0 ? ['Egress'] : [])];
    spec = { podSelector: group.labels.size > 0 ? { matchLabels: labels } : {}, policyTypes };
    if (ingress.length > 0) spec['ingress'] = ingress;
    if (egress.length > 0) spec['egress'] = egress;
  }
  return { object: { ...header('NetworkPolicy', cilium), metadata: metadata(workload.policyName, plan.namespace), spec }, comment, ruleComments };
}

function kubernetesRule(namespace: string, rule: RulePlan, direction: 'ingress' | 'egress'): Json {
  const peers: Json[] = [];
  const peer = rule.peer;
  switch (peer.type) {
    case 'workloads':
      for (const group of peer.groups) peers.push(kubernetesPeer(namespace, group));
      break;
    case 'cidrs':
      for (const cidr of peer.cidrs) peers.push({ ipBlock: { cidr: cidr.text } });
      break;
    case 'entity':
    case 'fqdns':
      // Never planned for NetworkPolicy (advise turns them into addresses or notes).
      throw new Error(`${peer.type} peers cannot be written as NetworkPolicy`);
  }
  const out: Json = { [direction === 'ingress' ? 'from' : 'to']: peers };
  if (!allPorts(rule.ports)) out['ports'] = kubernetesPorts(rule.ports);
  return out;
}

function kubernetesPeer(namespace: string, group: WorkloadGroup): Json {
  const podSelector = group.labels.size > 0 ? { matchLabels: Object.fromEntries(group.labels) } : {};
  if (group.namespace === namespace) return { podSelector };
  return { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: group.namespace } }, podSelector };
}

function ciliumRule(namespace: string, rule: RulePlan, direction: 'ingress' | 'egress'): Json {
  const from = direction === 'ingress';
  const out: Json = {};
  const peer = rule.peer;
  switch (peer.type) {
    case 'workloads':
      out[from ? 'fromEndpoints' : 'toEndpoints'] = peer.groups.map((group) => {
        const labels: Record<string, string> = Object.fromEntries(group.labels);
        return { matchLabels: group.namespace === namespace ? labels : { [CILIUM_NAMESPACE_LABEL]: group.namespace, ...labels } };
      });
      break;
    case 'entity':
      out[from ? 'fromEntities' : 'toEntities'] = [peer.entity];
      break;
    case 'cidrs':
      out[from ? 'fromCIDRSet' : 'toCIDRSet'] = peer.cidrs.map((cidr) => ({ cidr: cidr.text }));
      break;
    case 'fqdns':
      out['toFQDNs'] = peer.names.map((name) => ({ matchName: name }));
      break;
  }
  if (!allPorts(rule.ports)) out['toPorts'] = [{ ports: ciliumPorts(rule.ports) }];
  if (rule.auth && peer.type === 'workloads') out['authentication'] = { mode: 'required' };
  return out;
}

function allPorts(ports: readonly PortKey[]): boolean {
  return ports.length === 0 || ports.some((port) => port.port === 0);
}

function kubernetesPorts(ports: readonly PortKey[]): Json[] {
  return ports.map((port) => ({ protocol: port.protocol, port: port.port }));
}

function ciliumPorts(ports: readonly PortKey[]): Json[] {
  return ports.map((port) => ({ port: String(port.port), protocol: port.protocol }));
}

function portText(port: PortKey): string {
  return `${port.port}/${port.protocol}`;
}
