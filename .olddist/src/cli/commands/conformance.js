import { readFileSync } from 'node:fs';
import { readCorpus, runCorpus } from '../../conformance/corpus.js';
import { formatIssue } from '../../manifest/issue.js';
import { ruleKey } from '../../policy/model.js';
import { CliError, ENGINES, engineFactory, stdio } from '../common.js';
export function registerConformance(program, output = stdio) {
    program
        .command('conformance')
        .description('run policy conformance corpora (shared/conformance format) against an engine')
        .argument('<corpus...>', 'corpus JSON files')
        .option('--engine <engine>', 'compiled, reference or all', 'compiled')
        .option('--json', 'print the results as JSON')
        .addHelpText('after', '\nPrints every failing probe with its explanation, then "N passed, N failed".\nExit status: 0 all passed, 1 failures, 2 bad usage or unreadable corpus.')
        .action((corpora, options) => {
        const engines = options.engine === 'all' ? Object.keys(ENGINES) : [options.engine];
        for (const name of engines)
            engineFactory(name);
        const results = [];
        for (const path of corpora) {
            let value;
            try {
                value = JSON.parse(readFileSync(path, 'utf8'));
            }
            catch (error) {
                throw new CliError('PODGATE_E_INPUT', `cannot read corpus ${path}: ${error.message}`, 'give a JSON corpus in the shared/conformance format');
            }
            const { corpus, issues } = readCorpus(path, value);
            for (const issue of issues.filter((candidate) => candidate.severity === 'error'))
                output.err(formatIssue(issue));
            for (const name of engines)
                results.push(runCorpus(corpus, engineFactory(name), name));
        }
        const passed = results.reduce((sum, result) => sum + result.passed, 0);
        const failed = results.reduce((sum, result) => sum + result.failed, 0);
        if (options.json) {
            output.out(JSON.stringify({ passed, failed, results: results.map((result) => ({ ...result, failures: result.failures.map(failureJson) })) }, null, 2));
        }
        else {
            for (const result of results) {
                for (const failure of result.failures)
                    output.out(describeFailure(result, failure));
                output.out(`${result.corpus} [${result.engine}]: ${result.passed} passed, ${result.failed} failed`);
            }
            output.out(`${passed} passed, ${failed} failed`);
        }
        process.exitCode = failed > 0 ? 1 : 0;
    });
}
function describeFailure(result, failure) {
    const probe = failure.probe;
    const http = probe.http ? ` ${probe.http.method} ${probe.http.path}` : '';
    const lines = [`FAIL ${result.corpus} [${result.engine}] ${failure.caseId}: ${probe.from} → ${probe.to} ${probe.protocol}/${probe.port}${http}: ${failure.problem}`];
    if (probe.reason)
        lines.push(`     expected because: ${probe.reason}`);
    const verdict = failure.verdict;
    if (verdict) {
        for (const side of [verdict.egress, verdict.ingress]) {
            lines.push(`     ${side.direction}: ${side.allowed ? 'allowed' : 'denied'} (${side.reason})${side.rules.length > 0 ? ` by ${side.rules.map(ruleKey).join(', ')}` : ''}${side.http ? `; http ${side.http.allowed ? 'admitted' : 'refused'}` : ''}`);
        }
    }
    return lines.join('\n');
}
function failureJson(failure) {
    return {
        case: failure.caseId,
        probe: failure.probe,
        problem: failure.problem,
        ...(failure.verdict ? { egress: failure.verdict.egress.reason, ingress: failure.verdict.ingress.reason, rules: [...failure.verdict.egress.rules, ...failure.verdict.ingress.rules].map(ruleKey) } : {}),
    };
}
//# sourceMappingURL=conformance.js.map