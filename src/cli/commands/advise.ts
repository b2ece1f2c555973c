import { createReadStream, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { Advisor, adviceToYaml, POLICY_FORMATS, type Advice, type PolicyFormat } from '../../advise/advise.js';
import { feedStream, kindOfHead } from '../../advise/input.js';
import { adviseFileInParallel, defaultWorkers, PARALLEL_MIN_BYTES } from '../../advise/parallel.js';
import { SkipReport } from '../../flow/jsonl.js';
import { asCliError, CliError, collect, loadForEvaluation, stdio, type Output } from '../common.js';

interface AdviseCommandOptions {
  flows?: string;
  flowsStore?: string;
  server?: string;
  filename: string[];
  out?: string;
  namespace: string[];
  format: string;
  requireAuth?: boolean;
  workers?: string;
}

/** Everything `podgate advise` needs, so tests and benchmarks can run it without a process. */
export interface AdviseRun {
  readonly flows?: string;
  readonly flowsStore?: string;
  readonly server?: string;
  readonly manifests: readonly string[];
  readonly out?: string;
  readonly namespaces: readonly string[];
  readonly format: PolicyFormat;
  readonly requireAuth: boolean;
  /** stdin for `--flows -`. */
  readonly stdin?: Readable;
  /** Threads for a large JSON flow file (default: the machine's parallelism, at most 4); 1 reads in one pass. */
  readonly workers?: number;
}

export function registerAdvise(program: Command, output: Output = stdio): void {
  program
    .command('advise')
    .description('turn observed flows into default-deny policies plus the smallest set of allows, per namespace')
    .option('--flows <path>', 'flows: `hubble observe -o json` lines or an observed-flows.tsv (told apart by content); - for stdin')
    .option('--flows-store <path>', 'read the flows from a podgate flow store (podgate flows store ingest)')
    .option('--server <host:port>', 'ask a podgate agent (4244), relay (4245) or Hubble for the flows it holds')
    .option('-f, --filename <path>', 'cluster manifests: namespaces, pods or workloads, Services (repeatable)', collect, [])
    .option('--out <dir>', 'write one file per namespace, DIR/<namespace>.yaml, instead of one stream on stdout')
    .option('-n, --namespace <name>', 'advise this namespace (repeatable); default: every namespace with pods except kube-system', collect, [])
    .option('--format <format>', `${POLICY_FORMATS.join(' or ')}`, 'networkpolicy')
    .option('--require-auth', 'Cilium format: require mutual authentication (authentication.mode: required) on pod-to-pod allows')
    .option('--workers <n>', `threads for a --flows file of JSON lines over ${PARALLEL_MIN_BYTES / 1024 / 1024} MiB (default here: ${defaultWorkers()}, one per core up to 4; 1: one pass)`)
    .addHelpText(
      'after',
      [
        '',
        'Per namespace: default-deny (ingress and egress), DNS egress to the pods the cluster DNS Service selects on',
        'the ports it targets, then one policy per workload allowing exactly the observed connections: pod labels',
        '(stable ones: app.kubernetes.io/name, app, k8s-app, ...; never pod-template-hash and the like), the',
        'namespace label kubernetes.io/metadata.name across namespaces, aggregated CIDRs or (Cilium) toFQDNs outside',
        'the cluster. Every rule has a comment with its evidence: flow count, first and last seen.',
        '',
        'Counted: flows the cluster carried (FORWARDED, REDIRECTED, AUDIT, ...), not drops, not replies.',
        'CIDRs: private and special-use addresses are kept exact; public ones are widened within their /24 (/64).',
        'Traffic from nodes (kubelet probes): fromEntities host / remote-node in Cilium format; NetworkPolicy cannot',
        'select it, so advise notes where the CNI must allow it.',
        'observed-flows.tsv has no ports: the destination pods\' declared containerPorts are allowed (every port',
        'when none is declared), and advise says so. A TSV without pod names (the published jq pipeline) is refused.',
        '',
        'Exit status: 0 advice written, 1 written but some input lines were skipped (listed on stderr),',
        '2 bad usage, unreadable input or a TSV without pod names.',
        '',
        'Examples:',
        '  podgate advise --flows flows.jsonl -f examples/payments/ --out policies/',
        '  podgate advise --flows observed-flows.tsv -f manifests/ --namespace payments',
        '  hubble observe -o json --last 100000 | podgate advise --flows - -f manifests/ --format cilium --require-auth',
        '  podgate advise --flows-store flows.db -f manifests/ --namespace shop --out policies/',
      ].join('\n'),
    )
    .action(async (options: AdviseCommandOptions) => {
      const format = options.format.toLowerCase();
      if (!(POLICY_FORMATS as readonly string[]).includes(format)) throw new CliError('PODGATE_E_USAGE', `unknown format "${options.format}"`, `use ${POLICY_FORMATS.join(' or ')}`);
      process.exitCode = await runAdvise(
        {
          ...(options.flows === undefined ? {} : { flows: options.flows }),
          ...(options.flowsStore === undefined ? {} : { flowsStore: options.flowsStore }),
          ...(options.server === undefined ? {} : { server: options.server }),
          manifests: options.filename,
          ...(options.out === undefined ? {} : { out: options.out }),
          namespaces: options.namespace,
          ...(options.workers === undefined ? {} : { workers: parseWorkers(options.workers) }),
          format: format as PolicyFormat,
          requireAuth: options.requireAuth === true,
        },
        output,
      );
    });
}

/** Runs advise; returns the exit status (throws CliError for bad usage or input). */
export async function runAdvise(run: AdviseRun, output: Output): Promise<number> {
  const sources = [run.flows, run.flowsStore, run.server].filter((source) => source !== undefined);
  if (sources.length !== 1) throw new CliError('PODGATE_E_USAGE', sources.length === 0 ? 'no flows given' : 'give exactly one of --flows, --flows-store and --server', 'pass --flows FILE (or - for stdin), --flows-store DB or --server host:port');
  if (run.requireAuth && run.format !== 'cilium') throw new CliError('PODGATE_E_USAGE', '--require-auth needs --format cilium', 'NetworkPolicy has no authentication; add --format cilium');
  const parallel = await startParallel(run);
  try {
    return await adviseWith(run, output, parallel);
  } finally {
    parallel?.cancel();
  }
}

async function adviseWith(run: AdviseRun, output: Output, parallel: ParallelRun | undefined): Promise<number> {
  const scenario = loadForEvaluation(run.manifests, output);
  const cluster = scenario.cluster;
  for (const namespace of run.namespaces) {
    if (!cluster.hasNamespace(namespace)) {
      const known = cluster.namespaces.map((entry) => entry.name).sort();
      throw new CliError('PODGATE_E_USAGE', `namespace "${namespace}" is not in the manifests`, `known namespaces: ${known.join(', ') || 'none'}`);
    }
  }
  const advisor = new Advisor({ cluster, format: run.format, requireAuth: run.requireAuth, ...(run.namespaces.length > 0 ? { namespaces: [...new Set(run.namespaces)] } : {}) });
  const report = new SkipReport();
  try {
    if (run.flows !== undefined) {
      if (parallel) await parallel.into(advisor, report);
      else await feedStream({ input: openInput(run.flows, run.stdin), advisor, report, source: run.flows === '-' ? '<stdin>' : run.flows });
    } else if (run.flowsStore !== undefined) {
      const { FlowStore } = await import('../../flow/store/store.js');
      const store = FlowStore.open(run.flowsStore, { create: false });
      try {
        for (const record of store.query({ order: 'asc' })) advisor.add(record);
      } finally {
        store.close();
      }
    } else if (run.server !== undefined) {
      const { getFlows } = await import('../../flow/grpc/client.js');
      // Everything the server holds, then the stream ends (hubble observe --all, no --follow).
      for await (const record of getFlows(run.server, { number: '18446744073709551615' })) advisor.add(record);
    }
  } catch (error) {
    throw asCliError(error);
  }
  let advice: Advice;
  try {
    advice = advisor.finish();
  } catch (error) {
    throw asCliError(error);
  }
  if (run.out !== undefined) {
    try {
      mkdirSync(run.out, { recursive: true });
      for (const namespace of advice.namespaces) writeFileSync(join(run.out, `${namespace.namespace}.yaml`), namespace.text);
    } catch (error) {
      throw new CliError('PODGATE_E_OUTPUT', `cannot write to ${run.out}: ${(error as Error).message}`, 'check the directory and its permissions');
    }
  } else {
    process.stdout.write(adviceToYaml(advice));
  }
  for (const note of advice.notes) output.err(`podgate: note: ${note}`);
  output.err(summaryLine(advice, run.out));
  const skipped = report.summary();
  if (skipped !== undefined) output.err(skipped);
  return report.skipped > 0 ? 1 : 0;
}

export function summaryLine(advice: Advice, out: string | undefined): string {
  const { stats } = advice;
  const names = advice.namespaces.map((namespace) => namespace.namespace);
  const ignored = stats.ignored.map(([reason, count]) => `${count} ${reason}`).join('; ');
  return [
    `podgate advise: ${names.length} namespace${names.length === 1 ? '' : 's'} (${names.join(', ')}), ${stats.policies} polic${stats.policies === 1 ? 'y' : 'ies'}, ${stats.allows} allow rule${stats.allows === 1 ? '' : 's'}${out === undefined ? '' : `, written to ${out}`}`,
    `  input: ${stats.read} read, ${stats.used} used${ignored === '' ? '' : `; ignored: ${ignored}`}`,
  ].join('\n');
}

type ParallelRun = ReturnType<typeof adviseFileInParallel>;

/**
 * For a large file of JSON flow lines on a machine with several cores: workers start on it at once,
 * before this thread loads the manifests. undefined: read it in one pass.
 */
async function startParallel(run: AdviseRun): Promise<ParallelRun | undefined> {
  if (run.flows === undefined || run.flows === '-' || run.manifests.length === 0 || run.manifests.includes('-')) return undefined;
  const workers = run.workers ?? defaultWorkers();
  let size: number;
  try {
    const stats = statSync(run.flows);
    if (!stats.isFile()) return undefined;
    size = stats.size;
  } catch {
    return undefined;
  }
  if (workers < 2 || size < PARALLEL_MIN_BYTES || !(await startsWithJson(run.flows))) return undefined;
  const adviseOptions = { format: run.format, requireAuth: run.requireAuth, ...(run.namespaces.length > 0 ? { namespaces: [...new Set(run.namespaces)] } : {}) };
  return adviseFileInParallel({ path: run.flows, source: run.flows, size, workers, manifests: run.manifests, adviseOptions });
}

function parseWorkers(text: string): number {
  const workers = Number(text);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new CliError('PODGATE_E_USAGE', `--workers "${text}" is not a number from 1 to 64`, 'e.g. --workers 2, or 1 for one pass');
  return workers;
}

/** Whether a file's first non-blank line is JSON (flow records), not an observed-flows.tsv. */
async function startsWithJson(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(1 << 16), 0, 1 << 16, 0);
    return kindOfHead(buffer.toString('utf8', 0, bytesRead)) === 'json';
  } finally {
    await handle.close();
  }
}

function openInput(path: string, stdin: Readable | undefined): Readable {
  if (path === '-') {
    if (stdin) return stdin;
    if (process.stdin.isTTY) throw new CliError('PODGATE_E_USAGE', 'nothing to read: stdin is a terminal', 'pipe flows in, or pass --flows FILE');
    return process.stdin;
  }
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw new CliError('PODGATE_E_INPUT', `cannot read ${path}: no such file`, 'check the path given to --flows');
  }
  if (stats.isDirectory()) throw new CliError('PODGATE_E_INPUT', `${path} is a directory`, 'give --flows a file of flow lines or an observed-flows.tsv');
  // Large reads: fewer chunks to cut into lines.
  return createReadStream(path, { highWaterMark: 1 << 20 });
}

