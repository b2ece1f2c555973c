/** The pod-to-pod reachability table: every source pod against every destination pod and port. */
import { podEndpoint } from '../cluster/endpoint.js';
export function reachabilityMatrix(engine, options = {}) {
    const filter = options.namespaces && options.namespaces.length > 0 ? new Set(options.namespaces) : undefined;
    const pods = engine.cluster.pods
        .filter((pod) => !pod.hostNetwork && (!filter || filter.has(pod.namespace)))
        .sort((a, b) => (a.namespace === b.namespace ? a.name.localeCompare(b.name) : a.namespace.localeCompare(b.namespace)));
    const cells = [];
    for (const from of pods) {
        for (const to of pods) {
            const targets = options.port !== undefined ? [{ port: options.port, protocol: options.protocol ?? 'TCP' }] : declaredPorts(to, options.protocol);
            const probes = targets.map(({ port, protocol }) => ({
                port,
                protocol,
                verdict: engine.evaluate({ src: podEndpoint(engine.cluster, from), dst: podEndpoint(engine.cluster, to), protocol, port }),
            }));
            cells.push({ from, to, probes });
        }
    }
    return { pods, cells };
}
function declaredPorts(pod, protocol) {
    const seen = new Set();
    const out = [];
    for (const port of pod.containerPorts) {
        if (protocol !== undefined && port.protocol !== protocol)
            continue;
        const key = `${port.port}/${port.protocol}`;
        if (seen.has(key))
            continue;
        seen.add(key);
        out.push({ port: port.port, protocol: port.protocol });
    }
    return out;
}
//# sourceMappingURL=matrix.js.map