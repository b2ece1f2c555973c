import { entitiesOf, reservedLabelsOf } from '../entity.js';
import { NAMESPACE_LABEL, NAMESPACE_LABELS_PREFIX } from '../identity-labels.js';
import { ruleKey } from '../model.js';
import { EVERYTHING, selects, withRequirement } from '../selector.js';
/** Non-pod peers by what they are (and, for the world, the address family). */
export const PEER_VARIANTS = [
    { peerClass: 'host', family: undefined },
    { peerClass: 'remote-node', family: undefined },
    { peerClass: 'world', family: 4 },
    { peerClass: 'world', family: 6 },
    { peerClass: 'world', family: undefined },
    { peerClass: 'kube-apiserver', family: undefined },
    { peerClass: 'init', family: undefined },
    { peerClass: 'health', family: undefined },
    { peerClass: 'unmanaged', family: undefined },
    { peerClass: 'ingress', family: undefined },
];
export function peerVariant(peerClass, family) {
    if (peerClass === 'world')
        return family === 4 ? 2 : family === 6 ? 3 : 4;
    return PEER_VARIANTS.findIndex((variant) => variant.peerClass === peerClass);
}
export function compilePolicy(policy, options) {
    const context = { ...options, interned: [] };
    let bindings;
    let usesServices = false;
    switch (policy.type) {
        case 'NetworkPolicy':
            bindings = [networkPolicyBinding(policy, context)];
            break;
        case 'Cilium':
            bindings = policy.rules.map((rule) => ciliumBinding(policy, rule, context));
            usesServices = policy.rules.some((rule) => [...rule.allow.egress, ...rule.deny.egress].some((peerRule) => (peerRule.peers?.services.length ?? 0) > 0));
            break;
        case 'Tiered':
            bindings = [tieredBinding(policy, context)];
            break;
    }
    return { policy, bindings, selectors: context.interned, usesServices };
}
function intern(context, selector) {
    const cached = context.cache.intern(selector);
    context.interned.push(cached);
    return cached;
}
function inNamespace(selector, namespace) {
    return withRequirement(selector, { key: NAMESPACE_LABEL, operator: 'In', values: [namespace] });
}
/** A namespace selector, as requirements on the namespace labels every pod identity carries. */
function namespaceRequirements(selector) {
    return [
        { key: NAMESPACE_LABEL, operator: 'Exists', values: [] },
        ...selector.requirements.map((requirement) => ({ ...requirement, key: NAMESPACE_LABELS_PREFIX + requirement.key })),
    ];
}
function entry(rule, peer, extra = {}) {
    const hasL7 = (extra.portRules ?? []).some((portRule) => portRule.http !== undefined || portRule.dns !== undefined);
    return { rule, key: ruleKey(rule), single: [rule], peer, hasL7, ...extra };
}
const NO_PEER = { any: false, anyPod: false, podSelectors: [], classMask: 0, ipCidrs: [], worldCidrs: [], nodeSelectors: [] };
const ANY_PEER = { ...NO_PEER, any: true };
function isolation(policy, path, direction) {
    return { direction, layer: 'isolate', entry: entry({ policy, path }, NO_PEER) };
}
// ---- Kubernetes NetworkPolicy ----
function networkPolicyBinding(policy, context) {
    const contributions = [];
    for (const direction of ['ingress', 'egress']) {
        if (!policy.isolates[direction])
            continue;
        contributions.push(isolation(policy.ref, 'spec', direction));
        for (const rule of policy[direction]) {
            contributions.push({ direction, layer: 'allow', entry: entry(rule.ref, networkPolicyPeers(policy, rule, context), rule.ports ? { ports: rule.ports } : {}) });
        }
    }
    return { subject: { type: 'pods', selector: intern(context, inNamespace(policy.podSelector, policy.namespace)) }, contributions };
}
function networkPolicyPeers(policy, rule, context) {
    if (rule.peers === undefined)
        return ANY_PEER;
    const podSelectors = [];
    const ipCidrs = [];
    for (const peer of rule.peers) {
        if (peer.type === 'ipBlock')
            ipCidrs.push({ cidr: peer.cidr, except: peer.except });
        else if (peer.namespaceSelector === undefined)
            podSelectors.push(intern(context, inNamespace(peer.podSelector ?? EVERYTHING, policy.namespace)));
        else
            podSelectors.push(intern(context, { requirements: [...namespaceRequirements(peer.namespaceSelector), ...(peer.podSelector?.requirements ?? [])] }));
    }
    return { ...NO_PEER, podSelectors, ipCidrs };
}
// ---- Cilium ----
function ciliumBinding(policy, rule, context) {
    const subject = rule.subject.type === 'nodes'
        ? { type: 'nodes', selector: rule.subject.selector }
        : { type: 'pods', selector: intern(context, policy.namespace === undefined ? rule.subject.selector : inNamespace(rule.subject.selector, policy.namespace)) };
    const contributions = [];
    const clusterwide = policy.namespace === undefined;
    for (const direction of ['ingress', 'egress']) {
        if (rule.defaultDeny[direction])
            contributions.push(isolation(policy.ref, rule.path, direction));
        for (const peerRule of rule.deny[direction]) {
            contributions.push({ direction, layer: clusterwide ? 'guardrail' : 'deny', entry: ciliumEntry(policy, peerRule, context) });
        }
        for (const peerRule of rule.allow[direction])
            contributions.push({ direction, layer: 'allow', entry: ciliumEntry(policy, peerRule, context) });
    }
    return { subject, contributions };
}
function ciliumEntry(policy, rule, context) {
    const ports = rule.ports?.flatMap((portRule) => portRule.ports);
    return entry(rule.ref, ciliumPeers(policy, rule, context), {
        ...(ports ? { ports, portRules: rule.ports } : {}),
        ...(rule.auth ? { auth: rule.auth } : {}),
    });
}
function ciliumPeers(policy, rule, context) {
    const peers = rule.peers;
    if (peers === undefined)
        return ANY_PEER;
    const podSelectors = [];
    const scoped = peers.endpoints.map((selector) => ciliumEndpointSelector(selector, policy.namespace));
    for (const selector of scoped)
        podSelectors.push(intern(context, selector));
    for (const service of peers.services)
        for (const selector of serviceSelectors(service, context.services()))
            podSelectors.push(intern(context, selector));
    const entities = new Set(peers.entities);
    let classMask = 0;
    PEER_VARIANTS.forEach((variant, index) => {
        const memberOf = entitiesOf(variant.peerClass, variant.family);
        const reserved = reservedLabelsOf(variant.peerClass, variant.family);
        if ([...entities].some((entity) => memberOf.has(entity)) || scoped.some((selector) => selects(selector, reserved)))
            classMask |= 1 << index;
    });
    return {
        any: false,
        anyPod: entities.has('all') || entities.has('cluster'),
        podSelectors,
        classMask,
        ipCidrs: [],
        worldCidrs: peers.cidrs,
        nodeSelectors: peers.nodes,
    };
}
/** Cilium's implicit namespace for fromEndpoints/toEndpoints (pkg/k8s/apis/cilium.io/utils getEndpointSelector). */
function ciliumEndpointSelector(selector, namespace) {
    const keys = selector.requirements.map((requirement) => requirement.key);
    if (keys.some((key) => key.startsWith('reserved:')) || keys.includes(NAMESPACE_LABEL))
        return selector;
    if (namespace === undefined)
        return withRequirement(selector, { key: NAMESPACE_LABEL, operator: 'Exists', values: [] });
    if (keys.some((key) => key.startsWith(NAMESPACE_LABELS_PREFIX)))
        return selector;
    return inNamespace(selector, namespace);
}
function serviceSelectors(service, services) {
    const matching = service.type === 'name'
        ? services.filter((candidate) => candidate.namespace === service.namespace && candidate.name === service.name)
        : services.filter((candidate) => (service.namespace === undefined || candidate.namespace === service.namespace) && selects(service.selector, candidate.labels));
    return matching.flatMap((candidate) => candidate.selector === undefined
        ? []
        : [inNamespace({ requirements: [...candidate.selector].map(([key, value]) => ({ key, operator: 'In', values: [value] })) }, candidate.namespace)]);
}
// ---- Tiers ----
function tieredBinding(policy, context) {
    const subject = { type: 'pods', selector: intern(context, tierSubjectSelector(policy.subject)) };
    if (policy.quarantined) {
        return { subject, contributions: [isolation(policy.ref, 'spec', 'ingress'), isolation(policy.ref, 'spec', 'egress')] };
    }
    const layer = policy.tier === 'Admin' ? 'admin' : 'baseline';
    const contributions = [];
    for (const direction of ['ingress', 'egress']) {
        policy[direction].forEach((rule, index) => {
            contributions.push({ direction, layer, entry: entry(rule.ref, tierPeers(rule, context), { action: rule.action, tier: { policy, index }, ...(rule.ports ? { ports: rule.ports } : {}) }) });
        });
    }
    return { subject, contributions };
}
function tierSubjectSelector(subject) {
    const requirements = namespaceRequirements(subject.namespaceSelector);
    return { requirements: subject.type === 'pods' ? [...requirements, ...subject.podSelector.requirements] : requirements };
}
function tierPeers(rule, context) {
    const podSelectors = [];
    const ipCidrs = [];
    const nodeSelectors = [];
    for (const peer of rule.peers) {
        switch (peer.type) {
            case 'namespaces':
                podSelectors.push(intern(context, { requirements: namespaceRequirements(peer.namespaceSelector) }));
                break;
            case 'pods':
                podSelectors.push(intern(context, { requirements: [...namespaceRequirements(peer.namespaceSelector), ...peer.podSelector.requirements] }));
                break;
            case 'nodes':
                nodeSelectors.push(peer.nodeSelector);
                break;
            case 'networks':
                ipCidrs.push(...peer.cidrs.map((cidr) => ({ cidr, except: [] })));
                break;
            case 'domainNames':
                break;
        }
    }
    return { ...NO_PEER, podSelectors, ipCidrs, nodeSelectors };
}
//# sourceMappingURL=translate.js.map