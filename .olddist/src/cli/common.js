/** What every command shares: loading manifests, reporting issues, choosing an engine, failing cleanly. */
import { formatIssue } from '../manifest/issue.js';
import { createCompiledEngine } from '../policy/compiled/engine.js';
import { createReferenceEngine } from '../policy/reference/evaluator.js';
import { loadScenarioFromPaths } from '../scenario/files.js';
/** A problem with how podgate was called or what it was given: printed with its code, exit status 2. */
export class CliError extends Error {
    code;
    hint;
    exitCode;
    constructor(code, message, hint, exitCode = 2) {
        super(message);
        this.code = code;
        this.hint = hint;
        this.exitCode = exitCode;
    }
}
export const ENGINES = { compiled: createCompiledEngine, reference: createReferenceEngine };
export function engineFactory(name) {
    const factory = ENGINES[name];
    if (!factory)
        throw new CliError('PODGATE_E_USAGE', `unknown engine "${name}"`, `use ${Object.keys(ENGINES).join(' or ')}`);
    return factory;
}
export const stdio = {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
};
/**
 * Loads manifests for a command that evaluates them. Errors are printed (the broken policies are
 * quarantined: they isolate and allow nothing); warnings are counted and point to `validate`.
 */
export function loadForEvaluation(paths, output) {
    if (paths.length === 0)
        throw new CliError('PODGATE_E_USAGE', 'no manifests given', 'pass them with -f FILE|DIR|- (repeatable)');
    const scenario = loadScenarioFromPaths(paths);
    reportIssues(scenario.issues, output, { warnings: 'count' });
    if (scenario.cluster.pods.length === 0 && scenario.policies.length === 0) {
        throw new CliError('PODGATE_E_INPUT', `nothing to evaluate in ${paths.join(', ')}: no pods, workloads or policies were read`, 'point -f at Kubernetes manifests (YAML or JSON)');
    }
    return scenario;
}
export function reportIssues(issues, output, options) {
    const errors = issues.filter((issue) => issue.severity === 'error');
    const warnings = issues.filter((issue) => issue.severity === 'warning');
    for (const issue of errors)
        output.err(formatIssue(issue));
    if (options.warnings === 'show')
        for (const issue of warnings)
            output.err(formatIssue(issue));
    if (errors.length > 0 && options.warnings === 'count') {
        output.err(`podgate: ${errors.length} error${errors.length === 1 ? '' : 's'} in the input; invalid policies are quarantined (they isolate their pods and allow nothing).`);
    }
    if (warnings.length > 0 && options.warnings === 'count')
        output.err(`podgate: ${warnings.length} warning${warnings.length === 1 ? '' : 's'}; see them with: podgate validate`);
}
export function parsePort(text) {
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535)
        throw new CliError('PODGATE_E_USAGE', `port "${text}" is not a number from 1 to 65535`);
    return Number(text);
}
export function parseProtocol(text) {
    const upper = text.toUpperCase();
    if (upper !== 'TCP' && upper !== 'UDP' && upper !== 'SCTP')
        throw new CliError('PODGATE_E_USAGE', `protocol "${text}" is not TCP, UDP or SCTP`);
    return upper;
}
export function collect(value, previous = []) {
    return [...previous, value];
}
//# sourceMappingURL=common.js.map