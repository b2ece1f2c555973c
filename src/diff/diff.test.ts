/** diff: the connections that change verdict between two policy sets, on generated flows and the matrix. */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateFlows, prepareGeneration } from '../flow/generate/generator.js';
import { destinationPort, recordTimeNs, type FlowRecord } from '../flow/model.js';
import { createCompiledEngine } from '../policy/compiled/engine.js';
import type { EngineFactory } from '../policy/engine.js';
import { diffJson, diffPolicies, hasVerdictChanges, loadDiffInputs, PolicyDiff, type DiffInputs, type DiffResult } from './diff.js';

const PAYMENTS = fileURLToPath(new URL('../../../examples/payments/', import.meta.url));
const CLUSTER = join(PAYMENTS, 'cluster.yaml');
const POLICIES = join(PAYMENTS, 'policies');
const NETPOL_FILE = 'payments-networkpolicies.yaml';

/** A copy of the example's policies with `edit` applied to the NetworkPolicy file. */
function policiesWith(edit: (text: string) => string, extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'podgate-diff-'));
  cpSync(POLICIES, dir, { recursive: true });
  const file = join(dir, NETPOL_FILE);
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Drops the YAML document that defines `name`. */
function withoutPolicy(name: string): (text: string) => string {
  return (text) => text.split(/^---$/m).filter((document) => !new RegExp(`^  name: ${name}$`, 'm').test(document)).join('---');
}

const OPEN_WEB_TO_POSTGRES = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-web-gateway-to-postgres
  namespace: payments
spec:
  podSelector:
    matchLabels: {app: postgres}
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels: {kubernetes.io/metadata.name: frontend}
          podSelector:
            matchLabels: {app: web-gateway}
      ports:
        - {protocol: TCP, port: 5432}
`;

function load(head: string): DiffInputs {
  const inputs = loadDiffInputs({ state: [CLUSTER], base: [POLICIES], head: [head] });
  assert.deepEqual(inputs.unreadable, []);
  return inputs;
}

/** Generated payments traffic (two simulated hours) and the profile's extended cluster (its CronJob pods). */
function paymentsFlows(inputs: DiffInputs): { records: FlowRecord[]; cluster: DiffInputs['cluster'] } {
  const scenario = { cluster: inputs.cluster, policies: inputs.base.policies };
  const prepared = prepareGeneration({ scenario, profile: 'payments' });
  const records = [...generateFlows({ scenario, profile: 'payments', durationNs: 2 * 3600e9, seed: 11 })];
  return { records, cluster: prepared.cluster };
}

function isApiToPostgres(record: FlowRecord): boolean {
  const flow = record.flow;
  return flow !== undefined && flow.is_reply !== true && flow.source?.namespace === 'payments' && flow.source.pod_name === 'payments-api' && flow.destination?.pod_name === 'postgres' && destinationPort(flow) === 5432;
}

const removed = load(policiesWith(withoutPolicy('allow-api-to-postgres')));
const removedFlows = paymentsFlows(removed);

test('removing allow-api-to-postgres: the api → postgres flows and matrix cell flip to denied, and nothing opens', () => {
  const outcome = diffPolicies({ cluster: removedFlows.cluster, base: removed.base, head: removed.head, records: removedFlows.records });
  const expected = removedFlows.records.filter(isApiToPostgres);
  assert.ok(expected.length > 10, 'the generator makes api → postgres traffic');

  const groups = outcome.flows!.groups;
  assert.equal(groups.filter((group) => group.change === 'denied-to-allowed').length, 0);
  const api = groups.find((group) => group.source === 'payments/payments-api' && group.destination === 'payments/postgres');
  assert.ok(api, JSON.stringify(groups.map((group) => [group.source, group.destination])));
  assert.equal(api.change, 'allowed-to-denied');
  assert.deepEqual([api.protocol, api.port], ['TCP', 5432]);
  assert.equal(api.flows, expected.length);
  assert.equal(api.legitimateFlows, expected.length, 'base allowed them, so the generator forwarded them');
  const times = expected.map(recordTimeNs).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  assert.equal(api.firstSeenNs, times[0]);
  assert.equal(api.lastSeenNs, times.at(-1));
  // Base allowed it through the removed policy; head denies it at postgres's ingress by default.
  assert.ok(api.base.allowed);
  assert.ok(api.base.ingress.rules.some((rule) => rule.policy === 'NetworkPolicy payments/allow-api-to-postgres' && rule.file?.endsWith(NETPOL_FILE) && rule.line !== undefined));
  assert.equal(api.head.allowed, false);
  assert.equal(api.head.decidedBy, 'ingress');
  assert.deepEqual(api.head.ingress.reasons, ['default-deny']);
  assert.deepEqual([...api.policies], ['NetworkPolicy/payments/allow-api-to-postgres']);
  // Every group that changes is traffic into postgres on 5432 (the reconcile job shares the API's labels).
  for (const group of groups) assert.deepEqual([group.destination, group.port, group.change], ['payments/postgres', 5432, 'allowed-to-denied']);

  const cell = outcome.matrix.groups.find((group) => group.source === 'payments/payments-api' && group.destination === 'payments/postgres');
  assert.ok(cell);
  assert.equal(cell.change, 'allowed-to-denied');
  assert.deepEqual([cell.protocol, cell.port], ['TCP', 5432]);
  assert.deepEqual(cell.pairs, [{ from: 'payments/payments-api', to: 'payments/postgres' }]);
  assert.equal(outcome.matrix.groups.filter((group) => group.change === 'denied-to-allowed').length, 0);
  assert.ok(hasVerdictChanges(outcome));

  assert.equal(outcome.changes.length, 1);
  const [change] = outcome.changes;
  assert.deepEqual([change!.change, change!.policy], ['removed', 'NetworkPolicy payments/allow-api-to-postgres']);
  assert.ok(change!.base?.file.endsWith(NETPOL_FILE));
  const baseLines = readFileSync(join(POLICIES, NETPOL_FILE), 'utf8').split('\n');
  assert.match(baseLines.slice(change!.base!.line! - 1, change!.base!.line! + 4).join('\n'), /name: allow-api-to-postgres/, 'the line is the removed policy');
});

test('identical policy sets: no policy changes, no flow groups, no matrix cells', () => {
  const same = load(policiesWith((text) => text));
  const { records, cluster } = paymentsFlows(same);
  const outcome = diffPolicies({ cluster, base: same.base, head: same.head, records });
  assert.deepEqual(outcome.changes, []);
  assert.deepEqual(outcome.flows!.groups, []);
  assert.deepEqual(outcome.matrix.groups, []);
  assert.equal(outcome.matrix.changed, 0);
  assert.ok(outcome.matrix.probes > 0);
  assert.equal(outcome.flows!.counts.unchanged, outcome.flows!.counts.compared);
  assert.ok(outcome.flows!.counts.compared > 0);
  assert.equal(hasVerdictChanges(outcome), false);
});

test('head adds an allow: web-gateway → postgres is reported denied → allowed, with the new policy', () => {
  const opened = load(policiesWith((text) => text, { 'open.yaml': OPEN_WEB_TO_POSTGRES }));
  const outcome = diffPolicies({ cluster: opened.cluster, base: opened.base, head: opened.head });
  assert.equal(outcome.flows, undefined, 'no flows given');
  assert.deepEqual(outcome.matrix.groups.map((group) => [group.change, group.source, group.destination, group.protocol, group.port]), [['denied-to-allowed', 'frontend/web-gateway', 'payments/postgres', 'TCP', 5432]]);
  const [group] = outcome.matrix.groups;
  assert.equal(group!.base.decidedBy, 'ingress');
  assert.ok(group!.head.ingress.rules.some((rule) => rule.policy === 'NetworkPolicy payments/allow-web-gateway-to-postgres' && rule.file?.endsWith('open.yaml') && rule.line === 11));
  assert.deepEqual([...group!.policies], ['NetworkPolicy/payments/allow-web-gateway-to-postgres']);
  assert.deepEqual(outcome.changes.map((change) => [change.change, change.policy, change.head?.line]), [['added', 'NetworkPolicy payments/allow-web-gateway-to-postgres', 4]], 'placed at its metadata.name line');
});

test('a modified field is named with its line in head', () => {
  const moved = load(policiesWith((text) => text.replace(/(name: allow-api-to-postgres[\s\S]*?port: )5432/, '$15433')));
  const outcome = diffPolicies({ cluster: moved.cluster, base: moved.base, head: moved.head });
  assert.equal(outcome.changes.length, 1);
  const [change] = outcome.changes;
  assert.equal(change!.change, 'modified');
  assert.equal(change!.fields.length, 1);
  const [field] = change!.fields;
  assert.equal(field!.path, 'spec.ingress[0].ports[0].port');
  const headLines = readFileSync(field!.file, 'utf8').split('\n');
  assert.match(headLines[field!.line! - 1]!, /port: 5433/);
  assert.deepEqual(outcome.matrix.groups.map((group) => [group.change, group.source, group.destination, group.port]), [['allowed-to-denied', 'payments/payments-api', 'payments/postgres', 5432]]);
});

test('an invalid policy in head is reported and quarantined (fail closed), and the diff still runs', () => {
  const broken = load(policiesWith((text) => text.replace(/(name: allow-api-to-postgres[\s\S]*?port: )5432/, '$1"not-a-port!"')));
  assert.ok(broken.head.issues.some((issue) => issue.severity === 'error'));
  assert.ok(broken.head.policies.some((policy) => policy.quarantined !== undefined));
  const outcome = diffPolicies({ cluster: broken.cluster, base: broken.base, head: broken.head });
  assert.ok(outcome.matrix.groups.some((group) => group.change === 'allowed-to-denied' && group.source === 'payments/payments-api' && group.destination === 'payments/postgres'));
  assert.equal(outcome.matrix.groups.filter((group) => group.change === 'denied-to-allowed').length, 0, 'a broken policy never opens anything');
});

test('verdicts are computed once per distinct connection, however many flows share it', () => {
  let evaluations = 0;
  const counting: EngineFactory = (input) => {
    const engine = createCompiledEngine(input);
    const evaluate = engine.evaluate.bind(engine);
    engine.evaluate = (connection) => {
      evaluations++;
      return evaluate(connection);
    };
    return engine;
  };
  const diff = new PolicyDiff({ cluster: removedFlows.cluster, base: removed.base, head: removed.head, engine: counting });
  for (let round = 0; round < 3; round++) for (const record of removedFlows.records) diff.addFlow(record);
  assert.ok(diff.counts.distinct > 0);
  assert.ok(diff.counts.compared >= 3 * diff.counts.distinct, 'the same connections were replayed three times');
  assert.equal(evaluations, 2 * diff.counts.distinct, 'one evaluation per side per distinct connection');
  const api = diff.flowGroups().find((group) => group.source === 'payments/payments-api');
  assert.equal(api!.flows, 3 * removedFlows.records.filter(isApiToPostgres).length);
});

test('--namespace keeps connections with a pod of those namespaces at either end', () => {
  const frontendOnly = diffPolicies({ cluster: removedFlows.cluster, base: removed.base, head: removed.head, records: removedFlows.records, namespaces: ['frontend'] });
  assert.deepEqual(frontendOnly.flows!.groups, []);
  assert.deepEqual(frontendOnly.matrix.groups, []);
  assert.ok(frontendOnly.flows!.counts.outside > 0);
  const payments = diffPolicies({ cluster: removedFlows.cluster, base: removed.base, head: removed.head, records: removedFlows.records, namespaces: ['payments'] });
  assert.ok(payments.flows!.groups.some((group) => group.source === 'payments/payments-api'));
  assert.ok(payments.matrix.groups.length > 0);
});

test('the JSON form has a stable schema and round-trips through JSON.stringify', () => {
  const outcome: DiffResult = diffPolicies({ cluster: removedFlows.cluster, base: removed.base, head: removed.head, records: removedFlows.records });
  const json = JSON.parse(JSON.stringify(diffJson(outcome, { base: 'a', head: 'b' }))) as {
    schema: string;
    summary: { changed: boolean; policies: { removed: number }; flows: { allowedToDenied: { groups: number; flows: number }; deniedToAllowed: { groups: number } }; matrix: { changed: number } };
    flows: { groups: { source: string; destination: string; firstSeen: string; base: { allowed: boolean }; policyChanges: string[] }[] };
    matrix: { change: string; cells: { from: string; to: string }[] }[];
  };
  assert.equal(json.schema, 'podgate.dev/diff/v1');
  assert.equal(json.summary.changed, true);
  assert.equal(json.summary.policies.removed, 1);
  assert.equal(json.summary.flows.allowedToDenied.groups, outcome.flows!.groups.length);
  assert.equal(json.summary.flows.allowedToDenied.flows, outcome.flows!.groups.reduce((sum, group) => sum + group.flows, 0));
  assert.equal(json.summary.flows.deniedToAllowed.groups, 0);
  assert.equal(json.summary.matrix.changed, outcome.matrix.changed);
  const api = json.flows.groups.find((group) => group.source === 'payments/payments-api')!;
  assert.match(api.firstSeen, /^2026-11-01T\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.deepEqual(api.policyChanges, ['NetworkPolicy payments/allow-api-to-postgres']);
});

test('state objects in base and head join the -f state; a disagreement is a warning, policies in -f are ignored', () => {
  const head = policiesWith((text) => text, { 'pod.yaml': readFileSync(CLUSTER, 'utf8').replace('app: postgres', 'app: postgres-v2') });
  const inputs = loadDiffInputs({ state: [PAYMENTS], base: [POLICIES], head: [head] });
  assert.ok(inputs.ignoredPolicies > 0, 'the example directory holds policies too');
  assert.ok(inputs.stateIssues.some((issue) => issue.code === 'PODGATE_W_DIFF_STATE' && issue.message.includes('Pod/payments/postgres')));
  assert.equal(inputs.cluster.pod('payments', 'postgres')?.labels.get('app'), 'postgres-v2', "head's state wins");
  assert.equal(inputs.base.policies.length, inputs.head.policies.length);
});
