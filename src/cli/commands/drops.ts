import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { formatDropKey, formatNewDrop, newDropJson, NewDropDetector, watchDrops, webhookNotifier, type NewDrop } from '../../flow/drops.js';
import { readFlowRecords, SkipReport } from '../../flow/jsonl.js';
import { parseDurationNs, type FlowRecord } from '../../flow/model.js';
import { CliError, collect, stdio, type Output } from '../common.js';
import { openFlowInput } from './flows-metrics.js';

interface WatchOptions {
  file?: string;
  server?: string;
  namespace: string[];
  baseline?: string;
  baselineWindow?: string;
  output: string;
  webhook?: string;
}

/** `podgate drops watch`: drops never seen in a baseline, as text, JSON or webhook POSTs. */
export function registerDrops(program: Command, output: Output = stdio): void {
  const drops = program.command('drops').description('find drops that are new compared with a baseline (podgate drops watch)');
  drops
    .command('watch')
    .description('report each (source identity, destination identity, port, drop reason) that was never dropped in the baseline')
    .option('--file <path>', 'flow JSON lines to watch, or - for stdin (the default without --server)')
    .option('--server <host:port>', 'watch a running agent or relay (Hubble Observer API) until interrupted')
    .option('--namespace <ns>', 'report only drops with this namespace at either end (repeatable)', collect, [])
    .option('--baseline <path>', 'earlier flows (JSON lines): drops seen there are not new')
    .option('--baseline-window <duration>', 'learn from the stream itself: drops in its first DURATION (by record time, e.g. 24h) are not new')
    .option('-o, --output <format>', 'text or json (one JSON object per line)', 'text')
    .option('--webhook <url>', 'also POST each new drop as a JSON object to this URL (failures are reported on stderr; the watch goes on)')
    .addHelpText(
      'after',
      `
Identities are stable names, not Cilium's numeric identities (which change): NAMESPACE/WORKLOAD
(the flow's first workload), else NAMESPACE/APP (app.kubernetes.io/name, k8s-app or app label),
else NAMESPACE/POD; outside pods the reserved label (reserved:host, reserved:kube-apiserver, ...);
for the world its DNS name, else its IP, else reserved:world. A dropped reply counts as its request
(client, server, server port). Without a baseline every distinct drop is new once.

Each new drop is printed once, when first seen (first seen time, count so far); the final counts
go to stderr at the end. Unreadable lines are skipped with a warning on stderr.

Exit status: 0 no new drops, 1 new drops found, 2 bad usage or unreadable input.
Examples:
  podgate drops watch --file today.jsonl --baseline last-week.jsonl --namespace payments
  hubble observe -o json -f | podgate drops watch --baseline-window 24h -o json --webhook http://alerts.example:9000/drops
  podgate drops watch --server localhost:4245 --baseline last-week.jsonl`,
    )
    .action(async (options: WatchOptions) => {
      process.exitCode = await runWatch(options, output);
    });
}

function checkOptions(options: WatchOptions): { windowNs: bigint | undefined; webhook: string | undefined } {
  if (options.file !== undefined && options.server !== undefined) throw new CliError('PODGATE_E_USAGE', '--file and --server are both given', 'watch either a file (or - for stdin) or a server');
  if (options.baseline !== undefined && options.baselineWindow !== undefined) throw new CliError('PODGATE_E_USAGE', '--baseline and --baseline-window are both given', 'use a file of earlier flows or a window of the stream, not both');
  if (options.output !== 'text' && options.output !== 'json') throw new CliError('PODGATE_E_USAGE', `unknown output "${options.output}"`, 'use text or json');
  for (const namespace of options.namespace) if (namespace === '') throw new CliError('PODGATE_E_USAGE', '--namespace is empty', 'name a namespace, e.g. --namespace payments');
  let windowNs: bigint | undefined;
  if (options.baselineWindow !== undefined) {
    windowNs = parseDurationNs(options.baselineWindow);
    if (windowNs === undefined || windowNs === 0n) throw new CliError('PODGATE_E_USAGE', `--baseline-window "${options.baselineWindow}" is not a positive duration`, 'write it like 24h, 90m or 1h30m');
  }
  if (options.webhook !== undefined) {
    let url: URL;
    try {
      url = new URL(options.webhook);
    } catch {
      throw new CliError('PODGATE_E_USAGE', `--webhook "${options.webhook}" is not a URL`, 'write it like http://host:port/path');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError('PODGATE_E_USAGE', `--webhook must be an http or https URL, not ${url.protocol}`, 'write it like https://host/path');
  }
  return { windowNs, webhook: options.webhook };
}

async function runWatch(options: WatchOptions, output: Output): Promise<number> {
  const { windowNs, webhook } = checkOptions(options);
  const detector = new NewDropDetector({ namespaces: options.namespace, ...(windowNs === undefined ? {} : { baselineWindowNs: windowNs }) });
  const report = new SkipReport();
  if (options.baseline !== undefined) {
    for await (const { record } of readFlowRecords(openFlowInput(options.baseline), report, { source: options.baseline })) detector.learn(record);
  }
  const input = options.server === undefined ? openFlowInput(options.file ?? '-') : undefined;
  // Only a server watch runs until interrupted; it ends cleanly, with the totals, on Ctrl-C.
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  if (options.server !== undefined) {
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
  try {
    const records = input !== undefined ? fileRecords(input, options.file ?? '-', report) : await serverRecords(options.server ?? '', options.namespace, abort.signal);
    const notify =
      webhook === undefined
        ? undefined
        : webhookNotifier(webhook, (error, drop) => output.err(`podgate: warning PODGATE_W_WEBHOOK: ${error.message} (drop ${formatDropKey(drop.key)}); the watch goes on`));
    const result = await watchDrops({
      records,
      detector,
      onNewDrop: async (drop) => {
        output.out(options.output === 'json' ? JSON.stringify(newDropJson(drop)) : formatNewDrop(drop));
        await notify?.(drop);
      },
    }).catch((error: unknown) => {
      if (abort.signal.aborted) return { flows: 0, newDrops: detector.newDrops() };
      throw serverError(error);
    });
    const summary = report.summary();
    if (summary !== undefined) output.err(summary);
    printTotals(result.newDrops, output);
    return result.newDrops.length > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

async function* fileRecords(input: Readable, path: string, report: SkipReport): AsyncGenerator<FlowRecord> {
  for await (const { record } of readFlowRecords(input, report, { source: path === '-' ? '<stdin>' : path })) yield record;
}

async function serverRecords(address: string, namespaces: readonly string[], signal: AbortSignal): Promise<AsyncIterable<FlowRecord>> {
  const { getFlows } = await import('../../flow/grpc/client.js');
  // The server sends only drops (of the namespaces asked for); the detector checks again.
  const dropped = { verdict: ['DROPPED'] };
  const whitelist = namespaces.length === 0 ? [dropped] : [{ ...dropped, source_pod: namespaces.map((namespace) => `${namespace}/`) }, { ...dropped, destination_pod: namespaces.map((namespace) => `${namespace}/`) }];
  return getFlows(address, { follow: true, whitelist }, { signal });
}

function serverError(error: unknown): unknown {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('PODGATE_E_')) {
    const hint = 'hint' in error && typeof error.hint === 'string' ? error.hint : undefined;
    return new CliError(error.code, error.message, hint);
  }
  return error;
}

function printTotals(newDrops: readonly NewDrop[], output: Output): void {
  if (newDrops.length === 0) return;
  output.err(`podgate: ${newDrops.length} new drop${newDrops.length === 1 ? '' : 's'}:`);
  for (const drop of newDrops) output.err(`  ${formatDropKey(drop.key)}: ${drop.count} flow${drop.count === 1 ? '' : 's'}, first seen ${drop.firstSeen}`);
}
