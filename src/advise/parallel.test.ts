/** advise over byte ranges in worker threads gives exactly what one pass gives, line numbers included. */
import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { stringify } from 'yaml';
import { generateFlows } from '../flow/generate/generator.js';
import { formatFlowLine, SkipReport } from '../flow/jsonl.js';
import { loadScenarioFromPaths } from '../scenario/files.js';
import { Advisor, type Advice } from './advise.js';
import { feedJsonLines } from './input.js';
import { adviseFileInParallel, lineAlignedRanges } from './parallel.js';
import { meshClusterManifests } from './testing.js';

const work = mkdtempSync(join(tmpdir(), 'podgate-advise-parallel-'));
after(() => rmSync(work, { recursive: true, force: true }));

const clusterFile = join(work, 'cluster.yaml');
writeFileSync(clusterFile, meshClusterManifests({ namespaces: 4, workloadsPerNamespace: 4, replicas: 2 }).map((manifest) => stringify(manifest)).join('---\n'));
const scenario = loadScenarioFromPaths([clusterFile]);

// Generated flows with damaged lines in known places, spread so every range gets some.
const flowsFile = join(work, 'flows.jsonl');
const lines = [...generateFlows({ scenario, profile: 'mesh', durationNs: 3 * 3600e9, seed: 5 })].map((record) => formatFlowLine(record));
for (const at of [3, Math.floor(lines.length / 3), Math.floor(lines.length / 2) + 1, lines.length - 2]) lines.splice(at, 0, '{"flow": {"time": "2026-11-01T00:00:00Z", broken');
lines.splice(7, 0, '');
writeFileSync(flowsFile, `${lines.join('\n')}\n`);

function comparable(advice: Advice, report: SkipReport): unknown {
  return { texts: advice.namespaces.map((namespace) => [namespace.namespace, namespace.text]), notes: advice.notes, stats: advice.stats, skipped: report.skipped, issues: report.issues };
}

test('workers over byte ranges give the advice and the skipped-line report of one pass', async () => {
  const single = new Advisor({ cluster: scenario.cluster });
  const singleReport = new SkipReport();
  await feedJsonLines({ input: createReadStream(flowsFile), advisor: single, report: singleReport, source: flowsFile });
  const expected = comparable(single.finish(), singleReport);
  assert.equal(singleReport.skipped, 4);

  for (const workers of [2, 3, 5]) {
    const merged = new Advisor({ cluster: scenario.cluster });
    const report = new SkipReport();
    await adviseFileInParallel({ path: flowsFile, source: flowsFile, size: readFileSync(flowsFile).length, workers, manifests: [clusterFile], adviseOptions: {} }).into(merged, report);
    assert.deepEqual(comparable(merged.finish(), report), expected, `${workers} workers`);
  }
});

test('a worker that cannot read its range fails the run with a coded error', async () => {
  // One range needs no look into the file before the worker opens it: the worker is the one to fail.
  const gone = join(work, 'never-written.jsonl');
  const run = adviseFileInParallel({ path: gone, source: gone, size: 1000, workers: 1, manifests: [clusterFile], adviseOptions: {} });
  await assert.rejects(run.into(new Advisor({ cluster: scenario.cluster }), new SkipReport()), (error: { code?: string; message?: string }) => error.code === 'PODGATE_E_INPUT' && /never-written\.jsonl/.test(error.message ?? ''));
});

test('ranges start at line starts and cover the file exactly', () => {
  const cases: { name: string; text: string; parts: number }[] = [
    { name: 'short lines', text: 'a\nbb\nccc\ndddd\n', parts: 3 },
    { name: 'more parts than lines', text: 'a\nb\n', parts: 8 },
    { name: 'no final newline', text: 'one\ntwo\nthree', parts: 2 },
    { name: 'a line longer than the read window', text: `${'x'.repeat(200_000)}\nshort\n${'y'.repeat(70_000)}\nend\n`, parts: 4 },
    { name: 'one line', text: 'only', parts: 3 },
  ];
  for (const { name, text, parts } of cases) {
    const file = join(work, 'ranges.txt');
    writeFileSync(file, text);
    const ranges = lineAlignedRanges(file, Buffer.byteLength(text), parts);
    assert.ok(ranges.length >= 1 && ranges.length <= parts, name);
    assert.equal(ranges[0]!.start, 0, name);
    assert.equal(ranges.at(-1)!.end, Buffer.byteLength(text), name);
    for (let index = 1; index < ranges.length; index++) {
      assert.equal(ranges[index]!.start, ranges[index - 1]!.end, name);
      assert.equal(text[ranges[index]!.start - 1], '\n', `${name}: range ${index} starts after a newline`);
    }
    assert.equal(ranges.map((range) => text.slice(range.start, range.end)).join(''), text, name);
  }
});
