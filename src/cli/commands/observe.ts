import { statSync, createReadStream } from 'node:fs';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { addFlowFilterOptions, DEFAULT_LAST, FLOW_FILTER_HELP } from '../flow-flags.js';
import { compileFlowRequest, selectRecords, type CompiledFlowRequest, type FlowRequestJson } from '../../flow/filter.js';
import { getFlows } from '../../flow/grpc/client.js';
import { tailFile } from '../../flow/grpc/tail.js';
import { readFlowBatches, readFlowRecords, SkipReport } from '../../flow/jsonl.js';
import { recordTimeNs, type FlowRecord } from '../../flow/model.js';
import { FlowPrinter, LOCAL_TIME, OUTPUT_FORMATS, parseTimeFormat, TIME_FORMATS, type OutputFormat, type PrinterOptions } from '../../flow/printer.js';
import { asCliError, CliError } from '../common.js';

/** Where flows come from: a file (read to its end, or followed), stdin, or an observer's GetFlows. */
export type FlowInput = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'stdin' } | { readonly kind: 'server'; readonly address: string };

export interface ObserveOptions {
  readonly input: FlowInput;
  readonly request: FlowRequestJson;
  readonly printer: PrinterOptions;
  /** Keep reading what is appended to the file (or ask the server to follow) until the signal aborts. */
  readonly follow: boolean;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin?: Readable;
  readonly signal?: AbortSignal;
}

const READ_CHUNK_BYTES = 1 << 20;

/**
 * Collects output text and writes it in large chunks: at 1 MiB, or once the current burst of
 * work yields to the event loop (so followed flows appear promptly).
 */
export class ChunkedOutput {
  private parts: string[] = [];
  private size = 0;
  private scheduled = false;
  private drained: Promise<void> | undefined;
  private failed: Error | undefined;

  constructor(
    private readonly stream: Writable,
    private readonly limit = 1 << 20,
  ) {}

  write(text: string): void {
    if (text === '' || this.failed) return;
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= this.limit) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  flush(): void {
    if (this.size === 0 || this.failed) return;
    const text = this.parts.length === 1 ? this.parts[0]! : this.parts.join('');
    this.parts = [];
    this.size = 0;
    if (!this.stream.write(text) && this.drained === undefined) {
      this.drained = once(this.stream, 'drain').then(
        () => void (this.drained = undefined),
        () => void (this.drained = undefined),
      );
    }
  }

  /** A promise while the stream is full: await it before producing more. */
  get backpressure(): Promise<void> | undefined {
    return this.drained;
  }

  fail(error: Error): void {
    this.failed = error;
    this.parts = [];
    this.size = 0;
  }

  async end(): Promise<void> {
    this.flush();
    await this.drained;
  }
}

/** Opens a flow file or stdin; a path that is missing or not a file is a usage error (exit 2). */
export function openFlowInput(path: string | undefined, stdin: Readable = process.stdin): { readonly stream: Readable; readonly source: string } {
  if (path === undefined || path === '-') return { stream: stdin, source: '<stdin>' };
  checkReadableFile(path);
  return { stream: createReadStream(path, { highWaterMark: READ_CHUNK_BYTES }), source: path };
}

function checkReadableFile(path: string): void {
  let isFile: boolean;
  try {
    const stats = statSync(path);
    isFile = stats.isFile() || stats.isFIFO();
  } catch (error) {
    throw new CliError('PODGATE_E_INPUT', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : error instanceof Error ? error.message : String(error)}`, 'pass a file of `hubble observe -o json` lines, or - for stdin');
  }
  if (!isFile) throw new CliError('PODGATE_E_INPUT', `cannot read ${path}: not a regular file`, 'pass a file of `hubble observe -o json` lines, or - for stdin');
}

/** A read error while streaming (the file vanished, EIO) as a usage-level error. */
function readFailure(source: string, error: unknown): CliError {
  return new CliError('PODGATE_E_INPUT', `cannot read ${source}: ${error instanceof Error ? error.message : String(error)}`, 'check the file and try again');
}

/** Runs one observe: prints every selected record, then the skipped-lines summary. Returns the exit status. */
export async function runObserve(options: ObserveOptions): Promise<number> {
  const output = new ChunkedOutput(options.stdout);
  const printer = new FlowPrinter(options.printer);
  const report = new SkipReport();
  const stop = new AbortController();
  const abort = (): void => stop.abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  if (options.signal?.aborted) stop.abort();
  // A closed pipe (`| head`) ends the run quietly.
  const onStdoutError = (error: Error): void => {
    output.fail(error);
    stop.abort();
  };
  options.stdout.on('error', onStdoutError);
  const emit = async (record: FlowRecord): Promise<void> => {
    const printed = printer.print(record);
    output.write(printed.out);
    if (printed.err !== '') options.stderr.write(printed.err);
    const waiting = output.backpressure;
    if (waiting) await waiting;
  };
  try {
    const input = options.input;
    if (input.kind === 'server') {
      const request: FlowRequestJson = { ...options.request, ...(options.follow ? { follow: true } : {}) };
      const noBound = request.number === undefined && request.since === undefined && request.until === undefined && !request.first && !request.follow;
      for await (const record of getFlows(input.address, noBound ? { ...request, number: String(DEFAULT_LAST) } : request, { signal: stop.signal })) {
        if (stop.signal.aborted) break;
        await emit(record);
      }
    } else {
      const compiled = compileFlowRequest(options.request);
      if (options.follow && input.kind === 'file') await followFile({ path: input.path, compiled, report, emit, signal: stop.signal, flush: () => output.flush() });
      else {
        const { stream, source } = openFlowInput(input.kind === 'file' ? input.path : undefined, options.stdin);
        const endInput = (): void => void stream.destroy();
        stop.signal.addEventListener('abort', endInput, { once: true });
        const readOptions = { source, ...(compiled.prefilter ? { prefilter: compiled.prefilter } : {}) };
        try {
          if (compiled.number === undefined) {
            // Every selected record is printed as it comes: work a chunk at a time, synchronously.
            const asRead = options.printer.format === 'json' || options.printer.format === 'jsonpb';
            for await (const batch of batchesOf(readFlowBatches(stream, report, readOptions), source, stop.signal)) {
              for (const { record, text } of batch) {
                if (!compiled.selects(record)) continue;
                // The line as read is the record's JSON already: no need to serialize it again.
                if (asRead && record.flow !== undefined) output.write(`${text.trim()}\n`);
                else {
                  const printed = printer.print(record);
                  output.write(printed.out);
                  if (printed.err !== '') options.stderr.write(printed.err);
                }
              }
              if (stop.signal.aborted) break;
              const waiting = output.backpressure;
              if (waiting) await waiting;
            }
          } else {
            for await (const record of selectRecords(recordsOf(readFlowRecords(stream, report, readOptions), source, stop.signal), compiled)) {
              if (stop.signal.aborted) break;
              await emit(record);
            }
          }
        } finally {
          stop.signal.removeEventListener('abort', endInput);
        }
      }
    }
    output.write(printer.finish());
    await output.end();
  } catch (error) {
    await output.end().catch(() => undefined);
    throw asCliError(error);
  } finally {
    options.signal?.removeEventListener('abort', abort);
    options.stdout.off('error', onStdoutError);
    const summary = report.summary();
    if (summary !== undefined) options.stderr.write(`${summary}\n`);
  }
  return report.skipped > 0 ? 1 : 0;
}

/** The batches of a read; a read error is an unreadable input unless the run was stopped. */
async function* batchesOf<T>(batches: AsyncIterable<T>, source: string, signal: AbortSignal): AsyncGenerator<T> {
  try {
    yield* batches;
  } catch (error) {
    if (signal.aborted) return;
    throw readFailure(source, error);
  }
}

/** The records of a read; a read error is an unreadable input unless the run was stopped. */
export async function* recordsOf(lines: AsyncIterable<{ record: FlowRecord }>, source: string, signal?: AbortSignal): AsyncGenerator<FlowRecord> {
  try {
    for await (const { record } of lines) yield record;
  } catch (error) {
    if (signal?.aborted) return;
    throw readFailure(source, error);
  }
}

interface FollowFileOptions {
  readonly path: string;
  readonly compiled: CompiledFlowRequest;
  readonly report: SkipReport;
  readonly emit: (record: FlowRecord) => Promise<void>;
  readonly signal: AbortSignal;
  readonly flush: () => void;
}

/**
 * `--follow` on a file: the records already there (the last N with --last), then each record
 * appended, until the signal aborts. --until does not apply (as in hubble).
 */
async function followFile(options: FollowFileOptions): Promise<void> {
  checkReadableFile(options.path);
  const { compiled, signal } = options;
  const existingBytes = statSync(options.path).size;
  const last = !compiled.first && compiled.number !== undefined ? compiled.number : undefined;
  const backlog: FlowRecord[] = [];
  let backlogFlows = 0;
  let caughtUp = false;
  // Everything that was in the file has been read: print what --last kept, then follow.
  const catchUp = async (): Promise<void> => {
    caughtUp = true;
    for (const record of backlog.splice(0)) await options.emit(record);
    options.flush();
  };
  // Asked for the next chunk means every record of the previous ones has been handled.
  async function* chunks(): AsyncGenerator<Buffer> {
    let delivered = 0;
    if (existingBytes === 0) await catchUp();
    for await (const chunk of tailFile(options.path, { signal })) {
      yield chunk;
      delivered += chunk.length;
      if (!caughtUp && delivered >= existingBytes) await catchUp();
    }
  }
  // tailFile's watcher and poll timer do not hold the process open; following must.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    const prefilter = compiled.prefilter;
    for await (const { record } of readFlowRecords(chunks(), options.report, { source: options.path, ...(prefilter ? { prefilter } : {}) })) {
      if (signal.aborted) break;
      // Lost-events and other non-flow records pass through, as selectRecords passes them.
      const isFlow = record.flow !== undefined;
      if (isFlow && !compiled.matches(record)) continue;
      if (isFlow && compiled.sinceNs !== undefined && recordTimeNs(record) < compiled.sinceNs) continue;
      if (caughtUp || last === undefined) {
        await options.emit(record);
        continue;
      }
      backlog.push(record);
      if (isFlow) backlogFlows++;
      while (backlogFlows > last) if (backlog.shift()?.flow !== undefined) backlogFlows--;
    }
  } finally {
    clearInterval(keepAlive);
  }
  if (!caughtUp) await catchUp();
}

interface ObserveCommandOptions {
  file?: string;
  server?: string;
  output: string;
  timeFormat: string;
  printNodeName?: boolean;
  printPolicyNames?: boolean;
  numeric?: boolean;
  ipTranslation: boolean;
}

export function registerObserve(program: Command): void {
  const command = program
    .command('observe')
    .description('show flows from a file, stdin or a running agent or relay, with hubble observe filters and output formats');
  const flags = addFlowFilterOptions(command);
  command
    .option('--file <path>', 'read `hubble observe -o json` lines from this file (- for stdin; stdin is the default)')
    .option('--server <host:port>', 'ask a podgate agent (4244), relay (4245) or Hubble for flows instead')
    .option('-o, --output <format>', `${OUTPUT_FORMATS.join(', ')} (json is an alias of jsonpb: the record line as is)`, 'compact')
    .option('--time-format <name>', `how compact, dict and table print times: ${TIME_FORMATS.join(', ')}`, 'StampMilli')
    .option('--print-node-name', 'print the node name in output')
    .option('--print-policy-names', 'print the names of the policies that allowed or denied policy-verdict flows')
    .option('--numeric', 'print IP addresses instead of pod, service and DNS names')
    .option('--no-ip-translation', 'same as --numeric')
    .addHelpText(
      'after',
      [
        '',
        FLOW_FILTER_HELP,
        'With --file, --follow keeps printing what is appended to the file until Ctrl-C (--last N: the last N already there first).',
        'Without --server there is no default --last: the whole file or stream is read.',
        'Times in compact, dict and table output are local time (set TZ=UTC for UTC).',
        'Lines that are not flow records (truncated, not JSON, wrong types, too long) are skipped and counted on stderr.',
        '',
        'Exit status: 0 all lines read, 1 some lines skipped, 2 bad usage, unreadable input or unreachable server.',
        '',
        'Examples:',
        '  podgate observe --file flows.json --namespace payments --verdict DROPPED',
        '  hubble observe -o json --last 1000 | podgate observe -o dict --to-port 5432',
        '  podgate observe --file /var/log/flows.json --follow --not --namespace kube-system',
        '  podgate observe --server localhost:4245 --follow -o json',
      ].join('\n'),
    )
    .action(async (options: ObserveCommandOptions) => {
      const format = (options.output === 'tab' ? 'table' : options.output.toLowerCase()) as OutputFormat;
      if (!OUTPUT_FORMATS.includes(format)) throw new CliError('PODGATE_E_USAGE', `unknown output format "${options.output}"`, `use one of ${OUTPUT_FORMATS.join(', ')}`);
      const timeFormat = parseTimeFormat(options.timeFormat);
      if (timeFormat === undefined) throw new CliError('PODGATE_E_USAGE', `unknown time format "${options.timeFormat}"`, `use one of ${TIME_FORMATS.join(', ')}`);
      if (options.file !== undefined && options.server !== undefined) throw new CliError('PODGATE_E_USAGE', '--file and --server cannot be used together', 'read a file, or ask a server');
      let request: FlowRequestJson;
      try {
        request = flags.request();
      } catch (error) {
        throw asCliError(error);
      }
      const follow = request.follow === true;
      if (follow && format === 'table') throw new CliError('PODGATE_E_USAGE', 'table output cannot be used with --follow', 'use -o compact, dict or json to follow');
      if (follow && request.first) throw new CliError('PODGATE_E_USAGE', '--first cannot be used with --follow', 'drop one of them');
      const input: FlowInput = options.server !== undefined ? { kind: 'server', address: options.server } : options.file !== undefined && options.file !== '-' ? { kind: 'file', path: options.file } : { kind: 'stdin' };
      if (input.kind === 'stdin' && process.stdin.isTTY) throw new CliError('PODGATE_E_USAGE', 'nothing to read: stdin is a terminal', 'pass --file FILE, pipe flows in, or use --server host:port');
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        process.exitCode = await runObserve({
          input,
          request,
          follow,
          printer: {
            format,
            timeFormat,
            timeZone: LOCAL_TIME,
            nodeName: options.printNodeName === true,
            policyNames: options.printPolicyNames === true,
            ipTranslation: options.numeric !== true && options.ipTranslation,
          },
          stdout: process.stdout,
          stderr: process.stderr,
          signal: controller.signal,
        });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
