import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SARIF_SCHEMA, toSarif, type SarifOptions } from './sarif.js';

type Json = Record<string, unknown>;

const LEVELS = new Set(['none', 'note', 'warning', 'error']);

/**
 * The parts of the SARIF 2.1.0 schema (sarif-schema-2.1.0.json) a log from podgate can touch:
 * required properties, enums, minimums, and cross references (ruleIndex).
 */
function schemaProblems(log: Json): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, what: string): void => void (ok || problems.push(what));
  check(log['version'] === '2.1.0', 'version must be "2.1.0"');
  check(typeof log['$schema'] === 'string', '$schema is a URI');
  const runs = log['runs'];
  check(Array.isArray(runs), 'runs is an array');
  for (const [runIndex, run] of (Array.isArray(runs) ? runs : []).entries()) {
    const at = `runs[${runIndex}]`;
    const tool = (run as Json)['tool'] as Json | undefined;
    const driver = tool?.['driver'] as Json | undefined;
    check(driver !== undefined && typeof driver['name'] === 'string', `${at}.tool.driver.name is required`);
    if (driver?.['informationUri'] !== undefined) check(/^https?:\/\//.test(String(driver['informationUri'])), `${at}.tool.driver.informationUri is a URI`);
    const rules = (driver?.['rules'] ?? []) as Json[];
    check(new Set(rules.map((rule) => rule['id'])).size === rules.length, `${at} rule ids are unique`);
    for (const rule of rules) {
      check(typeof rule['id'] === 'string', 'rule.id is required');
      for (const key of ['shortDescription', 'fullDescription', 'help']) {
        if (rule[key] !== undefined) check(typeof (rule[key] as Json)['text'] === 'string', `rule.${key}.text is required`);
      }
      const level = (rule['defaultConfiguration'] as Json | undefined)?.['level'];
      if (level !== undefined) check(LEVELS.has(String(level)), `rule level ${String(level)}`);
    }
    const columnKind = (run as Json)['columnKind'];
    if (columnKind !== undefined) check(columnKind === 'utf16CodeUnits' || columnKind === 'unicodeCodePoints', 'columnKind enum');
    const bases = ((run as Json)['originalUriBaseIds'] ?? {}) as Record<string, Json>;
    for (const [name, base] of Object.entries(bases)) check(/^file:\/\/.*\/$/.test(String(base['uri'])), `originalUriBaseIds.${name}.uri is an absolute directory URI`);
    for (const result of ((run as Json)['results'] ?? []) as Json[]) {
      const message = result['message'] as Json | undefined;
      check(message !== undefined && (typeof message['text'] === 'string' || typeof message['id'] === 'string'), 'result.message needs text or id');
      if (result['level'] !== undefined) check(LEVELS.has(String(result['level'])), `result.level ${String(result['level'])}`);
      const index = result['ruleIndex'];
      if (index !== undefined) {
        check(Number.isInteger(index) && (index as number) >= 0 && (index as number) < rules.length, 'ruleIndex points into rules');
        check(rules[index as number]?.['id'] === result['ruleId'], 'ruleIndex and ruleId agree');
      }
      for (const location of (result['locations'] ?? []) as Json[]) {
        const physical = location['physicalLocation'] as Json | undefined;
        check(physical !== undefined && physical['artifactLocation'] !== undefined, 'physicalLocation.artifactLocation');
        const uri = String((physical?.['artifactLocation'] as Json | undefined)?.['uri']);
        check(!/[\s\\]/.test(uri), `uri ${uri} is a URI reference`);
        const baseId = (physical?.['artifactLocation'] as Json | undefined)?.['uriBaseId'];
        if (baseId !== undefined) check(String(baseId) in bases, `uriBaseId ${String(baseId)} is declared`);
        const region = physical?.['region'] as Json | undefined;
        if (region !== undefined) {
          check(Number.isInteger(region['startLine']) && (region['startLine'] as number) >= 1, 'region.startLine >= 1');
          if (region['startColumn'] !== undefined) check(Number.isInteger(region['startColumn']) && (region['startColumn'] as number) >= 1, 'region.startColumn >= 1');
        }
      }
    }
  }
  return problems;
}

const RULES = [
  { id: 'PODGATE_E_LINT_PROBE_BLOCKED', description: 'a policy blocks a probe', help: 'allow the host' },
  { id: 'PODGATE_W_LINT_OPEN_TENANT', description: 'a rule opens a tenant' },
];

interface Case {
  readonly name: string;
  readonly options: SarifOptions;
  readonly check: (run: Json) => void;
}

function firstResult(run: Json): Json {
  return ((run['results'] as Json[])[0] ?? {}) as Json;
}

function artifact(result: Json): Json | undefined {
  const [location] = (result['locations'] ?? []) as Json[];
  return (location?.['physicalLocation'] as Json | undefined)?.['artifactLocation'] as Json | undefined;
}

function region(result: Json): Json | undefined {
  const [location] = (result['locations'] ?? []) as Json[];
  return (location?.['physicalLocation'] as Json | undefined)?.['region'] as Json | undefined;
}

const CASES: readonly Case[] = [
  {
    name: 'rules: id, short description, help, default level from the code',
    options: { tool: 'podgate', rules: RULES, results: [] },
    check: (run) => {
      const driver = (run['tool'] as Json)['driver'] as Json;
      assert.equal(driver['name'], 'podgate');
      assert.equal(driver['informationUri'], undefined, 'no made-up home page');
      const rules = driver['rules'] as Json[];
      assert.deepEqual(rules.map((rule) => rule['id']), ['PODGATE_E_LINT_PROBE_BLOCKED', 'PODGATE_W_LINT_OPEN_TENANT']);
      assert.deepEqual(rules[0]?.['shortDescription'], { text: 'a policy blocks a probe' });
      assert.deepEqual(rules[0]?.['help'], { text: 'allow the host' });
      assert.deepEqual(rules[1]?.['help'], { text: 'a rule opens a tenant' });
      assert.deepEqual(rules[0]?.['defaultConfiguration'], { level: 'error' });
      assert.deepEqual(rules[1]?.['defaultConfiguration'], { level: 'warning' });
    },
  },
  {
    name: 'a result with a relative file, line and column',
    options: { tool: 'podgate', rules: RULES, results: [{ ruleId: 'PODGATE_W_LINT_OPEN_TENANT', level: 'warning', message: 'opens shop', file: './policies/shop.yaml', line: 12, column: 7 }] },
    check: (run) => {
      const result = firstResult(run);
      assert.equal(result['ruleId'], 'PODGATE_W_LINT_OPEN_TENANT');
      assert.equal(result['ruleIndex'], 1);
      assert.equal(result['level'], 'warning');
      assert.deepEqual(result['message'], { text: 'opens shop' });
      assert.deepEqual(artifact(result), { uri: 'policies/shop.yaml' });
      assert.deepEqual(region(result), { startLine: 12, startColumn: 7 });
    },
  },
  {
    name: 'absolute paths under the root become relative to %SRCROOT%',
    options: { tool: 'podgate', root: '/repo', rules: RULES, results: [{ ruleId: 'PODGATE_E_LINT_PROBE_BLOCKED', level: 'error', message: 'm', file: '/repo/deploy/my app.yaml', line: 3 }] },
    check: (run) => {
      assert.deepEqual(artifact(firstResult(run)), { uri: 'deploy/my%20app.yaml', uriBaseId: '%SRCROOT%' });
      assert.deepEqual(region(firstResult(run)), { startLine: 3 });
      assert.deepEqual(run['originalUriBaseIds'], { '%SRCROOT%': { uri: 'file:///repo/' } });
    },
  },
  {
    name: 'absolute paths outside the root become file URIs',
    options: { tool: 'podgate', root: '/repo', rules: RULES, results: [{ ruleId: 'PODGATE_E_LINT_PROBE_BLOCKED', level: 'error', message: 'm', file: '/tmp/x.yaml', line: 1, column: 1 }] },
    check: (run) => assert.deepEqual(artifact(firstResult(run)), { uri: 'file:///tmp/x.yaml' }),
  },
  {
    name: 'stdin and results without a file have no location; nonsense positions are dropped',
    options: {
      tool: 'podgate',
      rules: RULES,
      results: [
        { ruleId: 'PODGATE_E_LINT_PROBE_BLOCKED', level: 'error', message: 'a', file: '<stdin>', line: 3 },
        { ruleId: 'PODGATE_E_LINT_PROBE_BLOCKED', level: 'note', message: 'b' },
        { ruleId: 'PODGATE_E_LINT_PROBE_BLOCKED', level: 'error', message: 'c', file: 'a.yaml', line: 0, column: 4 },
      ],
    },
    check: (run) => {
      const results = run['results'] as Json[];
      assert.equal(results[0]?.['locations'], undefined);
      assert.equal(results[1]?.['locations'], undefined);
      assert.equal(results[1]?.['level'], 'note');
      assert.deepEqual(artifact(results[2]!), { uri: 'a.yaml' });
      assert.equal(region(results[2]!), undefined);
    },
  },
  {
    name: 'a result for a rule not listed gets a rule, so ruleIndex stays valid; duplicate rules are listed once',
    options: { tool: 'podgate', rules: [...RULES, RULES[0]!], results: [{ ruleId: 'PODGATE_E_VERIFY_DROP', level: 'error', message: 'x' }] },
    check: (run) => {
      const rules = ((run['tool'] as Json)['driver'] as Json)['rules'] as Json[];
      assert.deepEqual(rules.map((rule) => rule['id']), ['PODGATE_E_LINT_PROBE_BLOCKED', 'PODGATE_W_LINT_OPEN_TENANT', 'PODGATE_E_VERIFY_DROP']);
      assert.equal(firstResult(run)['ruleIndex'], 2);
    },
  },
];

for (const testCase of CASES) {
  test(`toSarif: ${testCase.name}`, () => {
    const log = toSarif(testCase.options) as Json;
    assert.deepEqual(schemaProblems(log), []);
    assert.equal(log['$schema'], SARIF_SCHEMA);
    const runs = log['runs'] as Json[];
    assert.equal(runs.length, 1);
    testCase.check(runs[0]!);
    // What CI systems read is JSON: the log survives a round trip unchanged.
    assert.deepEqual(JSON.parse(JSON.stringify(log)), log);
  });
}

test('the schema check itself catches broken logs', () => {
  assert.notDeepEqual(schemaProblems({ version: '2.0.0', runs: [] }), []);
  assert.notDeepEqual(schemaProblems({ version: '2.1.0', $schema: SARIF_SCHEMA, runs: [{ tool: { driver: { name: 'x', rules: [] } }, results: [{ ruleId: 'A', ruleIndex: 0, message: { text: 'm' } }] }] }), []);
  assert.notDeepEqual(
    schemaProblems({ version: '2.1.0', $schema: SARIF_SCHEMA, runs: [{ tool: { driver: { name: 'x' } }, results: [{ message: { text: 'm' }, locations: [{ physicalLocation: { artifactLocation: { uri: 'a b' }, region: { startLine: 0 } } }] }] }] }),
    [],
  );
});
