import { reachabilityMatrix } from '../../explain/matrix.js';
import { CliError, collect, engineFactory, loadForEvaluation, parsePort, parseProtocol, stdio } from '../common.js';
export function registerMatrix(program, output = stdio) {
    program
        .command('matrix')
        .description('pod-to-pod reachability: which ports each pod can reach on each other pod')
        .requiredOption('-f, --filename <path>', 'manifests: file, directory or - (repeatable)', collect, [])
        .option('--port <port>', 'probe this port everywhere (default: each destination\'s declared container ports)')
        .option('--protocol <protocol>', 'TCP, UDP or SCTP (default TCP with --port; all declared protocols without)')
        .option('-n, --namespace <namespace>', 'only pods of this namespace (repeatable)', collect, [])
        .option('--engine <engine>', 'compiled or reference', 'compiled')
        .option('-o, --output <format>', 'text or json', 'text')
        .addHelpText('after', '\nExample: podgate matrix -f examples/payments --port 8080')
        .action((options) => {
        if (options.output !== 'text' && options.output !== 'json')
            throw new CliError('PODGATE_E_USAGE', `unknown output "${options.output}"`, 'use text or json');
        const port = options.port === undefined ? undefined : parsePort(options.port);
        const protocol = options.protocol === undefined ? undefined : parseProtocol(options.protocol);
        const factory = engineFactory(options.engine);
        const scenario = loadForEvaluation(options.filename, output);
        const engine = factory({ cluster: scenario.cluster, policies: scenario.policies });
        const matrix = reachabilityMatrix(engine, { ...(port === undefined ? {} : { port }), ...(protocol === undefined ? {} : { protocol }), namespaces: options.namespace });
        if (matrix.pods.length === 0)
            throw new CliError('PODGATE_E_INPUT', 'no pods to show', options.namespace.length > 0 ? `no pods in namespace ${options.namespace.join(', ')}` : 'add Pods or workloads to the manifests');
        output.out(options.output === 'json' ? JSON.stringify(matrixJson(matrix), null, 2) : renderMatrix(matrix, port !== undefined));
    });
}
export function matrixJson(matrix) {
    return matrix.cells.map((cell) => ({
        from: `${cell.from.namespace}/${cell.from.name}`,
        to: `${cell.to.namespace}/${cell.to.name}`,
        probes: cell.probes.map((probe) => ({
            protocol: probe.protocol,
            port: probe.port,
            allowed: probe.verdict.allowed,
            authRequired: probe.verdict.authRequired,
            decidedBy: probe.verdict.decidedBy,
            egress: probe.verdict.egress.reason,
            ingress: probe.verdict.ingress.reason,
        })),
    }));
}
function cellText(probes, single) {
    if (probes.length === 0)
        return '·';
    if (single) {
        const [probe] = probes;
        return probe.verdict.allowed ? (probe.verdict.authRequired ? '✓*' : '✓') : '✗';
    }
    const allowed = probes.filter((probe) => probe.verdict.allowed);
    if (allowed.length === 0)
        return '✗';
    return allowed.map((probe) => `${probe.port}${probe.protocol === 'TCP' ? '' : `/${probe.protocol.toLowerCase()}`}${probe.verdict.authRequired ? '*' : ''}`).join(',');
}
export function renderMatrix(matrix, single) {
    const names = matrix.pods.map((pod) => `${pod.namespace}/${pod.name}`);
    const lines = [];
    lines.push(single ? 'rows: source, columns: destination; ✓ allowed, ✗ denied, * mutual authentication required' : 'rows: source, columns: destination; a cell lists the declared ports the source may reach (✗ none, · no declared ports, * mutual authentication required)');
    names.forEach((name, index) => lines.push(`  [${index + 1}] ${name}`));
    const texts = names.map((_, row) => names.map((__, column) => cellText(matrix.cells[row * names.length + column].probes, single)));
    const widths = names.map((_, column) => Math.max(`[${column + 1}]`.length, ...texts.map((row) => row[column].length)));
    const labelWidth = Math.max(...names.map((name) => name.length));
    lines.push('', `${''.padEnd(labelWidth)}  ${names.map((_, column) => `[${column + 1}]`.padEnd(widths[column])).join('  ')}`);
    texts.forEach((row, index) => lines.push(`${names[index].padEnd(labelWidth)}  ${row.map((text, column) => text.padEnd(widths[column])).join('  ')}`.trimEnd()));
    return lines.join('\n');
}
//# sourceMappingURL=matrix.js.map