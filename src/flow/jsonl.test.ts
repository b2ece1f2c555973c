/** Flow JSON lines: every real Hubble line reads and writes back unchanged; bad lines are skipped and counted. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { formatFlowLine, lines, readFlowRecords, SkipReport } from './jsonl.js';
import { formatTimestampNs, parseTimestampNs, recordTimeNs } from './model.js';

const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/hubble/', import.meta.url));
const FIXTURE_FILES = ['hubble-observe-samples.jsonl', 'hubble-printer-test-expected.jsonl'];

function fixtureLines(): string[] | undefined {
  if (!FIXTURE_FILES.every((name) => existsSync(FIXTURES + name))) return undefined;
  return FIXTURE_FILES.flatMap((name) => readFileSync(FIXTURES + name, 'utf8').split('\n').filter((line) => line !== ''));
}

async function readAll(text: string | Buffer[], options: { maxLineBytes?: number } = {}): Promise<{ records: unknown[]; lines: number[]; report: SkipReport }> {
  const report = new SkipReport();
  const records: unknown[] = [];
  const numbers: number[] = [];
  const input = typeof text === 'string' ? Readable.from([Buffer.from(text)]) : Readable.from(text);
  for await (const { record, line } of readFlowRecords(input, report, { source: 'test.jsonl', ...options })) {
    records.push(record);
    numbers.push(line);
  }
  return { records, lines: numbers, report };
}

test('every fixture line reads and writes back as the same JSON value and the same bytes', async (t) => {
  const fixture = fixtureLines();
  if (!fixture) return t.skip(`fixtures not found in ${FIXTURES}`);
  const { records, report } = await readAll(fixture.join('\n') + '\n');
  assert.equal(report.skipped, 0, report.summary());
  assert.equal(records.length, fixture.length);
  records.forEach((record, index) => {
    assert.deepEqual(JSON.parse(formatFlowLine(record as never)), JSON.parse(fixture[index]!));
    assert.equal(formatFlowLine(record as never), fixture[index], 'field order and spelling kept');
  });
});

test('unknown fields survive the round trip', async () => {
  const line = '{"flow":{"time":"2026-11-01T00:00:00Z","verdict":"FORWARDED","future_field":{"x":[1,2]}},"node_name":"n1","time":"2026-11-01T00:00:00Z","also_new":true}';
  const { records } = await readAll(line + '\n');
  assert.equal(formatFlowLine(records[0] as never), line);
});

test('bad lines are skipped with their line numbers; good lines around them still read', async () => {
  const good = '{"flow":{"verdict":"FORWARDED"},"time":"2026-11-01T00:00:00Z"}';
  const huge = `{"flow":{"Summary":"${'x'.repeat(10 * 1024 * 1024)}"}}`;
  const cases: [string, RegExp][] = [
    ['{"flow":{"verdict":"FORWA', /not JSON/],
    ['this is not json', /not JSON/],
    ['[1,2,3]', /expected a JSON object, got array/],
    ['{"flow":"a string"}', /flow is a string, expected an object/],
    ['{"flow":{"source":{"namespace":7}}}', /flow\.source\.namespace is a number, expected a string/],
    ['{"flow":{"is_reply":"yes"}}', /flow\.is_reply is a string, expected a boolean/],
    ['{"something":"else"}', /no flow, lost_events or node_status/],
    [huge, /over the \d+-byte limit/],
  ];
  const text = [good, ...cases.map(([line]) => line), '', good].join('\n');
  const { records, lines: numbers, report } = await readAll(text);
  assert.equal(records.length, 2);
  assert.deepEqual(numbers, [1, cases.length + 3]);
  assert.equal(report.skipped, cases.length);
  cases.forEach(([, message], index) => {
    const issue = report.issues[index]!;
    assert.equal(issue.line, index + 2);
    assert.equal(issue.code, 'PODGATE_W_FLOW_SKIPPED');
    assert.match(issue.message, message);
  });
  assert.match(report.summary() ?? '', /skipped 8 unreadable lines/);
});

test('an over-long line is discarded as it streams, across chunk boundaries', async () => {
  const chunks = [Buffer.from('{"flow":{}}\n{"flow":{"Summary":"'), ...Array.from({ length: 40 }, () => Buffer.alloc(1024, 'a')), Buffer.from('"}}\n{"flow":{}}')];
  const { records, report } = await readAll(chunks, { maxLineBytes: 8192 });
  assert.equal(records.length, 2, 'the lines before and after (the last without a newline) are read');
  assert.equal(report.skipped, 1);
  assert.equal(report.issues[0]?.line, 2);
});

test('lines split across chunks are joined; CRLF-free text keeps its bytes', async () => {
  const text = '{"flow":{"Summary":"héllo"}}\n{"lost_events":{"num_events_lost":"1"}}\n';
  const bytes = Buffer.from(text);
  const chunks = Array.from({ length: bytes.length }, (_, index) => bytes.subarray(index, index + 1));
  const out: string[] = [];
  for await (const { text: line } of lines(Readable.from(chunks), 1024)) out.push(line ?? '<overflow>');
  assert.deepEqual(out, text.trimEnd().split('\n'));
});

test('timestamps: protojson precision rules and offsets', () => {
  const cases: [string, bigint, string][] = [
    ['1970-01-01T00:20:34.567800Z', 1234567800000n, '1970-01-01T00:20:34.567800Z'],
    ['2023-08-21T12:12:13.517394084Z', 1692619933517394084n, '2023-08-21T12:12:13.517394084Z'],
    ['2026-11-01T00:00:00Z', express('2026-11-01T00:00:00Z'), '2026-11-01T00:00:00Z'],
    ['2026-11-01T02:00:00.5+02:00', express('2026-11-01T00:00:00Z') + 500_000_000n, '2026-11-01T00:00:00.500Z'],
  ];
  for (const [text, ns, formatted] of cases) {
    assert.equal(parseTimestampNs(text), ns, text);
    assert.equal(formatTimestampNs(ns), formatted, text);
  }
  for (const impossible of ['yesterday', '2024-13-45T00:00:00Z', '2023-02-29T00:00:00Z', '2024-01-01T24:00:00Z']) assert.equal(parseTimestampNs(impossible), undefined, impossible);
  assert.equal(parseTimestampNs('2024-02-29T00:00:00Z'), express('2024-02-29T00:00:00Z'), 'a leap day exists');
  assert.equal(recordTimeNs({ flow: { time: '1970-01-01T00:00:01Z' } }), 1_000_000_000n);
});

function express(iso: string): bigint {
  return BigInt(Date.parse(iso)) * 1_000_000n;
}
