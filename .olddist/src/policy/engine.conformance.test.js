/**
 * One conformance suite for the PolicyEngine interface: every corpus (upstream-derived ones in
 * ../shared/conformance and podgate's own in conformance/) against every engine.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readCorpus, runCorpus } from '../conformance/corpus.js';
import { createCompiledEngine } from './compiled/engine.js';
import { createReferenceEngine } from './reference/evaluator.js';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SHARED = process.env['PODGATE_SHARED_CONFORMANCE'] ?? join(ROOT, '..', 'shared', 'conformance');
const OWN = join(ROOT, 'conformance');
const ENGINES = { reference: createReferenceEngine, compiled: createCompiledEngine };
function corpora(dir) {
    return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.json')).map((name) => join(dir, name)) : [];
}
export function runConformance(name, newEngine, files) {
    for (const file of files) {
        test(`${name} engine passes ${file}`, () => {
            const { corpus, issues } = readCorpus(file, JSON.parse(readFileSync(file, 'utf8')));
            assert.deepEqual(issues.filter((issue) => issue.severity === 'error'), [], 'the corpus itself reads cleanly');
            assert.ok(corpus.cases.length > 0, 'the corpus has cases');
            const result = runCorpus(corpus, newEngine, name);
            const failures = result.failures.map((failure) => `${failure.caseId}: ${failure.probe.from} -> ${failure.probe.to} ${failure.probe.protocol}/${failure.probe.port}: ${failure.problem}`);
            assert.deepEqual(failures, []);
            assert.ok(result.passed > 0);
        });
    }
}
const shared = corpora(SHARED);
const own = corpora(OWN);
test('podgate has its own corpora', () => assert.ok(own.length >= 3, `expected podgate corpora in ${OWN}`));
if (shared.length === 0) {
    test('shared conformance corpora', { skip: `not found at ${SHARED} (set PODGATE_SHARED_CONFORMANCE to their folder)` }, () => { });
}
for (const [name, factory] of Object.entries(ENGINES))
    runConformance(name, factory, [...shared, ...own]);
//# sourceMappingURL=engine.conformance.test.js.map