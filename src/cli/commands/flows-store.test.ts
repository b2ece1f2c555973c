/** `podgate flows store` as a user runs it, on the hubble fixture lines. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CliError } from '../common.js';
import { parseDurationNs } from '../../flow/model.js';
import { parseSize, parseTimeArgument } from './flows-store.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'podgate');
const SAMPLES = join(ROOT, '..', 'shared', 'fixtures', 'hubble', 'hubble-observe-samples.jsonl');
const samples = readFileSync(SAMPLES, 'utf8').split('\n').filter((line) => line.trim() !== '');
const directory = mkdtempSync(join(tmpdir(), 'podgate-store-cli-'));
const noStackTrace = /at .*\.js:\d+|Error: .*\n\s+at /;

function run(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, 'flows', 'store', ...args], { encoding: 'utf8', input, cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function timeOf(line: string): string {
  const record = JSON.parse(line) as { time?: string; flow?: { time?: string } };
  return record.time ?? record.flow?.time ?? '';
}

test('ingest, query, stats and prune round-trip the hubble samples', () => {
  const store = join(directory, 'samples.db');
  const ingest = run(['ingest', '--store', store, '--file', SAMPLES, '--max-age', '0']);
  assert.equal(ingest.status, 0, ingest.stderr);
  assert.match(ingest.stderr, new RegExp(`stored ${samples.length} records`));

  const all = run(['query', '--store', store]);
  assert.equal(all.status, 0, all.stderr);
  const out = all.stdout.trim().split('\n');
  // Same records as JSON values, oldest first.
  assert.deepEqual([...out].map((line) => JSON.parse(line) as unknown).sort(byJson), samples.map((line) => JSON.parse(line) as unknown).sort(byJson));
  assert.deepEqual(out.map(timeOf), [...out.map(timeOf)].sort());

  const window = run(['query', '--store', store, '--since', '2021-06-16T16:52:13Z', '--until', '2021-06-16T16:52:14Z', '--order', 'desc', '--limit', '3']);
  assert.equal(window.status, 0, window.stderr);
  const expected = samples.filter((line) => timeOf(line) >= '2021-06-16T16:52:13' && timeOf(line) < '2021-06-16T16:52:14Z');
  assert.ok(expected.length > 3, 'the fixture has more than three flows in that second');
  assert.deepEqual(window.stdout.trim().split('\n').map(timeOf), expected.map(timeOf).sort().reverse().slice(0, 3));

  const stats = run(['stats', '--store', store, '-o', 'json']);
  assert.equal(stats.status, 0, stats.stderr);
  const figures = JSON.parse(stats.stdout) as { records: number; bytes: number; oldest: string; newest: string };
  assert.equal(figures.records, samples.length);
  assert.ok(figures.bytes > 0);
  assert.equal(figures.oldest, samples.map(timeOf).sort()[0]);
  assert.equal(figures.newest, samples.map(timeOf).sort().at(-1));

  // The samples are years old: the default 168 h retention removes them all.
  const prune = run(['prune', '--store', store]);
  assert.equal(prune.status, 0, prune.stderr);
  assert.match(prune.stdout, new RegExp(`deleted ${samples.length} records; 0 left`));
  assert.equal(run(['query', '--store', store]).stdout, '');
});

function byJson(a: unknown, b: unknown): number {
  const left = JSON.stringify(a);
  const right = JSON.stringify(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

test('ingest from stdin skips bad lines, names them and exits 1', () => {
  const store = join(directory, 'stdin.db');
  const result = run(['ingest', '--store', store, '--max-age', '0'], `${samples[0]}\nnot json\n{"flow": 3}\n${samples[1]}\n`);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /skipped 2 unreadable lines/);
  assert.match(result.stderr, /<stdin>:2: not JSON/);
  assert.match(result.stderr, /<stdin>:3: flow is a number/);
  assert.match(result.stderr, /stored 2 records/);
  assert.equal(run(['query', '--store', store]).stdout.trim().split('\n').length, 2);
});

test('bad usage and unusable stores fail with a code and a next step, never a stack trace', () => {
  const garbage = join(directory, 'garbage.db');
  writeFileSync(garbage, 'definitely not sqlite\n'.repeat(100));
  const cases: { args: string[]; code: string; message: RegExp }[] = [
    { args: ['query', '--store', join(directory, 'missing.db')], code: 'PODGATE_E_STORE', message: /no flow store at/ },
    { args: ['stats', '--store', garbage], code: 'PODGATE_E_STORE', message: /not a readable flow store/ },
    { args: ['ingest', '--store', garbage, '--file', SAMPLES], code: 'PODGATE_E_STORE', message: /not a readable flow store/ },
    { args: ['query', '--store', garbage, '--since', 'yesterday'], code: 'PODGATE_E_USAGE', message: /neither an RFC 3339 time nor a duration/ },
    { args: ['query', '--store', garbage, '--order', 'newest'], code: 'PODGATE_E_USAGE', message: /not asc or desc/ },
    { args: ['query', '--store', garbage, '--limit', '-3'], code: 'PODGATE_E_USAGE', message: /not a whole number/ },
    { args: ['prune', '--store', garbage, '--max-bytes', 'lots'], code: 'PODGATE_E_USAGE', message: /not a size/ },
    { args: ['ingest', '--store', garbage, '--file', join(directory, 'nope.jsonl')], code: 'PODGATE_E_INPUT', message: /cannot read/ },
  ];
  for (const { args, code, message } of cases) {
    const result = run(args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`error ${code}: `), args.join(' '));
    assert.match(result.stderr, message, args.join(' '));
    assert.match(result.stderr, /\n {2}next: /, args.join(' '));
    assert.doesNotMatch(result.stderr, noStackTrace, args.join(' '));
  }
});

test('every store command has help with an example', () => {
  for (const command of ['ingest', 'query', 'prune', 'stats']) {
    const result = run([command, '--help']);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /--store <path>/);
    assert.match(result.stdout, new RegExp(`Examples:\\n  podgate flows store ${command} --store`));
  }
});

test('--since and --until take RFC 3339 times or durations before now', () => {
  const now = 1_700_000_000_000_000_000n;
  const cases: { text: string; want: bigint }[] = [
    { text: '2023-11-14T22:13:20Z', want: now },
    { text: '2023-11-14T22:13:20.5+01:00', want: now - 3_600_000_000_000n + 500_000_000n },
    { text: '1h', want: now - 3_600_000_000_000n },
    { text: '1h30m', want: now - 5_400_000_000_000n },
    { text: '1.5s', want: now - 1_500_000_000n },
    { text: '250ms', want: now - 250_000_000n },
  ];
  for (const { text, want } of cases) assert.equal(parseTimeArgument('--since', text, now), want, text);
  for (const text of ['', '1', 'h', '-1h', 'yesterday', '2023-11-14']) assert.throws(() => parseTimeArgument('--since', text, now), CliError, text);
  assert.equal(parseDurationNs('168h'), 168n * 3_600_000_000_000n);
});

test('sizes take decimal and binary units', () => {
  const cases: { text: string; want: number | undefined }[] = [
    { text: '200000000', want: 200_000_000 },
    { text: '1GiB', want: 1024 ** 3 },
    { text: '500MiB', want: 500 * 1024 ** 2 },
    { text: '500MB', want: 500_000_000 },
    { text: '1.5g', want: 1_500_000_000 },
    { text: '0', want: undefined },
    { text: '5x', want: undefined },
    { text: '-1', want: undefined },
  ];
  for (const { text, want } of cases) assert.equal(parseSize(text), want, text);
});
