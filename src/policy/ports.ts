/** L4 protocols and port matches, with Kubernetes and Cilium defaults kept apart. */

export type Protocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMP' | 'ICMPv6';
/** `ANY` is Cilium's wildcard: TCP, UDP and SCTP (ICMP is matched only by `icmps` rules). */
export type ProtocolMatch = Protocol | 'ANY';

export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP', 'ICMP', 'ICMPv6'];
export const L4_PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

export interface PortMatch {
  readonly protocol: ProtocolMatch;
  /** First port of the range; absent means every port of the protocol. */
  readonly port?: number;
  /** Last port of the range (inclusive); equals `port` for a single port. */
  readonly endPort?: number;
  /** A named container port, resolved against the destination pod. */
  readonly name?: string;
}

/** A container port of the destination, used to resolve named ports. */
export interface NamedPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
}

export function protocolMatches(match: ProtocolMatch, protocol: Protocol): boolean {
  return match === protocol || (match === 'ANY' && (protocol === 'TCP' || protocol === 'UDP' || protocol === 'SCTP'));
}

/** Does the rule's port entry cover `protocol`/`port` on a destination with these named ports? */
export function portMatches(match: PortMatch, protocol: Protocol, port: number, namedPorts: readonly NamedPort[]): boolean {
  if (!protocolMatches(match.protocol, protocol)) return false;
  if (match.name !== undefined) {
    return namedPorts.some((named) => named.name === match.name && named.port === port && named.protocol === protocol);
  }
  if (match.port === undefined) return true;
  return port >= match.port && port <= (match.endPort ?? match.port);
}

export function formatPortMatch(match: PortMatch): string {
  const port = match.name ?? (match.port === undefined ? 'any port' : match.endPort !== undefined && match.endPort !== match.port ? `${match.port}-${match.endPort}` : String(match.port));
  return match.protocol === 'ANY' ? `${port} (any protocol)` : `${port}/${match.protocol}`;
}
