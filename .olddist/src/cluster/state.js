/** The cluster as one indexed, mutable snapshot: what the engines evaluate against. */
import { formatIp, parseIp } from '../policy/address.js';
import { expandWorkloads } from './workloads.js';
/** Pods without an address get one from here, in name order, skipping addresses in use. */
const SYNTHETIC_POD_RANGE = { first: parseIp('10.244.0.10').value, last: parseIp('10.244.255.254').value };
export function podKey(namespace, name) {
    return `${namespace}/${name}`;
}
export function implicitNamespace(name) {
    return { name, labels: new Map([['kubernetes.io/metadata.name', name]]), implicit: true };
}
export class ClusterState {
    namespaceMap = new Map();
    podMap = new Map();
    podsByIp = new Map();
    nodeMap = new Map();
    nodesByIp = new Map();
    serviceMap = new Map();
    serviceAccounts = [];
    workloads = [];
    externals = [];
    /** Builds the snapshot: expands workloads without pods, adds implied namespaces, assigns missing pod IPs. */
    static build(input) {
        const state = new ClusterState();
        for (const namespace of input.namespaces ?? [])
            state.upsertNamespace(namespace);
        for (const node of input.nodes ?? [])
            state.upsertNode(node);
        const given = input.pods ?? [];
        const expanded = expandWorkloads(input.workloads ?? [], given, input.nodes ?? []);
        const pods = [...given, ...expanded];
        const used = new Set();
        for (const pod of pods)
            for (const ip of pod.ips)
                used.add(ip.text);
        for (const external of input.externals ?? [])
            if (external.ip)
                used.add(external.ip.text);
        for (const node of input.nodes ?? [])
            for (const ip of node.addresses)
                used.add(ip.text);
        let next = SYNTHETIC_POD_RANGE.first;
        const sorted = [...pods].sort((a, b) => podKey(a.namespace, a.name).localeCompare(podKey(b.namespace, b.name)));
        for (const pod of sorted) {
            if (pod.ip || pod.hostNetwork) {
                state.upsertPod(pod);
                continue;
            }
            while (used.has(formatIp(4, next)) && next < SYNTHETIC_POD_RANGE.last)
                next++;
            const ip = parseIp(formatIp(4, next));
            used.add(ip.text);
            next++;
            state.upsertPod({ ...pod, ip, ips: [ip], syntheticIp: true });
        }
        for (const service of input.services ?? [])
            state.upsertService(service);
        state.serviceAccounts.push(...(input.serviceAccounts ?? []));
        state.workloads.push(...(input.workloads ?? []));
        state.externals.push(...(input.externals ?? []));
        return state;
    }
    clone() {
        return ClusterState.build({
            namespaces: [...this.namespaceMap.values()].filter((namespace) => !namespace.implicit),
            pods: this.pods,
            nodes: this.nodes,
            services: this.services,
            serviceAccounts: this.serviceAccounts,
            externals: this.externals,
        });
    }
    get namespaces() {
        return [...this.namespaceMap.values()];
    }
    get pods() {
        return [...this.podMap.values()];
    }
    get nodes() {
        return [...this.nodeMap.values()];
    }
    get services() {
        return [...this.serviceMap.values()];
    }
    /** A namespace that nothing declared still exists with its default label. */
    namespace(name) {
        return this.namespaceMap.get(name) ?? implicitNamespace(name);
    }
    hasNamespace(name) {
        return this.namespaceMap.has(name);
    }
    pod(namespace, name) {
        return this.podMap.get(podKey(namespace, name));
    }
    podByIp(ip) {
        return this.podsByIp.get(ip);
    }
    node(name) {
        return this.nodeMap.get(name);
    }
    nodeByIp(ip) {
        return this.nodesByIp.get(ip);
    }
    service(namespace, name) {
        return this.serviceMap.get(podKey(namespace, name));
    }
    podsInNamespace(namespace) {
        return this.pods.filter((pod) => pod.namespace === namespace);
    }
    upsertNamespace(namespace) {
        this.namespaceMap.set(namespace.name, namespace);
    }
    deleteNamespace(name) {
        this.namespaceMap.delete(name);
        for (const pod of this.podsInNamespace(name))
            this.deletePod(pod.namespace, pod.name);
    }
    upsertPod(pod) {
        const key = podKey(pod.namespace, pod.name);
        const previous = this.podMap.get(key);
        if (previous)
            for (const ip of previous.ips)
                if (this.podsByIp.get(ip.text) === previous)
                    this.podsByIp.delete(ip.text);
        this.podMap.set(key, pod);
        if (!pod.hostNetwork)
            for (const ip of pod.ips)
                this.podsByIp.set(ip.text, pod);
        if (!this.namespaceMap.has(pod.namespace))
            this.namespaceMap.set(pod.namespace, implicitNamespace(pod.namespace));
        return previous;
    }
    deletePod(namespace, name) {
        const key = podKey(namespace, name);
        const previous = this.podMap.get(key);
        if (!previous)
            return undefined;
        this.podMap.delete(key);
        for (const ip of previous.ips)
            if (this.podsByIp.get(ip.text) === previous)
                this.podsByIp.delete(ip.text);
        return previous;
    }
    upsertNode(node) {
        const previous = this.nodeMap.get(node.name);
        if (previous)
            for (const ip of previous.addresses)
                this.nodesByIp.delete(ip.text);
        this.nodeMap.set(node.name, node);
        for (const ip of node.addresses)
            this.nodesByIp.set(ip.text, node);
    }
    deleteNode(name) {
        const previous = this.nodeMap.get(name);
        if (!previous)
            return;
        for (const ip of previous.addresses)
            this.nodesByIp.delete(ip.text);
        this.nodeMap.delete(name);
    }
    upsertService(service) {
        this.serviceMap.set(podKey(service.namespace, service.name), service);
    }
    deleteService(namespace, name) {
        this.serviceMap.delete(podKey(namespace, name));
    }
}
//# sourceMappingURL=state.js.map