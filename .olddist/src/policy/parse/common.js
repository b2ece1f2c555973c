/** Pieces shared by the policy decoders: CIDRs and Kubernetes-style port entries. */
import { readProtocol } from '../../cluster/decode.js';
import { portNameProblem } from '../../manifest/syntax.js';
import { cidrWithin, parseCidr } from '../address.js';
export function readCidr(field) {
    const text = field.string();
    if (text === undefined) {
        if (!field.present)
            field.error('PODGATE_E_REQUIRED', 'a CIDR is required here');
        return undefined;
    }
    const parsed = parseCidr(text.trim());
    if (!parsed.cidr) {
        field.error('PODGATE_E_CIDR', `invalid CIDR "${text}": ${parsed.problem ?? 'unparseable'}`, 'write it as address/prefix, for example 10.0.0.0/8');
        return undefined;
    }
    if (parsed.nonCanonical) {
        field.error('PODGATE_W_NONCANONICAL_CIDR', `"${text}" has host bits set; it means ${parsed.cidr.text}`, `write ${parsed.cidr.text}`);
    }
    return parsed.cidr;
}
/** `except` entries must lie strictly inside the block, as Kubernetes validates ipBlock. */
export function readExcepts(field, cidr) {
    const out = [];
    let valid = true;
    for (const entry of field.array() ?? []) {
        const except = readCidr(entry);
        if (!except) {
            valid = false;
            continue;
        }
        if (cidr && (!cidrWithin(except, cidr) || except.prefix <= cidr.prefix)) {
            entry.error('PODGATE_E_CIDR', `except ${except.text} is not a strict subset of ${cidr.text}`, `remove it, or widen the block to contain it`);
            valid = false;
            continue;
        }
        out.push(except);
    }
    return valid ? out : undefined;
}
/** A Kubernetes `port` + `endPort` + `protocol` entry (NetworkPolicy and AdminNetworkPolicy share the rules). */
export function readKubernetesPort(field, defaultProtocol) {
    const object = field.object(['port', 'endPort', 'protocol']);
    if (!object) {
        field.error('PODGATE_E_PORT', 'a port entry must be an object');
        return undefined;
    }
    const protocol = object.has('protocol') ? readProtocol(object.child('protocol')) : defaultProtocol;
    if (protocol === undefined)
        return undefined;
    const portField = object.child('port');
    const endField = object.child('endPort');
    const port = portField.intOrString();
    const endPort = endField.integer();
    if (port === undefined) {
        if (endField.present) {
            endField.error('PODGATE_E_PORT', 'endPort may not be set without port');
            return undefined;
        }
        return { protocol };
    }
    if (typeof port === 'string') {
        if (/^\d+$/.test(port)) {
            portField.error('PODGATE_E_PORT', `port "${port}" is a quoted number; a named port must contain a letter`, `write port: ${port} without quotes`);
            return undefined;
        }
        const problem = portNameProblem(port);
        if (problem) {
            portField.error('PODGATE_E_PORT_NAME', `invalid named port "${port}": ${problem}`);
            return undefined;
        }
        if (endField.present) {
            endField.error('PODGATE_E_PORT', 'endPort may not be set when port is a named port');
            return undefined;
        }
        return { protocol, name: port };
    }
    if (port < 1 || port > 65535) {
        portField.error('PODGATE_E_PORT', `port ${port} is outside 1-65535`);
        return undefined;
    }
    if (endPort !== undefined) {
        if (endPort < port || endPort > 65535) {
            endField.error('PODGATE_E_PORT', `endPort ${endPort} must be between port (${port}) and 65535`);
            return undefined;
        }
        return { protocol, port, endPort };
    }
    if (endField.present)
        return undefined;
    return { protocol, port, endPort: port };
}
//# sourceMappingURL=common.js.map