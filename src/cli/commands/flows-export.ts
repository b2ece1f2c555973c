import { renameSync, writeFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import type { Command } from 'commander';
import { collectPodPairs, CORRECTED_PIPELINE, PUBLISHED_PIPELINE } from '../../flow/export.js';
import { readFlowRecords, SkipReport } from '../../flow/jsonl.js';
import { CliError } from '../common.js';
import { openFlowInput, recordsOf } from './observe.js';

interface ExportOptions {
  format: string;
  file?: string;
  out: string;
}

/** `podgate flows export --format tsv`: observed-flows.tsv for the Cilium policy migration guide. */
export function registerFlowsExport(parent: Command): void {
  parent
    .command('export')
    .description('write the distinct observed pod pairs (source namespace, source pod, destination namespace, destination pod) as observed-flows.tsv')
    .option('--format <format>', 'tsv (the only format)', 'tsv')
    .option('--file <path>', 'read `hubble observe -o json` lines from this file (- or nothing for stdin)')
    .option('--out <path>', 'where to write the TSV (- for stdout)', 'observed-flows.tsv')
    .addHelpText(
      'after',
      [
        '',
        'One line per distinct pair, four tab-separated fields, sorted bytewise (LC_ALL=C) and unique.',
        'This is the file the widely published Cilium migration guide builds with',
        `  hubble observe -o json | ${PUBLISHED_PIPELINE}`,
        'but that pipeline reads .source and .pod.name at the top level, while hubble prints',
        '{"flow":{"source":{"namespace":...,"pod_name":...}}}, so on real output every field it prints is empty.',
        'podgate writes, byte for byte, what the corrected pipeline prints:',
        `  ${CORRECTED_PIPELINE}`,
        'Records without a flow (lost events, node status) are left out. A side that is not a pod (world, host,',
        'remote-node, an outside IP) has an empty pod field (and an empty namespace unless the endpoint has one):',
        'such rows are kept, so traffic from outside the cluster into a pod shows as "\\t\\tNAMESPACE\\tPOD".',
        'Filter first with podgate observe: podgate observe --file F --verdict FORWARDED -o json | podgate flows export',
        '',
        'Exit status: 0 all lines read, 1 some lines skipped (counted on stderr), 2 bad usage or unreadable input.',
        '',
        'Example: podgate flows export --format tsv --file flows.json --out observed-flows.tsv',
      ].join('\n'),
    )
    .action(async (options: ExportOptions) => {
      if (options.format !== 'tsv') throw new CliError('PODGATE_E_USAGE', `unknown export format "${options.format}"`, 'use --format tsv');
      if ((options.file === undefined || options.file === '-') && process.stdin.isTTY) throw new CliError('PODGATE_E_USAGE', 'nothing to read: stdin is a terminal', 'pass --file FILE or pipe `hubble observe -o json` lines in');
      const { stream, source } = openFlowInput(options.file);
      const report = new SkipReport();
      const pairs = await collectPodPairs(recordsOf(readFlowRecords(stream, report, { source }), source));
      const tsv = pairs.toTsv();
      if (options.out === '-') process.stdout.write(tsv);
      else writeAtomically(options.out, tsv);
      const summary = report.summary();
      if (summary !== undefined) process.stderr.write(`${summary}\n`);
      if (options.out !== '-') process.stderr.write(`podgate: wrote ${pairs.size} pod pair${pairs.size === 1 ? '' : 's'} to ${options.out}\n`);
      process.exitCode = report.skipped > 0 ? 1 : 0;
    });
}

/** Write beside the target, then rename: a reader never sees half a file. */
function writeAtomically(path: string, text: string): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, text);
    renameSync(temporary, path);
  } catch (error) {
    throw new CliError('PODGATE_E_OUTPUT', `cannot write ${path}: ${error instanceof Error ? error.message : String(error)}`, 'choose a writable --out path, or --out - for stdout');
  }
}
