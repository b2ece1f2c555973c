import type { Command } from 'commander';
import { formatIssue, type Issue } from '../../manifest/issue.js';
import { LINT_RULES } from '../../lint/findings.js';
import { surfacedParserWarnings } from '../../lint/hygiene.js';
import { LINT_CHECKS, lintScenario, readForLint, type LintCheck } from '../../lint/lint.js';
import { toSarif } from '../../report/sarif.js';
import { readSources } from '../../scenario/files.js';
import { CliError, collect, engineFactory, stdio, type Output } from '../common.js';

interface LintCommandOptions {
  filename: string[];
  output: string;
  strict?: boolean;
  engine: string;
  skip: string[];
}

const OUTPUTS = ['text', 'json', 'sarif'];

const HELP = `
Checks:
  probes             a policy blocks a liveness/readiness/startup probe (httpGet, tcpSocket, grpc),
                     decided by the engine for a connection from the pod's node (error)
  dns                pods cannot reach the DNS pods on the port the DNS Service targets: UDP (error), TCP (warning)
  selectors          a podSelector / endpointSelector / namespaceSelector / peer selector selects nothing
                     (warning; only checked when the manifests contain pods or workloads, since
                     without them every selector would select nothing: pass the workloads with -f too)
  shadowed           an allow that a deny rule always overrides, or a namespaced allow against a
                     cluster guardrail (CiliumClusterwideNetworkPolicy deny, Admin-tier Deny)
  open-tenant        a rule that opens a tenant namespace to every namespace or the whole internet
  l7                 HTTP rules voided by a plain L4 allow on the same peer and port
  auth               authentication.mode disabled and required on the same traffic
  cilium-empty-rule  ingress: [{}] / egress: [{}] in a Cilium rule
  priority           tier policies with equal priority over the same pods
  deprecated         v1alpha1 AdminNetworkPolicy / BaselineAdminNetworkPolicy, fromRequires/toRequires,
                     rules without effect

Exit status: 0 no errors (warnings allowed unless --strict), 1 findings, 2 bad usage or invalid input
(lint needs manifests that validate; run podgate validate first).
Example: podgate lint -f examples/payments/
         podgate lint -f manifests/ --strict -o sarif > podgate.sarif`;

export function registerLint(program: Command, output: Output = stdio): void {
  program
    .command('lint')
    .description('find policy problems: blocked probes, missing DNS, empty selectors, shadowed allows, open tenants, voided HTTP rules, deprecated APIs')
    .argument('[paths...]', 'files, directories (read recursively) or - for stdin')
    .option('-f, --filename <path>', 'manifests: a file, directory or - (repeatable; same as the arguments)', collect, [])
    .option('-o, --output <format>', 'text, json or sarif (SARIF 2.1.0, for code scanning)', 'text')
    .option('--strict', 'exit 1 on warnings too')
    .option('--skip <check>', `a check to leave out (repeatable): ${LINT_CHECKS.join(', ')}`, collect, [])
    .option('--engine <engine>', 'compiled or reference', 'compiled')
    .addHelpText('after', HELP)
    .action(function (this: Command, paths: string[], options: LintCommandOptions) {
      const all = [...paths, ...options.filename];
      if (all.length === 0) throw new CliError('PODGATE_E_USAGE', 'no manifests given', 'podgate lint -f FILE|DIR|- ...');
      if (!OUTPUTS.includes(options.output)) throw new CliError('PODGATE_E_USAGE', `unknown output "${options.output}"`, `use ${OUTPUTS.join(', ')}`);
      const unknown = options.skip.filter((check) => !(LINT_CHECKS as readonly string[]).includes(check));
      if (unknown.length > 0) throw new CliError('PODGATE_E_USAGE', `unknown check "${unknown[0]}"`, `checks: ${LINT_CHECKS.join(', ')}`);
      const factory = engineFactory(options.engine);

      const { sources, issues: unreadable } = readSources(all);
      if (unreadable.length > 0) {
        for (const issue of unreadable) output.err(formatIssue(issue));
        throw new CliError('PODGATE_E_INPUT', `cannot read ${unreadable.map((issue) => issue.file).join(', ')}`, 'check the paths given to -f');
      }
      const { scenario, objects } = readForLint(sources);
      const errors = scenario.issues.filter((issue) => issue.severity === 'error');
      if (errors.length > 0) {
        for (const issue of errors) output.err(formatIssue(issue));
        throw new CliError('PODGATE_E_INPUT', `${errors.length} error${errors.length === 1 ? '' : 's'} in the manifests; lint needs policies that validate`, 'fix them (podgate validate lists each with its position) and run lint again');
      }
      if (scenario.cluster.pods.length === 0 && scenario.policies.length === 0) {
        throw new CliError('PODGATE_E_INPUT', `nothing to lint in ${all.join(', ')}: no pods, workloads or policies were read`, 'point -f at Kubernetes manifests (YAML or JSON)');
      }

      const checks = LINT_CHECKS.filter((check: LintCheck) => !options.skip.includes(check));
      const findings = lintScenario({ scenario, objects, engine: factory, checks });
      const errorCount = findings.filter((issue) => issue.severity === 'error').length;
      const warningCount = findings.length - errorCount;
      write({ output, format: options.output, findings, version: this.parent?.version() });
      if (options.output === 'text') {
        const read = `${scenario.policies.length} policies, ${scenario.cluster.pods.length} pods`;
        output.out(`${errorCount} error${errorCount === 1 ? '' : 's'}, ${warningCount} warning${warningCount === 1 ? '' : 's'} (linted ${read})`);
      }
      // Parser warnings lint re-issues under its own codes are not counted twice.
      const inputWarnings = scenario.issues.length - surfacedParserWarnings(scenario.issues).length;
      if (inputWarnings > 0) output.err(`podgate: ${inputWarnings} warning${inputWarnings === 1 ? '' : 's'} about the input itself; see them with: podgate validate`);
      process.exitCode = errorCount > 0 || (options.strict === true && warningCount > 0) ? 1 : 0;
    });
}

function write(options: { output: Output; format: string; findings: readonly Issue[]; version: string | undefined }): void {
  const { output, findings } = options;
  if (options.format === 'json') {
    const errors = findings.filter((issue) => issue.severity === 'error').length;
    output.out(JSON.stringify({ errors, warnings: findings.length - errors, findings }, null, 2));
  } else if (options.format === 'sarif') {
    const log = toSarif({
      tool: 'podgate',
      ...(options.version === undefined ? {} : { version: options.version }),
      root: process.cwd(),
      rules: LINT_RULES.map((rule) => ({ id: rule.code, description: rule.description, help: rule.help })),
      results: findings.map((issue) => ({
        ruleId: issue.code,
        level: issue.severity,
        message: `${issue.object === undefined ? '' : `${issue.object}${issue.path === '' ? '' : ` ${issue.path}`}: `}${issue.message}${issue.hint === undefined ? '' : `\nnext: ${issue.hint}`}`,
        ...(issue.file === undefined ? {} : { file: issue.file }),
        ...(issue.line === undefined ? {} : { line: issue.line }),
        ...(issue.column === undefined ? {} : { column: issue.column }),
      })),
    });
    output.out(JSON.stringify(log, null, 2));
  } else for (const issue of findings) output.out(formatIssue(issue));
}
