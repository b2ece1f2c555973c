/** `podgate lint` as a user (or a CI job) runs it: output formats, exit codes, bad input. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LINT_RULES } from '../../lint/findings.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'podgate');
const PAYMENTS = join(ROOT, 'examples', 'payments');

function run(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, 'lint', ...args], { encoding: 'utf8', input, cwd: ROOT });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'podgate-lint-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** A namespace in egress default deny with no DNS allow: one error. */
const NO_DNS = `apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec: {containers: [{name: c, ports: [{containerPort: 53, protocol: UDP}, {containerPort: 53, protocol: TCP}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec: {selector: {k8s-app: kube-dns}, ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}
---
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: shop, labels: {app: shop}}
spec: {containers: [{name: c}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
`;

type Json = Record<string, unknown>;

test('lint --help describes the checks, the exit codes and an example', () => {
  const result = run(['--help']);
  assert.equal(result.status, 0);
  assert.match(result.stdout, /Usage: podgate lint/);
  assert.match(result.stdout, /text, json or sarif/);
  assert.match(result.stdout, /only checked when the manifests contain pods or workloads/);
  assert.match(result.stdout, /Exit status: 0/);
  assert.match(result.stdout, /Example: podgate lint -f examples\/payments/);
});

const FORMATS: readonly { name: string; args: string[]; status: number; check: (stdout: string) => void }[] = [
  {
    name: 'text: the voided L7 rule with its position, a warning, exit 0',
    args: [PAYMENTS],
    status: 0,
    check: (stdout) => {
      assert.match(stdout, /payments-cilium\.yaml:30:7: warning PODGATE_W_LINT_L7_VOIDED in CiliumNetworkPolicy payments\/l7-payments-api \(at spec\.ingress\[0\]\)/);
      assert.match(stdout, /next: /);
      assert.match(stdout, /0 errors, 1 warning/);
    },
  },
  {
    name: 'text --strict: warnings fail',
    args: ['-f', PAYMENTS, '--strict'],
    status: 1,
    check: (stdout) => assert.match(stdout, /PODGATE_W_LINT_L7_VOIDED/),
  },
  {
    name: 'json: counts and findings as Issues',
    args: ['-f', PAYMENTS, '-o', 'json'],
    status: 0,
    check: (stdout) => {
      const data = JSON.parse(stdout) as { errors: number; warnings: number; findings: { code: string; severity: string; path: string; file: string; line: number; column: number; object: string; hint: string }[] };
      assert.equal(data.errors, 0);
      assert.equal(data.warnings, 1);
      const [finding] = data.findings;
      assert.equal(finding?.code, 'PODGATE_W_LINT_L7_VOIDED');
      assert.equal(finding.severity, 'warning');
      assert.equal(finding.path, 'spec.ingress[0]');
      assert.equal(finding.object, 'CiliumNetworkPolicy payments/l7-payments-api');
      assert.match(finding.file, /payments-cilium\.yaml$/);
      assert.deepEqual([finding.line, finding.column], [30, 7]);
      assert.ok(finding.hint.length > 0);
    },
  },
  {
    name: 'sarif: a valid 2.1.0 log with every lint rule and the result at its relative path',
    args: ['-f', PAYMENTS, '-o', 'sarif'],
    status: 0,
    check: (stdout) => {
      const log = JSON.parse(stdout) as Json;
      assert.equal(log['version'], '2.1.0');
      assert.match(String(log['$schema']), /sarif-2\.1\.0/);
      const [run0] = log['runs'] as Json[];
      const driver = (run0?.['tool'] as Json)['driver'] as Json;
      assert.equal(driver['name'], 'podgate');
      const rules = driver['rules'] as Json[];
      assert.deepEqual(rules.map((rule) => rule['id']), LINT_RULES.map((rule) => rule.code));
      for (const rule of rules) {
        assert.equal(typeof (rule['shortDescription'] as Json)['text'], 'string');
        assert.equal(typeof (rule['help'] as Json)['text'], 'string');
      }
      const results = run0?.['results'] as Json[];
      assert.equal(results.length, 1);
      const [result] = results;
      assert.equal(result?.['ruleId'], 'PODGATE_W_LINT_L7_VOIDED');
      assert.equal(rules[result['ruleIndex'] as number]?.['id'], 'PODGATE_W_LINT_L7_VOIDED');
      assert.equal(result['level'], 'warning');
      assert.match(String((result['message'] as Json)['text']), /CiliumNetworkPolicy payments\/l7-payments-api spec\.ingress\[0\]: the HTTP rules/);
      const physical = ((result['locations'] as Json[])[0] as Json)['physicalLocation'] as Json;
      assert.deepEqual(physical['artifactLocation'], { uri: 'examples/payments/policies/payments-cilium.yaml', uriBaseId: '%SRCROOT%' });
      assert.deepEqual(physical['region'], { startLine: 30, startColumn: 7 });
      assert.match(String(((run0?.['originalUriBaseIds'] as Json)['%SRCROOT%'] as Json)['uri']), /^file:\/\/\/.*\/$/);
    },
  },
];

for (const format of FORMATS) {
  test(`lint examples/payments, ${format.name}`, () => {
    const result = run(format.args);
    assert.equal(result.status, format.status, result.stderr);
    format.check(result.stdout);
  });
}

test('an error finding exits 1 without --strict, in every format', () => {
  const dir = fixture({ 'shop.yaml': NO_DNS });
  const text = run([dir]);
  assert.equal(text.status, 1);
  assert.match(text.stdout, /shop\.yaml:\d+:\d+: error PODGATE_E_LINT_DNS_BLOCKED/);
  const json = JSON.parse(run([dir, '-o', 'json']).stdout) as { errors: number };
  assert.equal(json.errors, 1);
  const sarif = run([dir, '-o', 'sarif']);
  assert.equal(sarif.status, 1);
  const results = ((JSON.parse(sarif.stdout) as { runs: { results: Json[] }[] }).runs[0]?.results ?? []);
  assert.deepEqual(results.map((result) => [result['ruleId'], result['level']]), [['PODGATE_E_LINT_DNS_BLOCKED', 'error']]);
  // --skip leaves the check out.
  assert.equal(run([dir, '--skip', 'dns']).status, 0);
});

test('lint reads stdin', () => {
  const result = run(['-'], NO_DNS);
  assert.equal(result.status, 1);
  assert.match(result.stdout, /<stdin>:\d+:\d+: error PODGATE_E_LINT_DNS_BLOCKED/);
});

test('bad usage and invalid input exit 2 with a code and a next step, never a stack trace', () => {
  const invalid = fixture({ 'bad.yaml': 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: a}\nspec:\n  podSelector: {}\n  egress:\n    - to: [{ipBlock: {cidr: 10.0.0.0/99}}]\n' });
  const cases: { args: string[]; code: RegExp }[] = [
    { args: [], code: /PODGATE_E_USAGE/ },
    { args: [PAYMENTS, '-o', 'xml'], code: /PODGATE_E_USAGE.*unknown output/ },
    { args: [PAYMENTS, '--skip', 'everything'], code: /PODGATE_E_USAGE.*unknown check/ },
    { args: [PAYMENTS, '--engine', 'fast'], code: /PODGATE_E_USAGE/ },
    { args: [join(ROOT, 'no-such-dir')], code: /PODGATE_E_INPUT/ },
    { args: [invalid], code: /bad\.yaml:7:\d+: error PODGATE_E_CIDR[\s\S]*PODGATE_E_INPUT.*lint needs policies that validate[\s\S]*next: / },
  ];
  for (const { args, code } of cases) {
    const result = run(args);
    assert.equal(result.status, 2, args.join(' '));
    assert.match(result.stderr, code, args.join(' '));
    assert.doesNotMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace');
    assert.equal(result.stdout, '', 'nothing on stdout for a CI parser to misread');
  }
});
