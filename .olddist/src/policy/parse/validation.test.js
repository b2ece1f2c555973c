/** Validation: every problem at once, each with a stable code, a path and a position. Table-driven. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadScenario } from '../../scenario/load.js';
const NP = (spec, name = 'p') => `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: a}\nspec:\n${spec}`;
const CNP = (spec) => `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: c, namespace: a}\nspec:\n${spec}`;
const CASES = [
    { name: 'valid policy has no issues', yaml: NP('  podSelector: {}\n  policyTypes: [Ingress]'), expect: [] },
    {
        name: 'bad selector operator and missing values, both reported',
        yaml: NP('  podSelector:\n    matchExpressions:\n      - {key: app, operator: Equals, values: [a]}\n      - {key: tier, operator: In}'),
        expect: ['PODGATE_E_SELECTOR@spec.podSelector.matchExpressions[0].operator', 'PODGATE_E_SELECTOR@spec.podSelector.matchExpressions[1].values'],
    },
    { name: 'Exists with values', yaml: NP('  podSelector:\n    matchExpressions: [{key: app, operator: Exists, values: [x]}]'), expect: ['PODGATE_E_SELECTOR@spec.podSelector.matchExpressions[0].values'] },
    { name: 'invalid label key', yaml: NP('  podSelector:\n    matchLabels: {"bad key!": x}'), expect: ['PODGATE_E_SELECTOR@spec.podSelector.matchLabels["bad key!"]'] },
    { name: 'invalid CIDR', yaml: NP('  podSelector: {}\n  egress:\n    - to:\n        - ipBlock: {cidr: 10.0.0.0/33}'), expect: ['PODGATE_E_CIDR@spec.egress[0].to[0].ipBlock.cidr'], line: 8 },
    { name: 'except outside the block', yaml: NP('  podSelector: {}\n  egress:\n    - to:\n        - ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}'), expect: ['PODGATE_E_CIDR@spec.egress[0].to[0].ipBlock.except[0]'] },
    { name: 'non-canonical CIDR is a warning', yaml: NP('  podSelector: {}\n  egress:\n    - to:\n        - ipBlock: {cidr: 10.0.0.1/8}'), expect: ['PODGATE_W_NONCANONICAL_CIDR@spec.egress[0].to[0].ipBlock.cidr'] },
    { name: 'ipBlock combined with podSelector', yaml: NP('  podSelector: {}\n  ingress:\n    - from:\n        - {ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}'), expect: ['PODGATE_E_PEER@spec.ingress[0].from[0]'] },
    { name: 'empty peer', yaml: NP('  podSelector: {}\n  ingress:\n    - from:\n        - {}'), expect: ['PODGATE_E_PEER@spec.ingress[0].from[0]'] },
    {
        name: 'port range problems',
        yaml: NP('  podSelector: {}\n  ingress:\n    - ports:\n        - {port: 9000, endPort: 8000}\n        - {port: http, endPort: 90}\n        - {endPort: 90}\n        - {port: 70000}'),
        expect: ['PODGATE_E_PORT@spec.ingress[0].ports[0].endPort', 'PODGATE_E_PORT@spec.ingress[0].ports[1].endPort', 'PODGATE_E_PORT@spec.ingress[0].ports[2].endPort', 'PODGATE_E_PORT@spec.ingress[0].ports[3].port'],
    },
    { name: 'unknown protocol with a hint', yaml: NP('  podSelector: {}\n  ingress:\n    - ports: [{protocol: tcp, port: 80}]'), expect: ['PODGATE_E_PROTOCOL@spec.ingress[0].ports[0].protocol'] },
    { name: 'bad named port', yaml: NP('  podSelector: {}\n  ingress:\n    - ports: [{port: Web--Port}]'), expect: ['PODGATE_E_PORT_NAME@spec.ingress[0].ports[0].port'] },
    { name: 'unknown field is a warning with a suggestion', yaml: NP('  podSelector: {}\n  ingres: []'), expect: ['PODGATE_W_UNKNOWN_FIELD@spec.ingres'], line: 6 },
    { name: 'unknown policy type', yaml: NP('  podSelector: {}\n  policyTypes: [Inbound]'), expect: ['PODGATE_E_POLICY_TYPES@spec.policyTypes[0]'] },
    { name: 'missing metadata name', yaml: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {namespace: a}\nspec: {podSelector: {}}', expect: ['PODGATE_E_REQUIRED@metadata.name'] },
    { name: 'wrong apiVersion', yaml: 'apiVersion: networking.k8s.io/v1beta1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec: {}', expect: ['PODGATE_E_API_VERSION@apiVersion'] },
    { name: 'ignored kind', yaml: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}', expect: ['PODGATE_W_IGNORED_KIND@kind'] },
    { name: 'syntax errors keep their positions', yaml: 'apiVersion: v1\nkind: Pod\nmetadata: {name: [x}\n', expect: ['PODGATE_E_SYNTAX@', 'PODGATE_E_SYNTAX@'], line: 3 },
    { name: 'L7 regex RE2 would reject', yaml: CNP('  endpointSelector: {}\n  ingress:\n    - toPorts:\n        - ports: [{port: "80", protocol: TCP}]\n          rules:\n            http: [{path: "/(?=admin)"}]'), expect: ['PODGATE_E_REGEX@spec.ingress[0].toPorts[0].rules.http[0].path'] },
    { name: 'L7 on port 0', yaml: CNP('  endpointSelector: {}\n  ingress:\n    - toPorts:\n        - ports: [{port: "0", protocol: TCP}]\n          rules:\n            http: [{method: GET}]'), expect: ['PODGATE_E_L7@spec.ingress[0].toPorts[0].ports'] },
    { name: 'unknown entity', yaml: CNP('  endpointSelector: {}\n  ingress:\n    - fromEntities: [internet]'), expect: ['PODGATE_E_ENTITY@spec.ingress[0].fromEntities[0]'] },
    { name: 'deny rules cannot carry L7', yaml: CNP('  endpointSelector: {}\n  ingressDeny:\n    - toPorts:\n        - ports: [{port: "80"}]\n          rules: {http: [{method: GET}]}'), expect: ['PODGATE_E_UNSUPPORTED@spec.ingressDeny[0].toPorts[0].rules'] },
    { name: 'nodeSelector in a namespaced policy', yaml: CNP('  nodeSelector: {}\n  ingress: [{fromEntities: [world]}]'), expect: ['PODGATE_E_SUBJECT@spec.nodeSelector'] },
    { name: 'rule without subject', yaml: CNP('  ingress: [{fromEntities: [world]}]'), expect: ['PODGATE_E_REQUIRED@spec.endpointSelector'] },
    { name: 'unsupported fromRequires in a deny rule', yaml: CNP('  endpointSelector: {}\n  ingressDeny:\n    - fromRequires: [{matchLabels: {a: b}}]'), expect: ['PODGATE_E_UNSUPPORTED@spec.ingressDeny[0].fromRequires'] },
    { name: 'bad authentication mode', yaml: CNP('  endpointSelector: {}\n  ingress:\n    - fromEntities: [cluster]\n      authentication: {mode: mandatory}'), expect: ['PODGATE_E_AUTH@spec.ingress[0].authentication.mode'] },
    {
        name: 'ClusterNetworkPolicy: missing tier, bad action, bad range',
        yaml: 'apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: x}\nspec:\n  priority: 5\n  subject: {namespaces: {}}\n  ingress:\n    - action: Allow\n      from: [{namespaces: {}}]\n      protocols: [{tcp: {destinationPort: {range: {start: 90, end: 80}}}}]',
        expect: ['PODGATE_E_REQUIRED@spec.tier', 'PODGATE_E_ACTION@spec.ingress[0].action', 'PODGATE_E_PORT@spec.ingress[0].protocols[0].tcp.destinationPort.range'],
    },
    { name: 'priority out of range', yaml: 'apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: x}\nspec:\n  priority: 1001\n  subject: {namespaces: {}}', expect: ['PODGATE_E_RANGE@spec.priority'] },
    { name: 'BANP must be named default', yaml: 'apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: x}\nspec:\n  subject: {namespaces: {}}', expect: ['PODGATE_E_NAME@metadata.name'] },
    { name: 'label values must be strings', yaml: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {tier: 1}}\nspec: {containers: [{name: c}]}', expect: ['PODGATE_E_TYPE@metadata.labels.tier'] },
];
for (const testCase of CASES) {
    test(`validate: ${testCase.name}`, () => {
        const { issues } = loadScenario([{ name: 'input.yaml', text: testCase.yaml }]);
        const got = issues.map((issue) => `${issue.code}@${issue.path}`).sort();
        assert.deepEqual(got, [...testCase.expect].sort(), JSON.stringify(issues, null, 1));
        for (const issue of issues) {
            assert.equal(issue.file, 'input.yaml');
            assert.ok(issue.line !== undefined && issue.column !== undefined, `position for ${issue.code}`);
        }
        if (testCase.line !== undefined)
            assert.equal(issues[0]?.line, testCase.line);
    });
}
test('validate: an invalid policy is quarantined, not dropped (fail closed)', () => {
    const { policies } = loadScenario([{ name: 'q.yaml', text: NP('  podSelector: {}\n  ingress:\n    - from: [{ipBlock: {cidr: nonsense}}]') }]);
    assert.equal(policies.length, 1);
    const [policy] = policies;
    assert.ok(policy?.quarantined?.includes('nonsense'));
    assert.ok(policy?.type === 'NetworkPolicy' && policy.isolates.ingress && policy.isolates.egress && policy.ingress.length === 0);
});
test('validate: JSON, multi-document YAML and List are all read', () => {
    const json = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b' } }] });
    const yaml = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: d}\n';
    const { cluster, issues } = loadScenario([{ name: 'a.json', text: json }, { name: 'b.yaml', text: yaml }]);
    assert.deepEqual(issues, []);
    assert.deepEqual(cluster.namespaces.map((namespace) => namespace.name).sort(), ['a', 'b', 'c', 'd']);
    assert.equal(cluster.namespace('a').labels.get('kubernetes.io/metadata.name'), 'a');
});
//# sourceMappingURL=validation.test.js.map