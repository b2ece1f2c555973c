/**
 * Join-token attestation for the lab: the operator creates a token for a node, the agent on that
 * node presents it once. Tokens are 256 random bits; only their SHA-256 is stored, so the
 * database never holds a usable token. Every failure is `PODGATE_E_ATTESTATION`. An attested
 * agent's identity is `spiffe://td/podgate/agent/<node>` (`AGENT_PATH`, `agentNode`).
 */
import { randomBytes } from 'node:crypto';
import { IdentityError } from '../identity/errors.js';
import type { SpiffeId, TrustDomain } from '../identity/spiffe-id.js';

export const ATTESTATION_ERROR = 'PODGATE_E_ATTESTATION';
/** Default lifetime of a join token. */
export const DEFAULT_JOIN_TOKEN_TTL_MS = 60 * 60 * 1000;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** The path of a node agent's SPIFFE ID (`agentId`); the one segment is the node name. */
export const AGENT_PATH = /^\/podgate\/agent\/([^/]+)$/;

/** The node an agent ID of `trustDomain` speaks for, or undefined when `id` is not one. */
export function agentNode(id: SpiffeId, trustDomain: TrustDomain): string | undefined {
  return id.memberOf(trustDomain) ? AGENT_PATH.exec(id.path)?.[1] : undefined;
}

export function newJoinToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Whether the text could be a token at all (checked before hashing, so junk is refused early). */
export function isWellFormedJoinToken(token: unknown): token is string {
  return typeof token === 'string' && TOKEN_PATTERN.test(token);
}

export function attestationError(message: string): IdentityError {
  return new IdentityError(ATTESTATION_ERROR, message, 'create a fresh token with the authority (join tokens are single-use and expire)');
}
