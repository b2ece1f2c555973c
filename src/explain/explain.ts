/** `explain`: the verdict for one connection, the rules behind it, and the change that would allow it. */
import { createReferenceEngine } from '../policy/reference/evaluator.js';
import type { PolicyEngine } from '../policy/engine.js';
import { formatHttpRule } from '../policy/l7.js';
import { formatPolicyRef, policyKey, type CiliumPeerRule, type Policy, type RuleRef } from '../policy/model.js';
import { portMatches } from '../policy/ports.js';
import { namedPortsOf } from '../cluster/endpoint.js';
import type { Connection, DirectionVerdict, Verdict } from '../policy/verdict.js';
import { unlocatedObjects } from '../manifest/document.js';
import { scenarioFromObjects, type Scenario } from '../scenario/load.js';
import { planFixes, type FixPlan } from './fix.js';

export interface Explanation {
  readonly connection: Connection;
  readonly verdict: Verdict;
  readonly plan: FixPlan;
  /** Whether the proposed changes, applied to the scenario, let the connection through (checked, not assumed). */
  readonly fixVerified?: boolean;
  readonly notes: readonly string[];
}

export function explainConnection(scenario: Scenario, engine: PolicyEngine, connection: Connection): Explanation {
  const verdict = engine.evaluate(connection);
  const plan = planFixes(scenario, connection, verdict);
  const notes = [...quarantineNotes(scenario.policies, verdict), ...voidedL7Notes(scenario.policies, connection, verdict)];
  if (plan.fixes.length === 0) return { connection, verdict, plan, notes };
  return { connection, verdict, plan, notes, fixVerified: verifyFixes(scenario, connection, plan) };
}

/** Applies the fixes to a copy of the scenario and asks the reference evaluator again. */
function verifyFixes(scenario: Scenario, connection: Connection, plan: FixPlan): boolean {
  const applied = plan.fixes.filter((fix) => fix.action !== 'delete');
  const fixed = scenarioFromObjects(unlocatedObjects(applied.map((fix) => fix.manifest), 'fix'));
  if (fixed.issues.some((issue) => issue.severity === 'error')) return false;
  const deleted = scenarioFromObjects(unlocatedObjects(plan.fixes.filter((fix) => fix.action === 'delete').map((fix) => fix.manifest), 'delete')).policies;
  const replaced = new Set([...fixed.policies, ...deleted].map((policy) => policyKey(policy.ref)));
  const policies = [...scenario.policies.filter((policy) => !replaced.has(policyKey(policy.ref))), ...fixed.policies];
  return createReferenceEngine({ cluster: scenario.cluster, policies }).evaluate(connection).allowed;
}

export function findPeerRule(policies: readonly Policy[], ref: RuleRef): CiliumPeerRule | undefined {
  const policy = policies.find((candidate) => policyKey(candidate.ref) === policyKey(ref.policy));
  if (policy?.type !== 'Cilium') return undefined;
  for (const rule of policy.rules) {
    for (const kind of ['allow', 'deny'] as const) {
      for (const direction of ['ingress', 'egress'] as const) {
        const found = rule[kind][direction].find((peerRule) => peerRule.ref.path === ref.path);
        if (found) return found;
      }
    }
  }
  return undefined;
}

function quarantineNotes(policies: readonly Policy[], verdict: Verdict): string[] {
  const deciding = [...verdict.egress.rules, ...verdict.ingress.rules].map((rule) => policyKey(rule.policy));
  return policies
    .filter((policy) => policy.quarantined && deciding.includes(policyKey(policy.ref)))
    .map((policy) => `${formatPolicyRef(policy.ref)} is invalid (${policy.quarantined}); it isolates the pods it selects and allows nothing until it is fixed (fail closed). Run podgate validate.`);
}

/**
 * Cilium: "If a layer 4 rule is specified in the policy, and a similar layer 4 rule with layer 7
 * rules is also specified, then the layer 7 portions of the latter rule will have no effect."
 */
function voidedL7Notes(policies: readonly Policy[], connection: Connection, verdict: Verdict): string[] {
  const notes: string[] = [];
  for (const side of [verdict.egress, verdict.ingress] as DirectionVerdict[]) {
    if (side.reason !== 'allowed' || side.l7 !== undefined) continue;
    const withHttp = side.rules.filter((rule) => {
      const peerRule = findPeerRule(policies, rule);
      return peerRule?.ports?.some((portRule) => portRule.http !== undefined && portRule.ports.some((port) => portMatches(port, connection.protocol, connection.port, namedPortsOf(connection.dst))));
    });
    if (withHttp.length === 0) continue;
    const plain = side.rules.filter((rule) => !withHttp.includes(rule));
    const rules = withHttp.map((rule) => {
      const http = findPeerRule(policies, rule)?.ports?.flatMap((portRule) => portRule.http ?? []) ?? [];
      return `${formatPolicyRef(rule.policy)} ${rule.path} (${http.map(formatHttpRule).join(' | ')})`;
    });
    notes.push(
      `HTTP rules are not enforced on ${connection.protocol}/${connection.port} for this ${side.direction}: ${rules.join(', ')} ${withHttp.length === 1 ? 'is' : 'are'} voided by ${plain
        .map((rule) => `${formatPolicyRef(rule.policy)} ${rule.path}`)
        .join(', ')}, which allow${plain.length === 1 ? 's' : ''} the same traffic without L7 rules. Cilium lets an L4 allow override L7 rules on the same port; give every allowing rule the same HTTP rules, or remove the plain allow.`,
    );
  }
  return notes;
}
