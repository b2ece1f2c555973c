/**
 * The authority API's wire format, shared by server and client. JSON bodies; DER travels as
 * base64. Every failure is `{ "error": { "code", "message", "hint"? } }` with a stable code:
 *
 * - PODGATE_E_API_NOT_FOUND (404)         unknown path
 * - PODGATE_E_API_METHOD (405)            known path, wrong method
 * - PODGATE_E_API_MEDIA_TYPE (415)        body is not `application/json`
 * - PODGATE_E_API_BODY_TOO_LARGE (413)    body over the limit
 * - PODGATE_E_API_MALFORMED_JSON (400)    body is not JSON
 * - PODGATE_E_API_BAD_REQUEST (400)       a field is missing, of the wrong type, or not base64
 * - PODGATE_E_API_UNAUTHENTICATED (401)   the route needs a client SVID and none was presented
 * - PODGATE_E_API_NOT_AGENT (403)         the client SVID is not an agent's
 * - PODGATE_E_API_PEER_REFUSED (403)      the client SVID verified at handshake no longer does
 *                                         (expired, deny-listed, CA pruned); the connection closes
 * - PODGATE_E_API_INTERNAL (500)          an unexpected failure (details stay in the server's events)
 * - any IdentityError code from the authority (CSR defects, join tokens, pod placement, ...),
 *   with the status `statusForCode` gives it.
 */
import { IdentityError } from '../../identity/errors.js';
import { isRecord } from '../../manifest/document.js';

export const API_PATHS = {
  attest: '/v1/attest',
  renew: '/v1/renew',
  svid: '/v1/svid',
  bundle: '/v1/bundle',
} as const;

/** Largest request body the server reads (a CSR is at most 16 KiB DER, about 22 KiB base64). */
export const MAX_BODY_BYTES = 64 * 1024;

/** `POST /v1/attest`: no client certificate; the single-use join token is the credential. */
export interface AttestRequest {
  token: string;
  /** base64 DER PKCS#10 */
  csr: string;
}

/** `POST /v1/renew`: mutual TLS with the current node SVID; a new node SVID for the same ID. */
export interface RenewRequest {
  csr: string;
}

/** `POST /v1/svid`: mutual TLS with the node SVID; an SVID for a pod on that node. */
export interface PodSvidRequest {
  namespace: string;
  pod: string;
  csr: string;
}

export interface BundleBody {
  trustDomain: string;
  /** PEM CERTIFICATE blocks of every authority that may have live SVIDs. */
  pem: string;
  /** The SPIFFE bundle (JWKS) document. */
  spiffe: Record<string, unknown>;
}

/** Answer to attest, renew and svid requests. */
export interface SvidResponse {
  spiffeId: string;
  /** base64 DER, leaf first */
  chain: string[];
  /** ISO 8601 */
  expiresAt: string;
  /** The current bundle rides along so clients follow CA rotation. */
  bundle: BundleBody;
}

export interface ErrorBody {
  error: { code: string; message: string; hint?: string };
}

export const ApiCode = {
  notFound: 'PODGATE_E_API_NOT_FOUND',
  method: 'PODGATE_E_API_METHOD',
  mediaType: 'PODGATE_E_API_MEDIA_TYPE',
  bodyTooLarge: 'PODGATE_E_API_BODY_TOO_LARGE',
  malformedJson: 'PODGATE_E_API_MALFORMED_JSON',
  badRequest: 'PODGATE_E_API_BAD_REQUEST',
  unauthenticated: 'PODGATE_E_API_UNAUTHENTICATED',
  notAgent: 'PODGATE_E_API_NOT_AGENT',
  peerRefused: 'PODGATE_E_API_PEER_REFUSED',
  internal: 'PODGATE_E_API_INTERNAL',
  /** Client side: the response was not the documented shape. */
  badResponse: 'PODGATE_E_API_BAD_RESPONSE',
  /** Client side: connection or TLS failure. */
  unreachable: 'PODGATE_E_API_UNREACHABLE',
} as const;

const STATUS_BY_CODE: Record<string, number> = {
  [ApiCode.notFound]: 404,
  [ApiCode.method]: 405,
  [ApiCode.mediaType]: 415,
  [ApiCode.bodyTooLarge]: 413,
  [ApiCode.malformedJson]: 400,
  [ApiCode.badRequest]: 400,
  [ApiCode.unauthenticated]: 401,
  [ApiCode.notAgent]: 403,
  [ApiCode.peerRefused]: 403,
  [ApiCode.internal]: 500,
};

/**
 * HTTP status for an error code. Authority codes are grouped by what they mean for the caller:
 * credentials (`PODGATE_E_ATTESTATION`, join token) 401, permission (`PODGATE_E_NOT_AUTHORIZED`:
 * pod not on the agent's node; deny-list) 403, CA or authority state 503, and everything else
 * about the request (CSR defects, ID mismatch) 400.
 */
export function statusForCode(code: string): number {
  const known = STATUS_BY_CODE[code];
  if (known !== undefined) return known;
  const suffix = code.replace(/^PODGATE_E_/, '');
  if (/^ATTESTATION|TOKEN/.test(suffix)) return 401;
  if (/^AUTHORITY_/.test(suffix)) return 503;
  if (/NOT_AUTHORIZED|UNAUTHORIZED|DENIED|FORBIDDEN|REVOKED/.test(suffix)) return 403;
  if (/^CA_/.test(suffix)) return 503;
  return 400;
}

export function apiError(code: string, message: string, hint?: string): IdentityError {
  return new IdentityError(code, message, hint);
}

export function errorBody(error: IdentityError): ErrorBody {
  return { error: { code: error.code, message: error.message, ...(error.hint === undefined ? {} : { hint: error.hint }) } };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict base64 (no whitespace, padded) to bytes. */
export function decodeBase64(text: string, field: string): Buffer {
  if (text.length === 0 || text.length % 4 !== 0 || !BASE64.test(text)) {
    throw apiError(ApiCode.badRequest, `field '${field}' is not padded base64`, 'send DER bytes as standard base64');
  }
  return Buffer.from(text, 'base64');
}

/** Reads one string field of a request body; refuses missing, non-string, empty or oversized values. */
export function stringField(body: unknown, field: string, maxLength = MAX_BODY_BYTES): string {
  if (!isRecord(body)) throw apiError(ApiCode.badRequest, 'the request body must be a JSON object');
  const value = body[field];
  if (typeof value !== 'string' || value.length === 0) throw apiError(ApiCode.badRequest, `field '${field}' must be a non-empty string`);
  if (value.length > maxLength) throw apiError(ApiCode.badRequest, `field '${field}' is longer than ${maxLength} characters`);
  return value;
}

/** Parses an error body, or undefined when it is not one. */
export function readErrorBody(value: unknown): ErrorBody['error'] | undefined {
  if (!isRecord(value) || !isRecord(value.error)) return undefined;
  const { code, message, hint } = value.error;
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  return { code, message, ...(typeof hint === 'string' ? { hint } : {}) };
}

function badResponse(what: string): IdentityError {
  return apiError(ApiCode.badResponse, `the authority answered with an unexpected body: ${what}`, 'check that the URL points at a podgate authority of this version');
}

export function readBundleBody(value: unknown): BundleBody {
  if (!isRecord(value)) throw badResponse('bundle is not an object');
  const { trustDomain, pem, spiffe } = value;
  if (typeof trustDomain !== 'string' || typeof pem !== 'string' || !isRecord(spiffe)) throw badResponse('bundle fields');
  return { trustDomain, pem, spiffe };
}

export function readSvidResponse(value: unknown): SvidResponse {
  if (!isRecord(value)) throw badResponse('not an object');
  const { spiffeId, chain, expiresAt, bundle } = value;
  if (typeof spiffeId !== 'string' || typeof expiresAt !== 'string') throw badResponse('spiffeId/expiresAt');
  if (!Array.isArray(chain) || chain.length === 0 || !chain.every((c): c is string => typeof c === 'string')) throw badResponse('chain');
  return { spiffeId, chain, expiresAt, bundle: readBundleBody(bundle) };
}
