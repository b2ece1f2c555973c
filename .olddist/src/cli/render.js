/** Text rendering of verdicts and explanations for people. */
import { stringify } from 'yaml';
import { describeEndpoint } from '../cluster/endpoint.js';
import { findPeerRule } from '../explain/explain.js';
import { parsePath } from '../manifest/issue.js';
import { formatHttpRule } from '../policy/l7.js';
import { formatPolicyRef, policyKey } from '../policy/model.js';
export function describeConnection(connection) {
    const http = connection.http ? `  ${connection.http.method} ${connection.http.path}` : '';
    return `${describeEndpoint(connection.src)} → ${describeEndpoint(connection.dst)}  ${connection.protocol}/${connection.port}${http}`;
}
/** `file:line` of a rule, when the scenario knows where its policy came from. */
export function locateRule(scenario, rule) {
    const source = scenario.sources.get(policyKey(rule.policy));
    if (!source)
        return undefined;
    const position = source.locate(parsePath(rule.path));
    return position ? `${source.source}:${position.line}` : source.source;
}
export function formatRule(scenario, rule) {
    const where = locateRule(scenario, rule);
    const peerRule = findPeerRule(scenario.policies, rule);
    const extras = [];
    if (peerRule?.auth)
        extras.push(`authentication: ${peerRule.auth}`);
    const http = peerRule?.ports?.flatMap((portRule) => portRule.http ?? []) ?? [];
    if (http.length > 0)
        extras.push(`HTTP: ${http.map(formatHttpRule).join(' | ')}`);
    return `${formatPolicyRef(rule.policy)} ${rule.path}${extras.length > 0 ? ` [${extras.join('; ')}]` : ''}${where ? `  (${where})` : ''}`;
}
/** `compact` names the rules on one line, without file positions (for long listings such as the demo's). */
export function describeSide(scenario, side, subject, compact = false) {
    const who = describeEndpoint(subject);
    const rules = (list) => compact ? [`    ${list.map((rule) => `${formatPolicyRef(rule.policy)} ${rule.path}`).join('; ')}`] : list.map((rule) => `    - ${formatRule(scenario, rule)}`);
    const passed = side.passedBy ? [`    (after Pass: ${formatRule(scenario, side.passedBy)})`] : [];
    const head = `${side.direction.padEnd(7)} ${who}: `;
    switch (side.reason) {
        case 'not-enforced':
            return [`${head}not enforced (${who} is outside policy enforcement)`];
        case 'not-isolated':
            return [`${head}allowed: no policy isolates it for ${side.direction} (default allow)`, ...passed];
        case 'allowed':
            return [`${head}allowed by ${side.rules.length === 1 ? 'rule' : `${side.rules.length} rules`}:`, ...rules(side.rules), ...passed];
        case 'denied':
            return [`${head}DENIED by deny rule${side.rules.length === 1 ? '' : 's'} (deny wins over allow):`, ...rules(side.rules), ...passed];
        case 'default-deny':
            return [`${head}DENIED by default: isolated for ${side.direction} by the policies below, and no rule allows this connection`, ...rules(side.rules), ...passed];
        case 'admin-accept':
            return [`${head}accepted by an Admin tier rule (lower tiers are skipped):`, ...rules(side.rules)];
        case 'admin-deny':
            return [`${head}DENIED by an Admin tier rule (cluster guardrail):`, ...rules(side.rules)];
        case 'baseline-accept':
            return [`${head}accepted by a Baseline tier rule:`, ...rules(side.rules), ...passed];
        case 'baseline-deny':
            return [`${head}DENIED by a Baseline tier rule:`, ...rules(side.rules), ...passed];
        case 'host-allowed':
            return [`${head}allowed: traffic from the pod's own node (kubelet probes) is always allowed unless a deny rule matches`, ...passed];
        case 'unknown-endpoint':
        case 'error':
            return [`${head}DENIED (fail closed): ${side.error ?? side.reason}`];
    }
}
export function verdictLine(verdict) {
    if (verdict.allowed)
        return `verdict: ALLOWED${verdict.authRequired ? ' (mutual authentication required)' : ''}`;
    if (verdict.l7Denied)
        return `verdict: DENIED at L7 by ${verdict.decidedBy} (HTTP 403)`;
    return `verdict: DENIED by ${verdict.decidedBy}`;
}
export function renderExplanation(scenario, explanation) {
    const { connection, verdict, plan } = explanation;
    const lines = [describeConnection(connection), verdictLine(verdict), ''];
    lines.push(...describeSide(scenario, verdict.egress, connection.src));
    lines.push(...describeSide(scenario, verdict.ingress, connection.dst));
    for (const side of [verdict.egress, verdict.ingress]) {
        if (!side.http)
            continue;
        if (side.http.allowed) {
            lines.push(`http    ${side.direction}: ${connection.http.method} ${connection.http.path} admitted${side.http.rules.length > 0 ? ` by ${side.http.rules.map((rule) => `${formatPolicyRef(rule.policy)} ${rule.path}`).join(', ')}` : ' (no L7 rules apply)'}`);
        }
        else {
            lines.push(`http    ${side.direction}: ${connection.http.method} ${connection.http.path} REFUSED: no HTTP rule of these matches:`);
            for (const grant of side.l7 ?? [])
                lines.push(`    - ${formatRule(scenario, grant.rule)}`);
        }
    }
    if (explanation.notes.length > 0) {
        lines.push('', 'notes:');
        for (const note of explanation.notes)
            lines.push(`  - ${note}`);
    }
    if (!verdict.allowed) {
        lines.push('');
        if (plan.fixes.length > 0) {
            lines.push(`smallest change that allows it (${explanation.fixVerified ? 'checked: with it the connection is allowed' : 'WARNING: applying it does not allow the connection on its own'}):`);
            for (const fix of plan.fixes) {
                lines.push(`# ${fix.summary}`);
                if (fix.caveat)
                    lines.push(`# caveat: ${fix.caveat}`);
                const metadata = fix.manifest['metadata'];
                if (fix.action === 'delete')
                    lines.push(`kubectl delete ${String(fix.manifest['kind']).toLowerCase()} ${metadata?.name ?? ''}${metadata?.namespace ? ` -n ${metadata.namespace}` : ''}`);
                else
                    lines.push('---', stringify(fix.manifest, { lineWidth: 0 }).trimEnd());
            }
        }
        for (const gap of plan.gaps)
            lines.push(`no automatic change: ${gap}`);
    }
    return lines.join('\n');
}
//# sourceMappingURL=render.js.map