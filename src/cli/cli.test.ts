/** The command line as a user runs it: exit codes, messages, help. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'podgate');
const PAYMENTS = join(ROOT, 'examples', 'payments');

function run(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, cwd: ROOT });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'podgate-cli-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const COMMANDS = ['', 'validate', 'explain', 'matrix', 'conformance', 'demo', 'observe', 'flows', 'flows generate', 'flows export', 'flows store', 'flows serve', 'flows metrics', 'relay', 'drops', 'drops watch', 'advise', 'verify', 'diff', 'lint'];
for (const command of COMMANDS) {
  test(`podgate ${command} --help`, () => {
    const result = run([...(command ? command.split(' ') : []), '--help']);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /Usage: podgate/);
  });
}

test('unknown command and bad options exit 2 with a message, never a stack trace', () => {
  for (const args of [['frobnicate'], ['explain', '--from', 'a/b'], ['matrix', '-f', PAYMENTS, '--port', 'http'], ['explain', '-f', PAYMENTS, '--from', 'a', '--to', 'b', '--port', '99999']]) {
    const result = run(args);
    assert.equal(result.status, 2, args.join(' '));
    assert.doesNotMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace');
    assert.ok(result.stderr.length > 0);
  }
});

test('validate: clean input exits 0, problems exit 1, unreadable input exits 2', () => {
  assert.equal(run(['validate', PAYMENTS]).status, 0);
  const broken = fixture({ 'bad.yaml': 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: a}\nspec:\n  podSelector: {}\n  egress:\n    - to: [{ipBlock: {cidr: 10.0.0.0/99}}]\n' });
  const bad = run(['validate', broken]);
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /bad\.yaml:7:\d+: error PODGATE_E_CIDR/);
  assert.match(bad.stdout, /1 error, 0 warnings/);
  const missing = run(['validate', join(ROOT, 'no-such-dir')]);
  assert.equal(missing.status, 2);
  assert.match(missing.stdout, /PODGATE_E_INPUT/);
  const json = JSON.parse(run(['validate', '-o', 'json', broken]).stdout) as { errors: number; issues: { code: string; line: number }[] };
  assert.equal(json.errors, 1);
  assert.equal(json.issues[0]?.code, 'PODGATE_E_CIDR');
});

test('validate reads stdin', () => {
  const result = run(['validate', '-'], 'apiVersion: v1\nkind: Namespace\nmetadata: {name: BAD_NAME}\n');
  assert.equal(result.status, 1);
  assert.match(result.stdout, /<stdin>:3:\d+: error PODGATE_E_NAME/);
});

test('explain: an allowed connection with mutual authentication, exit 0', () => {
  const result = run(['explain', '-f', PAYMENTS, '--from', 'frontend/web-gateway', '--to', 'payments/payments-api', '--port', '8080']);
  assert.equal(result.status, 0);
  assert.match(result.stdout, /verdict: ALLOWED \(mutual authentication required\)/);
  assert.match(result.stdout, /CiliumNetworkPolicy payments\/mtls-payments-api spec\.ingress\[0\] \[authentication: required\]/);
  assert.match(result.stdout, /payments-cilium\.yaml:\d+/);
});

test('explain: a denied connection names the isolating policies and a checked fix, exit 1', () => {
  const result = run(['explain', '-f', PAYMENTS, '--from', 'frontend/web-gateway', '--to', 'payments/postgres', '--port', '5432']);
  assert.equal(result.status, 1);
  assert.match(result.stdout, /verdict: DENIED by ingress/);
  assert.match(result.stdout, /NetworkPolicy payments\/default-deny-all spec/);
  assert.match(result.stdout, /checked: with it the connection is allowed/);
  assert.match(result.stdout, /kind: NetworkPolicy[\s\S]*kubernetes.io\/metadata.name: frontend/);
});

test('explain: json output and the guardrail', () => {
  const result = run(['explain', '-f', PAYMENTS, '--from', 'payments/payments-api', '--to', '169.254.169.254', '--port', '80', '-o', 'json']);
  assert.equal(result.status, 1);
  const data = JSON.parse(result.stdout) as { verdict: { egress: { reason: string; rules: { policy: { name: string } }[] } } };
  assert.equal(data.verdict.egress.reason, 'admin-deny');
  assert.equal(data.verdict.egress.rules[0]?.policy.name, 'deny-cloud-metadata');
});

test('explain: workloads, entities and unknown endpoints', () => {
  const dir = fixture({
    'app.yaml': [
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: c, ports: [{containerPort: 8080}]}]}',
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: only-world, namespace: shop}\nspec:\n  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}]}]',
    ].join('\n---\n'),
  });
  assert.equal(run(['explain', '-f', dir, '--from', 'world', '--to', 'shop/api', '--port', '8080']).status, 1, 'world without an address matches no ipBlock');
  assert.equal(run(['explain', '-f', dir, '--from', '203.0.113.9', '--to', 'shop/api', '--port', '8080']).status, 0);
  assert.equal(run(['explain', '-f', dir, '--from', 'host', '--to', 'shop/api', '--port', '8080']).status, 0, 'kubelet probes are allowed');
  const unknown = run(['explain', '-f', dir, '--from', 'shop/nope', '--to', 'shop/api', '--port', '8080']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /PODGATE_E_ENDPOINT: --from shop\/nope: no pod or workload named shop\/nope\n  next: pods in shop: api-/);
});

test('explain: an HTTP request refused at L7 proposes one more HTTP rule', () => {
  const dir = fixture({
    'l7.yaml': 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: l7, namespace: payments}\nspec:\n  endpointSelector: {matchLabels: {app: payments-api}}\n  ingress:\n    - fromEndpoints: [{matchLabels: {app: web-gateway, k8s:io.kubernetes.pod.namespace: frontend}}]\n      toPorts:\n        - ports: [{port: "8080", protocol: TCP}]\n          rules: {http: [{method: GET, path: /api/v1/balance}]}\n',
  });
  const result = run(['explain', '-f', join(PAYMENTS, 'cluster.yaml'), '-f', dir, '--from', 'frontend/web-gateway', '--to', 'payments/payments-api', '--port', '8080', '--http-method', 'POST', '--http-path', '/api/v1/transfer']);
  assert.equal(result.status, 1);
  assert.match(result.stdout, /DENIED at L7 by ingress \(HTTP 403\)/);
  assert.match(result.stdout, /path: \/api\/v1\/transfer/);
  assert.match(result.stdout, /checked: with it the connection is allowed/);
});

test('matrix: declared ports, one port, a namespace, json', () => {
  const all = run(['matrix', '-f', PAYMENTS]);
  assert.equal(all.status, 0);
  assert.match(all.stdout, /frontend\/web-gateway\s+8443\s+53\/udp,53,9153\s+8080\*\s+✗/);
  const one = run(['matrix', '-f', PAYMENTS, '--port', '5432', '-n', 'payments']);
  assert.match(one.stdout, /payments\/payments-api\s+✗\s+✓/);
  assert.doesNotMatch(one.stdout, /frontend/);
  const json = JSON.parse(run(['matrix', '-f', PAYMENTS, '--port', '53', '--protocol', 'udp', '-o', 'json']).stdout) as { from: string; to: string; probes: { allowed: boolean }[] }[];
  assert.equal(json.find((cell) => cell.from === 'payments/postgres' && cell.to === 'kube-system/coredns')?.probes[0]?.allowed, true);
});

test('conformance: passing and failing corpora', () => {
  const ok = run(['conformance', join(ROOT, 'conformance', 'podgate-tiers.json'), '--engine', 'all']);
  assert.equal(ok.status, 0);
  assert.match(ok.stdout.trimEnd().split('\n').at(-1) ?? '', /^\d+ passed, 0 failed$/);
  const dir = fixture({
    'wrong.json': JSON.stringify({
      cases: [{ id: 'wrong', namespaces: [{ name: 'a' }], pods: [{ namespace: 'a', name: 'x', labels: {}, ip: '10.0.0.1' }, { namespace: 'a', name: 'y', labels: {}, ip: '10.0.0.2' }], policies: [], probes: [{ from: 'a/x', to: 'a/y', port: 80, protocol: 'TCP', expect: 'deny', reason: 'deliberately wrong' }] }],
    }),
  });
  const failing = run(['conformance', join(dir, 'wrong.json'), '--json']);
  assert.equal(failing.status, 1);
  const data = JSON.parse(failing.stdout) as { passed: number; failed: number };
  assert.deepEqual([data.passed, data.failed], [0, 1]);
  const text = run(['conformance', join(dir, 'wrong.json')]);
  assert.match(text.stdout, /FAIL .* wrong: a\/x → a\/y TCP\/80: expected deny, got allow/);
  assert.match(text.stdout, /0 passed, 1 failed\n$/);
});

test('demo: the matrix and an explanation for every denied edge', () => {
  const result = run(['demo']);
  assert.equal(result.status, 0);
  assert.match(result.stdout, /Denied edges, and why:/);
  const denied = (result.stdout.match(/^✗ /gm) ?? []).length;
  assert.ok(denied >= 10, `denied edges listed: ${denied}`);
  assert.equal((result.stdout.match(/^  (ingress|egress) .*DENIED/gm) ?? []).length, denied, 'each denied edge is explained');
});
