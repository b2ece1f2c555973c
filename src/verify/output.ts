/**
 * verify's result in the formats CI systems show natively: text for people, JSON (a stable schema),
 * JUnit XML, SARIF 2.1.0 and GitHub Actions workflow commands.
 *
 * JSON schema `podgate.verify/v1` (fields are only added, never renamed, within v1):
 *   { schema, result: "pass" | "fail",
 *     counts: { records, flows, legitimate, policy_dropped, other_verdicts, replies, no_l4, unmapped,
 *               unmapped_legitimate, connections, newly_dropped_flows, newly_allowed_flows },
 *     newly_dropped: Group[], newly_allowed: Group[],
 *     unmapped: [{ reason, flows }], quarantined_policies: string[] }
 *   Group: { source, source_kind, destination, destination_kind, protocol, port, flows, connections,
 *            first_seen, last_seen (RFC 3339, "" when unknown), decided_by: ["egress"|"ingress"|"both"],
 *            reasons: [verdict reason], http_requests: ["GET /path"],
 *            rules: [{ kind, namespace?, name, path, text, file?, line?, column? }],
 *            example: { source, destination, protocol, port, http?: { method, path, host? } },
 *            fix?: { verified: boolean | null, changes: [{ action, summary, caveat?, manifest }], gaps: string[] },
 *            notes?: string[] }
 */
import { isAbsolute, relative, sep } from 'node:path';
import { stringify } from 'yaml';
import { describeEndpoint } from '../cluster/endpoint.js';
import { toSarif } from '../report/sarif.js';
import { describeExample, describeGroup, type DecidingRule, type VerifyGroup, type VerifyResult } from './verify.js';

export const OUTPUT_FORMATS = ['text', 'json', 'junit', 'sarif', 'github'] as const;
export type VerifyOutputFormat = (typeof OUTPUT_FORMATS)[number];

export const JSON_SCHEMA = 'podgate.verify/v1';
export const RULE_NEWLY_DROPPED = 'podgate/verify/newly-dropped';
export const RULE_NEWLY_ALLOWED = 'podgate/verify/newly-allowed';

export function isOutputFormat(text: string): text is VerifyOutputFormat {
  return (OUTPUT_FORMATS as readonly string[]).includes(text);
}

export interface FormatOptions {
  /** The repository root: SARIF and GitHub annotations name files relative to it (default: as given). */
  readonly root?: string;
}

export function formatVerifyResult(result: VerifyResult, format: VerifyOutputFormat, options: FormatOptions = {}): string {
  switch (format) {
    case 'text':
      return renderText(result);
    case 'json':
      return JSON.stringify(verifyJson(result), null, 2);
    case 'junit':
      return renderJunit(result);
    case 'sarif':
      return JSON.stringify(renderSarif(result, options), null, 2);
    case 'github':
      return renderGithub(result, options);
  }
}

function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}

function span(group: VerifyGroup): string {
  if (group.firstSeen === '') return 'no record times';
  return group.firstSeen === group.lastSeen ? `seen ${group.firstSeen}` : `seen ${group.firstSeen} … ${group.lastSeen}`;
}

function headline(result: VerifyResult): string {
  const dropped = result.groups.length;
  if (dropped === 0) return `podgate verify: PASS: no legitimate flow would be newly dropped${result.allowedNow.length > 0 ? ` (${plural(result.allowedNow.length, 'group')} of dropped flows would be allowed)` : ''}`;
  return `podgate verify: FAIL: ${plural(result.counts.newlyDroppedFlows, 'legitimate flow')} in ${plural(dropped, 'group')} would be newly dropped`;
}

function countsLine(result: VerifyResult): string {
  const c = result.counts;
  const skipped = [`${plural(c.replies, 'reply', 'replies')}`, ...(c.otherVerdicts > 0 ? [`${plural(c.otherVerdicts, 'flow')} with other verdicts`] : []), ...(c.noL4 > 0 ? [`${plural(c.noL4, 'flow')} without L4`] : [])];
  const unmapped = c.unmapped > 0 ? `; NOT verified: ${plural(c.unmapped, 'flow')} whose pods are not in the cluster state` : '';
  return `replayed ${plural(c.legitimate, 'legitimate flow')} and ${plural(c.policyDropped, 'policy drop')} (${plural(c.connections, 'distinct connection')}); skipped ${skipped.join(', ')}${unmapped}`;
}

function ruleLines(rules: readonly DecidingRule[], indent: string): string[] {
  return rules.map((rule) => `${indent}- ${rule.text}`);
}

function renderText(result: VerifyResult): string {
  const lines = [headline(result), countsLine(result)];
  for (const name of result.quarantined) lines.push(`invalid policy (quarantined: isolates its pods, allows nothing): ${name}`);
  for (const group of result.groups) {
    lines.push('', `NEWLY DROPPED  ${describeGroup(group)}  ${plural(group.flows, 'flow')} (${plural(group.connections, 'connection')}), ${span(group)}`);
    lines.push(`  example: ${describeExample(group)}`);
    if (group.httpRequests.length > 0) lines.push(`  requests: ${group.httpRequests.join(', ')}`);
    lines.push(`  denied by ${group.decidedBy.join(', ')} (${group.reasons.join(', ')}):`, ...ruleLines(group.rules, '    '));
    const explanation = group.explanation;
    for (const note of explanation?.notes ?? []) lines.push(`  note: ${note}`);
    if (!explanation) continue;
    if (explanation.plan.fixes.length > 0) {
      lines.push(`  fix (${explanation.fixVerified ? 'checked: with it the connection is allowed' : 'WARNING: applying it does not allow the connection on its own'}):`);
      for (const fix of explanation.plan.fixes) {
        lines.push(`    # ${fix.summary}`);
        if (fix.caveat) lines.push(`    # caveat: ${fix.caveat}`);
        if (fix.action === 'delete') {
          const metadata = fix.manifest['metadata'] as { name?: string; namespace?: string } | undefined;
          lines.push(`    kubectl delete ${String(fix.manifest['kind']).toLowerCase()} ${metadata?.name ?? ''}${metadata?.namespace ? ` -n ${metadata.namespace}` : ''}`);
        } else {
          lines.push('    ---', ...stringify(fix.manifest, { lineWidth: 0 }).trimEnd().split('\n').map((line) => `    ${line}`));
        }
      }
    }
    for (const gap of explanation.plan.gaps) lines.push(`  no automatic fix: ${gap}`);
  }
  for (const group of result.allowedNow) {
    lines.push('', `NEWLY ALLOWED  ${describeGroup(group)}  ${plural(group.flows, 'dropped flow')} (${plural(group.connections, 'connection')}), ${span(group)}`);
    lines.push(`  example: ${describeExample(group)}`);
    if (group.rules.length > 0) lines.push('  allowed by:', ...ruleLines(group.rules, '    '));
    else lines.push(`  allowed: ${group.reasons.join(', ')}`);
  }
  if (result.unmapped.length > 0) {
    lines.push('', 'not verified (add these pods or workloads to --state):');
    for (const { reason, flows } of result.unmapped.slice(0, 10)) lines.push(`  ${plural(flows, 'flow')}: ${reason}`);
    if (result.unmapped.length > 10) lines.push(`  ... and ${plural(result.unmapped.length - 10, 'more reason')}`);
  }
  return lines.join('\n');
}

function groupJson(group: VerifyGroup): Record<string, unknown> {
  const http = group.example.http;
  const explanation = group.explanation;
  return {
    source: group.source.name,
    source_kind: group.source.kind,
    destination: group.destination.name,
    destination_kind: group.destination.kind,
    protocol: group.protocol,
    port: group.port,
    flows: group.flows,
    connections: group.connections,
    first_seen: group.firstSeen,
    last_seen: group.lastSeen,
    decided_by: group.decidedBy,
    reasons: group.reasons,
    http_requests: group.httpRequests,
    rules: group.rules.map((rule) => ({
      kind: rule.rule.policy.kind,
      ...(rule.rule.policy.namespace === undefined ? {} : { namespace: rule.rule.policy.namespace }),
      name: rule.rule.policy.name,
      path: rule.rule.path,
      text: rule.text,
      ...(rule.file === undefined ? {} : { file: rule.file }),
      ...(rule.line === undefined ? {} : { line: rule.line, column: rule.column }),
    })),
    example: {
      source: describeEndpoint(group.example.src),
      destination: describeEndpoint(group.example.dst),
      protocol: group.example.protocol,
      port: group.example.port,
      ...(http ? { http: { method: http.method, path: http.path, ...(http.host === undefined ? {} : { host: http.host }) } } : {}),
    },
    ...(explanation
      ? {
          fix: {
            verified: explanation.fixVerified ?? null,
            changes: explanation.plan.fixes.map((fix) => ({ action: fix.action, summary: fix.summary, ...(fix.caveat ? { caveat: fix.caveat } : {}), manifest: fix.manifest })),
            gaps: explanation.plan.gaps,
          },
          ...(explanation.notes.length > 0 ? { notes: explanation.notes } : {}),
        }
      : {}),
  };
}

export function verifyJson(result: VerifyResult): Record<string, unknown> {
  const c = result.counts;
  return {
    schema: JSON_SCHEMA,
    result: result.groups.length > 0 ? 'fail' : 'pass',
    counts: {
      records: c.records,
      flows: c.flows,
      legitimate: c.legitimate,
      policy_dropped: c.policyDropped,
      other_verdicts: c.otherVerdicts,
      replies: c.replies,
      no_l4: c.noL4,
      unmapped: c.unmapped,
      unmapped_legitimate: c.unmappedLegitimate,
      connections: c.connections,
      newly_dropped_flows: c.newlyDroppedFlows,
      newly_allowed_flows: c.newlyAllowedFlows,
    },
    newly_dropped: result.groups.map(groupJson),
    newly_allowed: result.allowedNow.map(groupJson),
    unmapped: result.unmapped,
    quarantined_policies: result.quarantined,
  };
}

/** Characters XML 1.0 cannot hold at all (control characters other than tab, newline, return). */
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

export function escapeXml(text: string): string {
  return text.replace(XML_INVALID, '\ufffd').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** What a group says in one paragraph (JUnit failure bodies, SARIF and GitHub messages). */
function groupDetail(group: VerifyGroup): string {
  const lines = [`${describeGroup(group)}: ${plural(group.flows, 'flow')} (${plural(group.connections, 'connection')}), ${span(group)}`, `example: ${describeExample(group)}`];
  if (group.httpRequests.length > 0) lines.push(`requests: ${group.httpRequests.join(', ')}`);
  lines.push(`${group.change === 'newly-dropped' ? 'denied' : 'allowed'} by ${group.decidedBy.join(', ')} (${group.reasons.join(', ')}):`, ...ruleLines(group.rules, '  '));
  const fixes = group.explanation?.plan.fixes ?? [];
  if (fixes.length > 0) lines.push(`fix${group.explanation?.fixVerified ? ' (checked)' : ''}:`, ...fixes.map((fix) => `  ${fix.summary}`));
  for (const gap of group.explanation?.plan.gaps ?? []) lines.push(`no automatic fix: ${gap}`);
  return lines.join('\n');
}

function renderJunit(result: VerifyResult): string {
  interface Case {
    name: string;
    failure?: { message: string; type: string; body: string };
    out?: string;
  }
  const cases: Case[] = [
    ...result.groups.map((group) => ({ name: describeGroup(group), failure: { message: `${plural(group.flows, 'legitimate flow')} would be newly dropped`, type: 'newly-dropped', body: groupDetail(group) } })),
    ...result.allowedNow.map((group) => ({ name: `${describeGroup(group)} (newly allowed)`, out: groupDetail(group) })),
  ];
  if (cases.length === 0) cases.push({ name: 'no legitimate flow would be newly dropped', out: countsLine(result) });
  const failures = result.groups.length;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="podgate verify" tests="${cases.length}" failures="${failures}" errors="0">`,
    `  <testsuite name="podgate verify" tests="${cases.length}" failures="${failures}" errors="0" skipped="0">`,
    `    <properties><property name="summary" value="${escapeXml(countsLine(result))}"/></properties>`,
  ];
  for (const testCase of cases) {
    const open = `    <testcase classname="podgate.verify" name="${escapeXml(testCase.name)}"`;
    if (testCase.failure) {
      lines.push(`${open}>`, `      <failure message="${escapeXml(testCase.failure.message)}" type="${escapeXml(testCase.failure.type)}">${escapeXml(testCase.failure.body)}</failure>`, '    </testcase>');
    } else if (testCase.out !== undefined) {
      lines.push(`${open}>`, `      <system-out>${escapeXml(testCase.out)}</system-out>`, '    </testcase>');
    } else lines.push(`${open}/>`);
  }
  lines.push('  </testsuite>', '</testsuites>');
  return lines.join('\n');
}

/** Where a group's annotation points: the first deciding rule written in a file. */
function locationOf(group: VerifyGroup): { file?: string; line?: number; column?: number } {
  const located = group.rules.find((rule) => rule.file !== undefined && rule.line !== undefined) ?? group.rules.find((rule) => rule.file !== undefined);
  if (!located?.file) return {};
  return { file: located.file, ...(located.line === undefined ? {} : { line: located.line }), ...(located.column === undefined ? {} : { column: located.column }) };
}

export function renderSarif(result: VerifyResult, options: FormatOptions = {}): object {
  const results = [
    ...result.groups.map((group) => ({ ruleId: RULE_NEWLY_DROPPED, level: 'error' as const, message: groupDetail(group), ...locationOf(group) })),
    ...result.allowedNow.map((group) => ({ ruleId: RULE_NEWLY_ALLOWED, level: 'note' as const, message: groupDetail(group), ...locationOf(group) })),
  ];
  return toSarif({
    tool: 'podgate',
    rules: [
      { id: RULE_NEWLY_DROPPED, description: 'Legitimate captured flows that the proposed policies would drop' },
      { id: RULE_NEWLY_ALLOWED, description: 'Captured flows dropped by policy that the proposed policies would allow' },
    ],
    results,
    ...(options.root === undefined ? {} : { root: options.root }),
  });
}

/** GitHub workflow command data: `%`, CR and LF escaped (actions/toolkit `escapeData`). */
export function escapeGithubData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** GitHub workflow command property values: data escaping plus `:` and `,` (actions/toolkit `escapeProperty`). */
export function escapeGithubProperty(text: string): string {
  return escapeGithubData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function githubCommand(command: 'error' | 'notice', properties: Record<string, string | number | undefined>, message: string): string {
  const props = Object.entries(properties)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([key, value]) => `${key}=${escapeGithubProperty(String(value))}`)
    .join(',');
  return `::${command}${props === '' ? '' : ` ${props}`}::${escapeGithubData(message)}`;
}

/** GitHub resolves annotation files against the workspace: make paths under the root relative, with slashes. */
function workspacePath(file: string | undefined, root: string | undefined): string | undefined {
  if (file === undefined || file === '<stdin>') return undefined;
  let path = file;
  if (root !== undefined && isAbsolute(file)) {
    const inside = relative(root, file);
    if (inside !== '' && !inside.startsWith('..') && !isAbsolute(inside)) path = inside;
  }
  return (sep === '\\' ? path.replaceAll('\\', '/') : path).replace(/^(\.\/)+/, '');
}

function renderGithub(result: VerifyResult, options: FormatOptions): string {
  const lines = [headline(result), countsLine(result)];
  for (const group of result.groups) {
    const where = locationOf(group);
    lines.push(githubCommand('error', { file: workspacePath(where.file, options.root), line: where.line, col: where.column, title: `podgate verify: newly dropped ${describeGroup(group)}` }, groupDetail(group)));
  }
  for (const group of result.allowedNow) {
    const where = locationOf(group);
    lines.push(githubCommand('notice', { file: workspacePath(where.file, options.root), line: where.line, col: where.column, title: `podgate verify: newly allowed ${describeGroup(group)}` }, groupDetail(group)));
  }
  return lines.join('\n');
}
