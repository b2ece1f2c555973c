/** networking.k8s.io/v1 NetworkPolicy, with the API server's defaulting applied. */
import { readMetadata } from '../../cluster/decode.js';
import { EVERYTHING, readSelector } from '../selector.js';
import { readCidr, readExcepts, readKubernetesPort } from './common.js';
/** Best effort: with errors in the context the caller quarantines the result instead of trusting it. */
export function readNetworkPolicy(root) {
    root.object(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
    const meta = readMetadata(root, { namespaced: true });
    if (!meta)
        return undefined;
    const namespace = meta.namespace ?? 'default';
    const ref = { kind: 'NetworkPolicy', namespace, name: meta.name };
    root.ctx.object = `NetworkPolicy ${namespace}/${meta.name}`;
    const spec = root.child('spec').object(['podSelector', 'policyTypes', 'ingress', 'egress']);
    if (!spec)
        root.child('spec').error('PODGATE_E_REQUIRED', 'spec is required', 'add spec.podSelector: {} to select every pod of the namespace');
    const specField = root.child('spec');
    const podSelectorField = specField.child('podSelector');
    if (spec && !podSelectorField.present) {
        podSelectorField.error('PODGATE_W_DEFAULTED', 'spec.podSelector is missing; it defaults to {} (every pod in the namespace)', 'write podSelector: {} to make that explicit');
    }
    const podSelector = readSelector(podSelectorField, 'kubernetes');
    const rules = { ingress: [], egress: [] };
    const present = { ingress: false, egress: false };
    for (const direction of ['ingress', 'egress']) {
        const list = specField.child(direction).array();
        present[direction] = (list?.length ?? 0) > 0;
        list?.forEach((ruleField, index) => {
            const rule = readRule(ruleField, direction, { policy: ref, path: `spec.${direction}[${index}]` });
            if (rule)
                rules[direction].push(rule);
        });
    }
    // Defaulting (pkg/apis/networking/v1/defaults.go): Ingress always, Egress only with egress rules.
    const isolates = { ingress: true, egress: present.egress };
    const typesField = specField.child('policyTypes');
    const types = typesField.array();
    if (types && types.length > 0) {
        isolates.ingress = false;
        isolates.egress = false;
        if (types.length > 2)
            typesField.error('PODGATE_E_POLICY_TYPES', 'policyTypes may hold at most two entries');
        for (const typeField of types) {
            const value = typeField.string();
            if (value === 'Ingress')
                isolates.ingress = true;
            else if (value === 'Egress')
                isolates.egress = true;
            else if (value !== undefined)
                typeField.error('PODGATE_E_POLICY_TYPES', `unknown policy type "${value}"`, 'use Ingress or Egress');
        }
        for (const direction of ['ingress', 'egress']) {
            if (present[direction] && !isolates[direction]) {
                specField
                    .child(direction)
                    .error('PODGATE_W_IGNORED', `${direction} rules are ignored: policyTypes does not list ${direction === 'ingress' ? 'Ingress' : 'Egress'}`, `add ${direction === 'ingress' ? 'Ingress' : 'Egress'} to policyTypes, or remove the rules`);
            }
        }
    }
    return {
        type: 'NetworkPolicy',
        ref,
        namespace,
        podSelector: podSelector ?? EVERYTHING,
        isolates,
        ingress: isolates.ingress ? rules.ingress : [],
        egress: isolates.egress ? rules.egress : [],
    };
}
function readRule(field, direction, ref) {
    const peerKey = direction === 'ingress' ? 'from' : 'to';
    const object = field.object([peerKey, 'ports']);
    if (!object) {
        // `- ` with nothing after it is an empty rule: it matches everything, like `{}`.
        return field.present ? undefined : { ref };
    }
    let valid = true;
    let peers;
    const peerList = object.child(peerKey).array();
    if (peerList && peerList.length > 0) {
        peers = [];
        for (const peerField of peerList) {
            const peer = readPeer(peerField);
            if (peer)
                peers.push(peer);
            else
                valid = false;
        }
    }
    let ports;
    const portList = object.child('ports').array();
    if (portList && portList.length > 0) {
        ports = [];
        for (const portField of portList) {
            const port = readKubernetesPort(portField, 'TCP');
            if (port)
                ports.push(port);
            else
                valid = false;
        }
    }
    if (!valid)
        return undefined;
    return { ref, ...(peers ? { peers } : {}), ...(ports ? { ports } : {}) };
}
function readPeer(field) {
    const object = field.object(['podSelector', 'namespaceSelector', 'ipBlock']);
    if (!object) {
        field.error('PODGATE_E_PEER', 'a peer must set podSelector, namespaceSelector or ipBlock');
        return undefined;
    }
    const hasPod = object.has('podSelector');
    const hasNamespace = object.has('namespaceSelector');
    const hasBlock = object.has('ipBlock');
    if (!hasPod && !hasNamespace && !hasBlock) {
        field.error('PODGATE_E_PEER', 'a peer must set podSelector, namespaceSelector or ipBlock', 'to allow every peer, leave the from/to list out instead');
        return undefined;
    }
    if (hasBlock) {
        if (hasPod || hasNamespace) {
            field.error('PODGATE_E_PEER', 'ipBlock may not be combined with podSelector or namespaceSelector in one peer', 'split them into two list entries');
            return undefined;
        }
        const block = object.child('ipBlock').object(['cidr', 'except']);
        if (!block)
            return undefined;
        const cidr = readCidr(block.child('cidr'));
        const except = readExcepts(block.child('except'), cidr);
        if (!cidr || !except)
            return undefined;
        return { type: 'ipBlock', cidr, except };
    }
    const podSelector = hasPod ? readSelector(object.child('podSelector'), 'kubernetes') : undefined;
    const namespaceSelector = hasNamespace ? readSelector(object.child('namespaceSelector'), 'kubernetes') : undefined;
    if ((hasPod && !podSelector) || (hasNamespace && !namespaceSelector))
        return undefined;
    return { type: 'pods', ...(podSelector ? { podSelector } : {}), ...(namespaceSelector ? { namespaceSelector } : {}) };
}
//# sourceMappingURL=networkpolicy.js.map