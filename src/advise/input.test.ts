import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { ClusterState } from '../cluster/state.js';
import { SkipReport } from '../flow/jsonl.js';
import { Advisor } from './advise.js';
import { detectInputKind, feedStream, parseTsvLine, unescapeTsvField } from './input.js';

test('detectInputKind: JSON lines or observed-flows.tsv, by content', () => {
  const cases: [string | undefined, 'json' | 'tsv'][] = [
    ['{"flow":{}}', 'json'],
    ['  {"flow":{}}', 'json'],
    ['a\tb\tc\td', 'tsv'],
    ['\t\t\t', 'tsv'],
    ['a\tb\tc\td\r', 'tsv'],
    ['a\tb\tc', 'json'],
    ['not json at all', 'json'],
    [undefined, 'json'],
  ];
  for (const [line, kind] of cases) assert.equal(detectInputKind(line), kind, JSON.stringify(line));
});

test('parseTsvLine undoes jq @tsv escaping and rejects other shapes', () => {
  assert.deepEqual(parseTsvLine('ns\tpod\\tx\tns2\tp\\\\2'), { sourceNamespace: 'ns', sourcePod: 'pod\tx', destinationNamespace: 'ns2', destinationPod: 'p\\2' });
  assert.equal(unescapeTsvField('a\\nb\\rc'), 'a\nb\rc');
  assert.match(parseTsvLine('a\tb') as string, /expected 4/);
});

test('feedStream: a TSV split across chunks, with a bad line reported by number', async () => {
  const advisor = new Advisor({ cluster: ClusterState.build({}) });
  const report = new SkipReport();
  const kind = await feedStream({ input: Readable.from([Buffer.from('\n\na\tb\t'), Buffer.from('c\td\nbad line\n')]), advisor, report, source: 't.tsv' });
  assert.equal(kind, 'tsv');
  assert.equal(report.skipped, 1);
  assert.equal(report.issues[0]?.line, 4);
  const advice = advisor.finish();
  assert.equal(advice.stats.read, 1);
  assert.deepEqual(advice.stats.ignored, [['pod a/b is not in the manifests', 1]]);
});

test('feedJsonLines: any chunking gives what parsing every line gives; replies recognised unparsed', async () => {
  const { generateFlows } = await import('../flow/generate/generator.js');
  const { loadScenarioFromPaths } = await import('../scenario/files.js');
  const { adviceToYaml } = await import('./advise.js');
  const { isPlainReply } = await import('./input.js');
  const { fileURLToPath } = await import('node:url');
  const scenario = loadScenarioFromPaths([fileURLToPath(new URL('../../../examples/payments/cluster.yaml', import.meta.url))]);
  const records = [...generateFlows({ scenario, profile: 'payments', durationNs: 1800e9, seed: 5 })];
  const lines = records.map((record) => JSON.stringify(record));
  const text = `${lines.slice(0, 10).join('\n')}\n{"flow":{"is_reply":tru\n${lines.slice(10).join('\n')}\n`;
  const expected = new Advisor({ cluster: scenario.cluster });
  for (const record of records) expected.add(record);
  const want = expected.finish();
  for (const size of [7, 4096, 1 << 20]) {
    const chunks: Buffer[] = [];
    const bytes = Buffer.from(text);
    for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
    const advisor = new Advisor({ cluster: scenario.cluster });
    const report = new SkipReport();
    await feedStream({ input: Readable.from(chunks), advisor, report, source: 'f.jsonl' });
    const got = advisor.finish();
    assert.equal(adviceToYaml(got), adviceToYaml(want), `chunks of ${size}`);
    assert.deepEqual(got.stats.ignored, want.stats.ignored);
    assert.equal(report.skipped, 1);
    assert.equal(report.issues[0]?.line, 11);
  }
  assert.equal(lines.filter((line) => isPlainReply(line)).length, records.filter((record) => record.flow?.is_reply === true && record.flow.l7?.dns === undefined).length);
  assert.equal(isPlainReply('{"flow":{"Summary":"x \\"is_reply\\":true"}}'), false);
});
