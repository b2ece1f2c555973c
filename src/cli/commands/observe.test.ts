/** `podgate observe` as a user runs it, on the hubble fixture lines; and --follow in-process. */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FlowRing } from '../../flow/grpc/ring.js';
import { startObserverServer } from '../../flow/grpc/server.js';
import type { FlowRecord } from '../../flow/model.js';
import { UTC } from '../../flow/printer.js';
import { runObserve } from './observe.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'podgate');
const FIXTURES = join(ROOT, '..', 'shared', 'fixtures', 'hubble');
const SAMPLES = join(FIXTURES, 'hubble-observe-samples.jsonl');
const samples = readFileSync(SAMPLES, 'utf8').trim().split('\n');
const printerLines = readFileSync(join(FIXTURES, 'hubble-printer-test-expected.jsonl'), 'utf8').trim().split('\n');

function run(args: string[], input?: string | Buffer): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, cwd: ROOT, env: { ...process.env, TZ: 'UTC' }, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function file(name: string, text: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'podgate-observe-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const noStackTrace = /at .*\.js:\d+|Error: .*\n\s+at /;

/** Hubble's printer_test flow `f` and its lost-events response, one line each. */
const twoLines = file('two.json', `${printerLines[0]}\n${printerLines[2]}\n`);

test('observe prints each output format the way hubble lays it out', () => {
  const flow = 'Jan  1 00:20:34.567: 1.1.1.1:31793 (health) -> 2.2.2.2:8080 (ID:12345) Policy denied DROPPED (TCP Flags: SYN)\n';
  const lost = 'Jan  1 00:20:34.567 EVENTS LOST: HUBBLE_RING_BUFFER CPU(5) 1\n';
  const cases: { args: string[]; stdout: string }[] = [
    { args: [], stdout: flow + lost },
    { args: ['-o', 'compact'], stdout: flow + lost },
    { args: ['-o', 'compact', '--print-node-name'], stdout: flow.replace('567:', '567 [k8s1]:') + lost },
    { args: ['-o', 'json'], stdout: `${printerLines[0]}\n${printerLines[2]}\n` },
    { args: ['-o', 'jsonpb'], stdout: `${printerLines[0]}\n${printerLines[2]}\n` },
    {
      args: ['-o', 'dict'],
      stdout:
        '  TIMESTAMP: Jan  1 00:20:34.567\n     SOURCE: 1.1.1.1:31793\nDESTINATION: 2.2.2.2:8080\n       TYPE: Policy denied\n    VERDICT: DROPPED\n    SUMMARY: TCP Flags: SYN\n' +
        '------------\n' +
        '  TIMESTAMP: Jan  1 00:20:34.567\n     SOURCE: HUBBLE_RING_BUFFER\n       TYPE: EVENTS LOST\n    VERDICT: -\n    SUMMARY: CPU(5) - 1\n',
    },
    {
      args: ['-o', 'table'],
      stdout:
        'TIMESTAMP             SOURCE               DESTINATION    TYPE            VERDICT   SUMMARY\n' +
        'Jan  1 00:20:34.567   1.1.1.1:31793        2.2.2.2:8080   Policy denied   DROPPED   TCP Flags: SYN\n' +
        'Jan  1 00:20:34.567   HUBBLE_RING_BUFFER   -              EVENTS LOST     -         CPU(5) - 1\n',
    },
    { args: ['--time-format', 'RFC3339Milli'], stdout: flow.replace('Jan  1 00:20:34.567', '1970-01-01T00:20:34.567Z') + lost.replace('Jan  1 00:20:34.567', '1970-01-01T00:20:34.567Z') },
  ];
  for (const { args, stdout } of cases) {
    const result = run(['observe', '--file', twoLines, ...args]);
    assert.equal(result.stderr, '', args.join(' '));
    assert.equal(result.status, 0, args.join(' '));
    assert.equal(result.stdout, stdout, args.join(' '));
  }
});

test('observe names pods (or, with --numeric, IPs) on real hubble lines', () => {
  const line = file('one.json', `${samples[2]}\n`);
  assert.equal(run(['observe', '--file', line]).stdout, 'Jun 16 16:52:13.136: 10.0.2.1:42044 (host) <> bookinfo/reviews-v1-545db77b95-s6jb8:15020 (ID:25339) to-endpoint FORWARDED (TCP Flags: ACK, FIN)\n');
  assert.equal(run(['observe', '--file', line, '--numeric']).stdout, 'Jun 16 16:52:13.136: 10.0.2.1:42044 (host) <> 10.0.2.16:15020 (ID:25339) to-endpoint FORWARDED (TCP Flags: ACK, FIN)\n');
});

test('observe reads stdin when there is no --file, or with --file -', () => {
  const input = `${printerLines[0]}\n`;
  for (const args of [['observe', '-o', 'json'], ['observe', '--file', '-', '-o', 'json']]) {
    const result = run(args, input);
    assert.equal(result.status, 0);
    assert.equal(result.stdout, input);
  }
});

test('observe applies hubble filters: OR within a flag, AND across flags, --not, --last, --first', () => {
  const parsed = samples.map((line) => ({ line, flow: (JSON.parse(line) as { flow: { verdict?: string; source?: { namespace?: string }; destination?: { namespace?: string } } }).flow }));
  const inNamespace = (namespace: string) => (entry: (typeof parsed)[number]): boolean => entry.flow.source?.namespace === namespace || entry.flow.destination?.namespace === namespace;
  const expect = (entries: typeof parsed): string => entries.map((entry) => `${entry.line}\n`).join('');
  const cases: { args: string[]; expected: string }[] = [
    { args: ['--namespace', 'bookinfo'], expected: expect(parsed.filter(inNamespace('bookinfo'))) },
    { args: ['--namespace', 'bookinfo', '--namespace', 'default'], expected: expect(parsed.filter((entry) => inNamespace('bookinfo')(entry) || inNamespace('default')(entry))) },
    { args: ['--verdict', 'DROPPED'], expected: expect(parsed.filter((entry) => entry.flow.verdict === 'DROPPED')) },
    { args: ['--verdict', 'DROPPED', '--namespace', 'default'], expected: expect(parsed.filter((entry) => entry.flow.verdict === 'DROPPED' && inNamespace('default')(entry))) },
    { args: ['--not', '--namespace', 'bookinfo'], expected: expect(parsed.filter((entry) => !inNamespace('bookinfo')(entry))) },
    { args: ['--namespace', 'bookinfo', '--last', '2'], expected: expect(parsed.filter(inNamespace('bookinfo')).slice(-2)) },
    { args: ['--namespace', 'bookinfo', '--first', '1'], expected: expect(parsed.filter(inNamespace('bookinfo')).slice(0, 1)) },
  ];
  for (const { args, expected } of cases) {
    const result = run(['observe', '--file', SAMPLES, '-o', 'json', ...args]);
    assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
    assert.ok(expected.length > 0, `${args.join(' ')} selects something`);
    assert.equal(result.stdout, expected, args.join(' '));
  }
});

test('bad lines are skipped with counted warnings naming their line numbers; exit status 1', () => {
  const tenMegabytes = `{"flow":{"verdict":"FORWARDED","Summary":"${'x'.repeat(10 * 1024 * 1024)}"}}`;
  const lines = [
    printerLines[0], // 1: good
    '{"flow":{"verdict":"DROPPED","IP":{"source":"1.1.1.1"', // 2: truncated JSON
    'hello, I am not JSON', // 3: not JSON
    '{"flow":{"verdict":7,"source":{"namespace":"a"}}}', // 4: wrong type
    '[1,2,3]', // 5: not an object
    tenMegabytes, // 6: 10 MB
    '{"flow":{"source":{"namespace":["a"]}}}', // 7: wrong type, nested
    printerLines[2], // 8: good
  ];
  const path = file('bad.json', `${lines.join('\n')}\n`);
  const result = run(['observe', '--file', path, '-o', 'json']);
  assert.equal(result.status, 1);
  assert.equal(result.stdout, `${printerLines[0]}\n${printerLines[2]}\n`);
  assert.match(result.stderr, /PODGATE_W_FLOW_SKIPPED: skipped 6 unreadable lines/);
  for (const line of [2, 3, 4, 5, 6, 7]) assert.match(result.stderr, new RegExp(`bad\\.json:${line}: `), `line ${line} is named`);
  assert.match(result.stderr, /bad\.json:6: line is \d+ bytes, over the \d+-byte limit/);
  assert.match(result.stderr, /bad\.json:4: flow\.verdict is a number, expected a string/);
  assert.doesNotMatch(result.stderr, noStackTrace);
  // Same through stdin, named <stdin>.
  const piped = run(['observe', '-o', 'compact'], readFileSync(path));
  assert.equal(piped.status, 1);
  assert.match(piped.stderr, /<stdin>:3: not JSON/);
  assert.equal(piped.stdout.split('\n').filter(Boolean).length, 2);
});

test('usage errors and unreadable input exit 2 with a code and a next step, never a stack trace', () => {
  const cases: { args: string[]; code: RegExp }[] = [
    { args: ['observe', '--file', join(ROOT, 'no-such-file.json')], code: /PODGATE_E_INPUT: cannot read .*no such file/ },
    { args: ['observe', '--file', ROOT], code: /PODGATE_E_INPUT: .*not a regular file/ },
    { args: ['observe', '--file', twoLines, '-o', 'yaml'], code: /PODGATE_E_USAGE: unknown output format "yaml"/ },
    { args: ['observe', '--file', twoLines, '--time-format', 'Kitchen'], code: /PODGATE_E_USAGE: unknown time format/ },
    { args: ['observe', '--file', twoLines, '--server', 'localhost:4245'], code: /PODGATE_E_USAGE: --file and --server/ },
    { args: ['observe', '--file', twoLines, '--follow', '-o', 'table'], code: /PODGATE_E_USAGE: table output cannot be used with --follow/ },
    { args: ['observe', '--file', twoLines, '--verdict', 'MAYBE'], code: /PODGATE_E_(FILTER|USAGE)/ },
  ];
  for (const { args, code } of cases) {
    const result = run(args, '');
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, code, args.join(' '));
    assert.match(result.stderr, /next: /, args.join(' '));
    assert.doesNotMatch(result.stderr, noStackTrace);
  }
});

test('an unreachable --server is exit 2 with PODGATE_E_SERVER_UNAVAILABLE', async () => {
  // A port that was just free: nothing listens there.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const result = run(['observe', '--server', `127.0.0.1:${port}`]);
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /PODGATE_E_SERVER_UNAVAILABLE/);
  assert.doesNotMatch(result.stderr, noStackTrace);
});

test('observe --help and flows export --help describe the command, its options and an example', () => {
  const observe = run(['observe', '--help']);
  assert.equal(observe.status, 0);
  for (const text of [/Usage: podgate observe/, /--file <path>/, /--server <host:port>/, /-o, --output <format>/, /--follow/, /--namespace/, /Exit status: 0/, /Examples:/]) assert.match(observe.stdout, text);
  const exporter = run(['flows', 'export', '--help']);
  assert.equal(exporter.status, 0);
  for (const text of [/Usage: podgate flows export/, /--format <format>/, /--out <path>/, /pod_name/, /Example: /]) assert.match(exporter.stdout, text);
});

/** A stdout stand-in that resolves a wait once what was written satisfies a test. */
class Collector extends Writable {
  text = '';
  private waiters: { test: (text: string) => boolean; resolve: () => void }[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString('utf8');
    this.waiters = this.waiters.filter((waiter) => (waiter.test(this.text) ? (waiter.resolve(), false) : true));
    callback();
  }

  until(test: (text: string) => boolean): Promise<void> {
    if (test(this.text)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }
}

test('--follow prints the last N existing flows, then each appended one, until the signal aborts', async () => {
  const parsed = samples.map((line) => JSON.parse(line) as { flow: { source?: { namespace?: string }; destination?: { namespace?: string } } });
  const bookinfo = samples.filter((_, index) => parsed[index]!.flow.source?.namespace === 'bookinfo' || parsed[index]!.flow.destination?.namespace === 'bookinfo');
  const others = samples.filter((line) => !bookinfo.includes(line));
  const path = file('followed.json', `${[...bookinfo.slice(0, 5), ...others.slice(0, 3)].join('\n')}\n`);
  const stdout = new Collector();
  const stderr = new Collector();
  const controller = new AbortController();
  const done = runObserve({
    input: { kind: 'file', path },
    request: { whitelist: [{ source_pod: ['bookinfo/'] }, { destination_pod: ['bookinfo/'] }], number: '2' },
    follow: true,
    printer: { format: 'json', timeZone: UTC },
    stdout,
    stderr,
    signal: controller.signal,
  });
  // The last two of the five bookinfo flows already in the file.
  await stdout.until((text) => text.split('\n').length - 1 >= 2);
  assert.equal(stdout.text, `${bookinfo[3]}\n${bookinfo[4]}\n`);
  // Appended: one that does not match, a half line, its other half, a broken line, one more match.
  appendFileSync(path, `${others[3]}\n`);
  appendFileSync(path, bookinfo[5]!.slice(0, 40));
  appendFileSync(path, `${bookinfo[5]!.slice(40)}\nnot json\n${bookinfo[6]}\n`);
  await stdout.until((text) => text.includes(bookinfo[6]!));
  controller.abort();
  assert.equal(await done, 1, 'a line was skipped');
  assert.equal(stdout.text, `${bookinfo[3]}\n${bookinfo[4]}\n${bookinfo[5]}\n${bookinfo[6]}\n`);
  assert.match(stderr.text, /followed\.json:11: not JSON/);
});

test('--server: flows come from a running observer, filtered and limited there; 20 by default as hubble', async () => {
  const ring = new FlowRing(100);
  for (const line of samples) ring.append(JSON.parse(line) as FlowRecord);
  const server = await startObserverServer({ source: ring, host: '127.0.0.1', port: 0, nodeName: 'test-node' });
  try {
    const observe = async (args: string[]): Promise<string> => {
      const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'observe', '--server', `127.0.0.1:${server.port}`, '-o', 'json', ...args], { env: { ...process.env, TZ: 'UTC' } });
      return stdout;
    };
    assert.equal(await observe([]), samples.slice(-20).map((line) => `${line}\n`).join(''));
    const bookinfo = samples.filter((line) => /"namespace":"bookinfo"/.test(line));
    assert.equal(await observe(['--namespace', 'bookinfo', '--last', '3']), bookinfo.slice(-3).map((line) => `${line}\n`).join(''));
  } finally {
    await server.close();
  }
});

test('podgate observe --follow on a file runs until SIGINT, then reports and exits', async () => {
  const path = file('live.json', `${samples[2]}\n`);
  const child = spawn(process.execPath, [BIN, 'observe', '--file', path, '--follow', '-o', 'json'], { env: { ...process.env, TZ: 'UTC' } });
  let stdout = '';
  let stderr = '';
  let waiters: { text: string; resolve: () => void; reject: (error: Error) => void }[] = [];
  let exitedEarly = false;
  child.once('exit', (code) => {
    exitedEarly = true;
    for (const waiter of waiters) waiter.reject(new Error(`observe --follow exited (${code}) before printing the flow; stderr: ${stderr}`));
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    waiters = waiters.filter((waiter) => (stdout.includes(waiter.text) ? (waiter.resolve(), false) : true));
  });
  const seen = (text: string): Promise<void> =>
    stdout.includes(text) ? Promise.resolve() : exitedEarly ? Promise.reject(new Error(`observe --follow exited; stderr: ${stderr}`)) : new Promise((resolve, reject) => waiters.push({ text, resolve, reject }));
  await seen(samples[2]!);
  const next = seen(samples[3]!);
  appendFileSync(path, `${samples[3]}\n{"flow": 42}\n`);
  await next;
  const exited = once(child, 'exit');
  assert.equal(exitedEarly, false, 'still following');
  child.kill('SIGINT');
  const [code] = (await exited) as [number | null];
  assert.equal(code, 1, stderr);
  assert.equal(stdout, `${samples[2]}\n${samples[3]}\n`);
  assert.match(stderr, /live\.json:3: flow is a number, expected an object/);
});
