import { statSync } from 'node:fs';
import type { Command } from 'commander';
import type { DiffInputs, DiffResult, DirectionSummary, FlowGroup, MatrixGroup, PolicyChange, SideSummary, VerdictChange } from '../../diff/diff.js';
import { readFlowBatches, SkipReport } from '../../flow/jsonl.js';
import { formatTimestampNs } from '../../flow/model.js';
import { formatIssue } from '../../manifest/issue.js';
import { CliError, collect, engineFactory, reportIssues, stdio, type Output } from '../common.js';
import { openFlowInput } from './flows-metrics.js';

export interface DiffOptions {
  base: string[];
  head: string[];
  filename: string[];
  flows?: string;
  namespace: string[];
  output: string;
  engine: string;
}

export function registerDiff(program: Command, output: Output = stdio): void {
  program
    .command('diff')
    .description('connections that change verdict between two policy sets: on observed flows and on every pod × pod × declared port')
    .option('--base <path>', 'the current policies: file or directory (repeatable)', collect, [])
    .option('--head <path>', 'the proposed policies: file or directory (repeatable)', collect, [])
    .option('-f, --filename <path>', 'cluster state: namespaces, pods or workloads, services; file, directory or - (repeatable); policies here are ignored', collect, [])
    .option('--flows <path>', 'observed flows (hubble observe -o json lines), or - for stdin')
    .option('-n, --namespace <namespace>', 'only connections with a pod of this namespace at either end (repeatable)', collect, [])
    .option('-o, --output <format>', 'text or json', 'text')
    .option('--engine <engine>', 'compiled or reference', 'compiled')
    .addHelpText(
      'after',
      `
Both policy sets are evaluated over one cluster state: the non-policy objects of -f, then those in
--base, then those in --head (a later object with the same kind and name wins). Policies come only
from --base and --head. Invalid policies are reported and quarantined (they isolate their pods and
allow nothing), and the diff still runs.

Reported: policies added, removed or modified (with the fields and lines that changed); flows whose
verdict changes, grouped by (source workload, destination workload, protocol/port) with flow counts,
first and last seen and the deciding rules on each side; and the same for every pod against every
pod on the destination's declared container ports.

To diff two git revisions, check them out side by side first:
  git worktree add /tmp/base main
  podgate diff --base /tmp/base/policies --head policies -f cluster/ --flows flows.jsonl
  git worktree remove /tmp/base
or for one file: git show main:policies/payments.yaml > /tmp/base.yaml

Exit status: 0 no verdict changes, 1 some verdict changes (or unreadable flow lines were skipped),
2 bad usage or unreadable input.
Examples:
  podgate diff --base examples/payments/policies --head proposed/ -f examples/payments/cluster.yaml
  podgate diff --base main/ --head pr/ -f cluster/ --flows flows.jsonl -o json
  hubble observe -o json --last 100000 | podgate diff --base main/ --head pr/ -f cluster/ --flows - -n payments`,
    )
    .action(async (options: DiffOptions) => {
      process.exitCode = await runDiff(options, output);
    });
}

/** The command's work; returns the exit status (CliError for bad input). */
export async function runDiff(options: DiffOptions, output: Output): Promise<number> {
  checkOptions(options);
  const factory = engineFactory(options.engine);
  // Loaded on use: the whole command line must not depend on the diff's modules to start.
  const { diffJson, hasVerdictChanges, loadDiffInputs, PolicyDiff, result } = await import('../../diff/diff.js');
  const inputs = loadInputs(options, loadDiffInputs);
  reportInputs(inputs, output);
  const diff = new PolicyDiff({ cluster: inputs.cluster, base: inputs.base, head: inputs.head, namespaces: options.namespace, engine: factory });
  let skippedLines = 0;
  if (options.flows !== undefined) {
    const report = new SkipReport();
    const source = options.flows === '-' ? '<stdin>' : options.flows;
    for await (const batch of readFlowBatches(openFlowInput(options.flows), report, { source })) {
      for (const line of batch) diff.addFlow(line.record);
    }
    const summary = report.summary();
    if (summary !== undefined) output.err(summary);
    skippedLines = report.skipped;
  }
  const outcome = result(diff, options.flows !== undefined);
  const labels = { base: options.base.join(', '), head: options.head.join(', ') };
  if (options.output === 'json') {
    output.out(JSON.stringify({ ...(diffJson(outcome, labels) as object), input: inputSummary(inputs, skippedLines) }, null, 2));
  } else output.out(renderDiff(outcome, labels));
  return hasVerdictChanges(outcome) || skippedLines > 0 ? 1 : 0;
}

function checkOptions(options: DiffOptions): void {
  if (options.output !== 'text' && options.output !== 'json') throw new CliError('PODGATE_E_USAGE', `unknown output "${options.output}"`, 'use text or json');
  if (options.base.length === 0) throw new CliError('PODGATE_E_USAGE', '--base is required', 'pass the current policies: podgate diff --base DIR --head DIR -f CLUSTER');
  if (options.head.length === 0) throw new CliError('PODGATE_E_USAGE', '--head is required', 'pass the proposed policies: podgate diff --base DIR --head DIR -f CLUSTER');
  for (const namespace of options.namespace) if (namespace === '') throw new CliError('PODGATE_E_USAGE', '--namespace is empty', 'name a namespace, e.g. --namespace payments');
  const named: [string, string][] = [
    ...options.filename.map((path): [string, string] => ['-f', path]),
    ...options.base.map((path): [string, string] => ['--base', path]),
    ...options.head.map((path): [string, string] => ['--head', path]),
    ...(options.flows === undefined ? [] : [['--flows', options.flows] as [string, string]]),
  ];
  const stdinUsers = named.filter(([, path]) => path === '-').map(([flag]) => flag);
  if (stdinUsers.length > 1) throw new CliError('PODGATE_E_USAGE', `stdin (-) is given to ${stdinUsers.join(' and ')}`, 'only one input can be read from stdin; write the others to files');
  const paths: [string, readonly string[]][] = [['--base', options.base], ['--head', options.head], ['-f', options.filename]];
  for (const [flag, list] of paths) {
    for (const path of list) {
      if (path === '-') continue;
      try {
        statSync(path);
      } catch {
        throw new CliError('PODGATE_E_INPUT', `${flag} ${path}: no such file or directory`, flag === '-f' ? 'point -f at the cluster manifests (namespaces, pods or workloads, services)' : `point ${flag} at a directory or file of policy manifests; for a git revision, check it out first (git worktree add DIR REV)`);
      }
    }
  }
}

function loadInputs(options: DiffOptions, loadDiffInputs: typeof import('../../diff/diff.js').loadDiffInputs): DiffInputs {
  const inputs = loadDiffInputs({ state: options.filename, base: options.base, head: options.head });
  const [unreadable] = inputs.unreadable;
  if (unreadable !== undefined) throw new CliError('PODGATE_E_INPUT', `${unreadable.file ?? ''}: ${unreadable.message}`, unreadable.hint);
  for (const side of ['base', 'head'] as const) {
    if (inputs.files[side] === 0) throw new CliError('PODGATE_E_INPUT', `no manifests (.yaml, .yml or .json) in --${side} ${options[side].join(', ')}`, `point --${side} at the policy manifests`);
  }
  if (inputs.cluster.pods.length === 0) {
    throw new CliError('PODGATE_E_INPUT', 'no pods in the cluster state: nothing to compare', 'pass the cluster manifests (namespaces, pods or workloads, services) with -f, or keep them beside the policies');
  }
  return inputs;
}

function reportInputs(inputs: DiffInputs, output: Output): void {
  for (const issue of inputs.stateIssues) if (issue.code === 'PODGATE_W_DIFF_STATE') output.err(formatIssue(issue));
  reportIssues([...inputs.stateIssues.filter((issue) => issue.code !== 'PODGATE_W_DIFF_STATE'), ...inputs.base.issues, ...inputs.head.issues], output, { warnings: 'count' });
  if (inputs.ignoredPolicies > 0) output.err(`podgate: ignored ${inputs.ignoredPolicies} polic${inputs.ignoredPolicies === 1 ? 'y' : 'ies'} in -f manifests; the policies compared come from --base and --head`);
}

function inputSummary(inputs: DiffInputs, skippedLines: number): unknown {
  const side = (set: DiffInputs['base']): unknown => ({
    policies: set.policies.length,
    errors: set.issues.filter((issue) => issue.severity === 'error').length,
    quarantined: set.policies.filter((policy) => policy.quarantined !== undefined).map((policy) => `${policy.ref.kind}/${policy.ref.namespace === undefined ? '' : `${policy.ref.namespace}/`}${policy.ref.name}`),
  });
  return {
    pods: inputs.cluster.pods.length,
    stateErrors: inputs.stateIssues.filter((issue) => issue.severity === 'error').length,
    ignoredPolicies: inputs.ignoredPolicies,
    base: side(inputs.base),
    head: side(inputs.head),
    unreadableFlowLines: skippedLines,
  };
}

// ---------------------------------------------------------------------------------------------
// Text

const ARROW: Record<VerdictChange, string> = { 'allowed-to-denied': 'allowed → denied', 'denied-to-allowed': 'denied → allowed' };

function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}

function at(place: { file?: string; line?: number } | undefined): string {
  if (place?.file === undefined) return '';
  return `  (${place.file}${place.line === undefined ? '' : `:${place.line}`})`;
}

function renderChange(change: PolicyChange): string[] {
  const place = change.change === 'removed' ? change.base : change.head;
  const lines = [`  ${change.change.padEnd(8)} ${change.policy}${at(place)}`];
  for (const field of change.fields) lines.push(`             ${field.change.padEnd(8)} ${field.path}${at(field)}`);
  return lines;
}

function renderDirection(name: string, direction: DirectionSummary): string {
  const rules = direction.rules.map((rule) => `${rule.policy} ${rule.path}${at(rule)}`);
  return `${name} ${direction.reasons.join('|')}${rules.length > 0 ? `: ${rules.join('; ')}` : ''}`;
}

function renderSide(label: string, side: SideSummary): string[] {
  if (side.allowed) return [`      ${label}: allowed`, `        ${renderDirection('egress', side.egress)}`, `        ${renderDirection('ingress', side.ingress)}`];
  const denying = side.decidedBy.split('|').filter((direction) => direction === 'egress' || direction === 'ingress');
  return [`      ${label}: denied by ${side.decidedBy}`, ...denying.map((direction) => `        ${renderDirection(direction, direction === 'egress' ? side.egress : side.ingress)}`)];
}

function renderGroupHead(group: FlowGroup | MatrixGroup, detail: string): string {
  return `    ${group.source} → ${group.destination}  ${group.protocol}/${group.port}  ${detail}`;
}

function renderFlowGroup(group: FlowGroup, changeName: (key: string) => string): string[] {
  const seen = group.firstSeenNs === 0n ? '' : `  ${formatTimestampNs(group.firstSeenNs)} … ${formatTimestampNs(group.lastSeenNs)}`;
  return [
    renderGroupHead(group, `${plural(group.flows, 'flow')} (${group.legitimateFlows} carried) over ${plural(group.connections, 'connection')}${seen}`),
    ...(group.connections > 1 ? [`      e.g. ${group.examples.join('; ')}`] : []),
    ...renderSide('base', group.base),
    ...renderSide('head', group.head),
    ...(group.policies.size > 0 ? [`      changed: ${[...group.policies].sort().map(changeName).join('; ')}`] : []),
  ];
}

function renderMatrixGroup(group: MatrixGroup, changeName: (key: string) => string): string[] {
  const shown = group.pairs.slice(0, 3).map((pair) => `${pair.from} → ${pair.to}`);
  const more = group.pairs.length > shown.length ? `; +${group.pairs.length - shown.length} more` : '';
  return [
    renderGroupHead(group, plural(group.pairs.length, 'pod pair')),
    `      cells: ${shown.join('; ')}${more}`,
    ...renderSide('base', group.base),
    ...renderSide('head', group.head),
    ...(group.policies.size > 0 ? [`      changed: ${[...group.policies].sort().map(changeName).join('; ')}`] : []),
  ];
}

function hasVerdictChanges(outcome: DiffResult): boolean {
  return (outcome.flows?.groups.length ?? 0) > 0 || outcome.matrix.groups.length > 0;
}

export function renderDiff(outcome: DiffResult, labels: { base: string; head: string }): string {
  const changeName = (key: string): string => {
    const change = outcome.changes.find((candidate) => candidate.key === key);
    return change ? `${change.change} ${change.policy}` : key;
  };
  const lines: string[] = [`podgate diff: base ${labels.base} → head ${labels.head}`, ''];
  lines.push(outcome.changes.length === 0 ? 'policy changes: none' : `policy changes (${outcome.changes.length}):`);
  for (const change of outcome.changes) lines.push(...renderChange(change));
  const directions: VerdictChange[] = ['allowed-to-denied', 'denied-to-allowed'];
  const flows = outcome.flows;
  if (flows !== undefined) {
    const skipped = [...flows.counts.skipped.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([reason, count]) => `${count} ${reason}`);
    lines.push('', `observed flows: ${plural(flows.counts.compared, 'flow')} compared over ${plural(flows.counts.distinct, 'distinct connection')}${skipped.length > 0 ? `; not compared: ${skipped.join(', ')}` : ''}${flows.counts.outside > 0 ? `; ${flows.counts.outside} outside --namespace` : ''}`);
    for (const direction of directions) {
      const groups = flows.groups.filter((group) => group.change === direction);
      const total = groups.reduce((sum, group) => sum + group.flows, 0);
      lines.push(`  ${ARROW[direction]}: ${groups.length === 0 ? 'none' : `${plural(groups.length, 'group')}, ${plural(total, 'flow')}`}`);
      for (const group of groups) lines.push(...renderFlowGroup(group, changeName));
    }
  }
  const matrix = outcome.matrix;
  lines.push('', `matrix (${plural(matrix.pods, 'pod')}, each pod's declared ports): ${plural(matrix.probes, 'cell')} compared, ${matrix.changed} changed`);
  for (const direction of directions) {
    const groups = matrix.groups.filter((group) => group.change === direction);
    const cells = groups.reduce((sum, group) => sum + group.pairs.length, 0);
    lines.push(`  ${ARROW[direction]}: ${groups.length === 0 ? 'none' : `${plural(groups.length, 'group')}, ${plural(cells, 'cell')}`}`);
    for (const group of groups) lines.push(...renderMatrixGroup(group, changeName));
  }
  const count = (groups: readonly { change: VerdictChange }[], direction: VerdictChange): number => groups.filter((group) => group.change === direction).length;
  const flowPart = flows === undefined ? 'no flows given' : `flows: ${count(flows.groups, 'allowed-to-denied')} newly denied, ${count(flows.groups, 'denied-to-allowed')} newly allowed groups`;
  lines.push('', `summary: ${hasVerdictChanges(outcome) ? 'verdicts change' : 'no verdict changes'}; ${flowPart}; matrix: ${plural(matrix.changed, 'cell')} (${count(matrix.groups, 'allowed-to-denied')} newly denied, ${count(matrix.groups, 'denied-to-allowed')} newly allowed groups)`);
  return lines.join('\n');
}
