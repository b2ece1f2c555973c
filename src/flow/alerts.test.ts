import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { HubbleMetrics } from './metrics.js';
import { hubbleSchema } from './proto.js';

const RULES_PATH = new URL('../../../deploy/prometheus/podgate-alerts.yaml', import.meta.url);
const RULES_TEXT = readFileSync(RULES_PATH, 'utf8');

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** The value of a `# key: value` line in the rule file's header. */
function headerValue(key: string): string {
  const line = RULES_TEXT.split('\n').find((candidate) => candidate.startsWith(`# ${key}: `));
  assert.ok(line, `the rule file must document "# ${key}: ..."`);
  return line.slice(`# ${key}: `.length).trim();
}

/** Metric name → label names, read from the registry of HubbleMetrics built with the documented options. */
function exportedHubbleLabels(): Map<string, readonly string[]> {
  const metrics = new HubbleMetrics({ metrics: headerValue('podgate-metrics') });
  const exported = new Map<string, readonly string[]>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    // prom-client keeps labelNames on the metric object; its typings do not list it.
    const labelNames = (metric as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
    exported.set(metric.name, labelNames);
  }
  return exported;
}

/** kube_namespace_labels' labels: namespace plus label_<key> for each allowlisted namespace label key. */
function kubeStateLabels(): Set<string> {
  const allowlist = /--metric-labels-allowlist=namespaces=\[([^\]]*)\]/.exec(headerValue('kube-state-metrics'));
  assert.ok(allowlist, 'the kube-state-metrics line must give --metric-labels-allowlist=namespaces=[...]');
  const keys = (allowlist[1] ?? '').split(',').map((key) => key.trim()).filter((key) => key !== '');
  return new Set(['namespace', ...keys.map((key) => `label_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`)]);
}

const QUOTED = String.raw`"(?:[^"\\]|\\.)*"`;
const SELECTOR = new RegExp(String.raw`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{((?:[^{}"]|${QUOTED})*)\}`, 'g');
const MATCHER = new RegExp(String.raw`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(${QUOTED})`, 'g');
const GROUPING = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;
const LABEL_REPLACE = new RegExp(String.raw`label_replace\(\s*[\s\S]*?,\s*(${QUOTED})\s*,\s*${QUOTED}\s*,\s*(${QUOTED})\s*,`, 'g');

/** Every problem with the names an expression uses; empty when all of them exist. */
function checkExpression(expr: string, hubble: Map<string, readonly string[]>, kubeState: Set<string>, dropReasons: Set<string>): string[] {
  const problems: string[] = [];
  const used = new Set<string>();
  for (const [, name = ''] of expr.matchAll(/\b(hubble_[a-zA-Z0-9_]+)/g)) {
    if (!hubble.has(name)) problems.push(`${name} is not exported`);
    else used.add(name);
  }
  for (const [, name = ''] of expr.matchAll(/\b(kube_[a-zA-Z0-9_]+)/g)) if (name !== 'kube_namespace_labels') problems.push(`${name} is not a metric these rules document`);
  for (const [, metric = '', matchers = ''] of expr.matchAll(SELECTOR)) {
    const known = metric.startsWith('hubble_') ? new Set(hubble.get(metric) ?? []) : metric === 'kube_namespace_labels' ? kubeState : undefined;
    if (known === undefined) continue;
    for (const [, label = '', , quoted = '""'] of matchers.matchAll(MATCHER)) {
      if (!known.has(label)) problems.push(`${metric} has no label ${label}`);
      if (metric === 'hubble_drop_total' && label === 'reason') {
        for (const reason of (JSON.parse(quoted) as string).split('|')) if (!dropReasons.has(reason)) problems.push(`${reason} is not a DropReason`);
      }
    }
  }
  const hubbleLabels = new Set([...used].flatMap((name) => hubble.get(name) ?? []));
  for (const [, keyword = '', list = ''] of expr.matchAll(GROUPING)) {
    for (const label of list.split(',').map((item) => item.trim()).filter((item) => item !== '')) {
      if (!hubbleLabels.has(label) && !kubeState.has(label)) problems.push(`${keyword} (${label}): no metric in the expression has ${label}`);
    }
  }
  for (const [, target = '""', source = '""'] of expr.matchAll(LABEL_REPLACE)) {
    if (!hubbleLabels.has(JSON.parse(target) as string)) problems.push(`label_replace writes ${target}, which no hubble metric here has`);
    if (!kubeState.has(JSON.parse(source) as string)) problems.push(`label_replace reads ${source}, which kube_namespace_labels lacks`);
  }
  let depth = 0;
  for (const char of expr.replace(new RegExp(QUOTED, 'g'), '""')) {
    if (char === '(') depth++;
    if (char === ')' && --depth < 0) problems.push('unbalanced parentheses');
  }
  if (depth !== 0) problems.push('unbalanced parentheses');
  return problems;
}

describe('deploy/prometheus/podgate-alerts.yaml', () => {
  const document = parse(RULES_TEXT) as { groups?: Array<{ name?: unknown; rules?: unknown }> };
  const rules = (document.groups ?? []).flatMap((group) => (Array.isArray(group.rules) ? (group.rules as Rule[]) : []));
  const hubble = exportedHubbleLabels();
  const kubeState = kubeStateLabels();
  const dropReasons = new Set(Object.keys(hubbleSchema().lookupEnum('flow.DropReason').values));

  it('is a rule file: groups[] with a name and rules[] of alert, expr, for, labels.severity, annotations.summary', () => {
    assert.ok(Array.isArray(document.groups) && document.groups.length > 0, 'groups must be a non-empty list');
    for (const group of document.groups) {
      assert.equal(typeof group.name, 'string');
      assert.ok(Array.isArray(group.rules) && group.rules.length > 0, `group ${String(group.name)} has no rules`);
    }
    assert.ok(rules.length >= 2, 'a new-drop rule and a sustained-rise rule');
    const names = new Set<string>();
    for (const rule of rules) {
      assert.match(rule.alert, /^[A-Za-z_][A-Za-z0-9_]*$/);
      assert.ok(!names.has(rule.alert), `duplicate alert ${rule.alert}`);
      names.add(rule.alert);
      assert.equal(typeof rule.expr, 'string');
      assert.match(rule.for, /^(\d+(ms|s|m|h|d|w|y))+$/, `${rule.alert}: for`);
      assert.ok(['critical', 'warning', 'info'].includes(rule.labels.severity ?? ''), `${rule.alert}: labels.severity`);
      assert.ok((rule.annotations.summary ?? '').length > 0, `${rule.alert}: annotations.summary`);
    }
  });

  it('alerts on new DROPPED verdicts into critical namespaces and on a sustained rise', () => {
    const [fresh, rising] = rules;
    assert.match(fresh?.expr ?? '', /increase\(hubble_drop_total\{reason=~"POLICY_DENIED\|POLICY_DENY"\}\[5m\]\)/);
    assert.match(fresh?.expr ?? '', /kube_namespace_labels\{label_criticality="critical"\}/);
    assert.match(rising?.expr ?? '', /rate\(hubble_drop_total\[15m\]\)[\s\S]*offset/);
    assert.ok(rising?.for !== '0m', 'a sustained rise waits');
  });

  it('uses only hubble_* metrics and labels that HubbleMetrics exports with the documented options', () => {
    assert.deepEqual(hubble.get('hubble_drop_total'), ['source', 'destination', 'reason', 'protocol']);
    for (const rule of rules) assert.deepEqual(checkExpression(rule.expr, hubble, kubeState, dropReasons), [], rule.alert);
  });

  it('the name check catches what would break the rules', () => {
    const expr = rules[0]?.expr ?? '';
    const mutations: Array<[string, RegExp]> = [
      [expr.replaceAll('destination', 'dst_namespace'), /no metric in the expression has dst_namespace/],
      [expr.replaceAll('hubble_drop_total', 'hubble_drops_total'), /hubble_drops_total is not exported/],
      [expr.replace('POLICY_DENIED', 'POLICY_DENIED_X'), /POLICY_DENIED_X is not a DropReason/],
      [expr.replace('label_criticality="critical"', 'label_tier="critical"'), /kube_namespace_labels has no label label_tier/],
    ];
    for (const [mutated, problem] of mutations) assert.match(checkExpression(mutated, hubble, kubeState, dropReasons).join('\n'), problem);
    // Without the documented destinationContext the rules cannot work.
    const bare = new Map([['hubble_drop_total', ['reason', 'protocol']]]);
    assert.match(checkExpression(expr, bare, kubeState, dropReasons).join('\n'), /no metric in the expression has destination/);
  });

  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  it('passes promtool check rules', { skip: promtool.error ? 'promtool is not installed here (and there is no network to fetch it): only the promtool check is skipped; structure and names are checked above' : false }, () => {
    const result = spawnSync('promtool', ['check', 'rules', RULES_PATH.pathname], { encoding: 'utf8' });
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
  });
});
