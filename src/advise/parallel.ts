/**
 * advise on a large flow file with several threads: the file is cut into byte ranges at line
 * boundaries, each worker (worker.ts) loads the manifests itself and aggregates its range into an
 * Advisor, and the snapshots merge into the caller's Advisor. Aggregates merge by sums, minimums,
 * maximums and unions and `finish()` sorts, so the advice is the same as one pass; skipped lines
 * keep their line numbers in the whole file.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { SkipReport } from '../flow/jsonl.js';
import type { Issue } from '../manifest/issue.js';
import type { AdviseOptions, Advisor, AdvisorSnapshot } from './advise.js';

/** What a worker is asked to do. */
export interface RangeTask {
  readonly manifests: readonly string[];
  readonly options: Omit<AdviseOptions, 'cluster'>;
  readonly path: string;
  readonly source: string;
  /** Byte range [start, end) of `path`; `start` is 0 or just after a newline. */
  readonly start: number;
  readonly end: number;
}

/** What a worker sends back. */
export type RangeResult =
  | { readonly ok: true; readonly snapshot: AdvisorSnapshot; readonly lines: number; readonly skipped: number; readonly issues: readonly Issue[] }
  | { readonly ok: false; readonly code: string | undefined; readonly message: string; readonly hint: string | undefined };

/** Files smaller than this are read in one pass: starting workers and loading manifests in each costs more. */
export const PARALLEL_MIN_BYTES = 64 * 1024 * 1024;

/** Threads advise uses for a large file unless told otherwise: one per core, at most 4. */
export function defaultWorkers(): number {
  return Math.min(availableParallelism(), 4);
}

/** `parts` byte ranges of a file of `size` bytes, each starting at a line start. */
export function lineAlignedRanges(path: string, size: number, parts: number): { start: number; end: number }[] {
  if (parts <= 1) return size > 0 ? [{ start: 0, end: size }] : [];
  const cuts = [0];
  const fd = openSync(path, 'r');
  try {
    const window = Buffer.alloc(1 << 16);
    for (let part = 1; part < parts; part++) {
      let at = Math.max(Math.floor((size * part) / parts), cuts[cuts.length - 1]!);
      let cut = size;
      while (at < size) {
        const read = readSync(fd, window, 0, window.length, at);
        if (read <= 0) break;
        const newline = window.subarray(0, read).indexOf(0x0a);
        if (newline !== -1) {
          cut = at + newline + 1;
          break;
        }
        at += read;
      }
      cuts.push(cut);
    }
  } finally {
    closeSync(fd);
  }
  cuts.push(size);
  const ranges: { start: number; end: number }[] = [];
  for (let index = 0; index + 1 < cuts.length; index++) if (cuts[index + 1]! > cuts[index]!) ranges.push({ start: cuts[index]!, end: cuts[index + 1]! });
  return ranges;
}

/** A worker's coded failure (bad manifests, unreadable file), carried back to the command. */
class WorkerError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint: string | undefined,
  ) {
    super(message);
  }
}

function runRange(task: RangeTask, started: Worker[]): Promise<RangeResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: task });
    started.push(worker);
    let settled = false;
    worker.once('message', (result: RangeResult) => {
      settled = true;
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', (error) => {
      if (!settled) reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`advise worker stopped with exit code ${code}`));
    });
  });
}

/**
 * Starts advising the JSON flow lines of `path` with `workers` threads. The workers run while the
 * caller loads its own manifests; `into` then merges their aggregates into the caller's Advisor and
 * their bad lines into `report`, with line numbers in the whole file.
 */
export function adviseFileInParallel(options: { path: string; source: string; size: number; workers: number; manifests: readonly string[]; adviseOptions: Omit<AdviseOptions, 'cluster'> }): { into(advisor: Advisor, report: SkipReport): Promise<void>; cancel(): void } {
  const ranges = lineAlignedRanges(options.path, options.size, options.workers);
  const started: Worker[] = [];
  const results = Promise.all(ranges.map((range) => runRange({ manifests: options.manifests, options: options.adviseOptions, path: options.path, source: options.source, ...range }, started)));
  // Observed here so a failure while the caller is still loading is not an unhandled rejection.
  results.catch(() => undefined);
  return {
    async into(advisor, report) {
      let lineOffset = 0;
      for (const result of await results) {
        if (!result.ok) throw new WorkerError(result.code ?? 'PODGATE_E_INTERNAL', result.message, result.hint);
        advisor.merge(result.snapshot);
        report.absorb(result, lineOffset);
        lineOffset += result.lines;
      }
    },
    /** Stops any worker still running (the command failed before it needed their results); harmless after `into`. */
    cancel() {
      for (const worker of started) void worker.terminate();
    },
  };
}
