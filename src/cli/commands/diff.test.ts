/** `podgate diff` as a user runs it: exit codes, text and JSON output, bad input. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateFlows } from '../../flow/generate/generator.js';
import { formatFlowLine } from '../../flow/jsonl.js';
import { loadScenarioFromPaths } from '../../scenario/files.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'podgate');
const PAYMENTS = join(ROOT, 'examples', 'payments');
const CLUSTER = join(PAYMENTS, 'cluster.yaml');
const POLICIES = join(PAYMENTS, 'policies');
const noStackTrace = /at .*\.js:\d+/;

function run(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, 'diff', ...args], { encoding: 'utf8', input, cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const work = mkdtempSync(join(tmpdir(), 'podgate-diff-cli-'));

/** A copy of the example's policies, edited. */
function policies(name: string, edit: (text: string) => string, extra: Record<string, string> = {}): string {
  const dir = join(work, name);
  cpSync(POLICIES, dir, { recursive: true });
  const file = join(dir, 'payments-networkpolicies.yaml');
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  for (const [file, text] of Object.entries(extra)) writeFileSync(join(dir, file), text);
  return dir;
}

const withoutApiToPostgres = policies('removed', (text) => text.split(/^---$/m).filter((document) => !/^ {2}name: allow-api-to-postgres$/m.test(document)).join('---'));
const opened = policies('opened', (text) => text, {
  'open.yaml': `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-web-gateway-to-postgres, namespace: payments}
spec:
  podSelector: {matchLabels: {app: postgres}}
  policyTypes: [Ingress]
  ingress:
    - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: frontend}}, podSelector: {matchLabels: {app: web-gateway}}}]
      ports: [{protocol: TCP, port: 5432}]
`,
});

/** Two simulated hours of the payments profile, as `podgate flows generate` writes them. */
const flowText = (() => {
  const scenario = loadScenarioFromPaths([PAYMENTS]);
  const lines: string[] = [];
  for (const record of generateFlows({ scenario, profile: 'payments', durationNs: 2 * 3600e9, seed: 5 })) lines.push(formatFlowLine(record));
  return `${lines.join('\n')}\n`;
})();
const flowsFile = join(work, 'flows.jsonl');
writeFileSync(flowsFile, flowText);
const apiToPostgres = flowText.split('\n').filter((line) => line.includes('"pod_name":"payments-api"') && /"destination":\{[^}]*"pod_name":"postgres"/.test(line) && line.includes('"destination_port":5432') && !line.includes('"is_reply":true')).length;

test('podgate diff --help describes the command, git revisions and exit codes', () => {
  const result = run(['--help']);
  assert.equal(result.status, 0);
  assert.match(result.stdout, /Usage: podgate diff/);
  assert.match(result.stdout, /git worktree add/);
  assert.match(result.stdout, /Exit status: 0 no verdict changes, 1/);
  assert.match(result.stdout, /Examples?:/);
});

test('removing a policy: the flows and the matrix cell that flip to denied, exit 1', () => {
  assert.ok(apiToPostgres > 0);
  const result = run(['--base', POLICIES, '--head', withoutApiToPostgres, '-f', CLUSTER, '--flows', flowsFile]);
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stdout, /removed {2}NetworkPolicy payments\/allow-api-to-postgres {2}\(.*payments-networkpolicies\.yaml:\d+\)/);
  const flowsSection = result.stdout.slice(result.stdout.indexOf('observed flows:'), result.stdout.indexOf('matrix ('));
  assert.match(flowsSection, new RegExp(`allowed → denied: 1 group, ${apiToPostgres} flows\\n {4}payments/payments-api → payments/postgres {2}TCP/5432 {2}${apiToPostgres} flows`));
  assert.match(flowsSection, /denied → allowed: none/);
  assert.match(flowsSection, /head: denied by ingress\n\s+ingress default-deny: NetworkPolicy payments\/default-deny-all/);
  const matrixSection = result.stdout.slice(result.stdout.indexOf('matrix ('));
  assert.match(matrixSection, /allowed → denied: 1 group, 1 cell\n {4}payments\/payments-api → payments\/postgres {2}TCP\/5432 {2}1 pod pair/);
  assert.match(result.stdout, /summary: verdicts change/);
});

test('identical policy sets: no changes, exit 0', () => {
  const result = run(['--base', POLICIES, '--head', policies('same', (text) => text), '-f', CLUSTER, '--flows', flowsFile]);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /policy changes: none/);
  assert.match(result.stdout, /summary: no verdict changes/);
  assert.doesNotMatch(result.stdout, /allowed → denied: \d/);
});

test('a head that opens a connection: denied → allowed in the matrix, the added policy named', () => {
  const result = run(['--base', POLICIES, '--head', opened, '-f', CLUSTER]);
  assert.equal(result.status, 1);
  assert.match(result.stdout, /added {4}NetworkPolicy payments\/allow-web-gateway-to-postgres {2}\(.*open\.yaml:3\)/);
  const matrixSection = result.stdout.slice(result.stdout.indexOf('matrix ('));
  assert.match(matrixSection, /denied → allowed: 1 group, 1 cell\n {4}frontend\/web-gateway → payments\/postgres {2}TCP\/5432/);
  assert.match(matrixSection, /changed: added NetworkPolicy payments\/allow-web-gateway-to-postgres/);
  assert.match(result.stdout, /no flows given/);
});

test('-o json: the stable schema, flows from stdin', () => {
  const result = run(['--base', POLICIES, '--head', withoutApiToPostgres, '-f', CLUSTER, '--flows', '-', '-o', 'json'], flowText);
  assert.equal(result.status, 1, result.stderr);
  const json = JSON.parse(result.stdout) as {
    schema: string;
    summary: { changed: boolean; flows: { records: number; compared: number; allowedToDenied: { groups: number; flows: number }; deniedToAllowed: { groups: number; flows: number } }; matrix: { changed: number; allowedToDenied: { cells: number } } };
    policyChanges: { change: string; policy: string }[];
    flows: { groups: { change: string; source: string; destination: string; protocol: string; port: number; flows: number; legitimateFlows: number; firstSeen: string; lastSeen: string; base: { allowed: boolean; ingress: { rules: { policy: string; file: string; line: number }[] } }; head: { allowed: boolean; decidedBy: string } }[] };
    matrix: { change: string; source: string; destination: string; port: number; cells: { from: string; to: string }[] }[];
    input: { pods: number; base: { policies: number }; head: { policies: number } };
  };
  assert.equal(json.schema, 'podgate.dev/diff/v1');
  assert.equal(json.summary.changed, true);
  assert.equal(json.summary.flows.records, flowText.trim().split('\n').length);
  assert.deepEqual(json.summary.flows.allowedToDenied, { groups: 1, flows: apiToPostgres });
  assert.deepEqual(json.summary.flows.deniedToAllowed, { groups: 0, flows: 0 });
  assert.deepEqual(json.policyChanges.map((change) => [change.change, change.policy]), [['removed', 'NetworkPolicy payments/allow-api-to-postgres']]);
  const [group] = json.flows.groups;
  assert.deepEqual([group!.change, group!.source, group!.destination, group!.protocol, group!.port, group!.flows, group!.legitimateFlows], ['allowed-to-denied', 'payments/payments-api', 'payments/postgres', 'TCP', 5432, apiToPostgres, apiToPostgres]);
  assert.ok(group!.firstSeen <= group!.lastSeen);
  assert.equal(group!.base.allowed, true);
  assert.ok(group!.base.ingress.rules.some((rule) => rule.policy === 'NetworkPolicy payments/allow-api-to-postgres' && rule.file.endsWith('payments-networkpolicies.yaml') && rule.line > 0));
  assert.deepEqual([group!.head.allowed, group!.head.decidedBy], [false, 'ingress']);
  assert.deepEqual(json.matrix.map((cell) => [cell.change, cell.source, cell.destination, cell.port, cell.cells]), [['allowed-to-denied', 'payments/payments-api', 'payments/postgres', 5432, [{ from: 'payments/payments-api', to: 'payments/postgres' }]]]);
  assert.deepEqual([json.input.pods, json.input.base.policies - json.input.head.policies], [4, 1]);
});

test('an invalid policy in head is reported with its file and quarantined; the diff still runs', () => {
  const broken = policies('broken', (text) => text.replace(/(name: allow-api-to-postgres[\s\S]*?port: )5432/, '$1"not-a-port!"'));
  const result = run(['--base', POLICIES, '--head', broken, '-f', CLUSTER]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /broken\/payments-networkpolicies\.yaml:\d+:\d+: error PODGATE_E_/);
  assert.match(result.stderr, /quarantined/);
  assert.match(result.stdout, /allowed → denied: 1 group, 1 cell/);
});

test('unreadable flow lines are named on stderr and make the exit status 1', () => {
  const same = policies('same-2', (text) => text);
  const result = run(['--base', POLICIES, '--head', same, '-f', CLUSTER, '--flows', '-'], `${flowText.split('\n').slice(0, 50).join('\n')}\n{not json\n`);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /PODGATE_W_FLOW_SKIPPED/);
  assert.match(result.stdout, /no verdict changes/);
});

test('bad usage and unreadable input: exit 2, a code and a next step, never a stack trace', () => {
  const empty = join(work, 'empty');
  mkdirSync(empty);
  const noPods = join(work, 'no-pods.yaml');
  writeFileSync(noPods, 'apiVersion: v1\nkind: Namespace\nmetadata: {name: payments}\n');
  const cases: { args: string[]; code: string; message: RegExp }[] = [
    { args: ['--base', join(work, 'missing'), '--head', POLICIES, '-f', CLUSTER], code: 'PODGATE_E_INPUT', message: /--base .*missing: no such file or directory\n {2}next: .*git worktree/ },
    { args: ['--base', POLICIES, '--head', join(work, 'missing'), '-f', CLUSTER], code: 'PODGATE_E_INPUT', message: /--head .*missing: no such file/ },
    { args: ['--base', POLICIES, '--head', POLICIES, '-f', join(work, 'missing.yaml')], code: 'PODGATE_E_INPUT', message: /-f .*missing\.yaml: no such file/ },
    { args: ['--base', POLICIES, '--head', POLICIES, '-f', CLUSTER, '--flows', join(work, 'missing.jsonl')], code: 'PODGATE_E_INPUT', message: /cannot read .*missing\.jsonl/ },
    { args: ['--head', POLICIES, '-f', CLUSTER], code: 'PODGATE_E_USAGE', message: /--base is required/ },
    { args: ['--base', POLICIES, '-f', CLUSTER], code: 'PODGATE_E_USAGE', message: /--head is required/ },
    { args: ['--base', POLICIES, '--head', POLICIES, '-f', CLUSTER, '-o', 'xml'], code: 'PODGATE_E_USAGE', message: /unknown output "xml"/ },
    { args: ['--base', '-', '--head', POLICIES, '-f', CLUSTER, '--flows', '-'], code: 'PODGATE_E_USAGE', message: /stdin \(-\) is given to --base and --flows/ },
    { args: ['--base', empty, '--head', POLICIES, '-f', CLUSTER], code: 'PODGATE_E_INPUT', message: /no manifests .* in --base/ },
    { args: ['--base', POLICIES, '--head', POLICIES, '-f', noPods], code: 'PODGATE_E_INPUT', message: /no pods in the cluster state/ },
    { args: ['--base', POLICIES, '--head', POLICIES, '-f', CLUSTER, '--engine', 'fast'], code: 'PODGATE_E_USAGE', message: /unknown engine "fast"/ },
  ];
  for (const { args, code, message } of cases) {
    const result = run(args);
    assert.equal(result.status, 2, `${args.join(' ')}\n${result.stderr}`);
    assert.match(result.stderr, new RegExp(`podgate: error ${code}: `), args.join(' '));
    assert.match(result.stderr, message, args.join(' '));
    assert.match(result.stderr, /next: /, args.join(' '));
    assert.doesNotMatch(result.stderr, noStackTrace);
    assert.equal(result.stdout, '');
  }
});
