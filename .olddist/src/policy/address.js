/** IP addresses and CIDR blocks as integers, so containment is two bigint operations. */
import ipaddr from 'ipaddr.js';
export function parseIp(text) {
    if (!ipaddr.isValid(text))
        return undefined;
    // ipaddr.js accepts legacy forms such as "10.1" and "0x0a.0.0.1"; Kubernetes does not.
    if (text.includes('.') && !ipaddr.IPv4.isValidFourPartDecimal(text) && !text.includes(':'))
        return undefined;
    const parsed = ipaddr.parse(text);
    const family = parsed.kind() === 'ipv4' ? 4 : 6;
    return { family, value: toBigInt(parsed.toByteArray()), text: parsed.toString() };
}
export function parseCidr(text) {
    const slash = text.indexOf('/');
    if (slash === -1)
        return { problem: `"${text}" has no prefix length; write ${text}/32 (IPv4) or ${text}/128 (IPv6)` };
    const address = parseIp(text.slice(0, slash));
    const prefixText = text.slice(slash + 1);
    if (!address)
        return { problem: `"${text.slice(0, slash)}" is not an IP address` };
    if (!/^\d{1,3}$/.test(prefixText))
        return { problem: `"${prefixText}" is not a prefix length` };
    const prefix = Number(prefixText);
    const bits = address.family === 4 ? 32 : 128;
    if (prefix > bits)
        return { problem: `prefix length ${prefix} is longer than ${bits}` };
    const cidr = makeCidr(address.family, address.value, prefix);
    return { cidr, nonCanonical: cidr.network !== address.value };
}
export function makeCidr(family, value, prefix) {
    const bits = family === 4 ? 32 : 128;
    const all = (1n << BigInt(bits)) - 1n;
    const mask = prefix === 0 ? 0n : (all >> BigInt(bits - prefix)) << BigInt(bits - prefix);
    const network = value & mask;
    return { family, network, prefix, mask, text: `${formatIp(family, network)}/${prefix}` };
}
export function cidrContains(cidr, ip) {
    return cidr.family === ip.family && (ip.value & cidr.mask) === cidr.network;
}
/** `inner` lies entirely within `outer`. */
export function cidrWithin(inner, outer) {
    return inner.family === outer.family && inner.prefix >= outer.prefix && (inner.network & outer.mask) === outer.network;
}
export function hostCidr(ip) {
    return makeCidr(ip.family, ip.value, ip.family === 4 ? 32 : 128);
}
export function formatIp(family, value) {
    const length = family === 4 ? 4 : 16;
    const bytes = [];
    for (let index = length - 1; index >= 0; index--)
        bytes.push(Number((value >> BigInt(index * 8)) & 0xffn));
    return ipaddr.fromByteArray(bytes).toString();
}
function toBigInt(bytes) {
    let value = 0n;
    for (const byte of bytes)
        value = (value << 8n) | BigInt(byte);
    return value;
}
//# sourceMappingURL=address.js.map