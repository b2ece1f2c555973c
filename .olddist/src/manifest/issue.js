/** Every problem found in input is an Issue: data with a stable code, never an exception. */
/** Renders a path the way kubectl does: `spec.ingress[0].from`. */
export function formatPath(path) {
    let out = '';
    for (const segment of path) {
        if (typeof segment === 'number')
            out += `[${segment}]`;
        else if (/^[A-Za-z_$][\w$-]*$/.test(segment))
            out += out === '' ? segment : `.${segment}`;
        else
            out += `[${JSON.stringify(segment)}]`;
    }
    return out;
}
/** The inverse of formatPath: `spec.ingress[0]` becomes `['spec', 'ingress', 0]`. */
export function parsePath(text) {
    const out = [];
    for (const match of text.matchAll(/([^.[\]]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g)) {
        if (match[1] !== undefined)
            out.push(match[1]);
        else if (match[2] !== undefined)
            out.push(Number(match[2]));
        else if (match[3] !== undefined)
            out.push(JSON.parse(match[3]));
    }
    return out;
}
export function severityOf(code) {
    return code.startsWith('PODGATE_W_') ? 'warning' : 'error';
}
export function hasErrors(issues) {
    return issues.some((issue) => issue.severity === 'error');
}
/** `file:line:column: error CODE: message (at path)` plus the hint on its own line. */
export function formatIssue(issue) {
    const where = issue.file === undefined ? '' : `${issue.file}${issue.line === undefined ? '' : `:${issue.line}:${issue.column ?? 1}`}: `;
    const subject = issue.object === undefined ? '' : ` in ${issue.object}`;
    const at = issue.path === '' ? '' : ` (at ${issue.path})`;
    const hint = issue.hint === undefined ? '' : `\n    next: ${issue.hint}`;
    return `${where}${issue.severity} ${issue.code}${subject}${at}: ${issue.message}${hint}`;
}
//# sourceMappingURL=issue.js.map