/** The two ends of a connection, and how a name on the command line or in a corpus becomes one. */
import { parseIp } from '../policy/address.js';
import { isEntity, peerClassOfEntity } from '../policy/entity.js';
export function endpointIp(endpoint) {
    switch (endpoint.kind) {
        case 'pod':
            return endpoint.pod.ip;
        case 'node':
            return endpoint.ip ?? endpoint.node?.addresses[0];
        case 'external':
            return endpoint.ip;
    }
}
/** How `peer` looks from `subject`: a node is the subject's own `host` or a `remote-node`. */
export function peerClassOf(peer, subject) {
    switch (peer.kind) {
        case 'pod':
            return 'pod';
        case 'external':
            return peer.peerClass;
        case 'node': {
            if (peer.role)
                return peer.role;
            const subjectNode = subject.kind === 'pod' ? subject.pod.nodeName : subject.kind === 'node' ? subject.node?.name : undefined;
            if (subjectNode === undefined || peer.node === undefined)
                return 'host';
            return subjectNode === peer.node.name ? 'host' : 'remote-node';
        }
    }
}
/** Named container ports of the destination, for named-port rules. */
export function namedPortsOf(endpoint) {
    if (endpoint.kind !== 'pod')
        return [];
    return endpoint.pod.containerPorts.filter((port) => port.name !== undefined);
}
export function describeEndpoint(endpoint) {
    switch (endpoint.kind) {
        case 'pod':
            return `${endpoint.pod.namespace}/${endpoint.pod.name}`;
        case 'node':
            return endpoint.name ?? (endpoint.node ? `node/${endpoint.node.name}` : (endpoint.role ?? 'host'));
        case 'external':
            return endpoint.name ?? endpoint.ip?.text ?? endpoint.peerClass;
    }
}
export function externalEndpoint(external) {
    const peerClass = peerClassOfEntity(external.entity) ?? 'world';
    const base = { ...(external.ip ? { ip: external.ip } : {}), name: external.name };
    if (peerClass === 'host' || peerClass === 'remote-node')
        return { kind: 'node', role: peerClass, ...base };
    return { kind: 'external', peerClass, ...base };
}
/**
 * Resolves `NS/POD`, `NS/WORKLOAD`, an IP address, an entity (`world`, `host`, ...) or the name of a
 * declared external address.
 */
export function resolveEndpoint(cluster, reference) {
    const text = reference.trim();
    const external = cluster.externals.find((candidate) => candidate.name === text);
    if (external)
        return externalEndpoint(external);
    const ip = parseIp(text);
    if (ip)
        return endpointAt(cluster, ip);
    if (isEntity(text)) {
        const peerClass = peerClassOfEntity(text);
        if (peerClass === 'host' || peerClass === 'remote-node') {
            const nodes = cluster.nodes;
            return { kind: 'node', role: peerClass, name: text, ...(nodes.length === 1 && peerClass === 'host' ? { node: nodes[0] } : {}) };
        }
        if (peerClass)
            return { kind: 'external', peerClass, name: text };
        return { code: 'PODGATE_E_ENDPOINT', message: `entity "${text}" names a group, not one endpoint`, hint: 'use world, host, remote-node or kube-apiserver, a pod (NS/POD) or an IP' };
    }
    const slash = text.indexOf('/');
    if (slash === -1) {
        return { code: 'PODGATE_E_ENDPOINT', message: `"${text}" is not NS/POD, an IP address or an entity`, hint: `write it as namespace/name, for example default/${text}` };
    }
    const namespace = text.slice(0, slash);
    const name = text.slice(slash + 1);
    const pod = cluster.pod(namespace, name);
    if (pod)
        return podEndpoint(cluster, pod);
    const owned = cluster.pods
        .filter((candidate) => candidate.namespace === namespace && candidate.owner?.name === name)
        .sort((a, b) => a.name.localeCompare(b.name));
    const [first] = owned;
    if (first)
        return podEndpoint(cluster, first);
    const workload = cluster.workloads.find((candidate) => candidate.namespace === namespace && candidate.name === name);
    if (workload) {
        return { code: 'PODGATE_E_ENDPOINT', message: `${workload.kind} ${namespace}/${name} has no pods (replicas: ${workload.replicas})`, hint: 'scale it up in the manifest, or name a pod' };
    }
    const known = cluster.pods.filter((candidate) => candidate.namespace === namespace).map((candidate) => candidate.name);
    return {
        code: 'PODGATE_E_ENDPOINT',
        message: `no pod or workload named ${namespace}/${name}`,
        hint: known.length > 0 ? `pods in ${namespace}: ${known.slice(0, 8).join(', ')}${known.length > 8 ? ', ...' : ''}` : `namespace ${namespace} has no pods in the given manifests`,
    };
}
/** A host-network pod shares its node's identity (as in Cilium): it is the node. */
export function podEndpoint(cluster, pod) {
    if (!pod.hostNetwork)
        return { kind: 'pod', pod };
    const node = pod.nodeName === undefined ? undefined : cluster.node(pod.nodeName);
    return { kind: 'node', name: `${pod.namespace}/${pod.name}`, ...(node ? { node } : { role: 'host' }) };
}
/** Whatever owns this address: a pod, a node, a declared external, or the world. */
export function endpointAt(cluster, ip) {
    const pod = cluster.podByIp(ip.text);
    if (pod)
        return { kind: 'pod', pod };
    const node = cluster.nodeByIp(ip.text);
    if (node)
        return { kind: 'node', node, ip };
    const external = cluster.externals.find((candidate) => candidate.ip?.text === ip.text);
    if (external)
        return externalEndpoint(external);
    return { kind: 'external', peerClass: 'world', ip };
}
export function isResolveError(value) {
    return 'code' in value;
}
//# sourceMappingURL=endpoint.js.map