/**
 * A Scenario is everything podgate reasons about offline: the cluster state and the policies,
 * read from manifests, with every problem found along the way.
 */
import { readNamespace, readNode, readPod, readService, readServiceAccount, readWorkload } from '../cluster/decode.js';
import { WORKLOAD_KINDS } from '../cluster/model.js';
import { ClusterState } from '../cluster/state.js';
import { isRecord, parseSource } from '../manifest/document.js';
import { DecodeContext } from '../manifest/reader.js';
import { policyKey, quarantine } from '../policy/model.js';
import { readCiliumPolicy } from '../policy/parse/cilium.js';
import { readNetworkPolicy } from '../policy/parse/networkpolicy.js';
import { readTieredPolicy } from '../policy/parse/tiered.js';
const CORE = 'v1';
const HANDLERS = {
    Namespace: { apiVersions: [CORE], read: (root, c) => keyed(readNamespace(root), c.namespaces, (n) => `Namespace/${n.name}`) },
    Pod: { apiVersions: [CORE], read: (root, c) => keyed(readPod(root), c.pods, (p) => `Pod/${p.namespace}/${p.name}`) },
    Service: { apiVersions: [CORE], read: (root, c) => keyed(readService(root), c.services, (s) => `Service/${s.namespace}/${s.name}`) },
    Node: { apiVersions: [CORE], read: (root, c) => keyed(readNode(root), c.nodes, (n) => `Node/${n.name}`) },
    ServiceAccount: { apiVersions: [CORE], read: (root, c) => keyed(readServiceAccount(root), c.serviceAccounts, (s) => `ServiceAccount/${s.namespace}/${s.name}`) },
    NetworkPolicy: { apiVersions: ['networking.k8s.io/v1'], read: (root, c) => policy(root, c, readNetworkPolicy(root)) },
    CiliumNetworkPolicy: { apiVersions: ['cilium.io/v2'], read: (root, c) => policy(root, c, readCiliumPolicy(root, 'CiliumNetworkPolicy')) },
    CiliumClusterwideNetworkPolicy: { apiVersions: ['cilium.io/v2'], read: (root, c) => policy(root, c, readCiliumPolicy(root, 'CiliumClusterwideNetworkPolicy')) },
    ClusterNetworkPolicy: { apiVersions: ['policy.networking.k8s.io/v1alpha2'], read: (root, c) => policy(root, c, readTieredPolicy(root, 'ClusterNetworkPolicy')) },
    AdminNetworkPolicy: { apiVersions: ['policy.networking.k8s.io/v1alpha1'], read: (root, c) => policy(root, c, readTieredPolicy(root, 'AdminNetworkPolicy')) },
    BaselineAdminNetworkPolicy: { apiVersions: ['policy.networking.k8s.io/v1alpha1'], read: (root, c) => policy(root, c, readTieredPolicy(root, 'BaselineAdminNetworkPolicy')) },
};
for (const kind of WORKLOAD_KINDS) {
    HANDLERS[kind] = {
        apiVersions: kind === 'Job' || kind === 'CronJob' ? ['batch/v1'] : ['apps/v1'],
        read: (root, c) => keyed(readWorkload(root, kind), c.workloads, (w) => `${w.kind}/${w.namespace}/${w.name}`),
    };
}
/** Keyed by kind and name: a later object with the same name replaces the earlier, as `kubectl apply` would. */
function keyed(value, map, keyOf) {
    if (value === undefined)
        return {};
    const key = keyOf(value);
    map.set(key, value);
    return { key };
}
function policy(root, collected, decoded) {
    if (!decoded)
        return {};
    const errors = root.ctx.issues.filter((issue) => issue.severity === 'error');
    const trusted = errors.length === 0 ? decoded : quarantine(decoded, `${errors.length} error${errors.length === 1 ? '' : 's'}: ${errors[0]?.message ?? ''}`);
    return { ...keyed(trusted, collected.policies, (p) => policyKey(p.ref)), policy: true };
}
export function loadScenario(sources, options = {}) {
    const issues = [];
    const objects = [];
    for (const source of sources) {
        const parsed = parseSource(source);
        issues.push(...parsed.issues);
        objects.push(...parsed.objects);
    }
    return scenarioFromObjects(objects, { ...options, issues });
}
export function scenarioFromObjects(objects, options = {}) {
    const issues = options.issues ?? [];
    const collected = {
        namespaces: new Map(), pods: new Map(), services: new Map(), nodes: new Map(), serviceAccounts: new Map(), workloads: new Map(), policies: new Map(),
    };
    const seen = new Map();
    const sources = new Map();
    for (const object of objects) {
        const ctx = new DecodeContext({ source: object.source, locate: (path) => object.locate(path) });
        try {
            const { key, policy: isPolicy } = readObject(ctx, object, collected) ?? {};
            if (key !== undefined) {
                if (isPolicy)
                    sources.set(key, object);
                const where = describeLocation(object);
                const earlier = seen.get(key);
                if (earlier !== undefined) {
                    ctx.report('PODGATE_W_DUPLICATE', ['metadata', 'name'], `${key} is defined twice (also at ${earlier}); this later one wins, as kubectl apply would`, 'remove one of them');
                }
                seen.set(key, where);
            }
        }
        catch (error) {
            // A decoder bug must not take the whole input down; it becomes an issue like any other.
            ctx.report('PODGATE_E_INTERNAL', [], `podgate could not read this object: ${error instanceof Error ? error.message : String(error)}`, 'please report this with the manifest attached');
        }
        issues.push(...ctx.issues);
    }
    const cluster = ClusterState.build({
        namespaces: [...collected.namespaces.values()],
        pods: [...collected.pods.values()],
        services: [...collected.services.values()],
        nodes: [...collected.nodes.values()],
        serviceAccounts: [...collected.serviceAccounts.values()],
        workloads: [...collected.workloads.values()],
        externals: options.externals ?? [],
    });
    return { cluster, policies: [...collected.policies.values()], issues, sources };
}
function readObject(ctx, object, collected) {
    const root = ctx.root(object.value);
    if (!isRecord(object.value)) {
        ctx.report('PODGATE_E_TYPE', [], 'a manifest must be an object with apiVersion and kind', 'check the indentation of this document');
        return undefined;
    }
    const kind = root.child('kind').string();
    const apiVersion = root.child('apiVersion').string();
    if (kind === undefined) {
        ctx.report('PODGATE_E_REQUIRED', ['kind'], 'kind is required');
        return undefined;
    }
    const handler = HANDLERS[kind];
    if (!handler) {
        ctx.report('PODGATE_W_IGNORED_KIND', ['kind'], `${kind} does not affect connectivity and is ignored`);
        return undefined;
    }
    if (apiVersion === undefined) {
        ctx.report('PODGATE_E_REQUIRED', ['apiVersion'], `apiVersion is required (${handler.apiVersions.join(' or ')})`);
        return undefined;
    }
    if (!handler.apiVersions.includes(apiVersion)) {
        ctx.report('PODGATE_E_API_VERSION', ['apiVersion'], `${kind} is read as ${handler.apiVersions.join(' or ')}, not ${apiVersion}`, `set apiVersion: ${handler.apiVersions[0]}`);
        return undefined;
    }
    return handler.read(root, collected) ?? undefined;
}
function describeLocation(object) {
    const position = object.locate([]);
    return position ? `${object.source}:${position.line}` : object.source;
}
//# sourceMappingURL=load.js.map