export const DIRECTIONS = ['egress', 'ingress'];
/**
 * An object with errors is not trusted and not dropped either: it keeps selecting its subjects,
 * isolates them in both directions and allows nothing (fail closed). Its tier rules are gone, so a
 * quarantined ClusterNetworkPolicy isolates its subjects the way a NetworkPolicy would.
 */
export function quarantine(policy, reason) {
    switch (policy.type) {
        case 'NetworkPolicy':
            return { ...policy, isolates: { ingress: true, egress: true }, ingress: [], egress: [], quarantined: reason };
        case 'Tiered':
            return { ...policy, ingress: [], egress: [], quarantined: reason };
        case 'Cilium': {
            const rules = policy.rules.length > 0
                ? policy.rules.map((rule) => ({ ...rule, defaultDeny: { ingress: true, egress: true }, allow: { ingress: [], egress: [] }, deny: { ingress: [], egress: [] } }))
                : [{ path: 'spec', subject: { type: 'endpoints', selector: { requirements: [] } }, defaultDeny: { ingress: true, egress: true }, allow: { ingress: [], egress: [] }, deny: { ingress: [], egress: [] } }];
            return { ...policy, rules, quarantined: reason };
        }
    }
}
export function policyKey(ref) {
    return ref.namespace === undefined ? `${ref.kind}/${ref.name}` : `${ref.kind}/${ref.namespace}/${ref.name}`;
}
export function ruleKey(rule) {
    return `${policyKey(rule.policy)}#${rule.path}`;
}
export function formatPolicyRef(ref) {
    return ref.namespace === undefined ? `${ref.kind} ${ref.name}` : `${ref.kind} ${ref.namespace}/${ref.name}`;
}
//# sourceMappingURL=model.js.map