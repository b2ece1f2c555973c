/** L4 protocols and port matches, with Kubernetes and Cilium defaults kept apart. */
export const PROTOCOLS = ['TCP', 'UDP', 'SCTP', 'ICMP', 'ICMPv6'];
export const L4_PROTOCOLS = ['TCP', 'UDP', 'SCTP'];
export function protocolMatches(match, protocol) {
    return match === protocol || (match === 'ANY' && (protocol === 'TCP' || protocol === 'UDP' || protocol === 'SCTP'));
}
/** Does the rule's port entry cover `protocol`/`port` on a destination with these named ports? */
export function portMatches(match, protocol, port, namedPorts) {
    if (!protocolMatches(match.protocol, protocol))
        return false;
    if (match.name !== undefined) {
        return namedPorts.some((named) => named.name === match.name && named.port === port && named.protocol === protocol);
    }
    if (match.port === undefined)
        return true;
    return port >= match.port && port <= (match.endPort ?? match.port);
}
export function formatPortMatch(match) {
    const port = match.name ?? (match.port === undefined ? 'any port' : match.endPort !== undefined && match.endPort !== match.port ? `${match.port}-${match.endPort}` : String(match.port));
    return match.protocol === 'ANY' ? `${port} (any protocol)` : `${port}/${match.protocol}`;
}
//# sourceMappingURL=ports.js.map