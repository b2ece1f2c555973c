import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadScenario } from '../scenario/load.js';
const DEPLOYMENT = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {serviceAccountName: api, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}';
test('workloads expand to pods with controller labels and synthetic addresses', () => {
    const { cluster, issues } = loadScenario([
        { name: 'w.yaml', text: [DEPLOYMENT, 'apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: shop}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: c}]}', 'apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly, namespace: shop}\nspec:\n  schedule: "0 2 * * *"\n  jobTemplate:\n    spec:\n      template:\n        metadata: {labels: {app: nightly}}\n        spec: {containers: [{name: c}], restartPolicy: OnFailure}'].join('\n---\n') },
    ]);
    assert.deepEqual(issues.filter((issue) => issue.severity === 'error'), []);
    const api = cluster.pods.filter((pod) => pod.owner?.name === 'api');
    assert.equal(api.length, 3);
    assert.ok(api.every((pod) => pod.labels.get('app') === 'api' && pod.labels.has('pod-template-hash') && pod.serviceAccount === 'api' && pod.containerPorts[0]?.name === 'http'));
    assert.equal(new Set(api.map((pod) => pod.ip?.text)).size, 3, 'distinct addresses');
    assert.ok(api.every((pod) => pod.syntheticIp));
    assert.deepEqual(cluster.pods.filter((pod) => pod.owner?.name === 'db').map((pod) => pod.name).sort(), ['db-0', 'db-1']);
    assert.equal(cluster.pods.filter((pod) => pod.owner?.kind === 'CronJob').length, 1);
    assert.ok(cluster.hasNamespace('shop'), 'the namespace is implied');
});
test('a workload whose pods are given is not expanded again', () => {
    const pod = 'apiVersion: v1\nkind: Pod\nmetadata: {name: api-live, namespace: shop, labels: {app: api}}\nspec: {containers: [{name: c}]}\nstatus: {podIP: 10.0.0.5}';
    const { cluster } = loadScenario([{ name: 'w.yaml', text: `${DEPLOYMENT}\n---\n${pod}` }]);
    assert.deepEqual(cluster.pods.map((candidate) => candidate.name), ['api-live']);
});
test('expansion is deterministic', () => {
    const names = () => loadScenario([{ name: 'w.yaml', text: DEPLOYMENT }]).cluster.pods.map((pod) => `${pod.name}@${pod.ip?.text}`);
    assert.deepEqual(names(), names());
});
//# sourceMappingURL=workloads.test.js.map