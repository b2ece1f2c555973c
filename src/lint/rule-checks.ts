/**
 * Checks on allowing rules, decided by the engine: allows that a deny or a cluster guardrail
 * always overrides, HTTP rules voided by a plain allow, conflicting authentication modes.
 */
import { describeEndpoint, namedPortsOf } from '../cluster/endpoint.js';
import { findPeerRule } from '../explain/explain.js';
import type { PolicyEngine } from '../policy/engine.js';
import { formatHttpRule } from '../policy/l7.js';
import { ruleKey, type AuthMode, type Policy, type RuleRef } from '../policy/model.js';
import { portMatches, type PortMatch } from '../policy/ports.js';
import type { Connection, DirectionVerdict } from '../policy/verdict.js';
import { describeRule, listSome, plural, type Finding } from './findings.js';
import { hasRule, type AllowRule, type ConnectionSampler, type MatchedConnection } from './sampling.js';

export interface RuleCheckContext {
  readonly engine: PolicyEngine;
  readonly sampler: ConnectionSampler;
  readonly rules: readonly AllowRule[];
  readonly policies: readonly Policy[];
}

const DENY_REASONS = new Set(['denied', 'admin-deny', 'baseline-deny']);

function describeConnection(connection: Connection): string {
  return `${describeEndpoint(connection.src)} → ${describeEndpoint(connection.dst)} ${connection.protocol}/${connection.port}`;
}

/** Allows whose every matched connection is decided by a deny rule first (shadowed, or against a guardrail). */
export function shadowedAllows(context: RuleCheckContext): Finding[] {
  const findings: Finding[] = [];
  for (const rule of context.rules) {
    const matched = context.sampler.matched(rule);
    if (matched.length === 0) continue;
    const deciding = new Map<string, RuleRef>();
    let allGuardrail = true;
    let shadowed = true;
    for (const { connection } of matched) {
      const verdict = context.engine.evaluateDirection(connection, rule.direction);
      if (verdict.allowed || !DENY_REASONS.has(verdict.reason) || verdict.rules.length === 0) {
        shadowed = false;
        break;
      }
      if (verdict.reason !== 'admin-deny') allGuardrail = false;
      for (const denying of verdict.rules) deciding.set(ruleKey(denying), denying);
    }
    if (!shadowed) continue;
    const denies = [...deciding.values()].map(describeRule);
    const namespaced = rule.policy.type === 'NetworkPolicy' || (rule.policy.type === 'Cilium' && rule.policy.namespace !== undefined);
    const example = describeConnection(matched[0]!.connection);
    if (namespaced && allGuardrail) {
      findings.push({
        code: 'PODGATE_W_LINT_GUARDRAIL',
        message: `this ${rule.direction} allow has no effect: the cluster guardrail ${listSome(denies)} denies everything it allows (${plural(matched.length, 'connection')} checked, e.g. ${example}); guardrails are decided before namespaced policies`,
        hint: 'remove the allow, or ask the cluster administrators for an exception in the guardrail',
        at: { policy: rule.ref.policy, path: rule.ref.path },
      });
    } else {
      findings.push({
        code: 'PODGATE_W_LINT_SHADOWED_ALLOW',
        message: `this ${rule.direction} allow never takes effect: ${listSome(denies)} ${deciding.size === 1 ? 'denies' : 'deny'} everything it allows first (${plural(matched.length, 'connection')} checked, e.g. ${example})`,
        hint: 'deny rules win over allows; remove this allow, or narrow the deny rule if the traffic is needed',
        at: { policy: rule.ref.policy, path: rule.ref.path },
      });
    }
  }
  return findings;
}

/** Cilium allows with HTTP rules that another allow without L7 rules voids (or an Admin Accept skips). */
export function voidedHttpRules(context: RuleCheckContext): Finding[] {
  const findings: Finding[] = [];
  for (const rule of context.rules) {
    const httpPorts: PortMatch[] = (rule.cilium?.ports ?? []).filter((portRule) => portRule.http !== undefined).flatMap((portRule) => portRule.ports);
    if (httpPorts.length === 0) continue;
    const matched = context.sampler.matched(rule, { ports: httpPorts });
    const voiding = new Map<string, string>();
    let voided: MatchedConnection | undefined;
    let count = 0;
    for (const entry of matched) {
      const verdict = context.engine.evaluateDirection(entry.connection, rule.direction);
      if (!verdict.allowed || verdict.l7 !== undefined) continue;
      const by = voidingRules({ policies: context.policies, verdict, ref: rule.ref, connection: entry.connection });
      if (by === undefined) continue;
      for (const text of by) voiding.set(text, text);
      voided ??= entry;
      count++;
    }
    if (voided === undefined) continue;
    const http = (rule.cilium?.ports ?? []).flatMap((portRule) => portRule.http ?? []).map(formatHttpRule);
    findings.push({
      code: 'PODGATE_W_LINT_L7_VOIDED',
      message: `the HTTP rules here (${http.join(' | ')}) are not enforced: ${listSome([...voiding.values()])} allow${voiding.size === 1 ? 's' : ''} the same traffic without L7 rules, so every request passes (${plural(count, 'connection')}, e.g. ${describeConnection(voided.connection)})`,
      hint: 'give every rule that allows this peer and port the same HTTP rules, or remove the plain L4 allow',
      at: { policy: rule.ref.policy, path: rule.ref.path },
    });
  }
  return findings;
}

/** The rules that leave L7 unrestricted on this connection, or undefined when `ref` is not involved. */
function voidingRules(options: { policies: readonly Policy[]; verdict: DirectionVerdict; ref: RuleRef; connection: Connection }): string[] | undefined {
  const { policies, verdict, ref, connection } = options;
  if (verdict.reason === 'admin-accept') return verdict.rules.map((rule) => `the Admin-tier Accept ${describeRule(rule)} (decided before any namespaced rule)`);
  if (verdict.reason !== 'allowed' || !hasRule(verdict, ref)) return undefined;
  const plain = verdict.rules.filter((rule) => {
    const peerRule = findPeerRule(policies, rule);
    if (peerRule === undefined) return true;
    if (peerRule.ports === undefined) return true;
    return peerRule.ports.some((portRule) => portRule.http === undefined && portRule.dns === undefined && portRule.ports.some((port) => portMatches(port, connection.protocol, connection.port, namedPortsOf(connection.dst))));
  });
  return plain.length === 0 ? undefined : plain.map(describeRule);
}

/** `authentication.mode: disabled` on a rule whose traffic another allowing rule requires authentication for. */
export function authConflicts(context: RuleCheckContext): Finding[] {
  const findings: Finding[] = [];
  for (const rule of context.rules) {
    if (rule.cilium?.auth !== 'disabled') continue;
    const conflicting = new Map<string, string>();
    let example: Connection | undefined;
    for (const { connection } of context.sampler.matched(rule)) {
      const verdict = context.engine.evaluateDirection(connection, rule.direction);
      if (!verdict.allowed || !hasRule(verdict, rule.ref)) continue;
      for (const other of verdict.rules) {
        const mode: AuthMode | undefined = findPeerRule(context.policies, other)?.auth;
        if (mode === 'required' || mode === 'test-always-fail') {
          conflicting.set(ruleKey(other), `${describeRule(other)} (mode ${mode})`);
          example ??= connection;
        }
      }
    }
    if (example === undefined) continue;
    findings.push({
      code: 'PODGATE_W_LINT_AUTH_CONFLICT',
      message: `authentication.mode disabled here conflicts with ${listSome([...conflicting.values()])} on the same traffic (e.g. ${describeConnection(example)}); the strongest mode wins, so authentication is required`,
      hint: 'use the same authentication mode on every rule that allows this traffic',
      at: { policy: rule.ref.policy, path: `${rule.ref.path}.authentication.mode` },
    });
  }
  return findings;
}
