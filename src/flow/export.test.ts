/**
 * observed-flows.tsv against Debian's real jq: the published migration-guide pipeline, the
 * corrected one, and podgate's export, on the same flow file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collectPodPairs, CORRECTED_PIPELINE, ObservedPodPairs, podPairLine, PUBLISHED_PIPELINE, tsvField } from './export.js';
import { readFlowRecords, SkipReport } from './jsonl.js';
import type { FlowRecord } from './model.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = join(ROOT, '..', 'shared', 'fixtures', 'hubble');
const JQ = '/usr/bin/jq';
const jqMissing = existsSync(JQ) ? false : `Debian jq is not installed at ${JQ} (apt-get install jq); the pipeline comparison needs it`;

function flow(source: Record<string, unknown> | undefined, destination: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ flow: { time: '2024-05-01T10:00:00Z', verdict: 'FORWARDED', ...(source ? { source } : {}), ...(destination ? { destination } : {}), ...extra }, node_name: 'n1', time: '2024-05-01T10:00:00Z' });
}

/** Real lines (both fixture files) plus records built to probe ordering, duplicates, escaping and non-pod sides. */
function flowFileLines(): string[] {
  const real = ['hubble-observe-samples.jsonl', 'hubble-printer-test-expected.jsonl'].flatMap((name) => readFileSync(join(FIXTURES, name), 'utf8').trim().split('\n'));
  const built = [
    flow({ namespace: 'payments', pod_name: 'api-7d9f' }, { namespace: 'payments', pod_name: 'postgres-0' }),
    flow({ namespace: 'payments', pod_name: 'api-7d9f' }, { namespace: 'payments', pod_name: 'postgres-0' }, { is_reply: true }),
    flow({ namespace: 'frontend', pod_name: 'web-1' }, { namespace: 'payments', pod_name: 'api-7d9f' }),
    // Bytewise order: uppercase before lowercase, ASCII before UTF-8, U+FFFD before astral characters.
    flow({ namespace: 'Zeta', pod_name: 'a' }, { namespace: 'alpha', pod_name: 'b' }),
    flow({ namespace: 'zulu', pod_name: 'é' }, { namespace: 'zulu', pod_name: 'z' }),
    flow({ namespace: 'zulu', pod_name: '\uFFFD' }, { namespace: 'zulu', pod_name: '😀' }),
    flow({ namespace: 'zulu', pod_name: '😀' }, { namespace: 'zulu', pod_name: '\uFFFD' }),
    // Prefixes sort first: "ns" before "ns-a", and an empty field before any text.
    flow({ namespace: 'ns', pod_name: 'p' }, { namespace: 'ns-a', pod_name: 'p' }),
    flow({ namespace: 'ns-a', pod_name: 'p' }, { namespace: 'ns', pod_name: 'p' }),
    // World and host sides: no pod name; the namespace only when the endpoint carries one.
    flow({ identity: 2, labels: ['reserved:world'] }, { namespace: 'frontend', pod_name: 'web-1', identity: 4711 }),
    flow({ namespace: 'frontend', pod_name: 'web-1' }, { identity: 2, labels: ['reserved:world'] }),
    flow({ identity: 1, labels: ['reserved:host'] }, { namespace: 'payments', pod_name: 'api-7d9f' }),
    flow({ namespace: 'payments' }, { namespace: 'payments', pod_name: 'api-7d9f' }),
    flow(undefined, undefined),
    JSON.stringify({ flow: {} }),
    // jq's @tsv escapes backslash, tab, newline and CR.
    flow({ namespace: 'we\\ird\tns', pod_name: 'line\nbreak\r' }, { namespace: 'x', pod_name: 'y' }),
    JSON.stringify({ lost_events: { source: 'OBSERVER_EVENTS_QUEUE', num_events_lost: '7', cpu: 1 }, time: '2024-05-01T10:00:01Z' }),
    JSON.stringify({ node_status: { state_change: 'NODE_CONNECTED', node_names: ['n1'] }, time: '2024-05-01T10:00:02Z' }),
  ];
  return [...real, ...built];
}

function shell(script: string, cwd: string): string {
  const result = spawnSync('sh', ['-c', script], { cwd, encoding: 'utf8' });
  assert.equal(result.status, 0, `${script}\n${result.stderr}`);
  return result.stdout;
}

async function podgateTsv(text: string): Promise<string> {
  const report = new SkipReport();
  const records = (async function* (): AsyncGenerator<FlowRecord> {
    for await (const { record } of readFlowRecords(Readable.from([text]), report)) yield record;
  })();
  const pairs = await collectPodPairs(records);
  assert.equal(report.skipped, 0, report.summary());
  return pairs.toTsv();
}

test('export equals the corrected jq pipeline byte for byte; the published one yields only empty fields', { skip: jqMissing }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'podgate-export-'));
  const flows = join(dir, 'flows.json');
  writeFileSync(flows, `${flowFileLines().join('\n')}\n`);

  const corrected = shell(`cat flows.json | ${CORRECTED_PIPELINE}`, dir);
  const podgate = await podgateTsv(readFileSync(flows, 'utf8'));
  assert.equal(podgate, corrected);
  assert.ok(podgate.split('\n').length > 20, 'the comparison covers many pairs');
  assert.ok(podgate.includes('\t\tfrontend\tweb-1\n'), 'world -> pod is kept with empty source fields');
  assert.ok(podgate.startsWith('\t\t\t\n'), 'flows with no pod on either side sort first');

  // The command writes the same bytes to --out.
  const cli = spawnSync(process.execPath, [join(ROOT, 'bin', 'podgate'), 'flows', 'export', '--format', 'tsv', '--file', flows, '--out', join(dir, 'observed-flows.tsv')], { encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  assert.equal(readFileSync(join(dir, 'observed-flows.tsv'), 'utf8'), corrected);
  const piped = spawnSync(process.execPath, [join(ROOT, 'bin', 'podgate'), 'flows', 'export', '--out', '-'], { encoding: 'utf8', input: readFileSync(flows) });
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal(piped.stdout, corrected);

  // The published pipeline reads .source / .pod.name at the top level: real output gives four empty fields per line.
  const published = shell(`cat flows.json | ${PUBLISHED_PIPELINE}`, dir);
  assert.equal(published, '\t\t\t\n');
  // On the real hubble lines alone, the corrected pipeline does find pods.
  assert.match(shell(`head -n 36 flows.json | ${CORRECTED_PIPELINE}`, dir), /\nistio-system\tprometheus-6655946b9f-hx9ln\tbookinfo\treviews-v1-545db77b95-s6jb8\n/);
});

test('fields and lines', () => {
  const cases: [string, string][] = [
    ['plain', 'plain'],
    ['a\tb', 'a\\tb'],
    ['a\\b', 'a\\\\b'],
    ['a\nb\rc', 'a\\nb\\rc'],
  ];
  for (const [input, expected] of cases) assert.equal(tsvField(input), expected);
  assert.equal(podPairLine({ lost_events: { num_events_lost: '1' } }), undefined);
  assert.equal(podPairLine({ flow: { source: { namespace: 'a', pod_name: 'b' }, destination: { namespace: 'c' } } }), 'a\tb\tc\t');
  const pairs = new ObservedPodPairs();
  for (const record of [{ flow: { source: { namespace: 'b' } } }, { flow: { source: { namespace: 'B' } } }, { flow: { source: { namespace: 'b' } } }] as FlowRecord[]) pairs.add(record);
  assert.deepEqual(pairs.lines(), ['B\t\t\t', 'b\t\t\t']);
  assert.equal(new ObservedPodPairs().toTsv(), '');
});
