/**
 * X509-SVID chain verification, as go-spiffe `x509svid.Verify` (which defers to Go's RFC 5280
 * path building) plus the leaf/signing rules of `x509svid.Parse`. Time is injected (`now`).
 * Order: shape, leaf validity, bundle of the leaf's trust domain, path building (signatures,
 * issuer CA rights, validity windows, path length, name constraints), revocation.
 * Stable codes (besides the shape codes of x509-svid.ts, e.g. PODGATE_E_SVID_LEAF_CA):
 * - PODGATE_E_SVID_NO_CERTIFICATES     empty chain
 * - PODGATE_E_SVID_CHAIN_TOO_LONG      more than `maxChainLength` certificates presented
 * - PODGATE_E_SVID_EXPIRED             a certificate on the path is past its NotAfter at `now`
 * - PODGATE_E_SVID_NOT_YET_VALID       a certificate on the path is before its NotBefore at `now`
 * - PODGATE_E_SVID_NO_BUNDLE           no bundle for the leaf's trust domain
 * - PODGATE_E_SVID_UNTRUSTED           the chain leads to an authority that is not in the bundle
 * - PODGATE_E_SVID_CHAIN_INCOMPLETE    an issuer is neither presented nor in the bundle (intermediate missing)
 * - PODGATE_E_SVID_BAD_SIGNATURE       a signature does not verify under its issuer's key
 * - PODGATE_E_SVID_ISSUER_NOT_CA       an issuer lacks CA:TRUE or keyCertSign
 * - PODGATE_E_SVID_PATH_LEN            an issuer's pathLenConstraint is exceeded
 * - PODGATE_E_SVID_NAME_CONSTRAINTS    a name constraint excludes the leaf's names (or uses a form not supported here)
 * - PODGATE_E_SVID_UNHANDLED_CRITICAL  a certificate on the path has a critical extension we do not understand
 * - PODGATE_E_SVID_REVOKED             `isRevoked(leaf)` says so (deny-list)
 */
import { IdentityError } from '../errors.js';
import type { SpiffeId } from '../spiffe-id.js';
import { KeyUsage, signedBy, type Certificate } from '../x509/certificate.js';
import type { BundleSource, X509Bundle } from '../bundle/x509-bundle.js';
import { checkSvidShape } from './x509-svid.js';

export type { BundleSource } from '../bundle/x509-bundle.js';
export { authorizeAll, authorizeAny, authorizeId, authorizeMemberOf, authorizeOneOf, type Authorizer } from './authorize.js';

export interface VerifyOptions {
  now: Date;
  /** Deny-list hook, consulted once the chain is proven. */
  isRevoked?: (leaf: Certificate) => boolean;
  /** Presented certificates accepted at most (default 16). */
  maxChainLength?: number;
}

export interface VerifiedSvid {
  id: SpiffeId;
  /** The verified path: leaf, intermediates used, then the bundle authority. */
  chain: Certificate[];
}

const PREFIX = 'x509svid: could not verify leaf certificate: ';
const MAX_DEPTH = 10;
const MAX_SIGNATURE_CHECKS = 100;

class PathError {
  constructor(
    readonly code: string,
    readonly message: string,
    readonly depth: number,
  ) {}
}

// Verified (child, issuer) pairs: callers that keep parsed certificates skip the crypto on repeat handshakes.
const verifiedSignatures = new WeakMap<Certificate, WeakSet<Certificate>>();

function checkSignature(child: Certificate, issuer: Certificate): boolean {
  if (verifiedSignatures.get(child)?.has(issuer)) return true;
  if (!signedBy(child, issuer)) return false;
  let set = verifiedSignatures.get(child);
  if (!set) verifiedSignatures.set(child, (set = new WeakSet()));
  set.add(issuer);
  return true;
}

function describe(cert: Certificate): string {
  return `"${cert.subject || cert.uris[0] || 'serial ' + cert.serialHex}"`;
}

function timeProblem(cert: Certificate, now: Date, depth: number): PathError | undefined {
  if (now.getTime() > cert.notAfter.getTime()) {
    return new PathError('PODGATE_E_SVID_EXPIRED', `certificate ${describe(cert)} has expired: current time ${now.toISOString()} is after ${cert.notAfter.toISOString()}`, depth);
  }
  if (now.getTime() < cert.notBefore.getTime()) {
    return new PathError('PODGATE_E_SVID_NOT_YET_VALID', `certificate ${describe(cert)} is not yet valid: current time ${now.toISOString()} is before ${cert.notBefore.toISOString()}`, depth);
  }
  return undefined;
}

// Go's matchDomainConstraint: "example.org" matches it and its subdomains; ".example.org" only subdomains.
function domainMatches(host: string, constraint: string): boolean {
  if (constraint === '') return true;
  const h = host.toLowerCase();
  const c = constraint.toLowerCase();
  if (c.startsWith('.')) return h.endsWith(c) && h.length > c.length;
  return h === c || h.endsWith('.' + c);
}

function uriHost(uri: string): string | undefined {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri);
  if (!m) return undefined;
  return m[1]!.replace(/^[^@]*@/, '').replace(/:\d*$/, '');
}

function nameConstraintProblem(ca: Certificate, leaf: Certificate, depth: number): PathError | undefined {
  const nc = ca.nameConstraints;
  if (!nc) return undefined;
  const fail = (detail: string): PathError => new PathError('PODGATE_E_SVID_NAME_CONSTRAINTS', `certificate ${describe(ca)} name constraints: ${detail}`, depth);
  // Fail closed: forms we do not evaluate (IP, email, directoryName...) could exclude the leaf.
  if (nc.otherForms.length > 0) return fail(`unsupported constraint forms ${nc.otherForms.join(', ')}`);
  const check = (names: string[], hostOf: (n: string) => string | undefined, permitted: string[], excluded: string[]): PathError | undefined => {
    for (const name of names) {
      const host = hostOf(name);
      if (host === undefined || host === '') return fail(`cannot apply constraints to "${name}"`);
      if (excluded.some((c) => domainMatches(host, c))) return fail(`"${name}" is excluded`);
      if (permitted.length > 0 && !permitted.some((c) => domainMatches(host, c))) return fail(`"${name}" is not permitted`);
    }
    return undefined;
  };
  return check(leaf.uris, uriHost, nc.permittedUris, nc.excludedUris) ?? check(leaf.dnsNames, (d) => d, nc.permittedDns, nc.excludedDns);
}

// RFC 5280 4.2.1.9 / Go CheckSignatureFrom: a v3 issuer needs basic constraints with CA:TRUE, and keyCertSign if it has key usage.
function issuerRightsProblem(issuer: Certificate, depth: number): PathError | undefined {
  const notCa = (issuer.version === 3 && !issuer.hasBasicConstraints) || (issuer.hasBasicConstraints && !issuer.isCA);
  if (notCa) return new PathError('PODGATE_E_SVID_ISSUER_NOT_CA', `issuer ${describe(issuer)} is not a CA (basic constraints CA:TRUE required)`, depth);
  if (issuer.keyUsage !== undefined && !(issuer.keyUsage & KeyUsage.keyCertSign)) {
    return new PathError('PODGATE_E_SVID_ISSUER_NOT_CA', `issuer ${describe(issuer)} lacks the keyCertSign key usage`, depth);
  }
  return undefined;
}

function unhandledCritical(cert: Certificate, depth: number): PathError | undefined {
  if (cert.unhandledCriticalExtensions.length === 0) return undefined;
  return new PathError('PODGATE_E_SVID_UNHANDLED_CRITICAL', `certificate ${describe(cert)} has unhandled critical extensions ${cert.unhandledCriticalExtensions.join(', ')}`, depth);
}

function sameSubjectAndIssuer(cert: Certificate): boolean {
  return cert.subjectDer.equals(cert.issuerDer);
}

/** Depth-first RFC 5280 path building from the leaf to any bundle authority; keeps the deepest failure. */
class PathBuilder {
  private best: PathError | undefined;
  private signatureChecks = 0;

  constructor(
    private readonly intermediates: readonly Certificate[],
    private readonly bundle: X509Bundle,
    private readonly now: Date,
  ) {}

  build(leaf: Certificate): Certificate[] {
    const path = this.extend([leaf]);
    if (path) return path;
    throw this.best ?? new PathError('PODGATE_E_SVID_UNTRUSTED', 'no path to the trust bundle', 0);
  }

  private note(problem: PathError): void {
    if (!this.best || problem.depth > this.best.depth) this.best = problem;
  }

  private extend(path: Certificate[]): Certificate[] | undefined {
    const current = path[path.length - 1]!;
    const depth = path.length;
    const fromBundle = this.bundle.authoritiesWithSubject(current.issuerDer);
    const fromChain = this.intermediates.filter((c) => c.subjectDer.equals(current.issuerDer) && !path.includes(c) && !fromBundle.some((b) => b.der.equals(c.der)));
    if (fromBundle.length === 0 && fromChain.length === 0) {
      this.note(
        sameSubjectAndIssuer(current)
          ? new PathError('PODGATE_E_SVID_UNTRUSTED', `certificate ${describe(current)} is self-issued and not in the trust bundle of ${this.bundle.trustDomain}`, depth)
          : new PathError('PODGATE_E_SVID_CHAIN_INCOMPLETE', `issuer "${current.issuer}" of ${describe(current)} is neither in the presented chain nor in the trust bundle of ${this.bundle.trustDomain} (intermediate missing?)`, depth),
      );
      return undefined;
    }
    for (const [candidate, isRoot] of [...fromBundle.map((c) => [c, true] as const), ...fromChain.map((c) => [c, false] as const)]) {
      if (++this.signatureChecks > MAX_SIGNATURE_CHECKS) {
        this.note(new PathError('PODGATE_E_SVID_UNTRUSTED', 'too many candidate issuers', depth));
        return undefined;
      }
      if (!checkSignature(current, candidate)) {
        // A different key under the same name (AKI names another key) is another authority, not a broken signature.
        const otherKey = current.authorityKeyId !== undefined && candidate.subjectKeyId !== undefined && current.authorityKeyId !== candidate.subjectKeyId;
        this.note(
          otherKey && isRoot
            ? new PathError('PODGATE_E_SVID_UNTRUSTED', `${describe(current)} is signed by an authority that is not in the trust bundle of ${this.bundle.trustDomain}`, depth)
            : new PathError('PODGATE_E_SVID_BAD_SIGNATURE', `signature of ${describe(current)} does not verify with the key of ${describe(candidate)}`, depth),
        );
        continue;
      }
      const next = [...path, candidate];
      const problem =
        issuerRightsProblem(candidate, depth) ??
        timeProblem(candidate, this.now, depth) ??
        unhandledCritical(candidate, depth) ??
        (candidate.pathLenConstraint !== undefined && path.length - 1 > candidate.pathLenConstraint
          ? new PathError('PODGATE_E_SVID_PATH_LEN', `issuer ${describe(candidate)} allows ${candidate.pathLenConstraint} intermediates below it, found ${path.length - 1}`, depth)
          : undefined) ??
        nameConstraintProblem(candidate, path[0]!, depth);
      if (problem) {
        this.note(problem);
        continue;
      }
      if (isRoot) return next;
      if (next.length > MAX_DEPTH) {
        this.note(new PathError('PODGATE_E_SVID_UNTRUSTED', `no path to the trust bundle within ${MAX_DEPTH} certificates`, depth));
        continue;
      }
      const found = this.extend(next);
      if (found) return found;
    }
    return undefined;
  }
}

/**
 * Verifies a presented chain (leaf first; intermediates in any order) against the bundle of the
 * leaf's trust domain at `options.now`. Returns the leaf's SPIFFE ID and the verified path, or
 * throws `IdentityError` with one of the codes listed at the top of this file.
 */
export function verifyX509Svid(chain: readonly Certificate[], bundles: BundleSource, options: VerifyOptions): VerifiedSvid {
  if (chain.length === 0) throw new IdentityError('PODGATE_E_SVID_NO_CERTIFICATES', 'x509svid: empty certificates chain');
  const max = options.maxChainLength ?? 16;
  if (chain.length > max) throw new IdentityError('PODGATE_E_SVID_CHAIN_TOO_LONG', `x509svid: ${chain.length} certificates presented, at most ${max} accepted`);
  const id = checkSvidShape(chain);
  const leaf = chain[0]!;
  const leafProblem = timeProblem(leaf, options.now, 0) ?? unhandledCritical(leaf, 0);
  if (leafProblem) throw new IdentityError(leafProblem.code, PREFIX + leafProblem.message, hintFor(leafProblem.code));
  const bundle = bundles.getX509BundleForTrustDomain(id.trustDomain);
  if (!bundle) {
    throw new IdentityError('PODGATE_E_SVID_NO_BUNDLE', `x509svid: could not get X509 bundle: no X.509 bundle for trust domain "${id.trustDomain}"`, hintFor('PODGATE_E_SVID_NO_BUNDLE'));
  }
  let path: Certificate[];
  try {
    path = new PathBuilder(chain.slice(1), bundle, options.now).build(leaf);
  } catch (e) {
    if (!(e instanceof PathError)) throw e;
    throw new IdentityError(e.code, PREFIX + e.message, hintFor(e.code));
  }
  if (options.isRevoked?.(leaf)) {
    throw new IdentityError('PODGATE_E_SVID_REVOKED', `x509svid: certificate serial ${leaf.serialHex} (${id}) is revoked`, hintFor('PODGATE_E_SVID_REVOKED'));
  }
  return { id, chain: path };
}

function hintFor(code: string): string | undefined {
  switch (code) {
    case 'PODGATE_E_SVID_EXPIRED':
    case 'PODGATE_E_SVID_NOT_YET_VALID':
      return 'check the clocks of both peers and that the agent keeps rotating SVIDs';
    case 'PODGATE_E_SVID_NO_BUNDLE':
      return 'add the trust bundle of that trust domain (federation) or check the peer trust domain';
    case 'PODGATE_E_SVID_UNTRUSTED':
    case 'PODGATE_E_SVID_BAD_SIGNATURE':
      return 'refresh the trust bundle (podgate identity bundle) and check the peer uses this authority';
    case 'PODGATE_E_SVID_CHAIN_INCOMPLETE':
      return 'the peer must present its intermediates after the leaf';
    case 'PODGATE_E_SVID_REVOKED':
      return 'the SVID is on the deny-list; the workload needs a fresh SVID';
    default:
      return undefined;
  }
}
