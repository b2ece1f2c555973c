/** `podgate verify` as CI runs it: exit codes, inputs (file, stdin, store), bad input, reports. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateFlows } from '../../flow/generate/generator.js';
import { formatFlowLine } from '../../flow/jsonl.js';
import { FlowStore } from '../../flow/store/store.js';
import { loadScenarioFromPaths } from '../../scenario/files.js';
import { OUTPUT_FORMATS as FORMATTER_FORMATS } from '../../verify/output.js';
import { OUTPUT_FORMATS } from './verify.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'podgate');
const PAYMENTS = join(ROOT, 'examples', 'payments');
const POLICIES = join(PAYMENTS, 'policies');
const CLUSTER = join(PAYMENTS, 'cluster.yaml');
const directory = mkdtempSync(join(tmpdir(), 'podgate-verify-cli-'));
const noStackTrace = /at .*\.js:\d+|Error: .*\n\s+at /;

const records = [...generateFlows({ scenario: loadScenarioFromPaths([PAYMENTS]), profile: 'payments', count: 6000, seed: 3 })];
const FLOWS = join(directory, 'flows.jsonl');
const flowText = `${records.map(formatFlowLine).join('\n')}\n`;
writeFileSync(FLOWS, flowText);

/** examples/payments/policies with one policy document left out (or replaced). */
function policiesWithout(name: string, replacement = ''): string {
  const target = join(directory, `policies-without-${name}${replacement === '' ? '' : '-replaced'}`);
  mkdirSync(target, { recursive: true });
  let found = false;
  for (const file of readdirSync(POLICIES)) {
    const documents = readFileSync(join(POLICIES, file), 'utf8').split(/^---$/m);
    const kept = documents.map((document) => {
      if (!new RegExp(`^\\s+name: ${name}$`, 'm').test(document)) return document;
      found = true;
      return replacement;
    });
    writeFileSync(join(target, file), kept.filter((document) => document.trim() !== '').join('---'));
  }
  assert.ok(found, `policy ${name} is in examples/payments/policies`);
  return target;
}

const WITHOUT_API_TO_POSTGRES = policiesWithout('allow-api-to-postgres');
/** The same policy with a port no Kubernetes accepts: quarantined, so it isolates postgres and allows nothing. */
const BROKEN_API_TO_POSTGRES = policiesWithout(
  'allow-api-to-postgres',
  `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-api-to-postgres, namespace: payments}
spec:
  podSelector: {matchLabels: {app: postgres}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {matchLabels: {app: payments-api}}}]
      ports: [{port: 99999}]
`,
);

function run(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, 'verify', ...args], { encoding: 'utf8', input, cwd: ROOT, maxBuffer: 256 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const API_TO_POSTGRES = /NEWLY DROPPED {2}payments\/payments-api → payments\/postgres TCP\/5432/;

const CASES: { name: string; args: string[]; input?: string; status: number; stdout?: RegExp; stderr?: RegExp; notStdout?: RegExp }[] = [
  { name: 'the policies that made the flows: nothing newly dropped', args: ['--flows', FLOWS, '--policies', POLICIES, '--state', CLUSTER], status: 0, stdout: /PASS/, stderr: /PODGATE_W_VERIFY_UNMAPPED/ },
  { name: 'without --state the policies paths hold the cluster', args: ['--flows', FLOWS, '--policies', PAYMENTS], status: 0, stdout: /PASS/ },
  { name: 'an allow removed: exit 1 and the group', args: ['--flows', FLOWS, '--policies', WITHOUT_API_TO_POSTGRES, '--state', CLUSTER], status: 1, stdout: API_TO_POSTGRES },
  { name: 'flows on stdin', args: ['--flows', '-', '--policies', WITHOUT_API_TO_POSTGRES, '--state', CLUSTER], input: flowText, status: 1, stdout: API_TO_POSTGRES },
  {
    name: 'an invalid policy is reported, quarantined (fail closed) and verify still runs',
    args: ['--flows', FLOWS, '--policies', BROKEN_API_TO_POSTGRES, '--state', CLUSTER],
    status: 1,
    stdout: /invalid policy \(quarantined[^\n]*NetworkPolicy\/payments\/allow-api-to-postgres[\s\S]*NEWLY DROPPED {2}payments\/payments-api → payments\/postgres/,
    stderr: /PODGATE_E_PORT[\s\S]*quarantined/,
  },
  { name: 'unreadable lines are reported and do not change the verdict', args: ['--flows', '-', '--policies', POLICIES, '--state', CLUSTER], input: `not json\n${flowText}{"flow":"x"}\n`, status: 0, stderr: /PODGATE_W_FLOW_SKIPPED: skipped 2 unreadable lines/ },
  { name: '--strict fails on unreadable lines', args: ['--flows', '-', '--policies', POLICIES, '--state', CLUSTER, '--strict'], input: `not json\n${flowText}`, status: 1, stdout: /PASS/ },
  { name: 'a missing flows file', args: ['--flows', join(directory, 'nope.jsonl'), '--policies', POLICIES, '--state', CLUSTER], status: 2, stderr: /PODGATE_E_INPUT: cannot read .*nope\.jsonl[\s\S]*next:/ },
  { name: 'a missing policies path', args: ['--flows', FLOWS, '--policies', join(directory, 'nope'), '--state', CLUSTER], status: 2, stderr: /PODGATE_E_INPUT[\s\S]*next:/ },
  { name: 'no policies', args: ['--flows', FLOWS], status: 2, stderr: /PODGATE_E_USAGE: no policies given/ },
  { name: 'no flows', args: ['--policies', POLICIES], status: 2, stderr: /PODGATE_E_USAGE: no flows given/ },
  { name: 'an unknown output', args: ['--flows', FLOWS, '--policies', POLICIES, '-o', 'xml'], status: 2, stderr: /PODGATE_E_USAGE: unknown output "xml"/ },
  { name: 'a bad --report', args: ['--flows', FLOWS, '--policies', POLICIES, '--report', 'sarif'], status: 2, stderr: /--report "sarif" is not FORMAT=PATH/ },
  { name: 'state without pods', args: ['--flows', FLOWS, '--policies', POLICIES, '--state', POLICIES], status: 2, stderr: /PODGATE_E_INPUT: no pods or workloads/ },
  { name: '--help', args: ['--help'], status: 0, stdout: /--policies[\s\S]*--state[\s\S]*Exit status: 0 nothing newly dropped, 1[\s\S]*Examples:/ },
];

test('podgate verify: exit codes and messages', () => {
  for (const entry of CASES) {
    const result = run(entry.args, entry.input);
    assert.equal(result.status, entry.status, `${entry.name}\n${result.stderr}\n${result.stdout.slice(0, 2000)}`);
    if (entry.stdout) assert.match(result.stdout, entry.stdout, entry.name);
    if (entry.stderr) assert.match(result.stderr, entry.stderr, entry.name);
    assert.doesNotMatch(result.stderr, noStackTrace, entry.name);
  }
});

test('json output and extra reports from the same run', () => {
  const sarif = join(directory, 'verify.sarif');
  const junit = join(directory, 'verify.xml');
  const result = run(['--flows', FLOWS, '--policies', WITHOUT_API_TO_POSTGRES, '--state', CLUSTER, '-o', 'json', '--report', `sarif=${sarif}`, '--report', `junit=${junit}`]);
  assert.equal(result.status, 1, result.stderr);
  const json = JSON.parse(result.stdout) as { result: string; newly_dropped: { source: string; destination: string; port: number; fix: { verified: boolean } }[] };
  assert.equal(json.result, 'fail');
  assert.deepEqual(
    json.newly_dropped.map((group) => `${group.source} ${group.destination} ${group.port} ${group.fix.verified}`),
    ['payments/payments-api payments/postgres 5432 true'],
  );
  const log = JSON.parse(readFileSync(sarif, 'utf8')) as { version: string; runs: { results: { ruleId: string; locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }[] }[] };
  assert.equal(log.version, '2.1.0');
  // Inside the working directory, paths are relative as code scanning needs them.
  assert.match(log.runs[0]!.results[0]!.locations[0]!.physicalLocation.artifactLocation.uri, /^[^/].*payments-networkpolicies\.yaml$/);
  assert.match(readFileSync(junit, 'utf8'), /<testsuite name="podgate verify" tests="1" failures="1"/);
});

test('flows from a podgate flow store', () => {
  const path = join(directory, 'flows.db');
  const store = FlowStore.open(path, { maxAgeNs: 0n });
  for (const record of records) store.append(record);
  store.close();
  const result = run(['--flows-store', path, '--policies', WITHOUT_API_TO_POSTGRES, '--state', CLUSTER]);
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stdout, API_TO_POSTGRES);
  const missing = run(['--flows-store', join(directory, 'missing.db'), '--policies', POLICIES]);
  assert.equal(missing.status, 2);
  assert.doesNotMatch(missing.stderr, noStackTrace);
});

test('the command and the formatter know the same output formats', () => {
  assert.deepEqual([...OUTPUT_FORMATS], [...FORMATTER_FORMATS]);
});
