/** The lint rules podgate knows, and how a finding becomes an Issue with a file position. */
import { compareText } from '../manifest/syntax.js';
import type { LocatedObject } from '../manifest/document.js';
import { formatPath, parsePath, severityOf, type Issue, type Path } from '../manifest/issue.js';
import { formatPolicyRef, policyKey, type PolicyRef, type RuleRef } from '../policy/model.js';
import type { Scenario } from '../scenario/load.js';

export interface LintRule {
  readonly code: string;
  /** One line: what the rule finds. */
  readonly description: string;
  /** Why it matters and what to do about it. */
  readonly help: string;
}

export const LINT_RULES: readonly LintRule[] = [
  {
    code: 'PODGATE_E_LINT_PROBE_BLOCKED',
    description: 'a policy blocks a liveness, readiness or startup probe',
    help: 'The kubelet probes a pod from its node. Traffic from the pod\'s own node is exempt from default deny, but not from deny rules, Admin-tier Deny rules, host policies or HTTP rules. A blocked probe restarts the container or keeps the pod out of its Services.',
  },
  {
    code: 'PODGATE_E_LINT_PROBE_PORT',
    description: 'a probe names a port the container does not declare',
    help: 'An httpGet or tcpSocket probe with a named port is resolved against the container\'s own ports; a name that is not there makes every probe fail.',
  },
  {
    code: 'PODGATE_E_LINT_DNS_BLOCKED',
    description: 'pods cannot reach the cluster DNS on UDP 53',
    help: 'Pods isolated for egress need an explicit allow to the DNS pods (UDP and TCP 53, as the DNS Service targets them), or every name lookup times out.',
  },
  {
    code: 'PODGATE_W_LINT_DNS_TCP_BLOCKED',
    description: 'pods can reach the cluster DNS on UDP 53 but not on TCP 53',
    help: 'Resolvers retry over TCP when an answer is truncated (large records, DNSSEC); allow TCP 53 next to UDP 53.',
  },
  {
    code: 'PODGATE_W_LINT_EMPTY_SELECTOR',
    description: 'a selector selects no pod, namespace or node in the given manifests',
    help: 'Usually a typo in a label or a namespace name. Only meaningful when the manifests hold the pods (or workloads), namespaces and nodes the policy is meant for.',
  },
  {
    code: 'PODGATE_W_LINT_SHADOWED_ALLOW',
    description: 'an allow rule never takes effect: a deny rule decides first for everything it allows',
    help: 'Deny rules (Cilium ingressDeny/egressDeny, clusterwide guardrails, Admin-tier Deny) are decided before allows; remove the allow, or narrow the deny.',
  },
  {
    code: 'PODGATE_W_LINT_GUARDRAIL',
    description: 'a namespaced allow tries to reach what a cluster guardrail denies',
    help: 'Clusterwide deny rules and Admin-tier Deny rules are decided before every namespaced policy; the allow has no effect. Ask the cluster administrators for an exception if the traffic is really needed.',
  },
  {
    code: 'PODGATE_W_LINT_OPEN_TENANT',
    description: 'a rule opens a tenant namespace to every namespace or to the whole internet',
    help: 'Empty selectors ({} namespaceSelector, fromEntities: all/cluster/world, 0.0.0.0/0) admit every workload of every tenant; name the namespaces and pods that need access, and the ports.',
  },
  {
    code: 'PODGATE_W_LINT_L7_VOIDED',
    description: 'HTTP rules are voided by a plain L4 allow on the same peer and port',
    help: 'Cilium lets an allow without L7 rules override the HTTP rules of another allow on the same port: every request passes. Give every allowing rule the same HTTP rules, or remove the plain allow.',
  },
  {
    code: 'PODGATE_W_LINT_AUTH_CONFLICT',
    description: 'allowing rules ask for conflicting authentication modes on the same traffic',
    help: 'authentication.mode disabled on one rule and required on another for the same connection: the strongest mode wins (podgate requires authentication), so disabled has no effect.',
  },
  {
    code: 'PODGATE_W_LINT_EMPTY_CILIUM_RULE',
    description: 'an empty Cilium rule ({}) in ingress or egress',
    help: 'Cilium documents `ingress: [{}]` as "allow nothing, but enable default deny"; newer Cilium code treats it as allow-all. Say what you mean: enableDefaultDeny for default deny, fromEntities/toEntities: [all] to allow everything.',
  },
  {
    code: 'PODGATE_W_LINT_PRIORITY_TIE',
    description: 'two tier policies with the same priority select the same pods',
    help: 'The network-policy-api leaves the order of equal priorities undefined (podgate orders them by name). Give each policy its own priority.',
  },
  {
    code: 'PODGATE_W_LINT_DEPRECATED',
    description: 'a deprecated API version or field',
    help: 'AdminNetworkPolicy and BaselineAdminNetworkPolicy (v1alpha1) are superseded by ClusterNetworkPolicy (v1alpha2, tier Admin or Baseline); Cilium fromRequires/toRequires were removed in Cilium 1.17.',
  },
  {
    code: 'PODGATE_W_LINT_NO_EFFECT',
    description: 'a part of a policy that has no effect',
    help: 'Rules ignored because policyTypes does not list their direction, Cilium rules without sections, namespace labels in a CiliumNetworkPolicy subject: delete them or fix what they were meant to do.',
  },
];

const RULES_BY_CODE = new Map(LINT_RULES.map((rule) => [rule.code, rule]));

export function lintRule(code: string): LintRule | undefined {
  return RULES_BY_CODE.get(code);
}

/** Where a finding points: a rule of a policy, or a field of any located object. */
export type FindingLocation =
  | { readonly policy: PolicyRef; readonly path: string }
  | { readonly object: LocatedObject; readonly path: Path; readonly name: string };

export interface Finding {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  readonly at?: FindingLocation;
}

/** Collects findings as Issues, positioned through the scenario's sources. */
export class FindingCollector {
  private readonly issues: Issue[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly scenario: Scenario) {}

  add(finding: Finding): void {
    if (!RULES_BY_CODE.has(finding.code)) throw new Error(`unknown lint code ${finding.code}`);
    const issue = this.toIssue(finding);
    const key = `${issue.code}\u0000${issue.object ?? ''}\u0000${issue.path}\u0000${issue.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.issues.push(issue);
  }

  /** An Issue found elsewhere (a parser warning) re-issued under a lint code. */
  addIssue(issue: Issue): void {
    const key = `${issue.code}\u0000${issue.object ?? ''}\u0000${issue.path}\u0000${issue.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.issues.push(issue);
  }

  /** In file order, so output is stable whatever order the checks ran in. */
  result(): Issue[] {
    return [...this.issues].sort(compareIssues);
  }

  private toIssue(finding: Finding): Issue {
    const base = { code: finding.code, severity: severityOf(finding.code), message: finding.message, ...(finding.hint === undefined ? {} : { hint: finding.hint }) };
    const at = finding.at;
    if (at === undefined) return { ...base, path: '' };
    if ('policy' in at) {
      const source = this.scenario.sources.get(policyKey(at.policy));
      const position = source?.locate(parsePath(at.path));
      return {
        ...base,
        path: at.path,
        object: formatPolicyRef(at.policy),
        ...(source ? { file: source.source } : {}),
        ...(position ? { line: position.line, column: position.column } : {}),
      };
    }
    const position = at.object.locate(at.path);
    return { ...base, path: formatPath(at.path), object: at.name, file: at.object.source, ...(position ? { line: position.line, column: position.column } : {}) };
  }
}

export function compareIssues(a: Issue, b: Issue): number {
  return (
    compareText(a.file ?? '', b.file ?? '') ||
    (a.line ?? 0) - (b.line ?? 0) ||
    (a.column ?? 0) - (b.column ?? 0) ||
    compareText(a.code, b.code) ||
    compareText(a.message, b.message)
  );
}

/** `NetworkPolicy ns/name spec.ingress[0]`, for messages. */
export function describeRule(rule: RuleRef): string {
  return `${formatPolicyRef(rule.policy)} ${rule.path}`;
}

export function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}

/** At most `limit` names, then "and N more". */
export function listSome(names: readonly string[], limit = 5): string {
  if (names.length <= limit) return names.join(', ');
  return `${names.slice(0, limit).join(', ')} and ${names.length - limit} more`;
}
