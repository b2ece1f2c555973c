import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { formatIssue } from '../../manifest/issue.js';
import { formatFlowLine } from '../../flow/jsonl.js';
import { DEFAULT_DURATION, DEFAULT_START, generateFlows, parseDuration, parseStart, PROFILES } from '../../flow/generate/generator.js';
import { formatTimestampNs, type FlowRecord } from '../../flow/model.js';
import { loadScenarioFromPaths } from '../../scenario/files.js';
import { asCliError, CliError, collect, stdio, type Output } from '../common.js';

export interface GenerateCommandOptions {
  readonly paths: readonly string[];
  readonly profile?: string;
  readonly duration?: string;
  readonly seed?: string;
  readonly start?: string;
  readonly out?: string;
  readonly count?: string;
  readonly probeEvery?: string;
  readonly intensity?: string;
}

/** Lines are gathered into chunks of about this many bytes before each write. */
const CHUNK_BYTES = 1 << 20;

function positiveInteger(text: string, what: string, example: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) throw new CliError('PODGATE_E_USAGE', `${what} "${text}" is not a positive integer`, `for example ${example}`);
  return Number(text);
}

/** Writes text, waiting when the stream's buffer is full; false once the reader has gone (EPIPE). */
async function writeChunk(sink: Writable, text: string, state: { closed: boolean }): Promise<boolean> {
  if (state.closed) return false;
  if (!sink.write(text)) {
    // After an error the stream closes; the error listener has already recorded it.
    await new Promise<void>((resolve) => {
      const done = (): void => {
        sink.off('drain', done);
        sink.off('close', done);
        resolve();
      };
      sink.on('drain', done);
      sink.on('close', done);
    });
  }
  return !state.closed;
}

/** `podgate flows generate`: checks the options, then streams the records as JSON lines. Returns the number written. */
export async function runGenerate(options: GenerateCommandOptions, output: Output = stdio, stdout: Writable = process.stdout): Promise<number> {
  if (options.paths.length === 0) throw new CliError('PODGATE_E_USAGE', 'no manifests given', 'pass them with -f FILE|DIR|- (repeatable), for example -f examples/payments/');
  if (options.profile === undefined) throw new CliError('PODGATE_E_USAGE', 'no profile given', `choose one with --profile: ${[...PROFILES.keys()].join(', ')}`);
  if (!PROFILES.has(options.profile)) throw new CliError('PODGATE_E_PROFILE', `unknown profile "${options.profile}"`, `use one of: ${[...PROFILES.keys()].join(', ')}`);
  const seed = options.seed === undefined ? 1 : /^\d+$/.test(options.seed) && Number(options.seed) <= 0xffffffff ? Number(options.seed) : undefined;
  if (seed === undefined) throw new CliError('PODGATE_E_USAGE', `seed "${options.seed}" is not a number from 0 to 4294967295`, 'for example --seed 42');
  const count = options.count === undefined ? undefined : positiveInteger(options.count, 'count', '--count 1000000');
  const probeEvery = options.probeEvery === undefined ? undefined : positiveInteger(options.probeEvery, 'probe sampling', '--probe-every 6');
  const intensity = options.intensity === undefined ? undefined : Number(options.intensity);
  if (intensity !== undefined && !(intensity > 0 && intensity <= 1000)) throw new CliError('PODGATE_E_USAGE', `intensity "${options.intensity}" is not a number above 0 (at most 1000)`, 'for example --intensity 2 for twice the traffic');
  let durationNs: number;
  let startNs: bigint;
  try {
    durationNs = parseDuration(options.duration ?? DEFAULT_DURATION);
    startNs = parseStart(options.start ?? DEFAULT_START);
  } catch (error) {
    throw asCliError(error);
  }

  const scenario = loadScenarioFromPaths(options.paths);
  const unreadable = scenario.issues.filter((issue) => issue.code === 'PODGATE_E_INPUT');
  if (unreadable.length > 0) throw new CliError('PODGATE_E_INPUT', unreadable.map((issue) => `${issue.file ?? ''}: ${issue.message}`).join('; '), unreadable[0]!.hint ?? 'check the paths given to -f');
  const errors = scenario.issues.filter((issue) => issue.severity === 'error');
  if (errors.length > 0) {
    for (const issue of errors) output.err(formatIssue(issue));
    throw new CliError('PODGATE_E_MANIFEST', `${errors.length} error${errors.length === 1 ? '' : 's'} in the manifests: flows would show quarantined policies, not yours`, `fix them first (podgate validate ${options.paths.join(' ')})`);
  }
  if (scenario.cluster.pods.length === 0) throw new CliError('PODGATE_E_INPUT', `no pods or workloads in ${options.paths.join(', ')}`, 'point -f at Kubernetes manifests with Pods or Deployments');

  let records: Generator<FlowRecord>;
  try {
    records = generateFlows({ scenario, profile: options.profile, startNs, durationNs, seed, ...(count === undefined ? {} : { count }), ...(probeEvery === undefined ? {} : { probeEvery }), ...(intensity === undefined ? {} : { intensity }) });
  } catch (error) {
    throw asCliError(error);
  }

  const sink: Writable = options.out === undefined ? stdout : createWriteStream(options.out);
  const state = { closed: false };
  if (options.out !== undefined) {
    try {
      await once(sink, 'open');
    } catch (error) {
      throw new CliError('PODGATE_E_OUTPUT', `cannot write ${options.out}: ${(error as Error).message}`, 'check that the directory exists and is writable');
    }
  }
  const onError = (error: NodeJS.ErrnoException): void => {
    state.closed = true;
    if (error.code !== 'EPIPE') output.err(`podgate: error PODGATE_E_OUTPUT: ${error.message}`);
  };
  sink.on('error', onError);
  sink.on('close', () => (state.closed = true));

  let written = 0;
  let chunk = '';
  for (const record of records) {
    chunk += `${formatFlowLine(record)}\n`;
    written++;
    if (chunk.length >= CHUNK_BYTES) {
      if (!(await writeChunk(sink, chunk, state))) break;
      chunk = '';
    }
  }
  if (chunk !== '') await writeChunk(sink, chunk, state);
  if (options.out !== undefined) {
    sink.end();
    if (!state.closed) await once(sink, 'close').catch(() => undefined);
    output.err(`podgate: wrote ${written} flows (${formatTimestampNs(startNs)} + ${options.duration ?? DEFAULT_DURATION}, profile ${options.profile}, seed ${seed}) to ${options.out}`);
  }
  if (count !== undefined && written < count && !state.closed) output.err(`podgate: warning PODGATE_W_COUNT: the duration ended after ${written} of ${count} flows; raise --duration or --intensity`);
  return written;
}

export function registerFlowsGenerate(parent: Command, output: Output = stdio): void {
  parent
    .command('generate')
    .description('generate deterministic, realistic Hubble flows (hubble observe -o json lines) for a cluster described by manifests; every verdict comes from the policy engine')
    .argument('[paths...]', 'manifest files, directories or - for stdin')
    .option('-f, --filename <path>', 'a manifest file, directory or - (repeatable; same as the arguments)', collect, [])
    .option('--profile <name>', `traffic profile: ${[...PROFILES.values()].map((profile) => profile.name).join(' or ')}`)
    .option('--duration <duration>', 'simulated time span (Go duration: 168h, 90m, 1h30m; or 7d)', DEFAULT_DURATION)
    .option('--seed <n>', 'random seed: the same inputs and seed give the same bytes', '1')
    .option('--start <time>', 'RFC 3339 time of the first flow (never the wall clock)', DEFAULT_START)
    .option('--out <file>', 'write to this file instead of stdout')
    .option('--count <n>', 'stop after N flows, with rates set so they span about the whole duration')
    .option('--probe-every <n>', 'kubelet probes run every 10 s; write one in N (default 6: once a minute per pod)')
    .option('--intensity <factor>', 'multiply the profile traffic rates (ignored with --count)')
    .addHelpText(
      'after',
      [
        '',
        'Profiles:',
        ...[...PROFILES.values()].map((profile) => `  ${profile.name.padEnd(9)} ${profile.summary}`),
        '',
        'Records are the JSON lines `hubble observe -o json` prints (policy verdicts, trace points, drops, DNS and',
        'HTTP L7 events), with podgate\'s extensions under flow.podgate. Output is in time order.',
        '',
        'Examples:',
        '  podgate flows generate -f examples/payments/ --profile payments --duration 24h > flows.jsonl',
        '  podgate flows generate -f manifests/ --profile mesh --count 1000000 --out flows.jsonl',
      ].join('\n'),
    )
    .action(async (paths: string[], options: { filename: string[]; profile?: string; duration: string; seed: string; start: string; out?: string; count?: string; probeEvery?: string; intensity?: string }) => {
      await runGenerate(
        {
          paths: [...paths, ...options.filename],
          duration: options.duration,
          seed: options.seed,
          start: options.start,
          ...(options.profile === undefined ? {} : { profile: options.profile }),
          ...(options.out === undefined ? {} : { out: options.out }),
          ...(options.count === undefined ? {} : { count: options.count }),
          ...(options.probeEvery === undefined ? {} : { probeEvery: options.probeEvery }),
          ...(options.intensity === undefined ? {} : { intensity: options.intensity }),
        },
        output,
      );
    });
}
