import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { isResolveError, resolveEndpoint } from '../../cluster/endpoint.js';
import { explainConnection } from '../../explain/explain.js';
import { reachabilityMatrix } from '../../explain/matrix.js';
import { createCompiledEngine } from '../../policy/compiled/engine.js';
import type { Connection } from '../../policy/verdict.js';
import { loadForEvaluation, stdio, type Output } from '../common.js';
import { describeConnection, describeSide, renderExplanation } from '../render.js';
import { renderMatrix } from './matrix.js';
import { ObservedPodPairs } from '../../flow/export.js';
import { generateFlows, parseDuration } from '../../flow/generate/generator.js';
import { FlowPrinter, UTC } from '../../flow/printer.js';
import type { FlowRecord } from '../../flow/model.js';

const DEFAULT_DIR = fileURLToPath(new URL('../../../../examples/payments/', import.meta.url));

export function registerDemo(program: Command, output: Output = stdio): void {
  program
    .command('demo')
    .description('evaluate the payments reference scenario: its connection matrix and why each denied edge is denied')
    .option('--dir <path>', 'scenario directory', DEFAULT_DIR)
    .action((options: { dir: string }) => {
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
          if (probe.verdict.allowed) continue;
          const connection: Connection = { src: { kind: 'pod', pod: cell.from }, dst: { kind: 'pod', pod: cell.to }, protocol: probe.protocol, port: probe.port };
          output.out(`✗ ${describeConnection(connection)}`);
          const side = probe.verdict.decidedBy === 'ingress' ? probe.verdict.ingress : probe.verdict.egress;
          output.out(describeSide(scenario, side, side.direction === 'ingress' ? connection.dst : connection.src, true).map((line) => `  ${line}`).join('\n'));
        }
      }
      output.out('\nSpot checks (podgate explain):');
      const checks: { from: string; to: string; port: number; http?: { method: string; path: string } }[] = [
        { from: 'frontend/web-gateway', to: 'payments/payments-api', port: 8080, http: { method: 'GET', path: '/api/v1/balance' } },
        { from: 'frontend/web-gateway', to: 'payments/payments-api', port: 8080, http: { method: 'DELETE', path: '/api/v1/transfer' } },
        { from: 'frontend/web-gateway', to: '169.254.169.254', port: 80 },
        { from: 'frontend/web-gateway', to: 'payments/postgres', port: 5432 },
      ];
      for (const check of checks) {
        const src = resolveEndpoint(engine.cluster, check.from);
        const dst = resolveEndpoint(engine.cluster, check.to);
        if (isResolveError(src) || isResolveError(dst)) continue;
        const connection: Connection = { src, dst, protocol: 'TCP', port: check.port, ...(check.http ? { http: check.http } : {}) };
        const explanation = explainConnection(scenario, engine, connection);
        output.out(`\n$ podgate explain -f ${options.dir} --from ${check.from} --to ${check.to} --port ${check.port}${check.http ? ` --http-method ${check.http.method} --http-path ${check.http.path}` : ''}`);
        output.out(renderExplanation(scenario, explanation));
      }
      if (options.dir === DEFAULT_DIR) showFlows(scenario, options.dir, output);
    });
}

/** One simulated day of the payments profile: what Hubble would show, verdicts from the engine. */
function showFlows(scenario: Parameters<typeof generateFlows>[0]['scenario'], dir: string, output: Output): void {
  const records: FlowRecord[] = [...generateFlows({ scenario, profile: 'payments', durationNs: parseDuration('24h'), seed: 1 })];
  const drops = records.filter((record) => record.flow?.verdict === 'DROPPED' && record.flow.event_type?.type === 1);
  output.out(`\nFlows: $ podgate flows generate -f ${dir} --profile payments --duration 24h | podgate observe --type drop`);
  output.out(`${records.length} flows in one simulated day, ${drops.length} drops. The first drop of each kind:`);
  const printer = new FlowPrinter({ format: 'compact', timeZone: UTC });
  const seen = new Set<string>();
  for (const record of drops) {
    const flow = record.flow!;
    const key = `${flow.source?.pod_name ?? flow.IP?.source}>${flow.destination?.pod_name ?? flow.IP?.destination}:${flow.drop_reason_desc}`;
    if (seen.has(key)) continue;
    seen.add(key);
    output.out(printer.print(record).out.trimEnd());
    if (flow.podgate?.rules?.length) output.out(`    decided by ${flow.podgate.rules.join(', ')}`);
  }
  output.out('\nObserved pod pairs ($ podgate flows export --format tsv):');
  const pairs = new ObservedPodPairs();
  for (const record of records) pairs.add(record);
  for (const line of pairs.lines()) output.out(`  ${line.split('\t').map((field) => field || '-').join('  ')}`);
}
