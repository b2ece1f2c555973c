/** A verdict is data: what was decided, by which side, and by which rules. */
import type { Endpoint } from '../cluster/endpoint.js';
import { httpRuleMatches, type DnsRule, type HttpRequest, type HttpRule } from './l7.js';
import { ruleKey, type AuthMode, type Direction, type RuleRef } from './model.js';
import type { Protocol } from './ports.js';

export interface Connection {
  readonly src: Endpoint;
  readonly dst: Endpoint;
  readonly protocol: Protocol;
  readonly port: number;
  /** Ask about one HTTP request on the connection (L7). */
  readonly http?: HttpRequest;
}

export type VerdictReason =
  /** Nothing enforces policy on this side (the world, an unknown node). */
  | 'not-enforced'
  /** No policy isolates the endpoint in this direction and no tier decided: allowed by default. */
  | 'not-isolated'
  /** An allow rule of a NetworkPolicy / Cilium policy matched. */
  | 'allowed'
  /** A namespaced deny rule (ingressDeny / egressDeny) matched. */
  | 'denied'
  /** The endpoint is isolated and nothing allows the connection. */
  | 'default-deny'
  | 'admin-accept'
  | 'admin-deny'
  | 'baseline-accept'
  | 'baseline-deny'
  /** Traffic from the pod's own node (kubelet probes) is always allowed unless a deny rule matches. */
  | 'host-allowed'
  /** The engine could not identify an endpoint, or failed: denied (fail closed). */
  | 'unknown-endpoint'
  | 'error';

export type TierName = 'admin' | 'namespaced' | 'baseline' | 'default';

/** One allowing rule's L7 part, for the proxy to enforce. */
export interface L7Grant {
  readonly rule: RuleRef;
  /** Index of the port rule (`toPorts[i]`) within the rule. */
  readonly portRule: number;
  readonly http?: readonly HttpRule[];
  readonly dns?: readonly DnsRule[];
}

export interface HttpVerdict {
  readonly allowed: boolean;
  /** The rules whose HTTP rules admitted the request (empty when denied or unrestricted). */
  readonly rules: readonly RuleRef[];
}

export interface DirectionVerdict {
  readonly direction: Direction;
  readonly allowed: boolean;
  readonly reason: VerdictReason;
  readonly tier: TierName;
  /** The matching allow rules, the matching deny rule(s), or for default-deny the rules that isolate. */
  readonly rules: readonly RuleRef[];
  /** The Admin-tier Pass rule that sent evaluation on to the lower tiers, if any. */
  readonly passedBy?: RuleRef;
  /** Strongest authentication mode among the allowing rules. */
  readonly auth?: AuthMode;
  /** L7 rules the proxy must apply; absent when some allowing rule leaves L7 unrestricted. */
  readonly l7?: readonly L7Grant[];
  /** Present when the connection carried an HTTP request and L4 allowed it. */
  readonly http?: HttpVerdict;
  readonly error?: string;
}

export interface Verdict {
  readonly allowed: boolean;
  /** The side that denied (egress is checked first, as the packet leaves); `both` when allowed. */
  readonly decidedBy: Direction | 'both';
  readonly egress: DirectionVerdict;
  readonly ingress: DirectionVerdict;
  /** Mutual authentication is required by an allowing rule (Cilium `authentication.mode`). */
  readonly authRequired: boolean;
  /** L4 allowed but the HTTP request was refused (the proxy answers 403). */
  readonly l7Denied: boolean;
  readonly revision: number;
}

export function combine(egress: DirectionVerdict, ingress: DirectionVerdict, revision: number): Verdict {
  const l4 = egress.allowed && ingress.allowed;
  const httpOk = (egress.http?.allowed ?? true) && (ingress.http?.allowed ?? true);
  const allowed = l4 && httpOk;
  let decidedBy: Verdict['decidedBy'] = 'both';
  if (!egress.allowed) decidedBy = 'egress';
  else if (!ingress.allowed) decidedBy = 'ingress';
  else if (!httpOk) decidedBy = egress.http?.allowed === false ? 'egress' : 'ingress';
  const authRequired = l4 && (requiresAuth(egress.auth) || requiresAuth(ingress.auth));
  return { allowed, decidedBy, egress, ingress, authRequired, l7Denied: l4 && !httpOk, revision };
}

/** Whether an authentication mode makes the connection wait for mutual authentication. */
export function requiresAuth(mode: AuthMode | undefined): boolean {
  return mode === 'required' || mode === 'test-always-fail';
}

/** Merge rule: `required` (or the test mode) beats `disabled`, which beats nothing. Fails closed. */
export function strongerAuth(a: AuthMode | undefined, b: AuthMode | undefined): AuthMode | undefined {
  const rank = (mode: AuthMode | undefined): number => (mode === 'test-always-fail' ? 3 : mode === 'required' ? 2 : mode === 'disabled' ? 1 : 0);
  return rank(b) > rank(a) ? b : a;
}

/** Rules in a stable order, so two engines (and two runs) report the same provenance. */
export function sortRules(rules: readonly RuleRef[]): RuleRef[] {
  const byKey = new Map<string, RuleRef>();
  for (const rule of rules) byKey.set(ruleKey(rule), rule);
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, rule]) => rule);
}

/** An HTTP request against the L7 grants of one side: allowed if any grant's rules admit it. */
export function judgeHttp(grants: readonly L7Grant[] | undefined, request: HttpRequest): HttpVerdict {
  if (grants === undefined) return { allowed: true, rules: [] };
  const httpGrants = grants.filter((grant) => grant.http !== undefined);
  if (httpGrants.length < grants.length) return { allowed: true, rules: [] };
  const admitting = httpGrants.filter((grant) => grant.http!.some((rule) => httpRuleMatches(rule, request))).map((grant) => grant.rule);
  return { allowed: admitting.length > 0, rules: sortRules(admitting) };
}

export function failClosed(direction: Direction, reason: 'unknown-endpoint' | 'error', error: string): DirectionVerdict {
  return { direction, allowed: false, reason, tier: 'default', rules: [], error };
}
