import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePattern, dnsRule, httpRuleMatches } from './l7.js';
function pattern(source) {
    const compiled = compilePattern(source);
    assert.ok(!('problem' in compiled), source);
    return compiled;
}
test('HTTP patterns are RE2 and match the whole value', () => {
    const rule = { method: pattern('GET|HEAD'), path: pattern('/api/v1/(balance|transactions).*'), headers: [] };
    assert.ok(httpRuleMatches(rule, { method: 'GET', path: '/api/v1/balance' }));
    assert.ok(httpRuleMatches(rule, { method: 'HEAD', path: '/api/v1/transactions/2024' }));
    assert.ok(!httpRuleMatches(rule, { method: 'GETX', path: '/api/v1/balance' }), 'method is anchored');
    assert.ok(!httpRuleMatches(rule, { method: 'GET', path: '/x/api/v1/balance' }), 'path is anchored');
    for (const rejected of ['(?=x)', '(a', '\\1', '(?<!x)y'])
        assert.ok('problem' in compilePattern(rejected), rejected);
});
test('HTTP header rules: exact value, presence, case-insensitive names', () => {
    const rule = { headers: [{ name: 'X-Token', value: 'abc' }, { name: 'X-Trace' }] };
    assert.ok(httpRuleMatches(rule, { method: 'GET', path: '/', headers: { 'x-token': 'abc', 'X-TRACE': '' } }));
    assert.ok(!httpRuleMatches(rule, { method: 'GET', path: '/', headers: { 'x-token': 'abcd', 'x-trace': '1' } }));
    assert.ok(!httpRuleMatches(rule, { method: 'GET', path: '/', headers: { 'x-token': 'abc' } }));
});
const DNS = [
    ['matchName:cilium.io', 'cilium.io', true],
    ['matchName:cilium.io', 'CILIUM.IO.', true],
    ['matchName:cilium.io', 'www.cilium.io', false],
    ['matchPattern:*.cilium.io', 'www.cilium.io', true],
    ['matchPattern:*.cilium.io', 'a.b.cilium.io', false],
    ['matchPattern:*.cilium.io', 'cilium.io', false],
    ['matchPattern:**.cilium.io', 'a.b.cilium.io', true],
    ['matchPattern:**.cilium.io', 'cilium.io', false],
    ['matchPattern:*cilium.io', 'subcilium.io', true],
    ['matchPattern:*', 'anything.example.com', true],
];
for (const [spec, name, expected] of DNS) {
    test(`DNS ${spec} vs ${name}`, () => {
        const [kind, value] = spec.split(':');
        const rule = dnsRule({ [kind]: value });
        assert.ok(!('problem' in rule));
        assert.equal(rule.matches(name), expected);
    });
}
//# sourceMappingURL=l7.test.js.map