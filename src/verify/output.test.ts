/** verify's output formats, checked structurally: JSON parses to the schema, JUnit is well-formed XML, SARIF 2.1.0, GitHub commands escaped. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FlowRecord } from '../flow/model.js';
import { loadScenario } from '../scenario/load.js';
import { escapeGithubData, escapeGithubProperty, escapeXml, formatVerifyResult, JSON_SCHEMA, RULE_NEWLY_ALLOWED, RULE_NEWLY_DROPPED, type VerifyOutputFormat } from './output.js';
import { verifyFlows, type VerifyResult } from './verify.js';

/** A file name with every character GitHub properties must escape, and a request path XML must. */
const FILE = 'policies/db,ingress:100%.yaml';
const PATH = `/a?<b>&c="d'`;

const CLUSTER = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web, image: web}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: db, image: db}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cache, namespace: shop, labels: {app: cache}}
spec: {containers: [{name: cache, image: cache}]}
`;

const POLICIES = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
`;

function flow(options: { to: string; port: number; verdict: 'FORWARDED' | 'DROPPED'; time: string; path?: string }): FlowRecord {
  return {
    time: options.time,
    flow: {
      time: options.time,
      verdict: options.verdict,
      IP: { source: '10.0.0.1', destination: '10.0.0.2' },
      l4: { TCP: { source_port: 40000, destination_port: options.port } },
      source: { namespace: 'shop', pod_name: 'web' },
      destination: { namespace: 'shop', pod_name: options.to },
      traffic_direction: 'INGRESS',
      is_reply: false,
      ...(options.verdict === 'DROPPED' ? { drop_reason_desc: 'POLICY_DENIED' } : {}),
      ...(options.path === undefined ? {} : { Type: 'L7' as const, l7: { type: 'REQUEST' as const, http: { method: 'GET', url: `http://db${options.path}` } } }),
    },
  };
}

function failing(): VerifyResult {
  const scenario = loadScenario([
    { name: 'cluster.yaml', text: CLUSTER },
    { name: FILE, text: POLICIES },
  ]);
  return verifyFlows({
    scenario,
    records: [
      flow({ to: 'db', port: 5432, verdict: 'FORWARDED', time: '2026-01-01T00:00:00Z', path: PATH }),
      flow({ to: 'db', port: 5432, verdict: 'FORWARDED', time: '2026-01-01T00:00:09Z' }),
      flow({ to: 'cache', port: 6379, verdict: 'DROPPED', time: '2026-01-01T00:00:03Z' }),
    ],
  });
}

const result = failing();
const passing = verifyFlows({ scenario: loadScenario([{ name: 'cluster.yaml', text: CLUSTER }]), records: [flow({ to: 'db', port: 5432, verdict: 'FORWARDED', time: '2026-01-01T00:00:00Z' })] });

test('the example result has one newly dropped and one newly allowed group', () => {
  assert.equal(result.groups.length, 1);
  assert.equal(result.allowedNow.length, 1);
  assert.equal(passing.groups.length + passing.allowedNow.length, 0);
});

test('json: the podgate.verify/v1 schema', () => {
  const json = JSON.parse(formatVerifyResult(result, 'json')) as Record<string, any>;
  assert.equal(json['schema'], JSON_SCHEMA);
  assert.equal(json['result'], 'fail');
  assert.deepEqual(Object.keys(json), ['schema', 'result', 'counts', 'newly_dropped', 'newly_allowed', 'unmapped', 'quarantined_policies']);
  assert.equal(json['counts'].newly_dropped_flows, 2);
  assert.equal(json['counts'].newly_allowed_flows, 1);
  const [group] = json['newly_dropped'];
  assert.deepEqual(
    { source: group.source, destination: group.destination, protocol: group.protocol, port: group.port, flows: group.flows, connections: group.connections, first: group.first_seen, last: group.last_seen },
    { source: 'shop/web', destination: 'shop/db', protocol: 'TCP', port: 5432, flows: 2, connections: 2, first: '2026-01-01T00:00:00Z', last: '2026-01-01T00:00:09Z' },
  );
  assert.deepEqual(group.http_requests, [`GET ${PATH}`]);
  assert.equal(group.rules[0].name, 'db-ingress');
  assert.equal(group.rules[0].file, FILE);
  assert.equal(group.rules[0].line, 5);
  assert.equal(group.fix.verified, true);
  assert.equal(group.fix.changes[0].action, 'create');
  assert.equal(group.fix.changes[0].manifest.kind, 'NetworkPolicy');
  assert.equal(json['newly_allowed'][0].destination, 'shop/cache');
  assert.equal(JSON.parse(formatVerifyResult(passing, 'json')).result, 'pass');
});

/** A minimal XML 1.0 checker: tags nest, attributes are quoted, text has no raw `<` or stray `&`. Returns the elements. */
function parseXml(text: string): { name: string; attributes: Record<string, string>; text: string }[] {
  const elements: { name: string; attributes: Record<string, string>; text: string }[] = [];
  const stack: { name: string; attributes: Record<string, string>; text: string }[] = [];
  let rest = text.replace(/^<\?xml [^?]*\?>\s*/, '');
  const entity = /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;
  const unescape = (value: string): string => value.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  while (rest.length > 0) {
    if (rest.startsWith('</')) {
      const match = /^<\/([\w:-]+)\s*>/.exec(rest);
      assert.ok(match, `bad end tag at ${rest.slice(0, 30)}`);
      assert.equal(stack.pop()?.name, match[1], 'tags nest');
      rest = rest.slice(match[0].length);
    } else if (rest.startsWith('<')) {
      const match = /^<([\w:-]+)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/.exec(rest);
      assert.ok(match, `bad start tag at ${rest.slice(0, 60)}`);
      const attributes: Record<string, string> = {};
      for (const attribute of match[2]!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
        for (const amp of attribute[2]!.matchAll(/&/g)) assert.match(attribute[2]!.slice(amp.index), entity, 'attribute entities');
        attributes[attribute[1]!] = unescape(attribute[2]!);
      }
      const element = { name: match[1]!, attributes, text: '' };
      elements.push(element);
      if (match[3] !== '/') stack.push(element);
      rest = rest.slice(match[0].length);
    } else {
      const end = rest.indexOf('<');
      const chunk = end === -1 ? rest : rest.slice(0, end);
      for (const amp of chunk.matchAll(/&/g)) assert.match(chunk.slice(amp.index), entity, 'text entities');
      if (stack.length > 0) stack[stack.length - 1]!.text += unescape(chunk);
      else assert.equal(chunk.trim(), '', 'no text outside the root');
      rest = end === -1 ? '' : rest.slice(end);
    }
  }
  assert.equal(stack.length, 0, 'every element closed');
  return elements;
}

test('junit: well-formed, one testcase per group, a failure per newly dropped group', () => {
  const xml = formatVerifyResult(result, 'junit');
  assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>'));
  const elements = parseXml(xml);
  const suite = elements.find((element) => element.name === 'testsuite')!;
  const cases = elements.filter((element) => element.name === 'testcase');
  const failures = elements.filter((element) => element.name === 'failure');
  assert.equal(cases.length, 2);
  assert.equal(failures.length, 1);
  assert.equal(suite.attributes['tests'], '2');
  assert.equal(suite.attributes['failures'], '1');
  assert.equal(elements[0]!.name, 'testsuites');
  assert.match(cases[0]!.attributes['name']!, /shop\/web → shop\/db TCP\/5432/);
  assert.ok(failures[0]!.text.includes(`GET ${PATH}`), 'the body round-trips through escaping');
  assert.ok(failures[0]!.text.includes(`${FILE}:5`));
  const passed = parseXml(formatVerifyResult(passing, 'junit'));
  assert.equal(passed.filter((element) => element.name === 'testcase').length, 1);
  assert.equal(passed.filter((element) => element.name === 'failure').length, 0);
  assert.equal(passed.find((element) => element.name === 'testsuite')!.attributes['failures'], '0');
});

test('escapeXml: markup, quotes and characters XML cannot hold', () => {
  assert.equal(escapeXml(`<a href="x">&'</a>`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
  assert.equal(escapeXml('a\u0000b\u001bc\td\ne'), 'a\ufffdb\ufffdc\td\ne');
});

test('sarif: SARIF 2.1.0, results at the deciding rule', () => {
  const sarif = JSON.parse(formatVerifyResult(result, 'sarif')) as Record<string, any>;
  assert.equal(sarif['version'], '2.1.0');
  assert.match(sarif['$schema'], /sarif-2\.1\.0/);
  const run = sarif['runs'][0];
  assert.equal(run.tool.driver.name, 'podgate');
  assert.deepEqual(
    run.tool.driver.rules.map((rule: { id: string }) => rule.id),
    [RULE_NEWLY_DROPPED, RULE_NEWLY_ALLOWED],
  );
  assert.equal(run.results.length, 2);
  const [dropped, allowed] = run.results;
  assert.equal(dropped.ruleId, RULE_NEWLY_DROPPED);
  assert.equal(dropped.level, 'error');
  assert.equal(run.tool.driver.rules[dropped.ruleIndex].id, RULE_NEWLY_DROPPED);
  assert.match(dropped.message.text, /shop\/web → shop\/db TCP\/5432/);
  assert.equal(decodeURIComponent(dropped.locations[0].physicalLocation.artifactLocation.uri), FILE);
  assert.equal(dropped.locations[0].physicalLocation.region.startLine, 5);
  assert.equal(allowed.ruleId, RULE_NEWLY_ALLOWED);
  assert.equal(allowed.level, 'note');
  assert.deepEqual(JSON.parse(formatVerifyResult(passing, 'sarif')).runs[0].results, []);
});

test('github: escaping of workflow command data and properties', () => {
  assert.equal(escapeGithubProperty('a:b,c%d\r\ne'), 'a%3Ab%2Cc%25d%0D%0Ae');
  assert.equal(escapeGithubData('a:b,c%d\r\ne'), 'a:b,c%25d%0D%0Ae');
  assert.equal(escapeGithubData('100%25'), '100%2525', 'an escape in the input is escaped again, not kept');
});

/** Parses `::command key=value,...::message` as the runner does, undoing the escapes. */
function parseCommand(line: string): { command: string; properties: Record<string, string>; message: string } {
  const match = /^::(\w+)(?: ([^:]*))?::(.*)$/.exec(line);
  assert.ok(match, line);
  const undo = (text: string): string => text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%');
  const properties: Record<string, string> = {};
  for (const pair of (match[2] ?? '').split(',').filter((text) => text !== '')) {
    const equals = pair.indexOf('=');
    assert.ok(equals > 0, pair);
    const value = pair.slice(equals + 1);
    assert.doesNotMatch(value, /[:,\r\n]|%(?!25|0D|0A|3A|2C)/, 'property values carry no raw separators');
    properties[pair.slice(0, equals)] = undo(value);
  }
  assert.doesNotMatch(match[3]!, /[\r\n]|%(?!25|0D|0A)/, 'the message is one line');
  return { command: match[1]!, properties, message: undo(match[3]!) };
}

test('github: an error annotation per newly dropped group at the rule, notices for newly allowed', () => {
  const output = formatVerifyResult(result, 'github');
  const commands = output.split('\n').filter((line) => line.startsWith('::')).map(parseCommand);
  assert.deepEqual(commands.map((command) => command.command), ['error', 'notice']);
  const error = commands[0]!;
  assert.equal(error.properties['file'], FILE);
  assert.equal(error.properties['line'], '5');
  assert.equal(error.properties['title'], 'podgate verify: newly dropped shop/web → shop/db TCP/5432');
  assert.ok(error.message.includes('\n'), 'a multi-line message');
  assert.ok(error.message.includes(`GET ${PATH}`));
  assert.equal(commands[1]!.properties['title'], 'podgate verify: newly allowed shop/web → shop/cache TCP/6379');
  const clean = formatVerifyResult(passing, 'github');
  assert.equal(clean.split('\n').filter((line) => line.startsWith('::')).length, 0);
  assert.match(clean, /PASS/);
});

test('github and sarif: absolute paths under the root become relative', () => {
  const scenario = loadScenario([
    { name: 'cluster.yaml', text: CLUSTER },
    { name: '/repo/policies/db.yaml', text: POLICIES },
  ]);
  const absolute = verifyFlows({ scenario, records: [flow({ to: 'db', port: 5432, verdict: 'FORWARDED', time: '2026-01-01T00:00:00Z' })] });
  const error = parseCommand(formatVerifyResult(absolute, 'github', { root: '/repo' }).split('\n').find((line) => line.startsWith('::error'))!);
  assert.equal(error.properties['file'], 'policies/db.yaml');
  const sarif = JSON.parse(formatVerifyResult(absolute, 'sarif', { root: '/repo' })) as { runs: { results: { locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }[] }[] };
  assert.equal(sarif.runs[0]!.results[0]!.locations[0]!.physicalLocation.artifactLocation.uri, 'policies/db.yaml');
});

test('text: both kinds of groups, the rule with file:line, the fix', () => {
  const text = formatVerifyResult(result, 'text');
  assert.match(text, /^podgate verify: FAIL: 2 legitimate flows in 1 group would be newly dropped/);
  assert.match(text, /NEWLY DROPPED {2}shop\/web → shop\/db TCP\/5432 {2}2 flows \(2 connections\)/);
  assert.ok(text.includes(`NetworkPolicy shop/db-ingress spec  (${FILE}:5)`));
  assert.match(text, /fix \(checked: with it the connection is allowed\):/);
  assert.match(text, /NEWLY ALLOWED {2}shop\/web → shop\/cache TCP\/6379 {2}1 dropped flow/);
  for (const format of ['text', 'json', 'junit', 'sarif', 'github'] as VerifyOutputFormat[]) assert.ok(formatVerifyResult(passing, format).length > 0);
});
