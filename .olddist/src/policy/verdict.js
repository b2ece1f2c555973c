import { ruleKey } from './model.js';
export function combine(egress, ingress, revision) {
    const l4 = egress.allowed && ingress.allowed;
    const httpOk = (egress.http?.allowed ?? true) && (ingress.http?.allowed ?? true);
    const allowed = l4 && httpOk;
    let decidedBy = 'both';
    if (!egress.allowed)
        decidedBy = 'egress';
    else if (!ingress.allowed)
        decidedBy = 'ingress';
    else if (!httpOk)
        decidedBy = egress.http?.allowed === false ? 'egress' : 'ingress';
    const modes = [egress.auth, ingress.auth];
    const authRequired = l4 && (modes.includes('required') || modes.includes('test-always-fail'));
    return { allowed, decidedBy, egress, ingress, authRequired, l7Denied: l4 && !httpOk, revision };
}
/** Merge rule: `required` (or the test mode) beats `disabled`, which beats nothing. Fails closed. */
export function strongerAuth(a, b) {
    const rank = (mode) => (mode === 'test-always-fail' ? 3 : mode === 'required' ? 2 : mode === 'disabled' ? 1 : 0);
    return rank(b) > rank(a) ? b : a;
}
/** Rules in a stable order, so two engines (and two runs) report the same provenance. */
export function sortRules(rules) {
    const byKey = new Map();
    for (const rule of rules)
        byKey.set(ruleKey(rule), rule);
    return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, rule]) => rule);
}
/** An HTTP request against the L7 grants of one side: allowed if any grant's rules admit it. */
export function judgeHttp(grants, request, matches) {
    if (grants === undefined)
        return { allowed: true, rules: [] };
    const httpGrants = grants.filter((grant) => grant.http !== undefined);
    if (httpGrants.length < grants.length)
        return { allowed: true, rules: [] };
    const admitting = httpGrants.filter((grant) => grant.http.some((rule) => matches(rule, request))).map((grant) => grant.rule);
    return { allowed: admitting.length > 0, rules: sortRules(admitting) };
}
export function failClosed(direction, reason, error) {
    return { direction, allowed: false, reason, tier: 'default', rules: [], error };
}
//# sourceMappingURL=verdict.js.map