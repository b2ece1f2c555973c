import { labelKeyProblem, labelValueProblem } from '../manifest/syntax.js';
export const EVERYTHING = { requirements: [] };
export function requirementHolds(requirement, labels) {
    const value = labels.get(requirement.key);
    switch (requirement.operator) {
        case 'In':
            return value !== undefined && requirement.values.includes(value);
        case 'NotIn':
            return value === undefined || !requirement.values.includes(value);
        case 'Exists':
            return value !== undefined;
        case 'DoesNotExist':
            return value === undefined;
    }
}
export function selects(selector, labels) {
    return selector.requirements.every((requirement) => requirementHolds(requirement, labels));
}
export function isEverything(selector) {
    return selector.requirements.length === 0;
}
export function withRequirement(selector, requirement) {
    return { requirements: [...selector.requirements, requirement] };
}
/** A canonical string: equal selectors (whatever their spelling) get equal keys. */
export function selectorKey(selector) {
    const parts = selector.requirements.map((requirement) => {
        const values = [...new Set(requirement.values)].sort();
        return `${requirement.key}\u0000${requirement.operator}\u0000${values.join('\u0001')}`;
    });
    return [...new Set(parts)].sort().join('\u0002');
}
/** `app=web,tier in (a,b),!legacy` — kubectl's selector syntax. */
export function formatSelector(selector) {
    if (isEverything(selector))
        return '{}';
    return selector.requirements
        .map((requirement) => {
        switch (requirement.operator) {
            case 'In':
                return requirement.values.length === 1 ? `${requirement.key}=${requirement.values[0]}` : `${requirement.key} in (${requirement.values.join(',')})`;
            case 'NotIn':
                return `${requirement.key} notin (${requirement.values.join(',')})`;
            case 'Exists':
                return requirement.key;
            case 'DoesNotExist':
                return `!${requirement.key}`;
        }
    })
        .join(',');
}
const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'];
/** Cilium label sources a selector key may name; `k8s` and `any` match pod labels. */
const CILIUM_SOURCES = new Set(['k8s', 'any', 'reserved', 'cidr', 'fqdn', 'container', 'unspec']);
/**
 * Reads a LabelSelector. Returns undefined (with Issues) when it is invalid, so callers can fail
 * closed instead of guessing. In the Cilium dialect keys may carry a source prefix (`k8s:app`).
 */
export function readSelector(field, dialect) {
    const object = field.object(['matchLabels', 'matchExpressions']);
    if (!object)
        return field.present ? undefined : EVERYTHING;
    let valid = true;
    const requirements = [];
    const matchLabels = object.child('matchLabels');
    const labelMap = matchLabels.object();
    if (labelMap) {
        for (const [rawKey, value] of Object.entries(labelMap.value)) {
            const keyField = matchLabels.child(rawKey);
            const key = readKey(keyField, rawKey, dialect);
            if (typeof value !== 'string') {
                keyField.error('PODGATE_E_TYPE', `matchLabels value for "${rawKey}" must be a string`, `quote it: "${String(value)}"`);
                valid = false;
                continue;
            }
            const valueProblem = labelValueProblem(value);
            if (valueProblem) {
                keyField.error('PODGATE_E_SELECTOR', `invalid label value "${value}": ${valueProblem}`);
                valid = false;
            }
            if (key === undefined)
                valid = false;
            else
                requirements.push({ key, operator: 'In', values: [value] });
        }
    }
    else if (matchLabels.present)
        valid = false;
    const expressions = object.child('matchExpressions').array();
    if (expressions === undefined && object.child('matchExpressions').present)
        valid = false;
    for (const expression of expressions ?? []) {
        const parsed = readExpression(expression, dialect);
        if (parsed)
            requirements.push(parsed);
        else
            valid = false;
    }
    return valid ? { requirements } : undefined;
}
function readExpression(field, dialect) {
    const object = field.object(['key', 'operator', 'values']);
    if (!object) {
        if (!field.present)
            field.error('PODGATE_E_SELECTOR', 'matchExpressions entry must not be null');
        return undefined;
    }
    const rawKey = object.child('key').string();
    const operator = object.child('operator').string();
    const valuesField = object.child('values');
    const values = [];
    let valid = true;
    for (const value of valuesField.array() ?? []) {
        const text = value.string();
        if (text === undefined)
            valid = false;
        else {
            const problem = labelValueProblem(text);
            if (problem) {
                value.error('PODGATE_E_SELECTOR', `invalid label value "${text}": ${problem}`);
                valid = false;
            }
            values.push(text);
        }
    }
    if (rawKey === undefined) {
        object.child('key').error('PODGATE_E_SELECTOR', 'matchExpressions entry needs a key');
        return undefined;
    }
    const key = readKey(object.child('key'), rawKey, dialect);
    if (operator === undefined || !OPERATORS.includes(operator)) {
        object
            .child('operator')
            .error('PODGATE_E_SELECTOR', `operator must be one of ${OPERATORS.join(', ')}, got ${operator === undefined ? 'nothing' : JSON.stringify(operator)}`);
        return undefined;
    }
    const op = operator;
    if ((op === 'In' || op === 'NotIn') && values.length === 0) {
        valuesField.error('PODGATE_E_SELECTOR', `operator ${op} needs at least one value`, 'list the values, or use Exists / DoesNotExist');
        valid = false;
    }
    if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) {
        valuesField.error('PODGATE_E_SELECTOR', `operator ${op} takes no values`, 'remove values, or use In / NotIn');
        valid = false;
    }
    if (key === undefined || !valid)
        return undefined;
    return { key, operator: op, values };
}
function readKey(field, rawKey, dialect) {
    let key = rawKey;
    if (dialect === 'cilium') {
        const colon = rawKey.indexOf(':');
        if (colon > 0) {
            const source = rawKey.slice(0, colon);
            if (!CILIUM_SOURCES.has(source)) {
                field.error('PODGATE_E_SELECTOR', `unknown label source "${source}" in key "${rawKey}"`, `use one of ${[...CILIUM_SOURCES].join(', ')}, or no prefix`);
                return undefined;
            }
            key = source === 'k8s' || source === 'any' || source === 'container' || source === 'unspec' ? rawKey.slice(colon + 1) : rawKey;
            // `reserved:host` and `cidr:...` keep their prefix: they name reserved identity labels, not pod labels.
            if (source === 'reserved' || source === 'cidr' || source === 'fqdn')
                return key;
        }
    }
    const problem = labelKeyProblem(key);
    if (problem) {
        field.error('PODGATE_E_SELECTOR', `invalid label key "${rawKey}": ${problem}`);
        return undefined;
    }
    return key;
}
//# sourceMappingURL=selector.js.map