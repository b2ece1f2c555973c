/**
 * X.509 trust bundles: the CA certificates a trust domain's SVIDs chain to. Bundles are immutable
 * values (adding or removing an authority gives a new bundle), so a verifier holding one never
 * sees it change mid-handshake. Parse errors: `PODGATE_E_PEM_NO_BLOCKS`, `PODGATE_E_X509_MALFORMED`
 * with go-spiffe's `x509bundle: cannot parse certificate: ...` text.
 */
import type { TrustDomain } from '../spiffe-id.js';
import { parsePemCertificates, type Certificate } from '../x509/certificate.js';
import { certificatesToPem } from '../x509/pem.js';

/** One method: the X.509 bundle of a trust domain, or undefined when there is none. */
export interface BundleSource {
  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined;
}

export class X509Bundle implements BundleSource {
  private bySubject: Map<string, Certificate[]> | undefined;

  private constructor(
    readonly trustDomain: TrustDomain,
    readonly authorities: readonly Certificate[],
  ) {}

  /** A bundle of these authorities, duplicates (same DER) dropped, order kept. */
  static of(trustDomain: TrustDomain, authorities: Iterable<Certificate>): X509Bundle {
    const unique: Certificate[] = [];
    for (const cert of authorities) if (!unique.some((c) => c.der.equals(cert.der))) unique.push(cert);
    return new X509Bundle(trustDomain, Object.freeze(unique));
  }

  /** PEM CERTIFICATE blocks, as go-spiffe `x509bundle.Parse` (empty input: empty bundle; other block types skipped). */
  static parse(trustDomain: TrustDomain, pem: string | Uint8Array): X509Bundle {
    if (pem.length === 0) return X509Bundle.of(trustDomain, []);
    return X509Bundle.of(trustDomain, parsePemCertificates(pem, 'x509bundle: cannot parse certificate', 'a bundle is PEM text with CERTIFICATE blocks'));
  }

  toPem(): string {
    return certificatesToPem(this.authorities);
  }

  hasAuthority(cert: Certificate): boolean {
    return this.authorities.some((c) => c.der.equals(cert.der));
  }

  withAuthority(cert: Certificate): X509Bundle {
    return this.hasAuthority(cert) ? this : new X509Bundle(this.trustDomain, Object.freeze([...this.authorities, cert]));
  }

  withoutAuthority(cert: Certificate): X509Bundle {
    return this.hasAuthority(cert) ? new X509Bundle(this.trustDomain, Object.freeze(this.authorities.filter((c) => !c.der.equals(cert.der)))) : this;
  }

  /** Authorities whose subject is byte-equal to `issuerDer` (path building looks them up per handshake). */
  authoritiesWithSubject(issuerDer: Buffer): readonly Certificate[] {
    if (!this.bySubject) {
      this.bySubject = new Map();
      for (const cert of this.authorities) {
        const key = cert.subjectDer.toString('latin1');
        const list = this.bySubject.get(key);
        if (list) list.push(cert);
        else this.bySubject.set(key, [cert]);
      }
    }
    return this.bySubject.get(issuerDer.toString('latin1')) ?? [];
  }

  equals(other: X509Bundle): boolean {
    return (
      this.trustDomain.equals(other.trustDomain) &&
      this.authorities.length === other.authorities.length &&
      this.authorities.every((c, i) => c.der.equals(other.authorities[i]!.der))
    );
  }

  /** A bundle is its own source for its trust domain, as in go-spiffe. */
  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined {
    return this.trustDomain.equals(td) ? this : undefined;
  }
}

/** Bundles of several trust domains (own plus federated), one per trust domain. */
export class BundleSet implements BundleSource {
  private readonly bundles = new Map<string, X509Bundle>();

  constructor(bundles: Iterable<X509Bundle> = []) {
    for (const bundle of bundles) this.set(bundle);
  }

  /** Adds or replaces the bundle of `bundle.trustDomain`. */
  set(bundle: X509Bundle): void {
    this.bundles.set(bundle.trustDomain.name, bundle);
  }

  delete(td: TrustDomain): boolean {
    return this.bundles.delete(td.name);
  }

  get size(): number {
    return this.bundles.size;
  }

  list(): X509Bundle[] {
    return [...this.bundles.values()];
  }

  getX509BundleForTrustDomain(td: TrustDomain): X509Bundle | undefined {
    return this.bundles.get(td.name);
  }
}
