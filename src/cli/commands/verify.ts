import { readFileSync, writeFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { formatIssue } from '../../manifest/issue.js';
import { readFlowBatches, SkipReport, type ReadLine } from '../../flow/jsonl.js';
import { FlowStore, FlowStoreError } from '../../flow/store/store.js';
import { policyKey } from '../../policy/model.js';
import { readSources } from '../../scenario/files.js';
import { loadScenario, type Scenario } from '../../scenario/load.js';
import { FlowVerifier } from '../../verify/verify.js';
import { CliError, collect, stdio, type Output } from '../common.js';

/** Kept in step with verify/output.ts, which is loaded only when verify runs (it pulls in SARIF and YAML). */
export const OUTPUT_FORMATS = ['text', 'json', 'junit', 'sarif', 'github'] as const;
type VerifyOutputFormat = (typeof OUTPUT_FORMATS)[number];

function isOutputFormat(text: string): text is VerifyOutputFormat {
  return (OUTPUT_FORMATS as readonly string[]).includes(text);
}
import { openFlowInput } from './flows-metrics.js';

/** protojson's `is_reply: true` (wrapper: a bare value); only flow.is_reply has that key in Hubble's schema. */
const REPLY_MARK = '"is_reply":true';

interface VerifyCliOptions {
  flows?: string;
  flowsStore?: string;
  policies: string[];
  state: string[];
  output: string;
  report: string[];
  fix: boolean;
  strict?: boolean;
}

const HELP = `
Replays every captured flow against the proposed policies (--policies) on the cluster described by
--state, and prints the flows whose verdict would change, grouped by (source workload, destination
workload, protocol/port): legitimate flows that would be NEWLY DROPPED, with the deciding rule
(file:line) and the smallest fix (as podgate explain proposes it), and flows the capture shows
dropped by policy that would be NEWLY ALLOWED.

--state is the cluster: Namespaces, Pods or workloads (Deployments, ...), Services, Nodes. Policies
found there are ignored: the policies under test are exactly those in --policies. Without --state
the --policies paths must hold the cluster objects too. Invalid policies are reported and
quarantined (they isolate the pods they select and allow nothing: fail closed); verify still runs.

Flows are \`hubble observe -o json\` lines (a file, - for stdin) or a podgate flow store. Replies are
not connections of their own and are skipped; a flow end is found by namespace/pod name, else its
workload, else its identity labels, else its address. Flows whose pods are not in --state are counted
and listed as not verified. Unreadable lines are skipped and reported on stderr.

Output: text, json (schema podgate.verify/v1), junit, sarif (SARIF 2.1.0, results at the deciding
rule's file:line), github (workflow commands: annotations on the pull request).
--report FORMAT=PATH writes another format to a file in the same run (repeatable).

Exit status: 0 nothing newly dropped, 1 legitimate flows would be dropped (or, with --strict, flows
were skipped or not verified), 2 bad usage or unreadable input.
Examples:
  podgate verify --flows flows.jsonl --policies policies/ --state cluster/
  hubble observe -o json --since 24h | podgate verify --flows - --policies examples/payments/
  podgate verify --flows flows.jsonl --policies policies/ --state cluster/ --output github --report sarif=verify.sarif`;

export function registerVerify(program: Command, output: Output = stdio): void {
  program
    .command('verify')
    .description('replay captured flows against proposed policies and report what would newly drop')
    .option('--flows <path>', 'flow JSON lines (hubble observe -o json), or - for stdin')
    .option('--flows-store <path>', 'read the flows from a podgate flow store (SQLite) instead')
    .option('--policies <path>', 'the proposed policies: file, directory or - (repeatable)', collect, [])
    .option('--state <path>', 'cluster manifests: namespaces, pods/workloads, services, nodes (repeatable; without it the --policies paths must hold them)', collect, [])
    .option('-o, --output <format>', `${OUTPUT_FORMATS.join(', ')}`, 'text')
    .option('--report <format=path>', 'also write this format to this file (repeatable)', collect, [])
    .option('--no-fix', 'do not compute fixes (faster with many groups)')
    .option('--strict', 'exit 1 also when flow lines were unreadable or legitimate flows could not be verified')
    .addHelpText('after', HELP)
    .action(async (options: VerifyCliOptions) => {
      process.exitCode = await runVerify(options, output);
    });
}

interface ReportTarget {
  readonly format: VerifyOutputFormat;
  readonly path: string;
}

function checkOptions(options: VerifyCliOptions): { format: VerifyOutputFormat; reports: ReportTarget[] } {
  if (options.flows === undefined && options.flowsStore === undefined) throw new CliError('PODGATE_E_USAGE', 'no flows given', 'pass --flows FILE (or - for stdin) or --flows-store PATH');
  if (options.flows !== undefined && options.flowsStore !== undefined) throw new CliError('PODGATE_E_USAGE', '--flows and --flows-store are both given', 'verify one source of flows at a time');
  if (options.policies.length === 0) throw new CliError('PODGATE_E_USAGE', 'no policies given', 'pass the proposed policies with --policies FILE|DIR (repeatable)');
  if (options.flows === '-' && [...options.policies, ...options.state].includes('-')) throw new CliError('PODGATE_E_USAGE', 'stdin is given both for flows and for manifests', 'read one of them from a file');
  if (!isOutputFormat(options.output)) throw new CliError('PODGATE_E_USAGE', `unknown output "${options.output}"`, `use ${OUTPUT_FORMATS.join(', ')}`);
  const reports = options.report.map((text): ReportTarget => {
    const equals = text.indexOf('=');
    const format = equals === -1 ? '' : text.slice(0, equals);
    const path = equals === -1 ? '' : text.slice(equals + 1);
    if (!isOutputFormat(format) || path === '') throw new CliError('PODGATE_E_USAGE', `--report "${text}" is not FORMAT=PATH`, `for example --report sarif=verify.sarif (formats: ${OUTPUT_FORMATS.join(', ')})`);
    return { format, path };
  });
  return { format: options.output, reports };
}

/**
 * The cluster from --state (or the --policies paths) and the policies from --policies only: a
 * policy that only --state holds is not part of the proposal.
 */
export function loadProposal(options: { policies: readonly string[]; state: readonly string[] }, output: Output): Scenario {
  let stdinText: string | undefined;
  const stdin = (): string => (stdinText ??= readStdin());
  const state = readSources(options.state, stdin);
  const proposed = readSources(options.policies, stdin);
  const unreadable = [...state.issues, ...proposed.issues];
  if (unreadable.length > 0) {
    for (const issue of unreadable) output.err(formatIssue(issue));
    const first = unreadable[0]!;
    throw new CliError('PODGATE_E_INPUT', `cannot read ${first.file ?? 'the input'}: ${first.message}`, first.hint ?? 'check the paths given to --policies and --state');
  }
  const proposedNames = new Set(proposed.sources.map((source) => source.name));
  const sources = [...state.sources.filter((source) => !proposedNames.has(source.name)), ...proposed.sources];
  const loaded = loadScenario(sources);
  const policies = loaded.policies.filter((policy) => {
    const source = loaded.sources.get(policyKey(policy.ref))?.source;
    return source !== undefined && proposedNames.has(source);
  });
  const ignored = loaded.policies.length - policies.length;
  const errors = loaded.issues.filter((issue) => issue.severity === 'error');
  for (const issue of errors) output.err(formatIssue(issue));
  if (errors.length > 0) output.err(`podgate: ${errors.length} error${errors.length === 1 ? '' : 's'} in the input; invalid policies are quarantined (they isolate their pods and allow nothing) and verify goes on.`);
  const warnings = loaded.issues.length - errors.length;
  if (warnings > 0) output.err(`podgate: ${warnings} warning${warnings === 1 ? '' : 's'}; see them with: podgate validate`);
  if (ignored > 0) output.err(`podgate: note: ${ignored} polic${ignored === 1 ? 'y' : 'ies'} in --state ignored: the proposed set is what --policies holds`);
  if (loaded.cluster.pods.length === 0) {
    throw new CliError('PODGATE_E_INPUT', 'no pods or workloads in the manifests: flows cannot be matched to anything', options.state.length > 0 ? 'point --state at the cluster manifests (namespaces, pods or workloads, services)' : 'pass the cluster manifests with --state DIR');
  }
  if (policies.length === 0) output.err('podgate: note: --policies holds no policies: every flow is allowed by default');
  return { ...loaded, policies };
}

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch (error) {
    throw new CliError('PODGATE_E_INPUT', `cannot read stdin: ${error instanceof Error ? error.message : String(error)}`, 'pipe the manifests in, or pass a file');
  }
}

export async function runVerify(options: VerifyCliOptions, output: Output): Promise<number> {
  const { format, reports } = checkOptions(options);
  const { formatVerifyResult } = await import('../../verify/output.js');
  const scenario = loadProposal({ policies: options.policies, state: options.state }, output);
  const verifier = new FlowVerifier(scenario, { fixes: options.fix });
  const report = new SkipReport();
  if (options.flowsStore !== undefined) readStore(options.flowsStore, verifier);
  else {
    const path = options.flows ?? '-';
    const input: Readable = openFlowInput(path);
    // Replies are a third of a capture and never a connection of their own: skip them before JSON.parse.
    let replies = 0;
    const prefilter = (line: string): boolean => {
      if (!line.includes(REPLY_MARK)) return true;
      replies++;
      return false;
    };
    const batches = readFlowBatches(input, report, { source: path === '-' ? '<stdin>' : path, prefilter });
    for (;;) {
      // Only a failing read is unreadable input; an error while verifying is an internal error.
      let next: IteratorResult<ReadLine[]>;
      try {
        next = await batches.next();
      } catch (error) {
        throw new CliError('PODGATE_E_INPUT', `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`, 'check the path, or pass - to read stdin');
      }
      if (next.done) break;
      for (const line of next.value) verifier.add(line.record);
    }
    verifier.addSkippedReplies(replies);
  }
  const result = verifier.finish();
  const summary = report.summary();
  if (summary !== undefined) output.err(summary);
  if (result.counts.unmappedLegitimate > 0) {
    output.err(`podgate: warning PODGATE_W_VERIFY_UNMAPPED: ${result.counts.unmappedLegitimate} legitimate flow${result.counts.unmappedLegitimate === 1 ? '' : 's'} not verified: their pods are not in the cluster state\n  next: add those pods or workloads to --state (the report lists them)`);
  }
  output.out(formatVerifyResult(result, format, { root: process.cwd() }));
  for (const target of reports) {
    try {
      writeFileSync(target.path, `${formatVerifyResult(result, target.format, { root: process.cwd() })}\n`);
    } catch (error) {
      throw new CliError('PODGATE_E_OUTPUT', `cannot write ${target.path}: ${error instanceof Error ? error.message : String(error)}`, 'check the directory exists and is writable');
    }
  }
  if (result.groups.length > 0) return 1;
  if (options.strict && (report.skipped > 0 || result.counts.unmappedLegitimate > 0)) return 1;
  return 0;
}

function readStore(path: string, verifier: FlowVerifier): void {
  let store: FlowStore;
  try {
    store = FlowStore.open(path, { create: false, maxAgeNs: 0n });
  } catch (error) {
    if (error instanceof FlowStoreError) throw new CliError(error.code, error.message, error.hint);
    throw error;
  }
  try {
    for (const record of store.query()) verifier.add(record);
  } finally {
    store.close();
  }
}
