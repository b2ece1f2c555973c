/**
 * SPIFFE IDs and trust domains with go-spiffe's parsing rules and error texts (default charset
 * build). Values are only created by validating constructors, so a `SpiffeId` or `TrustDomain`
 * in hand is always valid. Every failure is `IdentityError('PODGATE_E_SPIFFE_ID', <go-spiffe text>)`.
 */
import { IdentityError } from './errors.js';

export const SPIFFE_ID_ERROR = 'PODGATE_E_SPIFFE_ID';

const SCHEME_PREFIX = 'spiffe://';

const MSG = {
  empty: 'cannot be empty',
  wrongScheme: 'scheme is missing or invalid',
  missingTrustDomain: 'trust domain is missing',
  badTrustDomainChar: 'trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores',
  badPathSegmentChar: 'path segment characters are limited to letters, numbers, dots, dashes, and underscores',
  noLeadingSlash: 'path must have a leading slash',
  emptySegment: 'path cannot contain empty segments',
  dotSegment: 'path cannot contain dot segments',
  trailingSlash: 'path cannot have a trailing slash',
} as const;

function fail(message: string): never {
  throw new IdentityError(SPIFFE_ID_ERROR, message, 'a SPIFFE ID looks like spiffe://trust-domain/path/segments');
}

// a-z 0-9 . - _ (char codes), checked per UTF-16 unit: any non-ASCII unit is invalid either way.
function isTrustDomainChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || c === 0x5f;
}

function isPathSegmentChar(c: number): boolean {
  return isTrustDomainChar(c) || (c >= 0x41 && c <= 0x5a);
}

function checkTrustDomainName(name: string): void {
  for (let i = 0; i < name.length; i++) if (!isTrustDomainChar(name.charCodeAt(i))) fail(MSG.badTrustDomainChar);
}

function checkSegmentEnd(segment: string, last: boolean): void {
  if (segment === '/') fail(last ? MSG.trailingSlash : MSG.emptySegment);
  if (segment === '/.' || segment === '/..') fail(MSG.dotSegment);
}

/** A path is empty or `/seg(/seg)*`; segments are checked left to right, first problem wins. */
function checkPath(path: string): void {
  if (path === '') return;
  if (path.charCodeAt(0) !== 0x2f) fail(MSG.noLeadingSlash);
  let start = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x2f) {
      checkSegmentEnd(path.slice(start, i), false);
      start = i;
      continue;
    }
    if (!isPathSegmentChar(c)) fail(MSG.badPathSegmentChar);
  }
  checkSegmentEnd(path.slice(start), true);
}

/** Validates one path segment (no slashes), as go-spiffe `ValidatePathSegment`. */
export function validatePathSegment(segment: string): void {
  if (segment === '') fail(MSG.emptySegment);
  if (segment === '.' || segment === '..') fail(MSG.dotSegment);
  for (let i = 0; i < segment.length; i++) if (!isPathSegmentChar(segment.charCodeAt(i))) fail(MSG.badPathSegmentChar);
}

// Module-private factory so SpiffeId.parse skips re-checking a name it has just checked.
let newTrustDomain: (checkedName: string) => TrustDomain;

export class TrustDomain {
  private constructor(readonly name: string) {}

  /** Accepts a bare name (`example.org`) or any SPIFFE ID, as go-spiffe `TrustDomainFromString`. */
  static parse(text: string): TrustDomain {
    if (text === '') fail(MSG.missingTrustDomain);
    if (text.includes(':/')) return SpiffeId.parse(text).trustDomain;
    checkTrustDomainName(text);
    return new TrustDomain(text);
  }

  static {
    newTrustDomain = (name) => new TrustDomain(name);
  }

  /** The trust domain's own ID, `spiffe://name`. */
  idString(): string {
    return SCHEME_PREFIX + this.name;
  }

  toString(): string {
    return this.name;
  }

  equals(other: TrustDomain): boolean {
    return this.name === other.name;
  }
}

export class SpiffeId {
  private readonly text: string;

  private constructor(
    readonly trustDomain: TrustDomain,
    readonly path: string,
  ) {
    this.text = SCHEME_PREFIX + trustDomain.name + path;
  }

  /** Parses `spiffe://td[/path]` exactly as go-spiffe `FromString` (same check order, same texts). */
  static parse(text: string): SpiffeId {
    if (text === '') fail(MSG.empty);
    if (!text.startsWith(SCHEME_PREFIX)) fail(MSG.wrongScheme);
    const rest = text.slice(SCHEME_PREFIX.length);
    let end = 0;
    for (; end < rest.length; end++) {
      const c = rest.charCodeAt(end);
      if (c === 0x2f) break;
      if (!isTrustDomainChar(c)) fail(MSG.badTrustDomainChar);
    }
    if (end === 0) fail(MSG.missingTrustDomain);
    const path = rest.slice(end);
    checkPath(path);
    return new SpiffeId(newTrustDomain(rest.slice(0, end)), path);
  }

  /** `path` must be empty or start with a slash, as go-spiffe `FromPath`. */
  static fromPath(td: TrustDomain, path: string): SpiffeId {
    checkPath(path);
    return new SpiffeId(td, path);
  }

  /** Joins validated segments, as go-spiffe `FromSegments`. */
  static fromSegments(td: TrustDomain, ...segments: string[]): SpiffeId {
    let path = '';
    for (const segment of segments) {
      validatePathSegment(segment);
      path += '/' + segment;
    }
    return new SpiffeId(td, path);
  }

  toString(): string {
    return this.text;
  }

  toJSON(): string {
    return this.text;
  }

  memberOf(td: TrustDomain): boolean {
    return this.trustDomain.name === td.name;
  }

  equals(other: SpiffeId): boolean {
    return this.text === other.text;
  }
}

/** `spiffe://td/ns/NS/sa/SA`: the identity of a Kubernetes service account. */
export function workloadId(td: TrustDomain, namespace: string, serviceAccount: string): SpiffeId {
  return SpiffeId.fromSegments(td, 'ns', namespace, 'sa', serviceAccount);
}

/** `spiffe://td/podgate/agent/NODE`: the node agent's identity. */
export function agentId(td: TrustDomain, nodeName: string): SpiffeId {
  return SpiffeId.fromSegments(td, 'podgate', 'agent', nodeName);
}

/** `spiffe://td/podgate/authority`: the authority server's identity. */
export function authorityServerId(td: TrustDomain): SpiffeId {
  return SpiffeId.fromSegments(td, 'podgate', 'authority');
}
