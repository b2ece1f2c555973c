/**
 * L7 rules: HTTP method/path/host patterns (RE2 syntax, matched against the whole value, as
 * Cilium's Envoy filter does) and DNS name rules for the DNS proxy.
 */
import { RE2JS } from 're2js';
/** Compiles an RE2 pattern; returns a reason instead when RE2 would reject it. */
export function compilePattern(source) {
    try {
        const compiled = RE2JS.compile(source);
        return { source, matches: (text) => compiled.matches(text) };
    }
    catch (error) {
        return { problem: error instanceof Error ? error.message : String(error) };
    }
}
export function httpRuleMatches(rule, request) {
    if (rule.method && !rule.method.matches(request.method))
        return false;
    if (rule.path && !rule.path.matches(request.path))
        return false;
    if (rule.host && !rule.host.matches(request.host ?? ''))
        return false;
    return rule.headers.every((header) => {
        const value = headerValue(request, header.name);
        return value !== undefined && (header.value === undefined || value === header.value);
    });
}
function headerValue(request, name) {
    if (!request.headers)
        return undefined;
    const wanted = name.toLowerCase();
    for (const [key, value] of Object.entries(request.headers))
        if (key.toLowerCase() === wanted)
            return value;
    return undefined;
}
export function formatHttpRule(rule) {
    const parts = [rule.method ? `method ${rule.method.source}` : 'any method', rule.path ? `path ${rule.path.source}` : 'any path'];
    if (rule.host)
        parts.push(`host ${rule.host.source}`);
    for (const header of rule.headers)
        parts.push(header.value === undefined ? `header ${header.name}` : `header ${header.name}: ${header.value}`);
    return parts.join(', ');
}
const DNS_NAME_CHARS = /^[-a-zA-Z0-9_.*]+$/;
/** Lower-case, fully qualified (trailing dot), as Cilium normalizes names before matching. */
export function normalizeDnsName(name) {
    const lower = name.toLowerCase();
    return lower.endsWith('.') ? lower : `${lower}.`;
}
export function dnsRule(options) {
    const { matchName, matchPattern } = options;
    if (matchName !== undefined && !/^[-a-zA-Z0-9_.]+$/.test(matchName))
        return { problem: `matchName "${matchName}" has characters not allowed in a DNS name` };
    if (matchPattern !== undefined && !DNS_NAME_CHARS.test(matchPattern))
        return { problem: `matchPattern "${matchPattern}" may only hold DNS characters and "*"` };
    const exact = matchName === undefined ? undefined : normalizeDnsName(matchName);
    const pattern = matchPattern === undefined ? undefined : patternToRegExp(matchPattern);
    return {
        ...(matchName === undefined ? {} : { matchName }),
        ...(matchPattern === undefined ? {} : { matchPattern }),
        matches: (name) => {
            const normalized = normalizeDnsName(name);
            return (exact !== undefined && normalized === exact) || (pattern !== undefined && pattern.test(normalized));
        },
    };
}
/**
 * Cilium's matchPattern: a pattern of only stars matches every name; a leading `**.` matches one or
 * more whole labels; any other `*` matches DNS characters within one label (never a dot).
 */
function patternToRegExp(pattern) {
    const normalized = normalizeDnsName(pattern);
    if (/^\*+\.?$/.test(normalized))
        return /^(([-a-z0-9_]+[.])+|[.])$/;
    let prefix = '';
    let rest = normalized;
    if (rest.startsWith('**.')) {
        prefix = '([-a-z0-9_]+[.])+';
        rest = rest.slice(3);
    }
    const body = rest
        .split('*')
        .map((part) => part.replace(/[.]/g, '\\.'))
        .join('[-a-z0-9_]*');
    return new RegExp(`^${prefix}${body}$`);
}
//# sourceMappingURL=l7.js.map