/** Fixes for each kind of denial: the change is checked to allow the connection and only that. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isResolveError, resolveEndpoint } from '../cluster/endpoint.js';
import { createCompiledEngine } from '../policy/compiled/engine.js';
import { loadScenario } from '../scenario/load.js';
import { explainConnection } from './explain.js';
const CLUSTER = `
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Namespace
metadata: {name: b}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: a, labels: {app: server, pod-template-hash: abc123}}
spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.1.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: b, labels: {app: client}}
spec: {containers: [{name: c}]}
status: {podIP: 10.2.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: bystander, namespace: b, labels: {app: bystander}}
spec: {containers: [{name: c}]}
status: {podIP: 10.2.0.2}
`;
const CASES = [
    {
        name: 'default deny from a NetworkPolicy: a new NetworkPolicy on stable labels',
        policies: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: a}\nspec: {podSelector: {}, policyTypes: [Ingress]}',
        from: 'b/client',
        to: 'a/server',
        fixes: ['create NetworkPolicy'],
        stillDenied: { from: 'b/bystander', to: 'a/server' },
    },
    {
        name: 'default deny from a Cilium policy only: a new CiliumNetworkPolicy',
        policies: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny, namespace: a}\nspec: {endpointSelector: {}, ingress: [{}]}',
        from: 'b/client',
        to: 'a/server',
        fixes: ['create CiliumNetworkPolicy'],
        stillDenied: { from: 'b/bystander', to: 'a/server' },
    },
    {
        name: 'egress to the world: an ipBlock for exactly that address',
        policies: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: b}\nspec: {podSelector: {}, policyTypes: [Egress]}',
        from: 'b/client',
        to: '203.0.113.7',
        port: 443,
        fixes: ['create NetworkPolicy'],
        stillDenied: { from: 'b/client', to: '203.0.113.8', port: 443 },
    },
    {
        name: 'egress to the node: Cilium host entity (a NetworkPolicy cannot name it)',
        policies: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: b}\nspec: {podSelector: {}, policyTypes: [Egress]}',
        from: 'b/client',
        to: 'host',
        port: 10250,
        fixes: ['create CiliumNetworkPolicy'],
    },
    {
        name: 'both directions denied: two new policies',
        policies: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: a}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: b}\nspec: {podSelector: {}, policyTypes: [Egress]}',
        from: 'b/client',
        to: 'a/server',
        fixes: ['create NetworkPolicy', 'create NetworkPolicy'],
    },
    {
        name: 'a namespaced deny rule: remove it from its policy',
        policies: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: mixed, namespace: a}\nspec:\n  endpointSelector: {}\n  ingress: [{fromEntities: [all]}]\n  ingressDeny: [{fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: b}}]}]',
        from: 'b/client',
        to: 'a/server',
        fixes: ['update CiliumNetworkPolicy'],
    },
    {
        name: 'a guardrail with one rule: delete it',
        policies: 'apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: guard}\nspec:\n  endpointSelector: {}\n  enableDefaultDeny: {egress: false}\n  egressDeny: [{toCIDR: [203.0.113.0/24]}]',
        from: 'b/client',
        to: '203.0.113.7',
        port: 443,
        fixes: ['delete CiliumClusterwideNetworkPolicy'],
    },
    {
        name: 'an Admin Deny: an Accept just before it, for this peer only',
        policies: 'apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: lockdown}\nspec:\n  tier: Admin\n  priority: 1\n  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: a}}}\n  ingress: [{action: Deny, from: [{namespaces: {}}]}]',
        from: 'b/client',
        to: 'a/server',
        fixes: ['update ClusterNetworkPolicy'],
        stillDenied: { from: 'b/bystander', to: 'a/server' },
    },
    {
        name: 'a Baseline deny (v1alpha1): an Allow just before it',
        policies: 'apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n  subject: {namespaces: {}}\n  ingress: [{action: Deny, from: [{namespaces: {}}]}]',
        from: 'b/client',
        to: 'a/server',
        fixes: ['update BaselineAdminNetworkPolicy'],
        stillDenied: { from: 'b/bystander', to: 'a/server' },
    },
    {
        name: 'an HTTP request refused at L7: one more HTTP rule',
        policies: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: l7, namespace: a}\nspec:\n  endpointSelector: {}\n  ingress:\n    - toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{method: GET, path: /health}]}}]',
        from: 'b/client',
        to: 'a/server',
        http: { method: 'POST', path: '/orders/1.json' },
        fixes: ['update CiliumNetworkPolicy'],
    },
];
function connectionFor(engine, from, to, port, http) {
    const src = resolveEndpoint(engine.cluster, from);
    const dst = resolveEndpoint(engine.cluster, to);
    assert.ok(!isResolveError(src) && !isResolveError(dst));
    return { src, dst, protocol: 'TCP', port, ...(http ? { http } : {}) };
}
for (const testCase of CASES) {
    test(`fix: ${testCase.name}`, () => {
        const scenario = loadScenario([{ name: 'cluster.yaml', text: CLUSTER }, { name: 'policies.yaml', text: testCase.policies }]);
        assert.deepEqual(scenario.issues.filter((issue) => issue.severity === 'error'), []);
        const engine = createCompiledEngine(scenario);
        const connection = connectionFor(engine, testCase.from, testCase.to, testCase.port ?? 8080, testCase.http);
        const explanation = explainConnection(scenario, engine, connection);
        assert.equal(explanation.verdict.allowed, false);
        assert.deepEqual(explanation.plan.gaps, []);
        assert.deepEqual(explanation.plan.fixes.map((fix) => `${fix.action} ${String(fix.manifest['kind'])}`), testCase.fixes);
        assert.equal(explanation.fixVerified, true);
        for (const fix of explanation.plan.fixes) {
            const labels = JSON.stringify(fix.manifest);
            assert.doesNotMatch(labels, /pod-template-hash/, 'fixes select on stable labels');
        }
        if (testCase.stillDenied) {
            const fixed = loadScenario([
                { name: 'cluster.yaml', text: CLUSTER },
                { name: 'policies.yaml', text: testCase.policies },
                ...explanation.plan.fixes.filter((fix) => fix.action !== 'delete').map((fix, index) => ({ name: `fix-${index}.json`, text: JSON.stringify(fix.manifest) })),
            ]);
            const after = createCompiledEngine(fixed);
            const other = testCase.stillDenied;
            assert.equal(after.evaluate(connectionFor(after, other.from, other.to, other.port ?? 8080)).allowed, false, 'the fix does not open other connections');
            assert.equal(after.evaluate(connectionFor(after, testCase.from, testCase.to, testCase.port ?? 8080, testCase.http)).allowed, true);
        }
    });
}
test('explain: no fix for an allowed connection; a note when L7 rules are voided', () => {
    const scenario = loadScenario([
        { name: 'cluster.yaml', text: CLUSTER },
        {
            name: 'l7.yaml',
            text: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: l7, namespace: a}\nspec:\n  endpointSelector: {}\n  ingress:\n    - toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{method: GET}]}}]\n    - toPorts: [{ports: [{port: "8080", protocol: TCP}]}]',
        },
    ]);
    const engine = createCompiledEngine(scenario);
    const explanation = explainConnection(scenario, engine, connectionFor(engine, 'b/client', 'a/server', 8080, { method: 'DELETE', path: '/' }));
    assert.equal(explanation.verdict.allowed, true);
    assert.deepEqual(explanation.plan.fixes, []);
    assert.match(explanation.notes.join('\n'), /HTTP rules are not enforced on TCP\/8080/);
});
//# sourceMappingURL=fix.test.js.map