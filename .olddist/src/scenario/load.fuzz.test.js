/**
 * Malformed input never escapes as an exception: fuzzed mutations of the examples and corpora
 * become Issues, and whatever still loads can be evaluated and explained. Seeds are fixed.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { podEndpoint } from '../cluster/endpoint.js';
import { explainConnection } from '../explain/explain.js';
import { createCompiledEngine } from '../policy/compiled/engine.js';
import { createReferenceEngine } from '../policy/reference/evaluator.js';
import { Prng } from '../policy/testing/prng.js';
import { loadScenario } from './load.js';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SEED = Number(process.env['PODGATE_FUZZ_SEED'] ?? 7);
const ROUNDS = Number(process.env['PODGATE_FUZZ_ROUNDS'] ?? 1500);
function yamlFiles(dir) {
    return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => entry.isDirectory() ? yamlFiles(join(dir, entry.name)) : entry.name.endsWith('.yaml') ? [readFileSync(join(dir, entry.name), 'utf8')] : []);
}
/** Policies of every corpus case, as YAML documents. */
function corpusPolicies() {
    const dirs = [join(ROOT, 'conformance'), join(ROOT, '..', 'shared', 'conformance')].filter(existsSync);
    const out = [];
    for (const dir of dirs) {
        for (const file of readdirSync(dir).filter((name) => name.endsWith('.json'))) {
            const corpus = JSON.parse(readFileSync(join(dir, file), 'utf8'));
            for (const testCase of corpus.cases.slice(0, 40))
                if (testCase.policies.length > 0)
                    out.push(testCase.policies.map((policy) => stringify(policy)).join('---\n'));
        }
    }
    return out;
}
const JUNK = ['', ':', '- ', '[', '{', '}', '\t', '&a ', '*a', '!!binary ', '"', "'", '#', '---', '\u0000', '99999999999999999999', '-1', 'null', '~', 'true', '0x1F', '10.0.0.1/33', '[*]', 'key: [1, 2', '? complex', '%YAML 1.1'];
function mutateText(random, text) {
    const lines = text.split('\n');
    switch (random.int(0, 6)) {
        case 0:
            return text.slice(0, random.int(0, text.length));
        case 1:
            lines.splice(random.int(0, lines.length - 1), 1);
            return lines.join('\n');
        case 2: {
            const index = random.int(0, lines.length - 1);
            lines.splice(index, 0, lines[index] ?? '');
            return lines.join('\n');
        }
        case 3: {
            const at = random.int(0, text.length);
            return text.slice(0, at) + random.pick(JUNK) + text.slice(at);
        }
        case 4: {
            const index = random.int(0, lines.length - 1);
            lines[index] = (random.chance(0.5) ? '  ' : '') + (lines[index] ?? '').trimStart();
            return lines.join('\n');
        }
        case 5:
            return text.replace(/: (\S+)/g, (match, value) => (random.chance(0.08) ? `: ${random.pick(['[]', '{}', 'null', '42', '-7', '"x"', '[{}]', value + value])}` : match));
        default:
            return text.replace(/^(\s*)(\w+):/gm, (match, indent, key) => (random.chance(0.05) ? `${indent}${key}x:` : match));
    }
}
function assertWellFormed(issues, context) {
    for (const issue of issues) {
        assert.match(issue.code, /^PODGATE_[EW]_[A-Z0-9_]+$/, context);
        assert.notEqual(issue.code, 'PODGATE_E_INTERNAL', `${context}: a decoder threw: ${issue.message}`);
        assert.ok(issue.message.length > 0, context);
        assert.ok(issue.severity === 'error' || issue.severity === 'warning', context);
    }
}
function exercise(scenario) {
    const reference = createReferenceEngine(scenario);
    const compiled = createCompiledEngine(scenario);
    const pods = compiled.cluster.pods.slice(0, 4);
    for (const from of pods) {
        for (const to of pods) {
            const connection = { src: podEndpoint(compiled.cluster, from), dst: podEndpoint(compiled.cluster, to), protocol: 'TCP', port: 8080, http: { method: 'GET', path: '/x' } };
            const verdict = compiled.evaluate(connection);
            assert.equal(typeof verdict.allowed, 'boolean');
            assert.notEqual(verdict.egress.reason, 'error', verdict.egress.error);
            assert.notEqual(verdict.ingress.reason, 'error', verdict.ingress.error);
            const referenceConnection = { ...connection, src: podEndpoint(reference.cluster, reference.cluster.pod(from.namespace, from.name)), dst: podEndpoint(reference.cluster, reference.cluster.pod(to.namespace, to.name)) };
            assert.equal(reference.evaluate(referenceConnection).allowed, verdict.allowed, 'engines agree on fuzzed input too');
            explainConnection(scenario, compiled, connection);
        }
    }
}
test(`${ROUNDS} fuzzed mutations of the examples and corpora load as Issues, never exceptions (seed ${SEED})`, () => {
    const seeds = [...yamlFiles(join(ROOT, 'examples')), ...corpusPolicies()];
    assert.ok(seeds.length > 5, 'there are inputs to mutate');
    const random = new Prng(SEED);
    let withIssues = 0;
    for (let round = 0; round < ROUNDS; round++) {
        let text = random.pick(seeds);
        for (let step = random.int(1, 3); step > 0; step--)
            text = mutateText(random, text);
        const context = `seed ${SEED} round ${round}`;
        let scenario;
        try {
            scenario = loadScenario([{ name: `fuzz-${round}.yaml`, text }]);
        }
        catch (error) {
            assert.fail(`${context}: loading threw ${String(error)}\n--- input ---\n${text}`);
        }
        assertWellFormed(scenario.issues, context);
        if (scenario.issues.length > 0)
            withIssues++;
        exercise(scenario);
    }
    // The mutations must actually break things, or this test proves nothing.
    assert.ok(withIssues > ROUNDS / 4, `only ${withIssues} of ${ROUNDS} mutations produced issues`);
});
test('pathological documents: deep nesting, alias bombs, huge scalars, wrong roots', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, index) => `${String.fromCharCode(98 + index)}: &${String.fromCharCode(98 + index)} [*${String.fromCharCode(97 + index)},*${String.fromCharCode(97 + index)},*${String.fromCharCode(97 + index)},*${String.fromCharCode(97 + index)},*${String.fromCharCode(97 + index)},*${String.fromCharCode(97 + index)},*${String.fromCharCode(97 + index)},*${String.fromCharCode(97 + index)},*${String.fromCharCode(97 + index)}]`)].join('\n');
    const inputs = [
        '['.repeat(5000) + ']'.repeat(5000),
        bomb,
        `kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: ${'a'.repeat(100000)}}`,
        '42',
        '"just a string"',
        '- 1\n- 2',
        'kind: List\napiVersion: v1\nitems: 7',
        '{"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1", "metadata": {"name": "x"}, "spec": {"podSelector": {"matchLabels": {"a": 1}}}}',
        '\u0000\u0001\u0002',
    ];
    for (const [index, text] of inputs.entries()) {
        const scenario = loadScenario([{ name: `pathological-${index}`, text }]);
        assertWellFormed(scenario.issues, `input ${index}`);
        assert.ok(scenario.issues.some((issue) => issue.severity === 'error'), `input ${index} is reported: ${JSON.stringify(scenario.issues.map((issue) => issue.message))}`);
    }
});
//# sourceMappingURL=load.fuzz.test.js.map