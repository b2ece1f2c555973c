import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { readFlowRecords, SkipReport } from '../../flow/jsonl.js';
import { DEFAULT_METRICS, HubbleMetrics, MetricsConfigError } from '../../flow/metrics.js';
import { CliError, stdio, type Output } from '../common.js';

/** `podgate flows metrics`: Hubble's metrics for captured flows, printed as a Prometheus scrape would see them. */
export function registerFlowsMetrics(parent: Command, output: Output = stdio): void {
  parent
    .command('metrics')
    .description("compute Hubble's Prometheus metrics (dns, drop, tcp, flow, port-distribution, policy, lost events) for flow JSON lines and print the text exposition")
    .option('--file <path>', 'flow JSON lines (`hubble observe -o json`), or - for stdin', '-')
    .option('--metrics <config>', "metrics and options in Hubble's --hubble-metrics syntax: whitespace-separated `name[:option[=value];...]`", DEFAULT_METRICS)
    .addHelpText(
      'after',
      `
Metrics options are Hubble's: sourceContext / destinationContext = identity | namespace | pod |
pod-name | dns | ip | reserved-identity | workload | workload-name | app (| separates fallbacks; the
first non-empty wins), labelsContext = comma-separated source_/destination_ ip, pod, namespace,
workload, workload_kind, app, and traffic_direction; dns also takes query and ignoreAAAA.

Exit status: 0 every line read, 1 some lines were skipped (listed on stderr), 2 bad usage or unreadable input.
Examples:
  podgate flows metrics --file flows.jsonl
  hubble observe -o json --last 1000 | podgate flows metrics --metrics 'dns:query;ignoreAAAA drop:sourceContext=namespace;destinationContext=namespace tcp flow port-distribution policy'`,
    )
    .action(async (options: { file: string; metrics: string }) => {
      const metrics = createMetrics(options.metrics);
      const report = new SkipReport();
      for await (const { record } of readFlowRecords(openFlowInput(options.file), report, { source: options.file === '-' ? '<stdin>' : options.file })) metrics.observe(record);
      output.out((await metrics.metrics()).trimEnd());
      const summary = report.summary();
      if (summary !== undefined) output.err(summary);
      process.exitCode = report.skipped > 0 ? 1 : 0;
    });
}

/** HubbleMetrics for a --metrics string, with a bad string turned into a usage error. */
export function createMetrics(config: string): HubbleMetrics {
  try {
    return new HubbleMetrics({ metrics: config });
  } catch (error) {
    if (error instanceof MetricsConfigError) throw new CliError(error.code, error.message, error.hint);
    throw error;
  }
}

/**
 * A flow input: stdin for -, else a file that must exist (checked now, for a clean error). With
 * `terminalHint`, stdin that is a terminal is refused with that hint instead of waiting for input.
 */
export function openFlowInput(path: string, terminalHint?: string): Readable {
  if (path === '-') {
    if (terminalHint !== undefined && process.stdin.isTTY) throw new CliError('PODGATE_E_USAGE', 'nothing to read: stdin is a terminal', terminalHint);
    return process.stdin;
  }
  try {
    if (!statSync(path).isFile()) throw new CliError('PODGATE_E_INPUT', `${path} is not a file`, 'pass a file of flow JSON lines, or - for stdin');
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError('PODGATE_E_INPUT', `cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`, 'check the path, or pass - to read stdin');
  }
  return createReadStream(path);
}
