import type { Command } from 'commander';
import { formatFlowLine, readFlowRecords, SkipReport } from '../../flow/jsonl.js';
import { formatTimestampNs, parseDurationNs, parseTimestampNs } from '../../flow/model.js';
import { DEFAULT_MAX_AGE_NS, FlowStore, type FlowStoreOptions, type FlowStoreStats } from '../../flow/store/store.js';
import { asCliError, CliError, stdio, type Output } from '../common.js';
import { openFlowInput } from './flows-metrics.js';

const STORE_HELP = 'the flow store file (SQLite; created by ingest)';

/** `podgate flows store ...`: the persistent flow store from the command line. */
export function registerFlowsStore(parent: Command, output: Output = stdio): void {
  const store = parent
    .command('store')
    .description('the persistent flow store (SQLite, indexed by time): ingest, query, prune, stats')
    .addHelpText(
      'after',
      `
Retention: records older than --max-age (168h) go, and the oldest go while the store is over
--max-bytes (1GiB); ingest prunes as it writes, prune does it on demand.

Examples:
  hubble observe -o json --follow | podgate flows store ingest --store flows.db
  podgate flows store query --store flows.db --since 1h | podgate observe
  podgate flows store stats --store flows.db`,
    );

  store
    .command('ingest')
    .description('append flow JSON lines (`hubble observe -o json`) to a store, creating it if needed')
    .requiredOption('--store <path>', STORE_HELP)
    .option('--file <path>', 'flow JSON lines to read, or - for stdin', '-')
    .option('--max-age <duration>', 'delete records older than this (by record time, against now) while ingesting; 0 keeps any age', '168h')
    .option('--max-bytes <size>', 'keep the store under this size (e.g. 1GiB, 500MiB, 200000000)', '1GiB')
    .addHelpText(
      'after',
      `
Unreadable lines are skipped and listed on stderr. Exit status: 0 all stored, 1 lines skipped,
2 bad usage or an unusable store.

Examples:
  podgate flows store ingest --store flows.db --file flows.jsonl
  podgate flows store ingest --store archive.db --file last-year.jsonl --max-age 0 --max-bytes 20GiB
  hubble observe -o json --follow | podgate flows store ingest --store flows.db`,
    )
    .action(async (options: { store: string; file: string; maxAge: string; maxBytes: string }) => {
      const retention = retentionOptions(options);
      const input = openFlowInput(options.file, 'pass --file FILE or pipe `hubble observe -o json` lines in');
      const flows = openStore(options.store, retention);
      const report = new SkipReport();
      let stored = 0;
      try {
        for await (const read of readFlowRecords(input, report, { source: options.file === '-' ? '<stdin>' : options.file })) {
          // The line as read, when the reader hands it over: stored as is instead of re-serialized.
          const text = (read as { text?: unknown }).text;
          flows.append(read.record, typeof text === 'string' ? text : undefined);
          stored++;
        }
        flows.flush();
        flows.prune();
      } catch (error) {
        throw asCliError(error);
      } finally {
        closeQuietly(flows);
      }
      const summary = report.summary();
      if (summary !== undefined) output.err(summary);
      const pruned = flows.prunedTotal;
      const note = pruned === 0 ? '' : `; retention deleted ${pruned} (older than --max-age ${options.maxAge} by their own time, or over --max-bytes ${options.maxBytes}; --max-age 0 keeps any age)`;
      output.err(`podgate: stored ${stored} record${stored === 1 ? '' : 's'} in ${options.store}${note}`);
      process.exitCode = report.skipped > 0 ? 1 : 0;
    });

  store
    .command('query')
    .description('print stored records in a time range as JSON lines (the `hubble observe -o json` format)')
    .requiredOption('--store <path>', STORE_HELP)
    .option('--since <time>', 'from this time on (inclusive): RFC 3339, or a duration such as 1h meaning now minus 1h')
    .option('--until <time>', 'up to this time (inclusive): RFC 3339, or a duration meaning now minus it')
    .option('--limit <n>', 'at most this many records (the first ones in --order)')
    .option('--order <order>', 'asc (oldest first) or desc (newest first)', 'asc')
    .addHelpText(
      'after',
      `
Examples:
  podgate flows store query --store flows.db --since 1h
  podgate flows store query --store flows.db --since 2024-05-01T10:00:00Z --until 2024-05-01T11:00:00Z
  podgate flows store query --store flows.db --order desc --limit 20 | podgate observe -o compact`,
    )
    .action(async (options: { store: string; since?: string; until?: string; limit?: string; order: string }) => {
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      const sinceNs = options.since === undefined ? undefined : parseTimeArgument('--since', options.since, nowNs);
      const untilNs = options.until === undefined ? undefined : parseTimeArgument('--until', options.until, nowNs);
      if (options.order !== 'asc' && options.order !== 'desc') throw new CliError('PODGATE_E_USAGE', `--order "${options.order}" is not asc or desc`, 'use --order asc (oldest first) or --order desc (newest first)');
      const limit = options.limit === undefined ? undefined : parseCount('--limit', options.limit);
      const flows = openStore(options.store, { create: false });
      try {
        await writeLines(
          (function* () {
            for (const record of flows.query({ ...(sinceNs === undefined ? {} : { sinceNs }), ...(untilNs === undefined ? {} : { untilNs }), ...(limit === undefined ? {} : { limit }), order: options.order as 'asc' | 'desc' })) yield formatFlowLine(record);
          })(),
        );
      } catch (error) {
        throw asCliError(error);
      } finally {
        closeQuietly(flows);
      }
    });

  store
    .command('prune')
    .description('delete records older than --max-age, then the oldest while the store is over --max-bytes')
    .requiredOption('--store <path>', STORE_HELP)
    .option('--max-age <duration>', 'keep records newer than this (e.g. 168h, 24h, 90m); 0 keeps any age', '168h')
    .option('--max-bytes <size>', 'keep the store under this size (e.g. 1GiB, 500MiB, 200000000)', '1GiB')
    .addHelpText(
      'after',
      `
The file does not shrink: freed pages are reused by later records.

Examples:
  podgate flows store prune --store flows.db
  podgate flows store prune --store flows.db --max-age 24h --max-bytes 200MiB`,
    )
    .action((options: { store: string; maxAge: string; maxBytes: string }) => {
      const flows = openStore(options.store, { ...retentionOptions(options), create: false });
      try {
        const { deleted } = flows.prune();
        const stats = flows.stats();
        output.out(`deleted ${deleted} record${deleted === 1 ? '' : 's'}; ${stats.records} left, ${formatBytes(stats.bytes)} in use`);
      } catch (error) {
        throw asCliError(error);
      } finally {
        closeQuietly(flows);
      }
    });

  store
    .command('stats')
    .description('how many records the store holds, its size, and its oldest and newest record times')
    .requiredOption('--store <path>', STORE_HELP)
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText(
      'after',
      `
bytes counts the database pages in use (what --max-bytes bounds); file_bytes is the size on disk
(database and write-ahead log), which keeps freed pages for reuse.

Examples:
  podgate flows store stats --store flows.db
  podgate flows store stats --store flows.db -o json`,
    )
    .action((options: { store: string; output: string }) => {
      if (options.output !== 'text' && options.output !== 'json') throw new CliError('PODGATE_E_USAGE', `unknown output "${options.output}"`, 'use text or json');
      const flows = openStore(options.store, { create: false });
      let stats: FlowStoreStats;
      try {
        stats = flows.stats();
      } catch (error) {
        throw asCliError(error);
      } finally {
        closeQuietly(flows);
      }
      const oldest = stats.oldestNs === undefined ? null : formatTimestampNs(stats.oldestNs);
      const newest = stats.newestNs === undefined ? null : formatTimestampNs(stats.newestNs);
      if (options.output === 'json') output.out(JSON.stringify({ records: stats.records, bytes: stats.bytes, file_bytes: stats.fileBytes, oldest, newest }));
      else {
        output.out(`records:    ${stats.records}`);
        output.out(`bytes:      ${stats.bytes} (${formatBytes(stats.bytes)})`);
        output.out(`file bytes: ${stats.fileBytes} (${formatBytes(stats.fileBytes)})`);
        output.out(`oldest:     ${oldest ?? '-'}`);
        output.out(`newest:     ${newest ?? '-'}`);
      }
    });
}

function openStore(path: string, options: FlowStoreOptions): FlowStore {
  try {
    return FlowStore.open(path, options);
  } catch (error) {
    throw asCliError(error);
  }
}

/** Closing after a failure must not hide the failure. */
function closeQuietly(store: FlowStore): void {
  try {
    store.close();
  } catch {
    // The error that matters was thrown already (or will be by the caller).
  }
}


function retentionOptions(options: { maxAge: string; maxBytes: string }): { maxAgeNs: bigint; maxBytes: number } {
  const maxAgeNs = parseDurationNs(options.maxAge);
  if (options.maxAge === '0') return { maxAgeNs: 0n, maxBytes: parseSizeOption(options.maxBytes) };
  if (maxAgeNs === undefined || maxAgeNs <= 0n) throw new CliError('PODGATE_E_USAGE', `--max-age "${options.maxAge}" is not a duration`, `use a duration such as ${formatDurationHint(DEFAULT_MAX_AGE_NS)}, 24h or 90m`);
  return { maxAgeNs, maxBytes: parseSizeOption(options.maxBytes) };
}

function parseSizeOption(text: string): number {
  const maxBytes = parseSize(text);
  if (maxBytes === undefined) throw new CliError('PODGATE_E_USAGE', `--max-bytes "${text}" is not a size`, 'use a size such as 1GiB, 500MiB or a number of bytes');
  return maxBytes;
}

function formatDurationHint(ns: bigint): string {
  return `${ns / 3_600_000_000_000n}h`;
}


/** --since/--until: an RFC 3339 time, or a duration meaning that long before now. */
export function parseTimeArgument(flag: string, text: string, nowNs: bigint): bigint {
  const absolute = parseTimestampNs(text);
  if (absolute !== undefined) return absolute;
  const ago = parseDurationNs(text);
  if (ago !== undefined) return nowNs - ago;
  throw new CliError('PODGATE_E_USAGE', `${flag} "${text}" is neither an RFC 3339 time nor a duration`, `use e.g. ${flag} 2024-05-01T10:00:00Z or ${flag} 1h (one hour ago)`);
}

function parseCount(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new CliError('PODGATE_E_USAGE', `${flag} "${text}" is not a whole number`, `use e.g. ${flag} 100`);
  return Number(text);
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1000, kb: 1000, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3, t: 1e12, tb: 1e12, tib: 1024 ** 4 };

/** A size in bytes: 200000000, 500MB, 500MiB, 1GiB, 1.5G. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  if (!match) return undefined;
  const scale = SIZE_UNITS[(match[2] ?? '').toLowerCase()];
  if (scale === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * scale);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/**
 * Writes lines to stdout in 64 KiB chunks, waiting when the pipe is full; a reader that goes away
 * (`| head`) ends the output quietly.
 */
async function writeLines(lines: Iterable<string>): Promise<void> {
  const stdout = process.stdout;
  let closed = false;
  const onError = (error: NodeJS.ErrnoException): void => {
    if (error.code === 'EPIPE') closed = true;
  };
  // Left attached: an EPIPE can still arrive after the last write.
  stdout.on('error', onError);
  let chunk = '';
  for (const line of lines) {
    chunk += `${line}\n`;
    if (chunk.length < 65536) continue;
    if (closed) return;
    if (!stdout.write(chunk)) await new Promise<void>((resolve) => stdout.once('drain', resolve).once('error', () => resolve()));
    chunk = '';
  }
  if (chunk !== '' && !closed) stdout.write(chunk);
}
