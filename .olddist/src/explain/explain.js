/** `explain`: the verdict for one connection, the rules behind it, and the change that would allow it. */
import { createReferenceEngine } from '../policy/reference/evaluator.js';
import { formatHttpRule } from '../policy/l7.js';
import { formatPolicyRef, policyKey } from '../policy/model.js';
import { portMatches } from '../policy/ports.js';
import { namedPortsOf } from '../cluster/endpoint.js';
import { scenarioFromObjects } from '../scenario/load.js';
import { planFixes } from './fix.js';
export function explainConnection(scenario, engine, connection) {
    const verdict = engine.evaluate(connection);
    const plan = planFixes(scenario, connection, verdict);
    const notes = [...quarantineNotes(scenario.policies, verdict), ...voidedL7Notes(scenario.policies, connection, verdict)];
    if (plan.fixes.length === 0)
        return { connection, verdict, plan, notes };
    return { connection, verdict, plan, notes, fixVerified: verifyFixes(scenario, connection, plan) };
}
/** Applies the fixes to a copy of the scenario and asks the reference evaluator again. */
function verifyFixes(scenario, connection, plan) {
    const applied = plan.fixes.filter((fix) => fix.action !== 'delete');
    const fixed = scenarioFromObjects(applied.map((fix, index) => ({ value: fix.manifest, source: `fix[${index}]`, documentIndex: index, prefix: [], locate: () => undefined })), {});
    if (fixed.issues.some((issue) => issue.severity === 'error'))
        return false;
    const deleted = scenarioFromObjects(plan.fixes.filter((fix) => fix.action === 'delete').map((fix, index) => ({ value: fix.manifest, source: `delete[${index}]`, documentIndex: index, prefix: [], locate: () => undefined })), {}).policies;
    const replaced = new Set([...fixed.policies, ...deleted].map((policy) => policyKey(policy.ref)));
    const policies = [...scenario.policies.filter((policy) => !replaced.has(policyKey(policy.ref))), ...fixed.policies];
    return createReferenceEngine({ cluster: scenario.cluster, policies }).evaluate(connection).allowed;
}
export function findPeerRule(policies, ref) {
    const policy = policies.find((candidate) => policyKey(candidate.ref) === policyKey(ref.policy));
    if (policy?.type !== 'Cilium')
        return undefined;
    for (const rule of policy.rules) {
        for (const kind of ['allow', 'deny']) {
            for (const direction of ['ingress', 'egress']) {
                const found = rule[kind][direction].find((peerRule) => peerRule.ref.path === ref.path);
                if (found)
                    return found;
            }
        }
    }
    return undefined;
}
function quarantineNotes(policies, verdict) {
    const deciding = [...verdict.egress.rules, ...verdict.ingress.rules].map((rule) => policyKey(rule.policy));
    return policies
        .filter((policy) => policy.quarantined && deciding.includes(policyKey(policy.ref)))
        .map((policy) => `${formatPolicyRef(policy.ref)} is invalid (${policy.quarantined}); it isolates the pods it selects and allows nothing until it is fixed (fail closed). Run podgate validate.`);
}
/**
 * Cilium: "If a layer 4 rule is specified in the policy, and a similar layer 4 rule with layer 7
 * rules is also specified, then the layer 7 portions of the latter rule will have no effect."
 */
function voidedL7Notes(policies, connection, verdict) {
    const notes = [];
    for (const side of [verdict.egress, verdict.ingress]) {
        if (side.reason !== 'allowed' || side.l7 !== undefined)
            continue;
        const withHttp = side.rules.filter((rule) => {
            const peerRule = findPeerRule(policies, rule);
            return peerRule?.ports?.some((portRule) => portRule.http !== undefined && portRule.ports.some((port) => portMatches(port, connection.protocol, connection.port, namedPortsOf(connection.dst))));
        });
        if (withHttp.length === 0)
            continue;
        const plain = side.rules.filter((rule) => !withHttp.includes(rule));
        const rules = withHttp.map((rule) => {
            const http = findPeerRule(policies, rule)?.ports?.flatMap((portRule) => portRule.http ?? []) ?? [];
            return `${formatPolicyRef(rule.policy)} ${rule.path} (${http.map(formatHttpRule).join(' | ')})`;
        });
        notes.push(`HTTP rules are not enforced on ${connection.protocol}/${connection.port} for this ${side.direction}: ${rules.join(', ')} ${withHttp.length === 1 ? 'is' : 'are'} voided by ${plain
            .map((rule) => `${formatPolicyRef(rule.policy)} ${rule.path}`)
            .join(', ')}, which allow${plain.length === 1 ? 's' : ''} the same traffic without L7 rules. Cilium lets an L4 allow override L7 rules on the same port; give every allowing rule the same HTTP rules, or remove the plain allow.`);
    }
    return notes;
}
//# sourceMappingURL=explain.js.map