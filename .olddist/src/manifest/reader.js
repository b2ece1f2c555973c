/**
 * A cursor over untrusted decoded YAML: each accessor checks the type, records an Issue with the
 * exact path when the value is wrong, and never throws. Decoders read fields through it.
 */
import { formatPath, severityOf } from './issue.js';
import { isRecord } from './document.js';
export class DecodeContext {
    origin;
    issues = [];
    /** `Kind namespace/name`, set once the metadata is read. */
    object;
    constructor(origin = {}) {
        this.origin = origin;
    }
    report(code, path, message, hint) {
        const position = this.origin.locate?.(path);
        this.issues.push({
            code,
            severity: severityOf(code),
            path: formatPath(path),
            message,
            ...(hint === undefined ? {} : { hint }),
            ...(this.origin.source === undefined ? {} : { file: this.origin.source }),
            ...(position ? { line: position.line, column: position.column } : {}),
            ...(this.object === undefined ? {} : { object: this.object }),
        });
    }
    root(value) {
        return new Field(this, value, []);
    }
}
export class Field {
    ctx;
    value;
    path;
    constructor(ctx, value, path) {
        this.ctx = ctx;
        this.value = value;
        this.path = path;
    }
    /** Present and not null: YAML `key:` with no value counts as absent, as Go's decoder treats it. */
    get present() {
        return this.value !== undefined && this.value !== null;
    }
    child(key) {
        return new Field(this.ctx, isRecord(this.value) ? this.value[key] : undefined, [...this.path, key]);
    }
    has(key) {
        return isRecord(this.value) && this.value[key] !== undefined && this.value[key] !== null;
    }
    error(code, message, hint) {
        this.ctx.report(code, this.path, message, hint);
    }
    /** An object; with `known`, every other key is reported as an unknown field (a warning). */
    object(known) {
        if (!this.present)
            return undefined;
        if (!isRecord(this.value)) {
            this.typeError('an object');
            return undefined;
        }
        if (known) {
            for (const key of Object.keys(this.value)) {
                if (!known.includes(key)) {
                    const suggestion = closest(key, known);
                    this.ctx.report('PODGATE_W_UNKNOWN_FIELD', [...this.path, key], `unknown field "${key}" is ignored`, suggestion ? `did you mean "${suggestion}"?` : `known fields here: ${known.join(', ')}`);
                }
            }
        }
        return this;
    }
    /** The items of a list; absent or null is `undefined`. */
    array() {
        if (!this.present)
            return undefined;
        if (!Array.isArray(this.value)) {
            this.typeError('a list');
            return undefined;
        }
        return this.value.map((item, index) => new Field(this.ctx, item, [...this.path, index]));
    }
    string() {
        if (!this.present)
            return undefined;
        if (typeof this.value !== 'string') {
            this.typeError('a string');
            return undefined;
        }
        return this.value;
    }
    boolean() {
        if (!this.present)
            return undefined;
        if (typeof this.value !== 'boolean') {
            this.typeError('true or false');
            return undefined;
        }
        return this.value;
    }
    integer(range) {
        if (!this.present)
            return undefined;
        if (typeof this.value !== 'number' || !Number.isInteger(this.value)) {
            this.typeError('an integer');
            return undefined;
        }
        return this.inRange(this.value, range);
    }
    /** Kubernetes IntOrString. */
    intOrString() {
        if (!this.present)
            return undefined;
        if (typeof this.value === 'number' && Number.isInteger(this.value))
            return this.value;
        if (typeof this.value === 'string')
            return this.value;
        this.typeError('an integer or a string');
        return undefined;
    }
    /** A map of strings to strings (labels, annotations). */
    stringMap() {
        const object = this.object();
        if (!object)
            return undefined;
        const out = new Map();
        for (const [key, value] of Object.entries(object.value)) {
            if (typeof value === 'string')
                out.set(key, value);
            else if (typeof value === 'number' || typeof value === 'boolean') {
                // YAML turns `tier: 1` or `enabled: true` into non-strings; Kubernetes would reject them.
                this.ctx.report('PODGATE_E_TYPE', [...this.path, key], `value of "${key}" must be a string, got ${typeof value}`, `quote it: ${key}: "${String(value)}"`);
            }
            else
                this.ctx.report('PODGATE_E_TYPE', [...this.path, key], `value of "${key}" must be a string`);
        }
        return out;
    }
    inRange(value, range) {
        if (range?.min !== undefined && value < range.min) {
            this.error('PODGATE_E_RANGE', `${value} is below the minimum ${range.min}`);
            return undefined;
        }
        if (range?.max !== undefined && value > range.max) {
            this.error('PODGATE_E_RANGE', `${value} is above the maximum ${range.max}`);
            return undefined;
        }
        return value;
    }
    typeError(expected) {
        this.error('PODGATE_E_TYPE', `must be ${expected}, got ${describe(this.value)}`);
    }
}
function describe(value) {
    if (Array.isArray(value))
        return 'a list';
    if (value === null)
        return 'null';
    if (typeof value === 'string')
        return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    if (typeof value === 'object')
        return 'an object';
    return `${typeof value} ${String(value)}`;
}
function closest(word, candidates) {
    let best;
    let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
    for (const candidate of candidates) {
        const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
        if (distance < bestDistance) {
            best = candidate;
            bestDistance = distance;
        }
    }
    return best;
}
function editDistance(a, b) {
    if (a.length > 64 || b.length > 64)
        return Math.abs(a.length - b.length) + 64;
    let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
        }
        previous = current;
    }
    return previous[b.length] ?? 0;
}
//# sourceMappingURL=reader.js.map