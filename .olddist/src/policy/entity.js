/**
 * Cilium entities: named groups of identities that policies can allow or deny without selectors.
 * Which entities a peer belongs to depends on what it is and, for nodes, on where the subject runs.
 */
export const ENTITIES = [
    'all', 'world', 'world-ipv4', 'world-ipv6', 'cluster', 'host', 'remote-node', 'kube-apiserver',
    'init', 'health', 'unmanaged', 'ingress', 'none',
];
export function isEntity(name) {
    return ENTITIES.includes(name);
}
/** The entity names that select a peer of this class (`family` picks world-ipv4 or world-ipv6). */
export function entitiesOf(peer, family) {
    switch (peer) {
        case 'pod':
            return new Set(['all', 'cluster']);
        case 'world':
            return new Set(['all', 'world', ...(family === 6 ? [] : ['world-ipv4']), ...(family === 4 ? [] : ['world-ipv6'])]);
        default:
            // host, remote-node, kube-apiserver, init, health, unmanaged and ingress are all part of `cluster`.
            return new Set(['all', 'cluster', peer]);
    }
}
/** Reserved identity labels of a non-pod peer (what `reserved:host` style selector keys match). */
export function reservedLabelsOf(peer, family) {
    if (peer === 'pod')
        return new Map();
    if (peer === 'world') {
        const labels = new Map([['reserved:world', '']]);
        if (family !== 6)
            labels.set('reserved:world-ipv4', '');
        if (family !== 4)
            labels.set('reserved:world-ipv6', '');
        return labels;
    }
    return new Map([[`reserved:${peer}`, '']]);
}
/** Map a corpus/CLI entity name for an external address onto a peer class. */
export function peerClassOfEntity(entity) {
    switch (entity) {
        case 'world':
        case 'world-ipv4':
        case 'world-ipv6':
            return 'world';
        case 'host':
        case 'remote-node':
        case 'kube-apiserver':
        case 'init':
        case 'health':
        case 'unmanaged':
        case 'ingress':
            return entity;
        default:
            return undefined;
    }
}
//# sourceMappingURL=entity.js.map