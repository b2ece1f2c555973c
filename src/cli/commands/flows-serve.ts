import { existsSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import { RingWithHistory } from '../../flow/grpc/source.js';
import { DEFAULT_RING_CAPACITY, FlowRing, type FlowSource } from '../../flow/grpc/ring.js';
import { formatListenAddress, parseListenAddress, type ListenAddress } from '../../flow/grpc/listen.js';
import { startObserverServer } from '../../flow/grpc/server.js';
import type { RunningObserver } from '../../flow/grpc/service.js';
import { tailFile } from '../../flow/grpc/tail.js';
import { readFlowRecords, SkipReport } from '../../flow/jsonl.js';
import { DEFAULT_METRICS, HubbleMetrics, serveMetrics, type MetricsServer } from '../../flow/metrics.js';
import type { FlowRecord } from '../../flow/model.js';
import { recordTimeNs } from '../../flow/model.js';
import { FlowStore } from '../../flow/store/store.js';
import { CliError, collect, stdio, type Output } from '../common.js';
import { createMetrics, openFlowInput } from './flows-metrics.js';

interface ServeFlags {
  file: string[];
  store?: string;
  listen: string;
  nodeName?: string;
  followFile?: boolean;
  ringSize: string;
  metricsListen?: string;
  metrics: string;
}

/** `podgate flows serve`: the agent-side Hubble Observer API over flow files, a ring and a store. */
export function registerFlowsServe(parent: Command, output: Output = stdio): void {
  parent
    .command('serve')
    .description('serve the Hubble Observer gRPC API (GetFlows with filters and follow, ServerStatus, GetNodes, GetNamespaces) for flow JSON lines, as a node agent does on port 4244')
    .option('--file <path>', 'flow JSON lines (`hubble observe -o json`) to serve, or - for stdin (repeatable)', collect, [])
    .option('--store <path>', 'a flow store (SQLite) for history older than the ring; records read are added to it')
    .option('--listen <host:port>', 'where to serve the Observer API (port 0 picks a free port)', '0.0.0.0:4244')
    .option('--node-name <name>', 'this node\'s name in GetNodes and on lost-event records (default: the host name)')
    .option('--follow-file', 'keep reading the files as lines are appended and stream them to followers (like tail -f)')
    .option('--ring-size <n>', 'records kept in memory, like Hubble\'s buffer size', String(DEFAULT_RING_CAPACITY))
    .option('--metrics-listen <host:port>', "also serve Hubble's Prometheus metrics for every record at http://host:port/metrics")
    .option('--metrics <config>', "metrics and options in Hubble's --hubble-metrics syntax (with --metrics-listen)", DEFAULT_METRICS)
    .addHelpText(
      'after',
      `
Runs until SIGINT or SIGTERM. Logs one line to stderr when listening, with the real port.
Hubble clients connect as to an agent: hubble observe --server HOST:PORT.

Exit status: 0 stopped by a signal, 2 bad usage, unreadable input or an address in use.
Examples:
  podgate flows serve --file flows.jsonl --listen 127.0.0.1:4244
  podgate flows serve --file /var/log/flows.jsonl --follow-file --store flows.db --metrics-listen 127.0.0.1:9965
  hubble observe --server 127.0.0.1:4244 --last 20 -o json`,
    )
    .action(async (flags: ServeFlags) => {
      await runFlowsServe(flags, output);
    });
}

function parseListenFlag(flag: string, text: string): ListenAddress {
  try {
    return parseListenAddress(text);
  } catch (error) {
    throw new CliError('PODGATE_E_USAGE', `${flag}: ${error instanceof Error ? error.message : String(error)}`, `for example ${flag} 127.0.0.1:4244`);
  }
}

function checkInput(path: string): void {
  if (path === '-') return;
  if (!existsSync(path) || !statSync(path).isFile()) throw new CliError('PODGATE_E_INPUT', `cannot read ${path}: not a file`, 'pass a file of flow JSON lines (hubble observe -o json), or - for stdin');
}

/** Resolves on the first SIGINT or SIGTERM; the handlers are removed afterwards. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Binds, turning "address in use" and the like into a usage error instead of a stack trace. */
export async function bindOrExplain<T>(flag: string, address: ListenAddress, bind: () => Promise<T>): Promise<T> {
  try {
    return await bind();
  } catch (error) {
    throw new CliError('PODGATE_E_LISTEN', `cannot listen on ${formatListenAddress(address)}: ${error instanceof Error ? error.message : String(error)}`, `choose a free address with ${flag}, or stop what uses this one`);
  }
}

async function runFlowsServe(flags: ServeFlags, output: Output): Promise<void> {
  // grpc-js would print its own error lines to stderr; podgate reports failures itself.
  grpc.setLogVerbosity(grpc.logVerbosity.NONE);
  const listen = parseListenFlag('--listen', flags.listen);
  const metricsListen = flags.metricsListen === undefined ? undefined : parseListenFlag('--metrics-listen', flags.metricsListen);
  if (!/^\d+$/.test(flags.ringSize) || Number(flags.ringSize) < 1 || Number(flags.ringSize) > 10_000_000) throw new CliError('PODGATE_E_USAGE', `--ring-size "${flags.ringSize}" is not a number from 1 to 10000000`);
  if (flags.file.filter((file) => file === '-').length > 1) throw new CliError('PODGATE_E_USAGE', 'stdin (-) can be given only once');
  if (flags.followFile && flags.file.includes('-')) throw new CliError('PODGATE_E_USAGE', '--follow-file needs files, not stdin', 'stdin is already read as it arrives; drop --follow-file');
  if (flags.file.length === 0 && flags.store === undefined) throw new CliError('PODGATE_E_USAGE', 'nothing to serve', 'pass --file FLOWS.jsonl (repeatable, - for stdin) or --store PATH');
  for (const file of flags.file) checkInput(file);
  const metrics: HubbleMetrics | undefined = metricsListen === undefined ? undefined : createMetrics(flags.metrics);
  const nodeName = flags.nodeName ?? hostname();
  const ring = new FlowRing(Number(flags.ringSize));
  let store: FlowStore | undefined;
  if (flags.store !== undefined) {
    try {
      // Flushing at least once per ring's worth keeps every record visible in the ring or the store.
      store = FlowStore.open(flags.store, { batchSize: Math.min(ring.capacity, 8192), onError: (error) => output.err(`podgate: warning ${error.code}: ${error.message}`) });
    } catch (error) {
      const coded = error as { code?: string; hint?: string; message?: string };
      throw new CliError(coded.code ?? 'PODGATE_E_STORE', `cannot open the store ${flags.store}: ${coded.message ?? String(error)}`, coded.hint ?? 'check the path and its permissions');
    }
  }
  // Records the store already holds (a restart over the same files) are not stored twice.
  const storedUntil = store?.stats().newestNs;
  const source: FlowSource = store === undefined ? ring : new RingWithHistory(ring, store);
  const ingest = (record: FlowRecord): void => {
    ring.append(record);
    metrics?.observe(record);
    if (store !== undefined && (storedUntil === undefined || recordTimeNs(record) > storedUntil)) store.append(record);
  };

  let server: RunningObserver | undefined;
  let metricsServer: MetricsServer | undefined;
  const stopReading = new AbortController();
  try {
    server = await bindOrExplain('--listen', listen, () =>
      startObserverServer({ host: listen.host, port: listen.port, source, nodeName, onError: (message) => output.err(`podgate: warning PODGATE_W_OBSERVER: ${message}`) }),
    );
    if (metrics !== undefined && metricsListen !== undefined) metricsServer = await bindOrExplain('--metrics-listen', metricsListen, () => serveMetrics({ host: metricsListen.host, port: metricsListen.port, metrics }));
    output.err(`podgate: observer API listening on ${formatListenAddress({ host: listen.host, port: server.port })} (node ${nodeName}, ring ${ring.capacity}${store ? `, store ${flags.store}` : ''})${metricsServer ? `; metrics on http://${formatListenAddress({ host: metricsListen!.host, port: metricsServer.port })}/metrics` : ''}`);

    const report = new SkipReport();
    const readAll = async (): Promise<void> => {
      const read = async (file: string): Promise<void> => {
        const input = flags.followFile ? tailFile(file, { signal: stopReading.signal }) : openFlowInput(file);
        for await (const { record } of readFlowRecords(input, report, { source: file === '-' ? '<stdin>' : file })) {
          if (stopReading.signal.aborted) break;
          ingest(record);
        }
        store?.flush();
      };
      // Tailed files are read side by side; plain files one after another, in the order given.
      if (flags.followFile) await Promise.all(flags.file.map(read));
      else for (const file of flags.file) await read(file);
    };
    const reading = readAll().then(
      () => {
        if (!flags.followFile && flags.file.length > 0) output.err(`podgate: read ${ring.status().seenFlows} flows from ${flags.file.length} input${flags.file.length === 1 ? '' : 's'}; serving until SIGINT or SIGTERM`);
        const summary = report.summary();
        if (summary !== undefined) output.err(summary);
      },
      (error: unknown) => output.err(`podgate: warning PODGATE_W_FLOW_INPUT: stopped reading input: ${error instanceof Error ? error.message : String(error)}`),
    );
    const signal = await untilSignal();
    output.err(`podgate: ${signal}: shutting down`);
    stopReading.abort();
    // stdin may never end (a pipe from a live producer): stop reading it so the process can exit.
    if (flags.file.includes('-')) process.stdin.destroy();
    // The store closes below: the read must have stopped appending to it first.
    await reading;
  } finally {
    stopReading.abort();
    await server?.close();
    await metricsServer?.close();
    if (store !== undefined) {
      try {
        store.flush();
      } finally {
        store.close();
      }
    }
  }
  process.exitCode = 0;
}
