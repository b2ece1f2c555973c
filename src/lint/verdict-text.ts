/** Plain-language reasons for a denial, for lint messages (explain prints the long form). */
import { describeEndpoint } from '../cluster/endpoint.js';
import type { Connection, DirectionVerdict, Verdict } from '../policy/verdict.js';
import { describeRule, listSome } from './findings.js';

/** The side that denied and why: `ingress of payments/api denied by deny rule ...`. */
export function denialText(connection: Connection, verdict: Verdict): string {
  const side = verdict.decidedBy === 'egress' ? verdict.egress : verdict.ingress;
  const who = describeEndpoint(side.direction === 'egress' ? connection.src : connection.dst);
  if (verdict.l7Denied) {
    const request = connection.http ? `${connection.http.method} ${connection.http.path}` : 'the request';
    return `the HTTP rules for ${side.direction} of ${who} refuse ${request} (${listSome((side.l7 ?? []).map((grant) => describeRule(grant.rule)))})`;
  }
  return `${side.direction} of ${who} ${reasonText(side)}`;
}

export function reasonText(side: DirectionVerdict): string {
  const rules = listSome(side.rules.map(describeRule));
  switch (side.reason) {
    case 'denied':
      return `is denied by the deny rule ${rules}`;
    case 'admin-deny':
      return `is denied by the cluster guardrail ${rules} (decided before every namespaced policy)`;
    case 'baseline-deny':
      return `is denied by the Baseline rule ${rules}`;
    case 'default-deny':
      return `is denied by default: ${rules} isolate${side.rules.length === 1 ? 's' : ''} it and no rule allows this`;
    case 'unknown-endpoint':
    case 'error':
      return `is denied (fail closed): ${side.error ?? side.reason}`;
    default:
      return `is ${side.allowed ? 'allowed' : 'denied'} (${side.reason})`;
  }
}
