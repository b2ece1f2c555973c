/**
 * Checks on how policies are written: deprecated APIs and fields (surfacing the parsers' own
 * warnings under lint codes), parts without effect, empty Cilium rules, tier priority ties.
 */
import type { Pod } from '../cluster/model.js';
import type { ClusterState } from '../cluster/state.js';
import { isRecord } from '../manifest/document.js';
import type { Issue } from '../manifest/issue.js';
import { formatPolicyRef, policyKey, type Policy, type TieredPolicy, type TierSubject } from '../policy/model.js';
import { selects } from '../policy/selector.js';
import { tierOrder } from '../policy/tier-order.js';
import type { Scenario } from '../scenario/load.js';
import { lintRule, type Finding } from './findings.js';

/** Parser warnings that are policy problems rather than input problems, re-issued as lint findings. */
export function surfacedParserWarnings(issues: readonly Issue[]): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const code = lintCodeFor(issue);
    if (code === undefined) continue;
    const rule = lintRule(code);
    out.push({ ...issue, code, severity: 'warning', ...(issue.hint === undefined && rule ? { hint: rule.help } : {}) });
  }
  return out;
}

function lintCodeFor(issue: Issue): string | undefined {
  if (issue.code === 'PODGATE_W_UNSUPPORTED' && /(from|to)Requires$/.test(issue.path)) return 'PODGATE_W_LINT_DEPRECATED';
  if (issue.code === 'PODGATE_W_EMPTY_RULE' || issue.code === 'PODGATE_W_NAMESPACE_IGNORED') return 'PODGATE_W_LINT_NO_EFFECT';
  // NetworkPolicy rules for a direction policyTypes leaves out.
  if (issue.code === 'PODGATE_W_IGNORED' && issue.object?.startsWith('NetworkPolicy ') && /^spec\.(ingress|egress)$/.test(issue.path)) return 'PODGATE_W_LINT_NO_EFFECT';
  return undefined;
}

const SUPERSEDED: Record<string, string> = {
  AdminNetworkPolicy: 'ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2) with tier: Admin; Allow becomes Accept, ports become protocols',
  BaselineAdminNetworkPolicy: 'ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2) with tier: Baseline; Allow becomes Accept, ports become protocols',
};

export function deprecatedApiFindings(scenario: Scenario): Finding[] {
  const findings: Finding[] = [];
  for (const policy of scenario.policies) {
    const replacement = SUPERSEDED[policy.ref.kind];
    const object = scenario.sources.get(policyKey(policy.ref));
    if (replacement === undefined || object === undefined) continue;
    findings.push({
      code: 'PODGATE_W_LINT_DEPRECATED',
      message: `${policy.ref.kind} (policy.networking.k8s.io/v1alpha1) is superseded by ClusterNetworkPolicy v1alpha2 (network-policy-api v0.2.0, NPEP-285)`,
      hint: `rewrite it as a ${replacement}`,
      at: { object, path: ['apiVersion'], name: formatPolicyRef(policy.ref) },
    });
  }
  return findings;
}

/** `ingress: [{}]` / `egress: [{}]` in a Cilium rule: documented as allow-nothing, read by newer code as allow-all. */
export function emptyCiliumRuleFindings(scenario: Scenario): Finding[] {
  const findings: Finding[] = [];
  for (const policy of scenario.policies) {
    if (policy.type !== 'Cilium' || policy.quarantined) continue;
    const object = scenario.sources.get(policyKey(policy.ref));
    if (!object || !isRecord(object.value)) continue;
    const value = object.value;
    const rules: { path: (string | number)[]; spec: unknown }[] = [{ path: ['spec'], spec: value['spec'] }];
    if (Array.isArray(value['specs'])) value['specs'].forEach((spec: unknown, index) => rules.push({ path: ['specs', index], spec }));
    for (const { path, spec } of rules) {
      if (!isRecord(spec)) continue;
      for (const section of ['ingress', 'egress'] as const) {
        const list = spec[section];
        if (!Array.isArray(list)) continue;
        list.forEach((entry: unknown, index) => {
          if (entry !== null && !(isRecord(entry) && Object.keys(entry).length === 0)) return;
          findings.push({
            code: 'PODGATE_W_LINT_EMPTY_CILIUM_RULE',
            message: `${section}: [{}] allows nothing here (Cilium's documented default-deny idiom), but newer Cilium versions read an empty rule as allow-all`,
            hint: section === 'ingress' ? 'for default deny write enableDefaultDeny: {ingress: true} with the rules you need; to allow everything write fromEntities: [all]' : 'for default deny write enableDefaultDeny: {egress: true} with the rules you need; to allow everything write toEntities: [all]',
            at: { object, path: [...path, section, index], name: formatPolicyRef(policy.ref) },
          });
        });
      }
    }
  }
  return findings;
}

function tierSubjectPods(cluster: ClusterState, subject: TierSubject): Pod[] {
  return cluster.pods.filter((pod) => selects(subject.namespaceSelector, cluster.namespace(pod.namespace).labels) && (subject.type === 'namespaces' || selects(subject.podSelector, pod.labels)));
}

/** Tier policies with equal priority whose subjects overlap: their order is undefined upstream. */
export function priorityTieFindings(cluster: ClusterState, policies: readonly Policy[]): Finding[] {
  const tiered = policies.filter((policy): policy is TieredPolicy => policy.type === 'Tiered' && !policy.quarantined).sort(tierOrder);
  const findings: Finding[] = [];
  const noPods = cluster.pods.length === 0;
  for (let later = 1; later < tiered.length; later++) {
    const policy = tiered[later]!;
    const subjects = new Set(tierSubjectPods(cluster, policy.subject));
    for (let earlier = 0; earlier < later; earlier++) {
      const other = tiered[earlier]!;
      if (other.tier !== policy.tier || other.priority !== policy.priority) continue;
      const shared = tierSubjectPods(cluster, other.subject).filter((pod) => subjects.has(pod));
      if (!noPods && shared.length === 0) continue;
      const hasPriority = policy.ref.kind !== 'BaselineAdminNetworkPolicy';
      findings.push({
        code: 'PODGATE_W_LINT_PRIORITY_TIE',
        message: `${formatPolicyRef(policy.ref)} has the same ${policy.tier} priority (${policy.priority}) as ${formatPolicyRef(other.ref)}${noPods ? '' : ` and both select ${shared.length === 1 ? 'pod' : `${shared.length} pods, e.g.`} ${shared[0]!.namespace}/${shared[0]!.name}`}; which is evaluated first is undefined upstream (podgate takes ${formatPolicyRef(other.ref)} first, by name)`,
        hint: hasPriority ? `give it a priority other than ${policy.priority}` : `give ${formatPolicyRef(other.ref)} a priority other than ${policy.priority}`,
        at: { policy: policy.ref, path: hasPriority ? 'spec.priority' : 'spec' },
      });
    }
  }
  return findings;
}
