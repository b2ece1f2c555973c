/** `podgate advise` as a user runs it: files, stdin, a store, --out, exit codes and errors. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateFlows } from '../../flow/generate/generator.js';
import { FlowStore } from '../../flow/store/store.js';
import { loadScenarioFromPaths } from '../../scenario/files.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'podgate');
const PAYMENTS = join(ROOT, 'examples', 'payments');
const CLUSTER = join(PAYMENTS, 'cluster.yaml');
const noStackTrace = /at .*\.js:\d+|Error: .*\n\s+at /;

function run(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'podgate-advise-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const lines = [...generateFlows({ scenario: loadScenarioFromPaths([PAYMENTS]), profile: 'payments', durationNs: 3600e9, seed: 3 })].map((record) => JSON.stringify(record));
const flowsFile = join(dir, 'flows.jsonl');
writeFileSync(flowsFile, `${lines.join('\n')}\n`);

test('advise --out writes one file per namespace; stdout gets the same documents; summary on stderr', () => {
  const out = join(dir, 'policies');
  const written = run(['advise', '--flows', flowsFile, '-f', CLUSTER, '--out', out]);
  assert.equal(written.status, 0, written.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['frontend.yaml', 'payments.yaml']);
  assert.match(written.stderr, /podgate advise: 2 namespaces \(frontend, payments\), 7 policies, \d+ allow rules, written to/);
  assert.match(written.stderr, /ignored: \d+ reply; .*verdict DROPPED/);
  assert.match(written.stderr, /note: NetworkPolicy cannot select traffic from nodes/);
  const streamed = run(['advise', '--flows', '-', '-f', CLUSTER], `${lines.join('\n')}\n`);
  assert.equal(streamed.status, 0, streamed.stderr);
  assert.equal(streamed.stdout, `${readFileSync(join(out, 'frontend.yaml'), 'utf8')}---\n${readFileSync(join(out, 'payments.yaml'), 'utf8')}`);
  const validated = run(['validate', out]);
  assert.equal(validated.status, 0, validated.stdout);
});

test('advise --format cilium --require-auth and --namespace', () => {
  const result = run(['advise', '--flows', flowsFile, '-f', CLUSTER, '--format', 'cilium', '--require-auth', '--namespace', 'payments']);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /kind: CiliumNetworkPolicy/);
  assert.match(result.stdout, /mode: required/);
  assert.doesNotMatch(result.stdout, /^  namespace: frontend$/m);
  assert.match(result.stderr, /1 namespace \(payments\)/);
});

test('advise reads a flow store', () => {
  const path = join(dir, 'flows.db');
  const store = FlowStore.open(path, { maxAgeNs: 0n });
  for (const line of lines) store.append(JSON.parse(line));
  store.close();
  const fromStore = run(['advise', '--flows-store', path, '-f', CLUSTER]);
  const fromFile = run(['advise', '--flows', flowsFile, '-f', CLUSTER]);
  assert.equal(fromStore.status, 0, fromStore.stderr);
  assert.equal(fromStore.stdout, fromFile.stdout);
});

test('skipped lines: advice still written, exit 1, lines named', () => {
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, `${lines.slice(0, 50).join('\n')}\n{"flow": truncated\n${lines.slice(50).join('\n')}\n`);
  const result = run(['advise', '--flows', bad, '-f', CLUSTER]);
  assert.equal(result.status, 1);
  assert.match(result.stdout, /kind: NetworkPolicy/);
  assert.match(result.stderr, /PODGATE_W_FLOW_SKIPPED: skipped 1 unreadable line\n\s+.*bad\.jsonl:51: not JSON/);
});

test('bad usage and bad input: a code, a next step, exit 2, no stack trace', () => {
  const tsv = join(dir, 'published.tsv');
  writeFileSync(tsv, '\t\t\t\n');
  const cases: { args: string[]; code: RegExp }[] = [
    { args: ['advise', '-f', CLUSTER], code: /PODGATE_E_USAGE: no flows given/ },
    { args: ['advise', '--flows', flowsFile, '--flows-store', 'x.db', '-f', CLUSTER], code: /PODGATE_E_USAGE: give exactly one/ },
    { args: ['advise', '--flows', flowsFile], code: /PODGATE_E_USAGE: no manifests given/ },
    { args: ['advise', '--flows', flowsFile, '-f', CLUSTER, '--format', 'calico'], code: /PODGATE_E_USAGE: unknown format/ },
    { args: ['advise', '--flows', flowsFile, '-f', CLUSTER, '--require-auth'], code: /PODGATE_E_USAGE: --require-auth needs --format cilium/ },
    { args: ['advise', '--flows', flowsFile, '-f', CLUSTER, '--namespace', 'nope'], code: /PODGATE_E_USAGE: namespace "nope" is not in the manifests/ },
    { args: ['advise', '--flows', join(dir, 'missing.jsonl'), '-f', CLUSTER], code: /PODGATE_E_INPUT: cannot read/ },
    { args: ['advise', '--flows-store', join(dir, 'missing.db'), '-f', CLUSTER], code: /PODGATE_E_STORE/ },
    { args: ['advise', '--flows', tsv, '-f', CLUSTER], code: /PODGATE_E_TSV_NO_PODS: observed-flows.tsv has 1 row and none names a pod/ },
  ];
  for (const entry of cases) {
    const result = run(entry.args);
    assert.equal(result.status, 2, `${entry.args.join(' ')}\n${result.stderr}`);
    assert.match(result.stderr, entry.code);
    assert.match(result.stderr, /next: /);
    assert.doesNotMatch(result.stderr, noStackTrace);
    assert.equal(result.stdout, '', 'nothing advised');
  }
});

test('advise --help has a description, the options and examples', () => {
  const result = run(['advise', '--help']);
  assert.equal(result.status, 0);
  for (const text of ['--flows <path>', '--flows-store', '--server', '--out <dir>', '--namespace', '--format', '--require-auth', 'Exit status', 'Examples:']) assert.ok(result.stdout.includes(text), text);
});
