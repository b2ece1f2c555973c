import { fileURLToPath } from 'node:url';
import { isResolveError, resolveEndpoint } from '../../cluster/endpoint.js';
import { explainConnection } from '../../explain/explain.js';
import { reachabilityMatrix } from '../../explain/matrix.js';
import { createCompiledEngine } from '../../policy/compiled/engine.js';
import { loadForEvaluation, stdio } from '../common.js';
import { describeConnection, describeSide, renderExplanation } from '../render.js';
import { renderMatrix } from './matrix.js';
const DEFAULT_DIR = fileURLToPath(new URL('../../../../examples/payments/', import.meta.url));
export function registerDemo(program, output = stdio) {
    program
        .command('demo')
        .description('evaluate the payments reference scenario: its connection matrix and why each denied edge is denied')
        .option('--dir <path>', 'scenario directory', DEFAULT_DIR)
        .action((options) => {
        const scenario = loadForEvaluation([options.dir], output);
        const engine = createCompiledEngine({ cluster: scenario.cluster, policies: scenario.policies });
        const stats = engine.stats();
        output.out(`podgate demo: ${options.dir}`);
        output.out(`${scenario.policies.length} policies, ${scenario.cluster.pods.length} pods in ${scenario.cluster.namespaces.length} namespaces → ${stats.identities} identities, ${stats.selectors} cached selectors (revision ${engine.revision})\n`);
        const matrix = reachabilityMatrix(engine);
        output.out(renderMatrix(matrix, false));
        output.out('\nDenied edges, and why:');
        for (const cell of matrix.cells) {
            for (const probe of cell.probes) {
                if (probe.verdict.allowed)
                    continue;
                const connection = { src: { kind: 'pod', pod: cell.from }, dst: { kind: 'pod', pod: cell.to }, protocol: probe.protocol, port: probe.port };
                output.out(`✗ ${describeConnection(connection)}`);
                const side = probe.verdict.decidedBy === 'ingress' ? probe.verdict.ingress : probe.verdict.egress;
                output.out(describeSide(scenario, side, side.direction === 'ingress' ? connection.dst : connection.src, true).map((line) => `  ${line}`).join('\n'));
            }
        }
        output.out('\nSpot checks (podgate explain):');
        const checks = [
            { from: 'frontend/web-gateway', to: 'payments/payments-api', port: 8080, http: { method: 'GET', path: '/api/v1/balance' } },
            { from: 'frontend/web-gateway', to: 'payments/payments-api', port: 8080, http: { method: 'DELETE', path: '/api/v1/transfer' } },
            { from: 'frontend/web-gateway', to: '169.254.169.254', port: 80 },
            { from: 'frontend/web-gateway', to: 'payments/postgres', port: 5432 },
        ];
        for (const check of checks) {
            const src = resolveEndpoint(engine.cluster, check.from);
            const dst = resolveEndpoint(engine.cluster, check.to);
            if (isResolveError(src) || isResolveError(dst))
                continue;
            const connection = { src, dst, protocol: 'TCP', port: check.port, ...(check.http ? { http: check.http } : {}) };
            const explanation = explainConnection(scenario, engine, connection);
            output.out(`\n$ podgate explain -f ${options.dir} --from ${check.from} --to ${check.to} --port ${check.port}${check.http ? ` --http-method ${check.http.method} --http-path ${check.http.path}` : ''}`);
            output.out(renderExplanation(scenario, explanation));
        }
    });
}
//# sourceMappingURL=demo.js.map