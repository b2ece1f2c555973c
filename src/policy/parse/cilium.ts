/** cilium.io/v2 CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy. */
import { readMetadata } from '../../cluster/decode.js';
import type { Field } from '../../manifest/reader.js';
import { portNameProblem } from '../../manifest/syntax.js';
import { hostCidr, parseIp } from '../address.js';
import { isEntity, type Entity } from '../entity.js';
import { compilePattern, dnsRule, type DnsRule, type HeaderMatch, type HttpRule, type Pattern } from '../l7.js';
import type { AuthMode, CidrRule, CiliumPeerRule, CiliumPeers, CiliumPolicy, CiliumPortRule, CiliumRule, CiliumSubject, Direction, FqdnSelector, PolicyRef, ServiceSelector } from '../model.js';
import type { PortMatch, ProtocolMatch } from '../ports.js';
import { EVERYTHING, readSelector, type Selector } from '../selector.js';
import { readCidr, readExcepts } from './common.js';

type Kind = 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy';
type Section = 'ingress' | 'ingressDeny' | 'egress' | 'egressDeny';

const RULE_KEYS = ['endpointSelector', 'nodeSelector', 'ingress', 'ingressDeny', 'egress', 'egressDeny', 'labels', 'description', 'enableDefaultDeny', 'log'];

const PEER_KEYS: Record<Direction, readonly string[]> = {
  ingress: ['fromEndpoints', 'fromRequires', 'fromCIDR', 'fromCIDRSet', 'fromEntities', 'fromGroups', 'fromNodes'],
  egress: ['toEndpoints', 'toRequires', 'toCIDR', 'toCIDRSet', 'toEntities', 'toServices', 'toFQDNs', 'toGroups', 'toNodes'],
};

const ICMP_TYPES: Record<'IPv4' | 'IPv6', Record<string, number>> = {
  IPv4: {
    EchoReply: 0, DestinationUnreachable: 3, Redirect: 5, Echo: 8, EchoRequest: 8, RouterAdvertisement: 9, RouterSelection: 10,
    TimeExceeded: 11, ParameterProblem: 12, Timestamp: 13, TimestampReply: 14, Photuris: 40, ExtendedEchoRequest: 42, ExtendedEchoReply: 43,
  },
  IPv6: {
    DestinationUnreachable: 1, PacketTooBig: 2, TimeExceeded: 3, ParameterProblem: 4, EchoRequest: 128, EchoReply: 129,
    MulticastListenerQuery: 130, MulticastListenerReport: 131, MulticastListenerDone: 132, RouterSolicitation: 133,
    RouterAdvertisement: 134, NeighborSolicitation: 135, NeighborAdvertisement: 136, RedirectMessage: 137,
    RouterRenumbering: 138, ICMPNodeInformationQuery: 139, ICMPNodeInformationResponse: 140,
    InverseNeighborDiscoverySolicitation: 141, InverseNeighborDiscoveryAdvertisement: 142, HomeAgentAddressDiscoveryRequest: 144,
    HomeAgentAddressDiscoveryReply: 145, MobilePrefixSolicitation: 146, MobilePrefixAdvertisement: 147, DuplicateAddressRequestCodeSuffix: 157,
    DuplicateAddressConfirmationCodeSuffix: 158, ExtendedEchoRequest: 160, ExtendedEchoReply: 161,
  },
};

export function readCiliumPolicy(root: Field, kind: Kind): CiliumPolicy | undefined {
  root.object(['apiVersion', 'kind', 'metadata', 'spec', 'specs', 'status']);
  const meta = readMetadata(root, { namespaced: kind === 'CiliumNetworkPolicy' });
  if (!meta) return undefined;
  const namespace = kind === 'CiliumNetworkPolicy' ? (meta.namespace ?? 'default') : undefined;
  const ref: PolicyRef = { kind, name: meta.name, ...(namespace === undefined ? {} : { namespace }) };
  root.ctx.object = namespace === undefined ? `${kind} ${meta.name}` : `${kind} ${namespace}/${meta.name}`;
  const rules: CiliumRule[] = [];
  const spec = root.child('spec');
  const specs = root.child('specs').array();
  if (!spec.present && (!specs || specs.length === 0)) {
    root.error('PODGATE_E_REQUIRED', `${kind} needs spec or specs`, 'add spec: with an endpointSelector and ingress/egress rules');
  }
  if (spec.present) {
    const rule = readRule(spec, { kind, ref, namespace, path: 'spec' });
    if (rule) rules.push(rule);
  }
  specs?.forEach((entry, index) => {
    const rule = readRule(entry, { kind, ref, namespace, path: `specs[${index}]` });
    if (rule) rules.push(rule);
  });
  return { type: 'Cilium', ref, rules, ...(namespace === undefined ? {} : { namespace }) };
}

interface RuleContext {
  readonly kind: Kind;
  readonly ref: PolicyRef;
  readonly namespace: string | undefined;
  readonly path: string;
}

function readRule(field: Field, context: RuleContext): CiliumRule | undefined {
  const object = field.object(RULE_KEYS);
  if (!object) return undefined;
  const hasEndpoints = object.has('endpointSelector');
  const hasNodes = object.has('nodeSelector');
  let subject: CiliumSubject = { type: 'endpoints', selector: EVERYTHING };
  if (hasEndpoints && hasNodes) object.error('PODGATE_E_SUBJECT', 'set either endpointSelector or nodeSelector, not both');
  else if (!hasEndpoints && !hasNodes) {
    object.child('endpointSelector').error('PODGATE_E_REQUIRED', 'a rule needs endpointSelector (pods) or nodeSelector (nodes)', 'use endpointSelector: {} to select every pod');
  } else if (hasNodes) {
    if (context.kind === 'CiliumNetworkPolicy') {
      object.child('nodeSelector').error('PODGATE_E_SUBJECT', 'nodeSelector is only valid in a CiliumClusterwideNetworkPolicy', 'move this rule into a CiliumClusterwideNetworkPolicy');
    }
    const selector = readSelector(object.child('nodeSelector'), 'cilium');
    if (selector) subject = { type: 'nodes', selector };
  } else {
    const selector = readSelector(object.child('endpointSelector'), 'cilium');
    if (selector) {
      subject = { type: 'endpoints', selector };
      const pinned = selector.requirements.find((requirement) => requirement.key === 'io.kubernetes.pod.namespace');
      if (context.namespace !== undefined && pinned && !(pinned.operator === 'In' && pinned.values.length === 1 && pinned.values[0] === context.namespace)) {
        object
          .child('endpointSelector')
          .error('PODGATE_W_NAMESPACE_IGNORED', `a CiliumNetworkPolicy only selects pods of its own namespace "${context.namespace}"; the namespace label here narrows that further`, 'use a CiliumClusterwideNetworkPolicy to select pods in other namespaces');
      }
    }
  }

  const sections = {} as Record<Section, CiliumPeerRule[]>;
  const present = {} as Record<Section, boolean>;
  for (const section of ['ingress', 'ingressDeny', 'egress', 'egressDeny'] as const) {
    const list = object.child(section).array() ?? [];
    present[section] = list.length > 0;
    sections[section] = [];
    list.forEach((entry, index) => {
      const rule = readPeerRule(entry, { ...context, section, path: `${context.path}.${section}[${index}]` });
      if (rule) sections[section].push(rule);
    });
  }
  if (!present.ingress && !present.ingressDeny && !present.egress && !present.egressDeny) {
    object.error('PODGATE_W_EMPTY_RULE', 'this rule has no ingress, ingressDeny, egress or egressDeny section and does nothing', 'add rules, or delete it');
  }
  const defaults = object.child('enableDefaultDeny').object(['ingress', 'egress']);
  const explicitIngress = defaults?.child('ingress').boolean();
  const explicitEgress = defaults?.child('egress').boolean();
  // Only a direction that has rules can be put into default deny; enableDefaultDeny can only turn that off.
  const defaultDeny = {
    ingress: (present.ingress || present.ingressDeny) && explicitIngress !== false,
    egress: (present.egress || present.egressDeny) && explicitEgress !== false,
  };
  return {
    path: context.path,
    subject,
    defaultDeny,
    allow: { ingress: sections.ingress, egress: sections.egress },
    deny: { ingress: sections.ingressDeny, egress: sections.egressDeny },
  };
}

interface PeerRuleContext extends RuleContext {
  readonly section: Section;
}

function readPeerRule(field: Field, context: PeerRuleContext): CiliumPeerRule | undefined {
  const direction: Direction = context.section.startsWith('ingress') ? 'ingress' : 'egress';
  const deny = context.section.endsWith('Deny');
  const peerKeys = PEER_KEYS[direction].filter((key) => !(deny && key === 'toFQDNs'));
  const known = [...peerKeys, 'toPorts', 'icmps', ...(deny ? [] : ['authentication'])];
  const ruleRef = { policy: context.ref, path: context.path };
  const object = field.object(known);
  if (!object) {
    if (field.present) return undefined;
    // `- ` with no content is the empty rule `{}`.
    return { ref: ruleRef, peers: emptyPeers() };
  }
  if (deny && object.has('toFQDNs')) object.child('toFQDNs').error('PODGATE_E_UNSUPPORTED', 'deny rules do not support toFQDNs', 'use toCIDR/toCIDRSet in the deny rule');
  if (deny && object.has('authentication')) object.child('authentication').error('PODGATE_E_UNSUPPORTED', 'deny rules take no authentication');
  let valid = true;
  let l3Given = false;
  const peers: { -readonly [K in keyof CiliumPeers]: CiliumPeers[K][number][] } = emptyPeers();
  const prefix = direction === 'ingress' ? 'from' : 'to';

  const endpoints = object.child(`${prefix}Endpoints`);
  if (endpoints.present) {
    l3Given = true;
    for (const entry of endpoints.array() ?? []) {
      const selector = readSelector(entry, 'cilium');
      if (selector) peers.endpoints.push(selector);
      else valid = false;
    }
  }
  const entities = object.child(`${prefix}Entities`);
  if (entities.present) {
    l3Given = true;
    for (const entry of entities.array() ?? []) {
      const name = entry.string();
      if (name === undefined) valid = false;
      else if (!isEntity(name)) {
        entry.error('PODGATE_E_ENTITY', `unknown entity "${name}"`, 'use one of world, cluster, host, remote-node, kube-apiserver, init, health, unmanaged, ingress, all');
        valid = false;
      } else peers.entities.push(name);
    }
  }
  const cidrList = object.child(`${prefix}CIDR`);
  if (cidrList.present) {
    l3Given = true;
    for (const entry of cidrList.array() ?? []) {
      // A bare address is a host CIDR, as Cilium accepts it.
      const text = typeof entry.value === 'string' ? entry.value : undefined;
      const ip = text === undefined ? undefined : parseIp(text);
      const cidr = ip ? hostCidr(ip) : readCidr(entry);
      if (cidr) peers.cidrs.push({ cidr, except: [] });
      else valid = false;
    }
  }
  const cidrSet = object.child(`${prefix}CIDRSet`);
  if (cidrSet.present) {
    l3Given = true;
    for (const entry of cidrSet.array() ?? []) {
      const rule = readCidrRule(entry, deny);
      if (rule === 'invalid') valid = false;
      else if (rule) peers.cidrs.push(rule);
    }
  }
  const nodes = object.child(`${prefix}Nodes`);
  if (nodes.present) {
    l3Given = true;
    for (const entry of nodes.array() ?? []) {
      const selector = readSelector(entry, 'cilium');
      if (selector) peers.nodes.push(selector);
      else valid = false;
    }
  }
  if (direction === 'egress') {
    const services = object.child('toServices');
    if (services.present) {
      l3Given = true;
      for (const entry of services.array() ?? []) {
        const service = readServiceSelector(entry, context.namespace);
        if (service) peers.services.push(service);
        else valid = false;
      }
    }
    const fqdns = object.child('toFQDNs');
    if (fqdns.present && !deny) {
      l3Given = true;
      for (const entry of fqdns.array() ?? []) {
        const fqdn = readFqdn(entry);
        if (fqdn) peers.fqdns.push(fqdn);
        else valid = false;
      }
      if (peers.fqdns.length > 0) fqdns.error('PODGATE_W_NOT_ENFORCED', 'toFQDNs are kept for the DNS proxy; until names are resolved this peer matches no address');
    }
  }
  for (const key of [`${prefix}Requires`, `${prefix}Groups`]) {
    if (!object.has(key)) continue;
    l3Given = true;
    const what = key.endsWith('Requires') ? `${key} is deprecated (removed in Cilium 1.17) and not supported` : `${key} (cloud provider groups) is not supported`;
    if (deny) {
      object.child(key).error('PODGATE_E_UNSUPPORTED', `${what}; podgate cannot evaluate this deny rule`, 'replace it with selectors or CIDRs');
      valid = false;
    } else {
      object.child(key).error('PODGATE_W_UNSUPPORTED', `${what}; this part of the rule matches no peer`, 'replace it with selectors or CIDRs');
    }
  }

  let ports: CiliumPortRule[] | undefined;
  const toPorts = object.child('toPorts');
  const icmps = object.child('icmps');
  if (toPorts.present && icmps.present) {
    object.error('PODGATE_E_PORT', 'toPorts and icmps cannot be in the same rule', 'split them into two rules');
    valid = false;
  }
  if (toPorts.present) {
    ports = [];
    for (const entry of toPorts.array() ?? []) {
      const portRule = readPortRule(entry, { deny, direction });
      if (portRule === 'invalid') valid = false;
      else ports.push(portRule);
    }
  } else if (icmps.present) {
    ports = [];
    for (const entry of icmps.array() ?? []) {
      const icmp = readIcmpRule(entry);
      if (icmp) ports.push(icmp);
      else valid = false;
    }
  }

  let auth: AuthMode | undefined;
  if (!deny) {
    const authentication = object.child('authentication').object(['mode']);
    if (authentication) {
      const mode = authentication.child('mode').string();
      if (mode === 'required' || mode === 'disabled' || mode === 'test-always-fail') auth = mode;
      else authentication.child('mode').error(mode === undefined ? 'PODGATE_E_REQUIRED' : 'PODGATE_E_AUTH', `authentication.mode must be required, disabled or test-always-fail${mode === undefined ? '' : `, got "${mode}"`}`);
    }
  }
  if (!valid) return undefined;
  // No L3 field and no L4 field: Cilium's documented default-deny idiom (`- {}`) allows nothing.
  const allPeers = !l3Given && ports !== undefined;
  return {
    ref: ruleRef,
    ...(allPeers ? {} : { peers }),
    ...(ports === undefined ? {} : { ports }),
    ...(auth === undefined ? {} : { auth }),
  };
}

function emptyPeers(): { endpoints: Selector[]; entities: Entity[]; cidrs: CidrRule[]; nodes: Selector[]; services: ServiceSelector[]; fqdns: FqdnSelector[] } {
  return { endpoints: [], entities: [], cidrs: [], nodes: [], services: [], fqdns: [] };
}

function readCidrRule(field: Field, deny: boolean): CidrRule | 'invalid' | undefined {
  const object = field.object(['cidr', 'cidrGroupRef', 'cidrGroupSelector', 'except']);
  if (!object) return 'invalid';
  if (!object.has('cidr')) {
    const key = object.has('cidrGroupRef') ? 'cidrGroupRef' : object.has('cidrGroupSelector') ? 'cidrGroupSelector' : undefined;
    if (key === undefined) {
      object.child('cidr').error('PODGATE_E_REQUIRED', 'a CIDR set entry needs cidr');
      return 'invalid';
    }
    if (deny) {
      object.child(key).error('PODGATE_E_UNSUPPORTED', `${key} (CiliumCIDRGroup) is not supported; podgate cannot evaluate this deny rule`, 'list the CIDRs directly');
      return 'invalid';
    }
    object.child(key).error('PODGATE_W_UNSUPPORTED', `${key} (CiliumCIDRGroup) is not supported; this entry matches no address`, 'list the CIDRs directly');
    return undefined;
  }
  const cidr = readCidr(object.child('cidr'));
  const except = readExcepts(object.child('except'), cidr);
  return cidr && except ? { cidr, except } : 'invalid';
}

function readServiceSelector(field: Field, policyNamespace: string | undefined): ServiceSelector | undefined {
  const object = field.object(['k8sService', 'k8sServiceSelector']);
  if (!object) return undefined;
  if (object.has('k8sService')) {
    const service = object.child('k8sService').object(['serviceName', 'namespace']);
    const name = service?.child('serviceName').string();
    const namespace = service?.child('namespace').string() ?? policyNamespace ?? 'default';
    if (name === undefined) {
      object.child('k8sService').child('serviceName').error('PODGATE_E_REQUIRED', 'k8sService.serviceName is required');
      return undefined;
    }
    return { type: 'name', namespace, name };
  }
  if (object.has('k8sServiceSelector')) {
    const service = object.child('k8sServiceSelector').object(['selector', 'namespace']);
    if (!service) return undefined;
    const selector = readSelector(service.child('selector'), 'kubernetes');
    const namespace = service.child('namespace').string() ?? policyNamespace;
    if (!selector) return undefined;
    return { type: 'selector', selector, ...(namespace === undefined ? {} : { namespace }) };
  }
  field.error('PODGATE_E_REQUIRED', 'toServices entries need k8sService or k8sServiceSelector');
  return undefined;
}

function readFqdn(field: Field): FqdnSelector | undefined {
  const object = field.object(['matchName', 'matchPattern']);
  if (!object) return undefined;
  const matchName = object.child('matchName').string();
  const matchPattern = object.child('matchPattern').string();
  if (matchName === undefined && matchPattern === undefined) {
    field.error('PODGATE_E_REQUIRED', 'toFQDNs entries need matchName or matchPattern');
    return undefined;
  }
  const check = dnsRule({ ...(matchName === undefined ? {} : { matchName }), ...(matchPattern === undefined ? {} : { matchPattern }) });
  if ('problem' in check) {
    field.error('PODGATE_E_DNS', check.problem);
    return undefined;
  }
  return { ...(matchName === undefined ? {} : { matchName }), ...(matchPattern === undefined ? {} : { matchPattern }) };
}

function readPortRule(field: Field, context: { deny: boolean; direction: Direction }): CiliumPortRule | 'invalid' {
  const known = context.deny ? ['ports', 'rules'] : ['ports', 'rules', 'serverNames', 'listener', 'terminatingTLS', 'originatingTLS'];
  const object = field.object(known);
  if (!object) return 'invalid';
  if (context.deny && object.has('rules')) {
    object.child('rules').error('PODGATE_E_UNSUPPORTED', 'deny rules do not support L7 rules', 'deny the port at L4, or use an allow rule with L7 rules');
    return 'invalid';
  }
  const ports: PortMatch[] = [];
  let valid = true;
  const portList = object.child('ports').array();
  for (const entry of portList ?? []) {
    const port = readCiliumPort(entry);
    if (port) ports.push(port);
    else valid = false;
  }
  if (!portList || portList.length === 0) ports.push({ protocol: 'ANY' });
  for (const key of ['serverNames', 'listener']) {
    if (object.has(key)) {
      object.child(key).error('PODGATE_W_UNSUPPORTED', `${key} is not supported; this port rule matches no traffic (fail closed)`);
      return { ports: [] };
    }
  }
  for (const key of ['terminatingTLS', 'originatingTLS']) {
    if (object.has(key)) object.child(key).error('PODGATE_W_IGNORED', `${key} (TLS interception) is ignored by podgate`);
  }
  const rules = object.child('rules').object(['http', 'kafka', 'dns', 'l7proto', 'l7']);
  let http: HttpRule[] | undefined;
  let dns: DnsRule[] | undefined;
  if (rules) {
    const kinds = ['http', 'kafka', 'dns', 'l7proto'].filter((key) => rules.has(key));
    if (kinds.length > 1) {
      rules.error('PODGATE_E_L7', `one port rule may hold only one kind of L7 rule, got ${kinds.join(' and ')}`);
      valid = false;
    }
    for (const key of ['kafka', 'l7proto']) {
      if (rules.has(key)) {
        rules.child(key).error('PODGATE_W_UNSUPPORTED', `${key} rules are not supported; this port rule matches no traffic (fail closed)`);
        return { ports: [] };
      }
    }
    if (kinds.length > 0 || rules.has('l7')) {
      for (const port of ports) {
        if (port.port === undefined && port.name === undefined) {
          object.child('ports').error('PODGATE_E_L7', 'L7 rules need a specific port, not port 0 or an omitted port');
          valid = false;
        } else if (port.protocol === 'UDP' && rules.has('http')) {
          object.child('ports').error('PODGATE_E_L7', 'HTTP rules need TCP');
          valid = false;
        }
      }
    }
    if (rules.has('http')) {
      http = [];
      for (const entry of rules.child('http').array() ?? []) {
        const rule = readHttpRule(entry);
        if (rule) http.push(rule);
        else valid = false;
      }
    }
    if (rules.has('dns')) {
      if (context.direction !== 'egress') {
        rules.child('dns').error('PODGATE_E_L7', 'DNS rules are only valid in egress rules');
        valid = false;
      }
      dns = [];
      for (const entry of rules.child('dns').array() ?? []) {
        const rule = readDnsRule(entry);
        if (rule) dns.push(rule);
        else valid = false;
      }
    }
  }
  if (!valid) return 'invalid';
  return { ports, ...(http ? { http } : {}), ...(dns ? { dns } : {}) };
}

function readCiliumPort(field: Field): PortMatch | undefined {
  const object = field.object(['port', 'endPort', 'protocol']);
  if (!object) return undefined;
  const protocolText = object.child('protocol').string();
  let protocol: ProtocolMatch = 'ANY';
  if (protocolText !== undefined && protocolText !== '') {
    const upper = protocolText.toUpperCase();
    if (protocolText === 'TCP' || protocolText === 'UDP' || protocolText === 'SCTP' || protocolText === 'ANY') protocol = protocolText;
    else {
      const hint = upper.startsWith('ICMP') ? 'match ICMP with an icmps rule' : ['TCP', 'UDP', 'SCTP', 'ANY'].includes(upper) ? `protocols are upper case: write ${upper}` : 'use TCP, UDP, SCTP or ANY';
      object.child('protocol').error('PODGATE_E_PROTOCOL', `unknown protocol "${protocolText}"`, hint);
      return undefined;
    }
  }
  const portValue = object.child('port').intOrString();
  const endPort = object.child('endPort').integer({ min: 0, max: 65535 });
  if (portValue === undefined || portValue === '' || portValue === 0 || portValue === '0') {
    if (endPort !== undefined && endPort !== 0) {
      object.child('endPort').error('PODGATE_E_PORT', 'endPort needs a port');
      return undefined;
    }
    return { protocol };
  }
  if (typeof portValue === 'number' || /^\d+$/.test(portValue)) {
    const port = Number(portValue);
    if (port < 1 || port > 65535) {
      object.child('port').error('PODGATE_E_PORT', `port ${port} is outside 0-65535`);
      return undefined;
    }
    if (endPort !== undefined && endPort !== 0) {
      if (endPort < port) {
        object.child('endPort').error('PODGATE_E_PORT', `endPort ${endPort} is below port ${port}`);
        return undefined;
      }
      return { protocol, port, endPort };
    }
    return { protocol, port, endPort: port };
  }
  const name = portValue.toLowerCase();
  const problem = portNameProblem(name);
  if (problem) {
    object.child('port').error('PODGATE_E_PORT_NAME', `"${portValue}" is neither a port number nor a valid port name: ${problem}`);
    return undefined;
  }
  return { protocol, name };
}

function readIcmpRule(field: Field): CiliumPortRule | undefined {
  const object = field.object(['fields']);
  if (!object) return undefined;
  const ports: PortMatch[] = [];
  const fields = object.child('fields').array() ?? [];
  if (fields.length > 40) object.child('fields').error('PODGATE_E_LIMIT', 'at most 40 ICMP fields per rule');
  for (const entry of fields) {
    const icmp = entry.object(['family', 'type']);
    if (!icmp) return undefined;
    const familyText = icmp.child('family').string() ?? 'IPv4';
    if (familyText !== 'IPv4' && familyText !== 'IPv6') {
      icmp.child('family').error('PODGATE_E_PROTOCOL', `ICMP family must be IPv4 or IPv6, got "${familyText}"`);
      return undefined;
    }
    const typeValue = icmp.child('type').intOrString();
    const type = typeof typeValue === 'number' ? typeValue : typeValue === undefined ? undefined : ICMP_TYPES[familyText][typeValue];
    if (type === undefined || type < 0 || type > 255) {
      icmp.child('type').error('PODGATE_E_PROTOCOL', `ICMP type must be 0-255 or a known ${familyText} type name`, `for example ${familyText === 'IPv4' ? 'EchoRequest (8)' : 'EchoRequest (128)'}`);
      return undefined;
    }
    ports.push({ protocol: familyText === 'IPv4' ? 'ICMP' : 'ICMPv6', port: type, endPort: type });
  }
  return { ports };
}

function readHttpRule(field: Field): HttpRule | undefined {
  const object = field.object(['path', 'method', 'host', 'headers', 'headerMatches']);
  if (!object) return field.present ? undefined : { headers: [] };
  let valid = true;
  const pattern = (key: string): Pattern | undefined => {
    const source = object.child(key).string();
    if (source === undefined) return undefined;
    const compiled = compilePattern(source);
    if ('problem' in compiled) {
      object.child(key).error('PODGATE_E_REGEX', `${key} "${source}" is not a valid RE2 regular expression: ${compiled.problem}`, 'RE2 has no lookaround or backreferences; see https://github.com/google/re2/wiki/Syntax');
      valid = false;
      return undefined;
    }
    return compiled;
  };
  const method = pattern('method');
  const path = pattern('path');
  const host = pattern('host');
  const headers: HeaderMatch[] = [];
  for (const entry of object.child('headers').array() ?? []) {
    const text = entry.string();
    if (text === undefined) {
      valid = false;
      continue;
    }
    const space = text.indexOf(' ');
    if (space === -1) headers.push({ name: text.replace(/:$/, '') });
    else headers.push({ name: text.slice(0, space).replace(/:$/, ''), value: text.slice(space + 1) });
  }
  for (const entry of object.child('headerMatches').array() ?? []) {
    const match = entry.object(['name', 'value', 'secret', 'mismatch']);
    if (!match) {
      valid = false;
      continue;
    }
    const name = match.child('name').string();
    if (name === undefined) {
      match.child('name').error('PODGATE_E_REQUIRED', 'headerMatches entries need a name');
      valid = false;
      continue;
    }
    const mismatch = match.child('mismatch').string();
    if (match.has('secret')) {
      match.child('secret').error('PODGATE_W_UNSUPPORTED', 'header values from secrets are not supported; this header never matches (fail closed)');
      headers.push({ name, value: '\u0000unresolvable secret' });
      continue;
    }
    if (mismatch !== undefined) {
      if (!['LOG', 'ADD', 'DELETE', 'REPLACE'].includes(mismatch)) match.child('mismatch').error('PODGATE_E_L7', `mismatch must be LOG, ADD, DELETE or REPLACE, got "${mismatch}"`);
      // A mismatch action rewrites or logs the request instead of refusing it.
      continue;
    }
    const value = match.child('value').string();
    headers.push({ name, ...(value === undefined ? {} : { value }) });
  }
  if (!valid) return undefined;
  return { headers, ...(method ? { method } : {}), ...(path ? { path } : {}), ...(host ? { host } : {}) };
}

function readDnsRule(field: Field): DnsRule | undefined {
  const object = field.object(['matchName', 'matchPattern']);
  if (!object) return undefined;
  const matchName = object.child('matchName').string();
  const matchPattern = object.child('matchPattern').string();
  if (matchName === undefined && matchPattern === undefined) {
    field.error('PODGATE_E_REQUIRED', 'DNS rules need matchName or matchPattern');
    return undefined;
  }
  const rule = dnsRule({ ...(matchName === undefined ? {} : { matchName }), ...(matchPattern === undefined ? {} : { matchPattern }) });
  if ('problem' in rule) {
    field.error('PODGATE_E_DNS', rule.problem);
    return undefined;
  }
  return rule;
}
