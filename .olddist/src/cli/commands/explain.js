import { stringify } from 'yaml';
import { isResolveError, resolveEndpoint } from '../../cluster/endpoint.js';
import { explainConnection } from '../../explain/explain.js';
import { CliError, collect, engineFactory, loadForEvaluation, parsePort, parseProtocol, stdio } from '../common.js';
import { renderExplanation } from '../render.js';
export function resolveOrFail(cluster, reference, flag) {
    const endpoint = resolveEndpoint(cluster, reference);
    if (isResolveError(endpoint))
        throw new CliError(endpoint.code, `${flag} ${reference}: ${endpoint.message}`, endpoint.hint);
    return endpoint;
}
export function registerExplain(program, output = stdio) {
    program
        .command('explain')
        .description('the verdict for one connection, the rules that decided it, and the smallest change that would allow it')
        .requiredOption('--from <endpoint>', 'source: NS/POD, NS/WORKLOAD, an IP, or an entity (world, host, remote-node, kube-apiserver)')
        .requiredOption('--to <endpoint>', 'destination, in the same forms as --from')
        .requiredOption('--port <port>', 'destination port (after Service translation: the pod port)')
        .option('--protocol <protocol>', 'TCP, UDP or SCTP', 'TCP')
        .option('--http-method <method>', 'ask about one HTTP request: its method')
        .option('--http-path <path>', 'the request path (default /)')
        .option('--http-host <host>', 'the Host header')
        .option('--http-header <header>', '"Name: value" (repeatable)', collect, [])
        .requiredOption('-f, --filename <path>', 'manifests: file, directory or - (repeatable)', collect, [])
        .option('--engine <engine>', 'compiled or reference', 'compiled')
        .option('-o, --output <format>', 'text, json or yaml', 'text')
        .addHelpText('after', '\nExit status: 0 allowed, 1 denied, 2 bad usage or input.\nExample: podgate explain -f examples/payments --from frontend/web-gateway --to payments/postgres --port 5432')
        .action((options) => {
        if (!['text', 'json', 'yaml'].includes(options.output))
            throw new CliError('PODGATE_E_USAGE', `unknown output "${options.output}"`, 'use text, json or yaml');
        const port = parsePort(options.port);
        const protocol = parseProtocol(options.protocol);
        const factory = engineFactory(options.engine);
        const scenario = loadForEvaluation(options.filename, output);
        const engine = factory({ cluster: scenario.cluster, policies: scenario.policies });
        const src = resolveOrFail(engine.cluster, options.from, '--from');
        const dst = resolveOrFail(engine.cluster, options.to, '--to');
        const http = httpRequest(options, protocol);
        const connection = { src, dst, protocol, port, ...(http ? { http } : {}) };
        const explanation = explainConnection(scenario, engine, connection);
        if (options.output === 'text')
            output.out(renderExplanation(scenario, explanation));
        else {
            const data = {
                verdict: explanation.verdict,
                notes: explanation.notes,
                fixes: explanation.plan.fixes,
                gaps: explanation.plan.gaps,
                ...(explanation.fixVerified === undefined ? {} : { fixVerified: explanation.fixVerified }),
            };
            output.out(options.output === 'json' ? JSON.stringify(data, null, 2) : stringify(data));
        }
        process.exitCode = explanation.verdict.allowed ? 0 : 1;
    });
}
function httpRequest(options, protocol) {
    if (options.httpMethod === undefined && options.httpPath === undefined && options.httpHeader.length === 0 && options.httpHost === undefined)
        return undefined;
    if (protocol !== 'TCP')
        throw new CliError('PODGATE_E_USAGE', 'HTTP requests need --protocol TCP');
    const headers = {};
    for (const header of options.httpHeader) {
        const colon = header.indexOf(':');
        if (colon <= 0)
            throw new CliError('PODGATE_E_USAGE', `--http-header "${header}" is not "Name: value"`);
        headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
    }
    const path = options.httpPath ?? '/';
    if (!path.startsWith('/'))
        throw new CliError('PODGATE_E_USAGE', `--http-path "${path}" must start with /`);
    return { method: (options.httpMethod ?? 'GET').toUpperCase(), path, ...(options.httpHost ? { host: options.httpHost } : {}), ...(options.httpHeader.length > 0 ? { headers } : {}) };
}
//# sourceMappingURL=explain.js.map