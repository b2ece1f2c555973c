import { cidrContains } from '../address.js';
import { httpRuleMatches } from '../l7.js';
import { portMatches } from '../ports.js';
import { selects } from '../selector.js';
import { tierOrder } from '../tier-order.js';
import { judgeHttp, sortRules, strongerAuth } from '../verdict.js';
export const EMPTY_MAP = {
    ingress: { guardrails: [], admin: [], deny: [], allow: [], isolatedBy: [], baseline: [] },
    egress: { guardrails: [], admin: [], deny: [], allow: [], isolatedBy: [], baseline: [] },
};
function byTierOrder(a, b) {
    return tierOrder(a.tier.policy, b.tier.policy) || a.tier.index - b.tier.index;
}
export function buildPolicyMap(bindings) {
    const maps = {
        ingress: { guardrails: [], admin: [], deny: [], allow: [], isolatedBy: [], baseline: [] },
        egress: { guardrails: [], admin: [], deny: [], allow: [], isolatedBy: [], baseline: [] },
    };
    for (const binding of bindings) {
        for (const { direction, layer, entry } of binding.contributions) {
            const map = maps[direction];
            if (layer === 'isolate')
                map.isolatedBy.push(entry.rule);
            else if (layer === 'guardrail')
                map.guardrails.push(entry);
            else
                map[layer].push(entry);
        }
    }
    for (const map of [maps.ingress, maps.egress]) {
        map.admin.sort(byTierOrder);
        map.baseline.sort(byTierOrder);
        map.isolatedBy = sortRules(map.isolatedBy);
    }
    return maps;
}
function peerMatches(matcher, peer) {
    if (matcher.any)
        return true;
    if (peer.isPod) {
        if (matcher.anyPod)
            return true;
        const selectors = matcher.podSelectors;
        for (let index = 0; index < selectors.length; index++)
            if (selectors[index].has(peer.identity))
                return true;
    }
    else {
        if ((matcher.classMask & (1 << peer.variant)) !== 0)
            return true;
        if (peer.isWorld && peer.ip !== undefined) {
            for (const rule of matcher.worldCidrs)
                if (cidrContains(rule.cidr, peer.ip) && !rule.except.some((except) => cidrContains(except, peer.ip)))
                    return true;
        }
        if (peer.node !== undefined)
            for (const selector of matcher.nodeSelectors)
                if (selects(selector, peer.node.labels))
                    return true;
    }
    if (matcher.ipCidrs.length > 0 && peer.ip !== undefined) {
        for (const rule of matcher.ipCidrs)
            if (cidrContains(rule.cidr, peer.ip) && !rule.except.some((except) => cidrContains(except, peer.ip)))
                return true;
    }
    return false;
}
function entryMatches(entry, peer, traffic) {
    if (entry.ports !== undefined) {
        let portOk = false;
        for (const port of entry.ports) {
            if (portMatches(port, traffic.protocol, traffic.port, traffic.namedPorts)) {
                portOk = true;
                break;
            }
        }
        if (!portOk)
            return false;
    }
    return peerMatches(entry.peer, peer);
}
function matching(entries, peer, traffic) {
    let out;
    for (let index = 0; index < entries.length; index++) {
        const entry = entries[index];
        if (entryMatches(entry, peer, traffic))
            (out ??= []).push(entry);
    }
    return out;
}
function provenance(entries) {
    return entries.length === 1 ? entries[0].single : sortRules(entries.map((entry) => entry.rule));
}
/** The same tier walk as the reference evaluator, over precompiled entries. */
export function decide(map, direction, peer, traffic) {
    const guardrails = matching(map.guardrails, peer, traffic);
    if (guardrails)
        return { direction, allowed: false, reason: 'admin-deny', tier: 'admin', rules: provenance(guardrails) };
    let passedBy;
    for (const entry of map.admin) {
        if (!entryMatches(entry, peer, traffic))
            continue;
        if (entry.action === 'Pass') {
            passedBy = entry.rule;
            break;
        }
        const accept = entry.action === 'Accept';
        return { direction, allowed: accept, reason: accept ? 'admin-accept' : 'admin-deny', tier: 'admin', rules: entry.single };
    }
    const pass = passedBy ? { passedBy } : {};
    const denies = matching(map.deny, peer, traffic);
    if (denies)
        return { direction, allowed: false, reason: 'denied', tier: 'namespaced', rules: provenance(denies), ...pass };
    const allows = matching(map.allow, peer, traffic);
    if (allows)
        return { ...allowVerdict(direction, allows, traffic), ...pass };
    if (direction === 'ingress' && peer.isLocalHost)
        return { direction, allowed: true, reason: 'host-allowed', tier: 'namespaced', rules: [], ...pass };
    if (map.isolatedBy.length > 0)
        return { direction, allowed: false, reason: 'default-deny', tier: 'namespaced', rules: map.isolatedBy, ...pass };
    for (const entry of map.baseline) {
        if (!entryMatches(entry, peer, traffic))
            continue;
        if (entry.action === 'Pass')
            break;
        const accept = entry.action === 'Accept';
        return { direction, allowed: accept, reason: accept ? 'baseline-accept' : 'baseline-deny', tier: 'baseline', rules: entry.single, ...pass };
    }
    return { direction, allowed: true, reason: 'not-isolated', tier: 'default', rules: [], ...pass };
}
function allowVerdict(direction, allows, traffic) {
    let auth;
    let unrestricted = false;
    for (const entry of allows) {
        if (entry.auth)
            auth = strongerAuth(auth, entry.auth);
        if (!entry.hasL7)
            unrestricted = true;
    }
    let l7;
    if (!unrestricted) {
        l7 = [];
        for (const entry of allows) {
            const portRules = entry.portRules ?? [];
            for (let index = 0; index < portRules.length && !unrestricted; index++) {
                const portRule = portRules[index];
                if (!portRule.ports.some((port) => portMatches(port, traffic.protocol, traffic.port, traffic.namedPorts)))
                    continue;
                if (portRule.http === undefined && portRule.dns === undefined)
                    unrestricted = true;
                else
                    l7.push({ rule: entry.rule, portRule: index, ...(portRule.http ? { http: portRule.http } : {}), ...(portRule.dns ? { dns: portRule.dns } : {}) });
            }
        }
        if (unrestricted)
            l7 = undefined;
    }
    return {
        direction,
        allowed: true,
        reason: 'allowed',
        tier: 'namespaced',
        rules: provenance(allows),
        ...(auth ? { auth } : {}),
        ...(l7 ? { l7 } : {}),
        ...(traffic.http ? { http: judgeHttp(l7, traffic.http, httpRuleMatches) } : {}),
    };
}
//# sourceMappingURL=policy-map.js.map