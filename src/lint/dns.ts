/**
 * Cluster DNS reachability: every pod must reach at least one DNS pod on the port the DNS
 * Service targets, over UDP (an error when not) and TCP (a warning when not).
 */
import { podEndpoint } from '../cluster/endpoint.js';
import type { Pod, Service } from '../cluster/model.js';
import type { ClusterState } from '../cluster/state.js';
import { planFixes } from '../explain/fix.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { Protocol } from '../policy/ports.js';
import type { Connection, Verdict } from '../policy/verdict.js';
import type { Scenario } from '../scenario/load.js';
import { formatSelector } from '../policy/selector.js';
import { ruleKey, type RuleRef } from '../policy/model.js';
import { compareText } from '../manifest/syntax.js';
import { listSome, plural, type Finding } from './findings.js';
import { denialText, reasonText } from './verdict-text.js';

export interface DnsTarget {
  readonly service: Service;
  readonly pod: Pod;
  readonly protocol: Protocol;
  readonly port: number;
}

const DNS_PORT = 53;

/**
 * The DNS pods and ports: behind `kube-dns` (any namespace) or any Service with port 53, on the
 * port that Service really targets; pods labelled k8s-app=kube-dns on 53 when no such Service is declared.
 */
export function dnsTargets(cluster: ClusterState): DnsTarget[] {
  const services = cluster.services
    .filter((service) => service.selector !== undefined && (service.name === 'kube-dns' || service.ports.some((port) => port.port === DNS_PORT)))
    .sort((a, b) => Number(b.name === 'kube-dns') - Number(a.name === 'kube-dns') || compareText(a.namespace, b.namespace) || compareText(a.name, b.name));
  const targets: DnsTarget[] = [];
  for (const service of services) {
    const pods = cluster.pods.filter((pod) => pod.namespace === service.namespace && [...service.selector!].every(([key, value]) => pod.labels.get(key) === value));
    for (const servicePort of service.ports) {
      if (servicePort.port !== DNS_PORT || (servicePort.protocol !== 'UDP' && servicePort.protocol !== 'TCP')) continue;
      for (const pod of pods) {
        const port =
          typeof servicePort.targetPort === 'number'
            ? servicePort.targetPort
            : pod.containerPorts.find((candidate) => candidate.name === servicePort.targetPort && candidate.protocol === servicePort.protocol)?.port;
        if (port !== undefined) targets.push({ service, pod, protocol: servicePort.protocol, port });
      }
    }
  }
  if (targets.length > 0) return targets;
  const fallback: Service = { namespace: 'kube-system', name: 'kube-dns', ports: [], clusterIPs: [], labels: new Map() };
  return cluster.pods
    .filter((pod) => pod.labels.get('k8s-app') === 'kube-dns')
    .flatMap((pod) => (['UDP', 'TCP'] as const).map((protocol) => ({ service: fallback, pod, protocol, port: DNS_PORT })));
}

interface Blocked {
  readonly pod: Pod;
  readonly connection: Connection;
  readonly verdict: Verdict;
}

export function dnsFindings(options: { scenario: Scenario; engine: PolicyEngine }): Finding[] {
  const { engine, scenario } = options;
  const targets = dnsTargets(engine.cluster);
  if (targets.length === 0) return [];
  const dnsPods = new Set(targets.map((target) => `${target.pod.namespace}/${target.pod.name}`));
  const clients = engine.cluster.pods
    .filter((pod) => !pod.hostNetwork && !dnsPods.has(`${pod.namespace}/${pod.name}`))
    .sort((a, b) => compareText(a.namespace, b.namespace) || compareText(a.name, b.name));
  const findings: Finding[] = [];
  // A pod without UDP already has an error; TCP is only worth a warning for pods that have UDP.
  const udpBlocked = new Set<Pod>();
  for (const protocol of ['UDP', 'TCP'] as const) {
    const forProtocol = targets.filter((target) => target.protocol === protocol);
    if (forProtocol.length === 0) continue;
    // Group blocked pods by namespace and by what blocks them, so one policy problem is one finding.
    const groups = new Map<string, Blocked[]>();
    for (const pod of clients) {
      if (protocol === 'TCP' && udpBlocked.has(pod)) continue;
      let blocked: Blocked | undefined;
      for (const target of forProtocol) {
        const connection: Connection = { src: podEndpoint(engine.cluster, pod), dst: podEndpoint(engine.cluster, target.pod), protocol, port: target.port };
        const verdict = engine.evaluate(connection);
        if (verdict.allowed) {
          blocked = undefined;
          break;
        }
        blocked ??= { pod, connection, verdict };
      }
      if (!blocked) continue;
      if (protocol === 'UDP') udpBlocked.add(pod);
      const side = blocked.verdict.decidedBy === 'egress' ? blocked.verdict.egress : blocked.verdict.ingress;
      const key = `${pod.namespace}\u0000${side.direction}\u0000${side.reason}\u0000${blocked.verdict.l7Denied}`;
      const group = groups.get(key);
      if (group) group.push(blocked);
      else groups.set(key, [blocked]);
    }
    for (const blocked of groups.values()) findings.push(groupFinding({ scenario, blocked, targets: forProtocol, protocol }));
  }
  return findings;
}

/** One finding for the pods of a namespace that the same kind of denial keeps from DNS. */
function groupFinding(options: { scenario: Scenario; blocked: readonly Blocked[]; targets: readonly DnsTarget[]; protocol: Protocol }): Finding {
  const { scenario, blocked, targets, protocol } = options;
  const first = blocked[0]!;
  const target = targets[0]!;
  const namespace = first.pod.namespace;
  const side = first.verdict.decidedBy === 'egress' ? first.verdict.egress : first.verdict.ingress;
  const rules = new Map<string, RuleRef>();
  for (const entry of blocked) {
    const denying = entry.verdict.decidedBy === 'egress' ? entry.verdict.egress : entry.verdict.ingress;
    for (const rule of denying.rules) rules.set(ruleKey(rule), rule);
  }
  const merged = { ...side, rules: [...rules.values()] };
  const reason = first.verdict.l7Denied ? denialText(first.connection, first.verdict) : `${side.direction} ${side.direction === 'egress' ? `of these pods` : `of ${target.pod.namespace}/${target.pod.name}`} ${reasonText(merged)}`;
  const service = `${target.service.namespace}/${target.service.name}`;
  const dnsPods = `namespace ${target.pod.namespace}, pods ${target.service.selector ? formatSelector({ requirements: [...target.service.selector].map(([key, value]) => ({ key, operator: 'In' as const, values: [value] })) }) : target.pod.name}`;
  let hint: string;
  if (side.direction === 'egress' && side.reason === 'default-deny') {
    hint = `allow egress from namespace ${namespace} to the DNS pods (${dnsPods}) on UDP and TCP ${target.port}, the port ${service} targets (podgate advise writes this policy)`;
  } else {
    const fixes = planFixes(scenario, first.connection, first.verdict).fixes.map((fix) => fix.summary);
    hint = fixes.length > 0 ? fixes.join('; ') : `let namespace ${namespace} reach the DNS pods (${dnsPods}) on UDP and TCP ${target.port}`;
  }
  const [rule] = merged.rules;
  return {
    code: protocol === 'UDP' ? 'PODGATE_E_LINT_DNS_BLOCKED' : 'PODGATE_W_LINT_DNS_TCP_BLOCKED',
    message: `${plural(blocked.length, 'pod')} in namespace ${namespace} (${listSome(blocked.map((entry) => entry.pod.name), 3)}) cannot reach the cluster DNS (${service}, ${protocol}/${target.port} on ${plural(new Set(targets.map((entry) => entry.pod.name)).size, 'pod')}): ${reason}`,
    hint,
    ...(rule ? { at: { policy: rule.policy, path: rule.path } } : {}),
  };
}
