/**
 * The compiled engine: identities, a selector cache and a policy map per identity, kept current
 * incrementally. A change to one pod, namespace or policy recomputes only what it touches.
 */
import { endpointIp, namedPortsOf, peerClassOf } from '../../cluster/endpoint.js';
import { podKey } from '../../cluster/state.js';
import { applyToCluster } from '../engine.js';
import { podIdentityLabels } from '../identity-labels.js';
import { policyKey } from '../model.js';
import { selects } from '../selector.js';
import { combine, failClosed } from '../verdict.js';
import { IdentityTable } from './identities.js';
import { buildPolicyMap, decide, EMPTY_MAP } from './policy-map.js';
import { SelectorCache } from './selector-cache.js';
import { compilePolicy, peerVariant } from './translate.js';
export function createCompiledEngine(input) {
    return new CompiledEngine(input.cluster.clone(), input.policies);
}
export class CompiledEngine {
    cluster;
    name = 'compiled';
    revision = 0;
    identities = new IdentityTable();
    cache = new SelectorCache(this.identities);
    compiled = new Map();
    podInfo = new Map();
    infoByPod = new WeakMap();
    maps = new Map();
    /** Pod-subject bindings by the identities they select. */
    bindingsOf = new Map();
    podBindings = new Set();
    nodeBindings = new Set();
    nodeMaps = new Map();
    constructor(cluster, policies) {
        this.cluster = cluster;
        for (const pod of cluster.pods)
            this.addPod(pod, false);
        for (const policy of policies)
            this.register(this.compile(policy), false);
        for (const identity of this.identities.all())
            this.rebuild(identity.id);
        this.rebuildNodes();
    }
    get policies() {
        return [...this.compiled.values()].map((compiled) => compiled.policy);
    }
    stats() {
        return { identities: this.identities.size, selectors: this.cache.size, policies: this.compiled.size, bindings: this.podBindings.size + this.nodeBindings.size };
    }
    /** The compiled map of the identity a pod holds (for explain and tests). */
    policyMapOf(pod) {
        const info = this.infoByPod.get(pod);
        return info ? this.maps.get(info.identity.id) : undefined;
    }
    evaluate(connection) {
        const traffic = {
            protocol: connection.protocol,
            port: connection.port,
            namedPorts: connection.dst.kind === 'pod' ? (this.infoByPod.get(connection.dst.pod)?.namedPorts ?? namedPortsOf(connection.dst)) : [],
            http: connection.http,
        };
        const egress = this.side('egress', connection.src, connection.dst, traffic);
        const ingress = this.side('ingress', connection.dst, connection.src, traffic);
        return combine(egress, ingress, this.revision);
    }
    side(direction, subject, peer, traffic) {
        try {
            let map;
            if (subject.kind === 'pod') {
                const info = this.infoByPod.get(subject.pod);
                if (!info)
                    return failClosed(direction, 'unknown-endpoint', `pod ${subject.pod.namespace}/${subject.pod.name} is not in the engine's state`);
                map = this.maps.get(info.identity.id) ?? EMPTY_MAP;
            }
            else if (subject.kind === 'node' && subject.node !== undefined) {
                map = this.nodeMaps.get(subject.node.name) ?? EMPTY_MAP;
            }
            else {
                return { direction, allowed: true, reason: 'not-enforced', tier: 'default', rules: [] };
            }
            const view = this.peerView(peer, subject);
            if (!view)
                return failClosed(direction, 'unknown-endpoint', `peer pod ${peer.kind === 'pod' ? `${peer.pod.namespace}/${peer.pod.name}` : ''} is not in the engine's state`);
            return decide(map[direction], direction, view, traffic);
        }
        catch (error) {
            return failClosed(direction, 'error', String(error));
        }
    }
    peerView(peer, subject) {
        const ip = endpointIp(peer);
        if (peer.kind === 'pod') {
            const info = this.infoByPod.get(peer.pod);
            if (!info)
                return undefined;
            return { isPod: true, identity: info.identity.id, ip, variant: -1, isWorld: false, isLocalHost: false, node: undefined };
        }
        const peerClass = peerClassOf(peer, subject);
        return {
            isPod: false,
            identity: -1,
            ip,
            variant: peerVariant(peerClass, ip?.family),
            isWorld: peerClass === 'world',
            isLocalHost: peerClass === 'host',
            node: peer.kind === 'node' ? peer.node : undefined,
        };
    }
    apply(change) {
        applyToCluster(this.cluster, change);
        switch (change.type) {
            case 'upsert-pod': {
                this.removePod(podKey(change.pod.namespace, change.pod.name));
                const current = this.cluster.pod(change.pod.namespace, change.pod.name);
                if (current)
                    this.addPod(current, true);
                break;
            }
            case 'delete-pod':
                this.removePod(podKey(change.namespace, change.name));
                break;
            case 'upsert-namespace':
            case 'delete-namespace': {
                const name = change.type === 'upsert-namespace' ? change.namespace.name : change.name;
                for (const [key, info] of [...this.podInfo]) {
                    if (info.pod.namespace !== name)
                        continue;
                    this.removePod(key);
                    const current = this.cluster.pod(info.pod.namespace, info.pod.name);
                    if (current)
                        this.addPod(current, true);
                }
                break;
            }
            case 'upsert-node':
            case 'delete-node':
                this.rebuildNodes();
                break;
            case 'upsert-service':
            case 'delete-service':
                for (const compiled of [...this.compiled.values()])
                    if (compiled.usesServices)
                        this.upsertPolicy(compiled.policy);
                break;
            case 'upsert-policy':
                this.upsertPolicy(change.policy);
                break;
            case 'delete-policy':
                this.removePolicy(policyKey(change.ref));
                break;
        }
        this.revision++;
    }
    // ---- Pods and identities ----
    addPod(pod, rebuild) {
        if (pod.hostNetwork)
            return;
        const namespace = this.cluster.namespace(pod.namespace);
        const labels = podIdentityLabels({ podLabels: pod.labels, namespace: pod.namespace, namespaceLabels: namespace.labels, serviceAccount: pod.serviceAccount });
        const { identity, created } = this.identities.acquire(labels);
        const info = { pod, identity, namedPorts: namedPortsOf({ kind: 'pod', pod }) };
        this.podInfo.set(podKey(pod.namespace, pod.name), info);
        this.infoByPod.set(pod, info);
        if (!created)
            return;
        this.cache.identityAdded(identity);
        const bindings = new Set();
        for (const binding of this.podBindings)
            if (binding.subject.type === 'pods' && binding.subject.selector.has(identity.id))
                bindings.add(binding);
        this.bindingsOf.set(identity.id, bindings);
        if (rebuild)
            this.rebuild(identity.id);
    }
    removePod(key) {
        const info = this.podInfo.get(key);
        if (!info)
            return;
        this.podInfo.delete(key);
        this.infoByPod.delete(info.pod);
        if (this.identities.release(info.identity)) {
            this.cache.identityRemoved(info.identity);
            this.bindingsOf.delete(info.identity.id);
            this.maps.delete(info.identity.id);
        }
    }
    rebuild(identityId) {
        this.maps.set(identityId, buildPolicyMap(this.bindingsOf.get(identityId) ?? []));
    }
    rebuildNodes() {
        this.nodeMaps.clear();
        for (const node of this.cluster.nodes)
            this.nodeMaps.set(node.name, buildPolicyMap(this.nodeBindingsFor(node)));
    }
    nodeBindingsFor(node) {
        return [...this.nodeBindings].filter((binding) => binding.subject.type === 'nodes' && selects(binding.subject.selector, node.labels));
    }
    // ---- Policies ----
    compile(policy) {
        return compilePolicy(policy, { cache: this.cache, services: () => this.cluster.services });
    }
    /** Compiles the new version before releasing the old, so selectors both share stay cached. */
    upsertPolicy(policy) {
        const compiled = this.compile(policy);
        const touched = this.removePolicy(policyKey(policy.ref), false);
        for (const id of this.register(compiled, true))
            touched.add(id);
        for (const id of touched)
            if (this.identities.get(id))
                this.rebuild(id);
    }
    /** Adds a compiled policy's bindings; returns the identities whose maps it touches. */
    register(compiled, track) {
        this.compiled.set(policyKey(compiled.policy.ref), compiled);
        const touched = new Set();
        let nodesTouched = false;
        for (const binding of compiled.bindings) {
            if (binding.subject.type === 'nodes') {
                this.nodeBindings.add(binding);
                nodesTouched = true;
                continue;
            }
            this.podBindings.add(binding);
            for (const id of binding.subject.selector.ids()) {
                let set = this.bindingsOf.get(id);
                if (!set)
                    this.bindingsOf.set(id, (set = new Set()));
                set.add(binding);
                if (track)
                    touched.add(id);
            }
        }
        if (nodesTouched && track)
            this.rebuildNodes();
        return touched;
    }
    removePolicy(key, rebuild = true) {
        const compiled = this.compiled.get(key);
        const touched = new Set();
        if (!compiled)
            return touched;
        this.compiled.delete(key);
        let nodesTouched = false;
        for (const binding of compiled.bindings) {
            if (binding.subject.type === 'nodes') {
                this.nodeBindings.delete(binding);
                nodesTouched = true;
                continue;
            }
            this.podBindings.delete(binding);
            for (const id of binding.subject.selector.ids()) {
                this.bindingsOf.get(id)?.delete(binding);
                touched.add(id);
            }
        }
        for (const selector of compiled.selectors)
            this.cache.release(selector);
        if (nodesTouched)
            this.rebuildNodes();
        if (rebuild)
            for (const id of touched)
                if (this.identities.get(id))
                    this.rebuild(id);
        return touched;
    }
}
//# sourceMappingURL=engine.js.map