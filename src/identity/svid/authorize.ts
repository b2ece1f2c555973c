/**
 * Composable authorizers for a verified peer SVID (go-spiffe `tlsconfig.Authorize*`): each
 * accepts or throws `IdentityError('PODGATE_E_SVID_UNAUTHORIZED')`.
 */
import { IdentityError } from '../errors.js';
import type { SpiffeId, TrustDomain } from '../spiffe-id.js';
import type { Certificate } from '../x509/certificate.js';

export const SVID_UNAUTHORIZED = 'PODGATE_E_SVID_UNAUTHORIZED';

/** Throws `PODGATE_E_SVID_UNAUTHORIZED` to refuse the peer; returns to accept it. */
export type Authorizer = (id: SpiffeId, chain: readonly Certificate[]) => void;

function refuse(message: string): never {
  throw new IdentityError(SVID_UNAUTHORIZED, message, 'the peer is authenticated but not allowed here; check which SPIFFE IDs this endpoint accepts');
}

/** Any authenticated peer. */
export function authorizeAny(): Authorizer {
  return () => {};
}

/** Exactly this SPIFFE ID. */
export function authorizeId(allowed: SpiffeId): Authorizer {
  return (id) => {
    if (!id.equals(allowed)) refuse(`unexpected ID "${id}"`);
  };
}

/** One of these SPIFFE IDs. */
export function authorizeOneOf(...allowed: SpiffeId[]): Authorizer {
  const set = new Set(allowed.map((id) => id.toString()));
  return (id) => {
    if (!set.has(id.toString())) refuse(`unexpected ID "${id}"`);
  };
}

/** Any SPIFFE ID of this trust domain. */
export function authorizeMemberOf(td: TrustDomain): Authorizer {
  return (id) => {
    if (!id.memberOf(td)) refuse(`unexpected trust domain "${id.trustDomain}"`);
  };
}

/** Every authorizer must accept (checked in order, first refusal wins). */
export function authorizeAll(...authorizers: Authorizer[]): Authorizer {
  return (id, chain) => {
    for (const authorize of authorizers) authorize(id, chain);
  };
}
