import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectorKey, selects } from './selector.js';
const labels = new Map([['app', 'web'], ['tier', 'front']]);
const CASES = [
    ['empty selects everything', { requirements: [] }, true],
    ['In matches', { requirements: [{ key: 'app', operator: 'In', values: ['db', 'web'] }] }, true],
    ['In misses', { requirements: [{ key: 'app', operator: 'In', values: ['db'] }] }, false],
    ['In on a missing key', { requirements: [{ key: 'env', operator: 'In', values: ['prod'] }] }, false],
    ['NotIn on a missing key holds', { requirements: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, true],
    ['NotIn excludes', { requirements: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }, false],
    ['Exists', { requirements: [{ key: 'tier', operator: 'Exists', values: [] }] }, true],
    ['DoesNotExist', { requirements: [{ key: 'tier', operator: 'DoesNotExist', values: [] }] }, false],
    ['all requirements must hold', { requirements: [{ key: 'app', operator: 'In', values: ['web'] }, { key: 'tier', operator: 'In', values: ['back'] }] }, false],
];
for (const [name, selector, expected] of CASES)
    test(`selector: ${name}`, () => assert.equal(selects(selector, labels), expected));
test('selector keys are canonical: spelling and order do not matter', () => {
    const a = { requirements: [{ key: 'app', operator: 'In', values: ['b', 'a'] }, { key: 'x', operator: 'Exists', values: [] }] };
    const b = { requirements: [{ key: 'x', operator: 'Exists', values: [] }, { key: 'app', operator: 'In', values: ['a', 'b', 'a'] }] };
    assert.equal(selectorKey(a), selectorKey(b));
    assert.notEqual(selectorKey(a), selectorKey({ requirements: [{ key: 'app', operator: 'NotIn', values: ['a', 'b'] }] }));
});
//# sourceMappingURL=selector.test.js.map