import assert from 'node:assert/strict';
import { test } from 'node:test';
import { podEndpoint } from '../../cluster/endpoint.js';
import { loadScenario } from '../../scenario/load.js';
import { createCompiledEngine } from './engine.js';

const TEXT = `
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: web}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {app: web}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: x, labels: {app: db}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.3}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: x}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]
`;

test('pods with equal labels share an identity; selectors are interned once', () => {
  const engine = createCompiledEngine(loadScenario([{ name: 't.yaml', text: TEXT }]));
  const { identities, selectors, policies, bindings, arenaWords } = engine.stats();
  assert.deepEqual({ identities, selectors, policies, bindings }, { identities: 2, selectors: 2, policies: 1, bindings: 1 });
  assert.ok(arenaWords > 0, 'programs and peer lists are stored in the arena');
});

test('incremental updates bump the revision and change verdicts without a rebuild', () => {
  const engine = createCompiledEngine(loadScenario([{ name: 't.yaml', text: TEXT }]));
  const probe = () => engine.evaluate({ src: podEndpoint(engine.cluster, engine.cluster.pod('x', 'a')!), dst: podEndpoint(engine.cluster, engine.cluster.pod('x', 'c')!), protocol: 'TCP', port: 5432 });
  assert.equal(probe().allowed, true);
  assert.equal(probe().revision, 0);
  const a = engine.cluster.pod('x', 'a')!;
  engine.apply({ type: 'upsert-pod', pod: { ...a, labels: new Map([['app', 'batch']]) } });
  assert.equal(engine.revision, 1);
  const after = probe();
  assert.equal(after.allowed, false);
  assert.equal(after.revision, 1);
  assert.equal(engine.stats().identities, 3);
  engine.apply({ type: 'delete-policy', ref: { kind: 'NetworkPolicy', namespace: 'x', name: 'db' } });
  assert.equal(probe().allowed, true);
  assert.equal(engine.stats().selectors, 0, 'selectors of a deleted policy are released');
});

test('a pod the engine does not know is denied (fail closed)', () => {
  const engine = createCompiledEngine(loadScenario([{ name: 't.yaml', text: TEXT }]));
  const stranger = { ...engine.cluster.pod('x', 'a')!, name: 'stranger' };
  const verdict = engine.evaluate({ src: { kind: 'pod', pod: stranger }, dst: podEndpoint(engine.cluster, engine.cluster.pod('x', 'b')!), protocol: 'TCP', port: 80 });
  assert.equal(verdict.allowed, false);
  assert.equal(verdict.egress.reason, 'unknown-endpoint');
});

test('evaluateDirection gives each side of evaluate', () => {
  const engine = createCompiledEngine(loadScenario([{ name: 't.yaml', text: TEXT }]));
  const connection = { src: podEndpoint(engine.cluster, engine.cluster.pod('x', 'c')!), dst: podEndpoint(engine.cluster, engine.cluster.pod('x', 'c')!), protocol: 'TCP' as const, port: 80 };
  const verdict = engine.evaluate(connection);
  assert.deepEqual(engine.evaluateDirection(connection, 'egress'), verdict.egress);
  assert.deepEqual(engine.evaluateDirection(connection, 'ingress'), verdict.ingress);
  assert.equal(verdict.ingress.reason, 'default-deny');
});
