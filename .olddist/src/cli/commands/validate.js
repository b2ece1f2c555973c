import { formatIssue } from '../../manifest/issue.js';
import { loadScenarioFromPaths } from '../../scenario/files.js';
import { CliError, collect, stdio } from '../common.js';
export function registerValidate(program, output = stdio) {
    program
        .command('validate')
        .description('check manifests and policies; print every problem with file, line and column')
        .argument('[paths...]', 'files, directories (read recursively) or - for stdin')
        .option('-f, --filename <path>', 'a file, directory or - (repeatable; same as the arguments)', collect, [])
        .option('-o, --output <format>', 'text or json', 'text')
        .option('--strict', 'exit 1 on warnings too')
        .addHelpText('after', '\nExit status: 0 valid, 1 problems found, 2 bad usage or unreadable input.\nExample: podgate validate examples/payments/')
        .action((paths, options) => {
        const all = [...paths, ...options.filename];
        if (all.length === 0)
            throw new CliError('PODGATE_E_USAGE', 'no manifests given', 'podgate validate FILE|DIR|- ...');
        if (options.output !== 'text' && options.output !== 'json')
            throw new CliError('PODGATE_E_USAGE', `unknown output "${options.output}"`, 'use text or json');
        const scenario = loadScenarioFromPaths(all);
        const errors = scenario.issues.filter((issue) => issue.severity === 'error').length;
        const warnings = scenario.issues.length - errors;
        const unreadable = scenario.issues.some((issue) => issue.code === 'PODGATE_E_INPUT');
        if (options.output === 'json')
            output.out(JSON.stringify({ errors, warnings, issues: scenario.issues }, null, 2));
        else {
            for (const issue of scenario.issues)
                output.out(formatIssue(issue));
            const counts = `${scenario.policies.length} policies, ${scenario.cluster.pods.length} pods, ${scenario.cluster.namespaces.filter((namespace) => !namespace.implicit).length} namespaces`;
            output.out(`${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'} (read ${counts})`);
        }
        process.exitCode = unreadable ? 2 : errors > 0 || (options.strict && warnings > 0) ? 1 : 0;
    });
}
//# sourceMappingURL=validate.js.map