/**
 * policy.networking.k8s.io ClusterNetworkPolicy (v1alpha2) and the v1alpha1 AdminNetworkPolicy /
 * BaselineAdminNetworkPolicy, all normalized onto the Admin and Baseline tiers.
 */
import { readMetadata, readProtocol } from '../../cluster/decode.js';
import type { Field } from '../../manifest/reader.js';
import { portNameProblem } from '../../manifest/syntax.js';
import type { Cidr } from '../address.js';
import type { Direction, PolicyKind, PolicyRef, Tier, TierAction, TieredPolicy, TierPeer, TierRule, TierSubject } from '../model.js';
import type { PortMatch, Protocol } from '../ports.js';
import { EVERYTHING, readSelector, type Selector } from '../selector.js';
import { readCidr } from './common.js';

type Flavor = 'ClusterNetworkPolicy' | 'AdminNetworkPolicy' | 'BaselineAdminNetworkPolicy';

interface Limits {
  readonly rules: number;
  readonly peers: number;
  readonly ports: number;
}

const LIMITS: Record<Flavor, Limits> = {
  ClusterNetworkPolicy: { rules: 25, peers: 25, ports: 25 },
  AdminNetworkPolicy: { rules: 100, peers: 100, ports: 100 },
  BaselineAdminNetworkPolicy: { rules: 100, peers: 100, ports: 100 },
};

const ACTIONS: Record<Flavor, Record<string, TierAction>> = {
  ClusterNetworkPolicy: { Accept: 'Accept', Deny: 'Deny', Pass: 'Pass' },
  AdminNetworkPolicy: { Allow: 'Accept', Deny: 'Deny', Pass: 'Pass' },
  BaselineAdminNetworkPolicy: { Allow: 'Accept', Deny: 'Deny' },
};

export function readTieredPolicy(root: Field, kind: Flavor): TieredPolicy | undefined {
  root.object(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  const meta = readMetadata(root, { namespaced: false });
  if (!meta) return undefined;
  const ref: PolicyRef = { kind: kind as PolicyKind, name: meta.name };
  root.ctx.object = `${kind} ${meta.name}`;
  const specKeys = kind === 'ClusterNetworkPolicy' ? ['tier', 'priority', 'subject', 'ingress', 'egress'] : kind === 'AdminNetworkPolicy' ? ['priority', 'subject', 'ingress', 'egress'] : ['subject', 'ingress', 'egress'];
  const spec = root.child('spec');
  if (!spec.object(specKeys)) {
    spec.error('PODGATE_E_REQUIRED', 'spec is required');
  }
  if (kind === 'BaselineAdminNetworkPolicy' && meta.name !== 'default') {
    root.child('metadata').child('name').error('PODGATE_E_NAME', 'a BaselineAdminNetworkPolicy must be named "default" (it is a singleton)', 'rename it to default');
  }
  let tier: Tier = kind === 'BaselineAdminNetworkPolicy' ? 'Baseline' : 'Admin';
  if (kind === 'ClusterNetworkPolicy') {
    const tierField = spec.child('tier');
    const value = tierField.string();
    if (value === 'Admin' || value === 'Baseline') tier = value;
    else tierField.error(value === undefined && !tierField.present ? 'PODGATE_E_REQUIRED' : 'PODGATE_E_TIER', `tier must be Admin or Baseline${value === undefined ? '' : `, got "${value}"`}`);
  }
  let priority = 0;
  if (kind !== 'BaselineAdminNetworkPolicy') {
    const priorityField = spec.child('priority');
    if (!priorityField.present) priorityField.error('PODGATE_E_REQUIRED', 'priority is required (0-1000, lower is evaluated first)');
    priority = priorityField.integer({ min: 0, max: 1000 }) ?? 0;
  }
  const subject = readSubject(spec.child('subject'), kind);
  const rules: Record<Direction, TierRule[]> = { ingress: [], egress: [] };
  for (const direction of ['ingress', 'egress'] as const) {
    const list = spec.child(direction).array() ?? [];
    if (list.length > LIMITS[kind].rules) spec.child(direction).error('PODGATE_E_LIMIT', `at most ${LIMITS[kind].rules} ${direction} rules are allowed, got ${list.length}`);
    list.forEach((ruleField, index) => {
      const rule = readRule(ruleField, { kind, direction, ref: { policy: ref, path: `spec.${direction}[${index}]` } });
      if (rule) rules[direction].push(rule);
    });
  }
  return { type: 'Tiered', ref, tier, priority, subject: subject ?? { type: 'namespaces', namespaceSelector: EVERYTHING }, ingress: rules.ingress, egress: rules.egress };
}

function readSubject(field: Field, kind: Flavor): TierSubject | undefined {
  const object = field.object(['namespaces', 'pods']);
  if (!object) {
    field.error('PODGATE_E_REQUIRED', 'subject is required: set namespaces or pods');
    return undefined;
  }
  const hasNamespaces = object.has('namespaces');
  const hasPods = object.has('pods');
  if (hasNamespaces === hasPods) {
    field.error('PODGATE_E_SUBJECT', 'subject must set exactly one of namespaces or pods');
    return undefined;
  }
  if (hasNamespaces) {
    const namespaceSelector = readSelector(object.child('namespaces'), 'kubernetes');
    return namespaceSelector ? { type: 'namespaces', namespaceSelector } : undefined;
  }
  const pods = readNamespacedPod(object.child('pods'), kind === 'ClusterNetworkPolicy' ? 'optional-namespace' : 'both-required');
  return pods ? { type: 'pods', ...pods } : undefined;
}

function readNamespacedPod(field: Field, required: 'optional-namespace' | 'both-required'): { namespaceSelector: Selector; podSelector: Selector } | undefined {
  const object = field.object(['namespaceSelector', 'podSelector']);
  if (!object) return undefined;
  for (const key of required === 'both-required' ? ['namespaceSelector', 'podSelector'] : ['podSelector']) {
    if (!object.has(key)) object.child(key).error('PODGATE_E_REQUIRED', `pods.${key} is required (use {} for all)`);
  }
  const namespaceSelector = readSelector(object.child('namespaceSelector'), 'kubernetes');
  const podSelector = readSelector(object.child('podSelector'), 'kubernetes');
  return namespaceSelector && podSelector ? { namespaceSelector, podSelector } : undefined;
}

function readRule(field: Field, context: { kind: Flavor; direction: Direction; ref: TierRule['ref'] }): TierRule | undefined {
  const { kind, direction, ref } = context;
  const peerKey = direction === 'ingress' ? 'from' : 'to';
  const portsKey = kind === 'ClusterNetworkPolicy' ? 'protocols' : 'ports';
  const object = field.object(['name', 'action', peerKey, portsKey]);
  if (!object) {
    field.error('PODGATE_E_RULE', 'a rule must be an object with action and ' + peerKey);
    return undefined;
  }
  const name = object.child('name').string();
  if (name !== undefined && name.length > 100) object.child('name').error('PODGATE_E_LIMIT', 'rule names may be at most 100 characters');
  const actionField = object.child('action');
  const actionText = actionField.string();
  const action = actionText === undefined ? undefined : ACTIONS[kind][actionText];
  if (action === undefined) {
    actionField.error(actionField.present ? 'PODGATE_E_ACTION' : 'PODGATE_E_REQUIRED', `action must be one of ${Object.keys(ACTIONS[kind]).join(', ')}${actionText === undefined ? '' : `, got "${actionText}"`}`);
  }
  const peerFields = object.child(peerKey).array();
  if (!peerFields || peerFields.length === 0) {
    object.child(peerKey).error('PODGATE_E_REQUIRED', `${peerKey} must list at least one peer`);
    return undefined;
  }
  if (peerFields.length > LIMITS[kind].peers) object.child(peerKey).error('PODGATE_E_LIMIT', `at most ${LIMITS[kind].peers} peers per rule`);
  const peers: TierPeer[] = [];
  let valid = true;
  for (const peerField of peerFields) {
    const peer = readPeer(peerField, kind, direction);
    if (peer) peers.push(peer);
    else valid = false;
  }
  let ports: PortMatch[] | undefined;
  const portFields = object.child(portsKey).array();
  if (portFields) {
    if (portFields.length === 0) object.child(portsKey).error('PODGATE_E_REQUIRED', `${portsKey} must list at least one entry when present`);
    if (portFields.length > LIMITS[kind].ports) object.child(portsKey).error('PODGATE_E_LIMIT', `at most ${LIMITS[kind].ports} ${portsKey} entries`);
    ports = [];
    for (const portField of portFields) {
      const port = kind === 'ClusterNetworkPolicy' ? readProtocolEntry(portField) : readAdminPort(portField);
      if (port) ports.push(port);
      else valid = false;
    }
    const named = ports.some((port) => port.name !== undefined);
    if (named && peers.some((peer) => peer.type === 'networks' || peer.type === 'nodes' || peer.type === 'domainNames')) {
      object.child(portsKey).error('PODGATE_E_PORT', 'a named port cannot be used with networks, nodes or domainNames peers', 'use a port number');
      valid = false;
    }
  }
  if (!valid || action === undefined) return undefined;
  return { ref, action, peers, ...(name === undefined ? {} : { name }), ...(ports ? { ports } : {}) };
}

function readPeer(field: Field, kind: Flavor, direction: Direction): TierPeer | undefined {
  const allowed = direction === 'ingress' ? ['namespaces', 'pods'] : kind === 'BaselineAdminNetworkPolicy' ? ['namespaces', 'pods', 'nodes', 'networks'] : ['namespaces', 'pods', 'nodes', 'networks', 'domainNames'];
  const object = field.object(allowed);
  if (!object) {
    field.error('PODGATE_E_PEER', `a peer must set one of ${allowed.join(', ')}`);
    return undefined;
  }
  const set = allowed.filter((key) => object.has(key));
  if (set.length !== 1) {
    field.error('PODGATE_E_PEER', set.length === 0 ? `a peer must set one of ${allowed.join(', ')}` : `a peer may set only one of ${set.join(', ')}`, 'split it into several peers');
    return undefined;
  }
  const key = set[0];
  switch (key) {
    case 'namespaces': {
      const namespaceSelector = readSelector(object.child('namespaces'), 'kubernetes');
      return namespaceSelector ? { type: 'namespaces', namespaceSelector } : undefined;
    }
    case 'pods': {
      const pods = readNamespacedPod(object.child('pods'), kind === 'ClusterNetworkPolicy' ? 'optional-namespace' : 'both-required');
      return pods ? { type: 'pods', ...pods } : undefined;
    }
    case 'nodes': {
      const nodeSelector = readSelector(object.child('nodes'), 'kubernetes');
      return nodeSelector ? { type: 'nodes', nodeSelector } : undefined;
    }
    case 'networks': {
      const list = object.child('networks').array() ?? [];
      if (list.length === 0 || list.length > 25) object.child('networks').error('PODGATE_E_LIMIT', 'networks must list 1 to 25 CIDRs');
      const cidrs: Cidr[] = [];
      for (const entry of list) {
        const cidr = readCidr(entry);
        if (!cidr) return undefined;
        cidrs.push(cidr);
      }
      return { type: 'networks', cidrs };
    }
    case 'domainNames': {
      const names = (object.child('domainNames').array() ?? []).map((entry) => entry.string()).filter((name): name is string => name !== undefined);
      object.child('domainNames').error('PODGATE_W_NOT_ENFORCED', 'domainNames are not resolved yet: this peer matches no traffic', 'use networks with the CIDRs of those names for now');
      return { type: 'domainNames', names };
    }
    default:
      return undefined;
  }
}

/** The one key of `keys` the object sets; an issue (and undefined) when it sets none or several. */
function exactlyOne(object: Field, keys: readonly string[], what: string): string | undefined {
  const set = keys.filter((key) => object.has(key));
  if (set.length === 1) return set[0];
  object.error('PODGATE_E_PORT', `each ${what} sets exactly one of ${keys.join(', ')}${set.length > 1 ? `, not ${set.join(' and ')}` : ''}`);
  return undefined;
}

/** A named port in any tier port form: matched by name on the destination, whatever its protocol. */
function readNamedPort(field: Field): PortMatch | undefined {
  const name = field.string();
  if (name === undefined) return undefined;
  const problem = portNameProblem(name);
  if (problem) {
    field.error('PODGATE_E_PORT_NAME', `invalid named port "${name}": ${problem}`);
    return undefined;
  }
  return { protocol: 'ANY', name };
}

/** v1alpha2 `protocols` entry: tcp/udp/sctp with destinationPort {number | range}, or destinationNamedPort. */
function readProtocolEntry(field: Field): PortMatch | undefined {
  const object = field.object(['tcp', 'udp', 'sctp', 'destinationNamedPort']);
  const key = object && exactlyOne(object, ['tcp', 'udp', 'sctp', 'destinationNamedPort'], 'protocols entry');
  if (!object || key === undefined) return undefined;
  if (key === 'destinationNamedPort') return readNamedPort(object.child(key));
  const protocol = key.toUpperCase() as Protocol;
  const entry = object.child(key).object(['destinationPort']);
  const destination = entry?.child('destinationPort').object(['number', 'range']);
  if (!destination) {
    object.child(key).error('PODGATE_E_PORT', `${key} needs destinationPort with number or range`, `for every port write destinationPort: {range: {start: 1, end: 65535}}`);
    return undefined;
  }
  const hasNumber = destination.has('number');
  if (hasNumber === destination.has('range')) {
    destination.error('PODGATE_E_PORT', 'destinationPort sets exactly one of number or range');
    return undefined;
  }
  if (hasNumber) {
    const port = destination.child('number').integer({ min: 1, max: 65535 });
    return port === undefined ? undefined : { protocol, port, endPort: port };
  }
  const range = destination.child('range').object(['start', 'end']);
  const start = range?.child('start').integer({ min: 1, max: 65535 });
  const end = range?.child('end').integer({ min: 1, max: 65535 });
  if (start === undefined || end === undefined) {
    destination.child('range').error('PODGATE_E_PORT', 'range needs start and end');
    return undefined;
  }
  if (start >= end) {
    destination.child('range').error('PODGATE_E_PORT', `range start (${start}) must be less than end (${end})`, start === end ? `use number: ${start}` : 'swap them');
    return undefined;
  }
  return { protocol, port: start, endPort: end };
}

/** v1alpha1 `ports` entry: portNumber, namedPort or portRange (protocol defaults to TCP). */
function readAdminPort(field: Field): PortMatch | undefined {
  const object = field.object(['portNumber', 'namedPort', 'portRange']);
  const key = object && exactlyOne(object, ['portNumber', 'namedPort', 'portRange'], 'ports entry');
  if (!object || key === undefined) return undefined;
  if (key === 'namedPort') return readNamedPort(object.child(key));
  const entry = object.child(key).object(key === 'portNumber' ? ['protocol', 'port'] : ['protocol', 'start', 'end']);
  if (!entry) return undefined;
  const protocol = entry.has('protocol') ? readProtocol(entry.child('protocol')) : 'TCP';
  if (key === 'portNumber') {
    if (!entry.has('port')) entry.child('port').error('PODGATE_E_REQUIRED', 'portNumber.port is required');
    const port = entry.child('port').integer({ min: 1, max: 65535 });
    return port === undefined || protocol === undefined ? undefined : { protocol, port, endPort: port };
  }
  const start = entry.child('start').integer({ min: 1, max: 65535 });
  const end = entry.child('end').integer({ min: 1, max: 65535 });
  if (start === undefined || end === undefined || protocol === undefined) {
    if (!entry.has('start') || !entry.has('end')) entry.error('PODGATE_E_PORT', 'portRange needs start and end');
    return undefined;
  }
  if (start > end) {
    entry.error('PODGATE_E_PORT', `portRange start (${start}) must not exceed end (${end})`);
    return undefined;
  }
  return { protocol, port: start, endPort: end };
}
