/**
 * `npm run bench -- flows`: on one generated file of 1,000,000 flows, podgate against the tools a
 * user would otherwise reach for, side by side in the same run: `podgate observe` with a namespace
 * filter against `jq -c 'select(...)'`, `podgate flows export` against the jq pipeline, store
 * ingest against appending the same lines to a plain file, and a 1-hour range query against the
 * same query made to scan the table.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { recordTimeNs, type FlowRecord } from '../src/flow/model.js';
import { FlowStore } from '../src/flow/store/store.js';
import type { Figure } from './report.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'podgate');
const FLOWS = 1_000_000;
const NAMESPACE = 'payments';
const HOUR_NS = 3_600_000_000_000n;

function seconds(work: () => void): number {
  const start = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Runs a shell pipeline (bash, pipefail) and fails the benchmark if it fails. */
function shell(script: string): void {
  const result = spawnSync('bash', ['-o', 'pipefail', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`benchmark step failed (${result.status}): ${script}\n${result.stderr.toString().slice(0, 2000)}`);
}

function quote(path: string): string {
  return `'${path.replace(/'/g, `'\\''`)}'`;
}

function sameBytes(a: string, b: string): boolean {
  return readFileSync(a).equals(readFileSync(b));
}

function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Reads the file's lines synchronously in large chunks (the benchmark harness is synchronous). */
function readLines(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out = text.split('\n');
  if (out[out.length - 1] === '') out.pop();
  return out;
}

export function runFlowsBenchmark(log: (line: string) => void): Figure[] {
  const figures: Figure[] = [];
  const add = (figure: Figure): void => {
    figures.push(figure);
    log(JSON.stringify(figure));
  };
  const jq = spawnSync('jq', ['--version'], { encoding: 'utf8' });
  if (jq.status !== 0) throw new Error('jq is not installed: apt-get install -y jq');
  const dir = mkdtempSync(join(tmpdir(), 'podgate-bench-flows-'));
  try {
    const file = join(dir, 'flows.jsonl');
    const generate = seconds(() =>
      shell(`node ${quote(BIN)} flows generate -f ${quote(join(ROOT, 'examples', 'payments'))} --profile payments --duration 168h --count ${FLOWS} --seed 1 --out ${quote(file)}`),
    );
    const all = readLines(file);
    add({ name: 'input', flows: all.length, bytes: statSync(file).size, generate_s: round(generate), jq: jq.stdout.trim() });

    // observe with a namespace filter vs jq select; the outputs must be the same lines.
    const podgateOut = join(dir, 'observe.podgate.jsonl');
    const jqOut = join(dir, 'observe.jq.jsonl');
    const podgateObserve = seconds(() => shell(`node ${quote(BIN)} observe --file ${quote(file)} --namespace ${NAMESPACE} -o json > ${quote(podgateOut)}`));
    const jqObserve = seconds(() => shell(`jq -c 'select(.flow.source.namespace == "${NAMESPACE}" or .flow.destination.namespace == "${NAMESPACE}")' ${quote(file)} > ${quote(jqOut)}`));
    const matched = readLines(podgateOut).length;
    const jqLines = readLines(jqOut);
    add({
      name: 'observe_namespace_filter',
      podgate_flows_per_s: Math.round(all.length / podgateObserve),
      jq_flows_per_s: Math.round(all.length / jqObserve),
      ratio: round(jqObserve / podgateObserve),
      podgate_s: round(podgateObserve),
      jq_s: round(jqObserve),
      matched,
      same_flows: matched === jqLines.length && readLines(podgateOut).every((line, index) => JSON.stringify(JSON.parse(line)) === jqLines[index]),
      target_ratio: 3,
      meets_target: jqObserve / podgateObserve >= 3,
    });

    // export to TSV vs the (corrected) published jq pipeline; the files must be byte-identical.
    const podgateTsv = join(dir, 'observed-flows.podgate.tsv');
    const jqTsv = join(dir, 'observed-flows.jq.tsv');
    const podgateExport = seconds(() => shell(`node ${quote(BIN)} flows export --format tsv --file ${quote(file)} --out ${quote(podgateTsv)}`));
    const jqExport = seconds(() =>
      shell(`jq -r 'select(.flow) | .flow | [.source.namespace, .source.pod_name, .destination.namespace, .destination.pod_name] | @tsv' ${quote(file)} | LC_ALL=C sort -u > ${quote(jqTsv)}`),
    );
    add({ name: 'export_tsv', podgate_s: round(podgateExport), jq_pipeline_s: round(jqExport), ratio: round(jqExport / podgateExport), rows: readLines(podgateTsv).length, identical: sameBytes(podgateTsv, jqTsv) });

    // Store ingest: parsed records with their line text, appended and flushed in the store's own
    // batches, against appending the same lines to a plain file in the same batch size.
    const records: FlowRecord[] = all.map((line) => JSON.parse(line) as FlowRecord);
    const newest = records.reduce((max, record) => (recordTimeNs(record) > max ? recordTimeNs(record) : max), 0n);
    const storePath = join(dir, 'flows.db');
    const store = FlowStore.open(storePath, { clock: () => newest, maxBytes: 8 * 1024 ** 3 });
    const ingest = seconds(() => {
      records.forEach((record, index) => store.append(record, all[index]));
      store.flush();
    });
    const plain = join(dir, 'plain.log');
    const plainFd = openSync(plain, 'a');
    const plainAppend = seconds(() => {
      for (let start = 0; start < all.length; start += 8192) writeSync(plainFd, `${all.slice(start, start + 8192).join('\n')}\n`);
    });
    closeSync(plainFd);
    add({
      name: 'store_ingest',
      flows_per_s: Math.round(records.length / ingest),
      plain_file_append_flows_per_s: Math.round(records.length / plainAppend),
      ratio_to_plain_file: round(plainAppend / ingest, 3),
      stored: store.stats().records,
      database_bytes: statSync(storePath).size,
      target_flows_per_s: 100_000,
      meets_target: records.length / ingest >= 100_000,
    });

    // A 1-hour range query in the middle of the 168 h, through the store (index) and as a table scan.
    const oldest = records.reduce((min, record) => (recordTimeNs(record) < min ? recordTimeNs(record) : min), newest);
    const since = oldest + (newest - oldest) / 2n;
    const until = since + HOUR_NS;
    const indexed: number[] = [];
    let found = 0;
    for (let trial = 0; trial < 7; trial++) {
      indexed.push(
        seconds(() => {
          found = 0;
          for (const record of store.query({ sinceNs: since, untilNs: until })) if (record.flow !== undefined) found++;
        }) * 1000,
      );
    }
    store.close();
    const db = new Database(storePath, { readonly: true });
    const scan = db.prepare('SELECT record FROM flows NOT INDEXED WHERE time_ns >= ? AND time_ns <= ? ORDER BY id');
    const scanned: number[] = [];
    let scanFound = 0;
    for (let trial = 0; trial < 3; trial++) {
      scanned.push(
        seconds(() => {
          scanFound = 0;
          for (const row of scan.iterate(since, until) as Iterable<{ record: string }>) if ((JSON.parse(row.record) as FlowRecord).flow !== undefined) scanFound++;
        }) * 1000,
      );
    }
    db.close();
    add({
      name: 'store_range_query_1h_of_168h',
      ms: round(median(indexed)),
      trials_ms: indexed.map((ms) => round(ms)),
      flows_returned: found,
      table_scan_ms: round(median(scanned)),
      ratio_to_table_scan: round(median(scanned) / median(indexed)),
      same_result: found === scanFound,
      span_hours: round(Number(newest - oldest) / 3.6e12, 1),
      target_ms: 100,
      meets_target: median(indexed) <= 100,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}
