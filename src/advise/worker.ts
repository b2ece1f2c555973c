/** One byte range of a flow file into an Advisor, in a worker thread (see parallel.ts). */
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { SkipReport } from '../flow/jsonl.js';
import { loadScenarioFromPaths } from '../scenario/files.js';
import { Advisor } from './advise.js';
import { feedJsonLines } from './input.js';
import type { RangeResult, RangeTask } from './parallel.js';

async function run(task: RangeTask): Promise<RangeResult> {
  const cluster = loadScenarioFromPaths(task.manifests).cluster;
  const advisor = new Advisor({ ...task.options, cluster });
  // The first issues of this range are enough: the caller keeps the first ones of the whole file.
  const report = new SkipReport();
  const lines = await feedJsonLines({ input: createReadStream(task.path, { start: task.start, end: task.end - 1, highWaterMark: 1 << 20 }), advisor, report, source: task.source });
  return { ok: true, snapshot: advisor.snapshot(), lines, skipped: report.skipped, issues: report.issues };
}

run(workerData as RangeTask).then(
  (result) => parentPort!.postMessage(result),
  (error: unknown) => {
    const coded = error as { code?: unknown; hint?: unknown; syscall?: unknown };
    const message = error instanceof Error ? error.message : String(error);
    if (typeof coded?.code === 'string' && coded.code.startsWith('PODGATE_E_')) {
      parentPort!.postMessage({ ok: false, code: coded.code, message, hint: typeof coded.hint === 'string' ? coded.hint : undefined } satisfies RangeResult);
    } else if (typeof coded?.syscall === 'string') {
      parentPort!.postMessage({ ok: false, code: 'PODGATE_E_INPUT', message: `cannot read the flows: ${message}`, hint: 'check the file given to --flows' } satisfies RangeResult);
    } else {
      parentPort!.postMessage({ ok: false, code: undefined, message, hint: undefined } satisfies RangeResult);
    }
  },
);
