/**
 * The smallest policy change that lets a denied connection through, as manifests: a new allow
 * policy where default deny decided, an edited rule list where a deny rule or tier rule decided,
 * one more HTTP rule where L7 refused the request.
 */
import { RE2JS } from 're2js';
import { describeEndpoint, endpointIp, peerClassOf, type Endpoint } from '../cluster/endpoint.js';
import { stableLabels } from '../cluster/stable-labels.js';
import { isRecord } from '../manifest/document.js';
import { parsePath } from '../manifest/issue.js';
import { toDnsLabel } from '../manifest/syntax.js';
import { policyKey, type RuleRef } from '../policy/model.js';
import type { Connection, DirectionVerdict, Verdict } from '../policy/verdict.js';
import type { Scenario } from '../scenario/load.js';

type Manifest = Record<string, unknown>;

export interface Fix {
  /** One line: what to change and why. */
  readonly summary: string;
  /** `delete` when the change leaves the policy with no rules at all. */
  readonly action: 'create' | 'update' | 'delete';
  readonly manifest: Manifest;
  /** What else the change affects, when it is more than this one connection. */
  readonly caveat?: string;
}

export interface FixPlan {
  readonly fixes: readonly Fix[];
  /** Why no (complete) fix could be proposed, when that is the case. */
  readonly gaps: readonly string[];
}

export function planFixes(scenario: Scenario, connection: Connection, verdict: Verdict): FixPlan {
  const created: Fix[] = [];
  const gaps: string[] = [];
  const bench = new Workbench(scenario);
  if (verdict.allowed) return { fixes: [], gaps };
  for (const side of [verdict.egress, verdict.ingress]) {
    if (side.allowed) continue;
    const subject = side.direction === 'egress' ? connection.src : connection.dst;
    const peer = side.direction === 'egress' ? connection.dst : connection.src;
    const result = fixSide({ bench, connection, side, subject, peer });
    if (result && 'gap' in result) gaps.push(result.gap);
    else if (result) created.push(result);
  }
  if (verdict.l7Denied) {
    for (const side of [verdict.egress, verdict.ingress]) {
      if (side.http?.allowed !== false) continue;
      const gap = fixHttp(bench, connection, side);
      if (gap) gaps.push(gap);
    }
  }
  return { fixes: [...created, ...bench.fixes()], gaps };
}

/** Working copies of the manifests being edited, so several edits to one policy land in one manifest. */
class Workbench {
  private readonly edits = new Map<string, { ref: RuleRef['policy']; manifest: Manifest; summaries: string[]; caveats: string[] }>();

  constructor(private readonly scenario: Scenario) {}

  edit(ref: RuleRef['policy'], summary: string, caveat?: string): Manifest | undefined {
    const key = policyKey(ref);
    let edit = this.edits.get(key);
    if (!edit) {
      const source = this.scenario.sources.get(key);
      if (!source || !isRecord(source.value)) return undefined;
      edit = { ref, manifest: structuredClone(source.value) as Manifest, summaries: [], caveats: [] };
      this.edits.set(key, edit);
    }
    edit.summaries.push(summary);
    if (caveat) edit.caveats.push(caveat);
    return edit.manifest;
  }

  fixes(): Fix[] {
    return [...this.edits.values()].map((edit) => {
      const name = `${edit.ref.kind} ${edit.ref.namespace ? `${edit.ref.namespace}/` : ''}${edit.ref.name}`;
      const caveat = edit.caveats.length > 0 ? { caveat: edit.caveats.join(' ') } : {};
      if (!hasRules(edit.manifest)) {
        const original = this.scenario.sources.get(policyKey(edit.ref))?.value as Manifest;
        return { summary: `delete ${name}: ${edit.summaries.join('; ')} leaves it with no rules`, action: 'delete', manifest: original, ...caveat };
      }
      return { summary: `update ${name}: ${edit.summaries.join('; ')}`, action: 'update', manifest: edit.manifest, ...caveat };
    });
  }
}

const SECTIONS = ['ingress', 'egress', 'ingressDeny', 'egressDeny'];

/** Whether an edited manifest still holds a rule (a Cilium rule with no section does nothing). */
function hasRules(manifest: Manifest): boolean {
  if (manifest['kind'] !== 'CiliumNetworkPolicy' && manifest['kind'] !== 'CiliumClusterwideNetworkPolicy') return true;
  const specs = [manifest['spec'], ...(Array.isArray(manifest['specs']) ? manifest['specs'] : [])].filter(isRecord);
  return specs.some((spec) => SECTIONS.some((section) => Array.isArray(spec[section]) && spec[section].length > 0));
}

interface SideContext {
  readonly bench: Workbench;
  readonly connection: Connection;
  readonly side: DirectionVerdict;
  readonly subject: Endpoint;
  readonly peer: Endpoint;
}

/** A created policy, a gap, or undefined when the change went into the workbench. */
function fixSide(context: SideContext): Fix | { gap: string } | undefined {
  const { side } = context;
  switch (side.reason) {
    case 'default-deny':
      return newAllowPolicy(context);
    case 'denied':
    case 'admin-deny':
    case 'baseline-deny': {
      const rule = side.rules[0];
      if (!rule) return { gap: `no rule to change for ${side.direction}` };
      if (rule.policy.kind === 'CiliumNetworkPolicy' || rule.policy.kind === 'CiliumClusterwideNetworkPolicy') return removeDenyRules(context);
      return insertTierAccept(context, rule);
    }
    default:
      return { gap: `${side.direction} was refused for reason "${side.reason}"${side.error ? ` (${side.error})` : ''}; there is no policy change for that` };
  }
}

// ---- New allow policy (default deny) ----

function newAllowPolicy(context: SideContext): Fix | { gap: string } {
  const { side, subject, peer, connection } = context;
  if (subject.kind !== 'pod') return { gap: `the ${side.direction} side is a node isolated by a host policy; add a nodeSelector rule by hand` };
  const pod = subject.pod;
  const ciliumIsolated = side.rules.length > 0 && side.rules.every((rule) => rule.policy.kind.startsWith('Cilium'));
  const peerClass = peerClassOf(peer, subject);
  const ip = endpointIp(peer);
  const needsCilium = ciliumIsolated || (peer.kind !== 'pod' && (ip === undefined || peer.kind === 'node'));
  const peerName = describeEndpoint(peer).replace(/^.*\//, '');
  // Egress and ingress fixes for one connection can land in one namespace: their names must differ.
  const name = toDnsLabel(side.direction === 'ingress' ? `allow-${peerName}-to-${pod.name}-${connection.port}` : `allow-${pod.name}-to-${peerName}-${connection.port}-egress`, 'allow');
  const selector = { matchLabels: Object.fromEntries(stableLabels(pod.labels)) };
  const protocol = connection.protocol;
  const summary = `create ${needsCilium ? 'CiliumNetworkPolicy' : 'NetworkPolicy'} ${pod.namespace}/${name}: allow ${side.direction} ${side.direction === 'ingress' ? 'from' : 'to'} ${describeEndpoint(peer)} on ${protocol}/${connection.port}`;
  if (!needsCilium) {
    let peerSpec: Manifest;
    if (peer.kind === 'pod') {
      const podSelector = { matchLabels: Object.fromEntries(stableLabels(peer.pod.labels)) };
      peerSpec = peer.pod.namespace === pod.namespace ? { podSelector } : { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': peer.pod.namespace } }, podSelector };
    } else peerSpec = { ipBlock: { cidr: `${ip!.text}/${ip!.family === 4 ? 32 : 128}` } };
    const rule = { [side.direction === 'ingress' ? 'from' : 'to']: [peerSpec], ports: [{ protocol, port: connection.port }] };
    const manifest: Manifest = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name, namespace: pod.namespace },
      spec: { podSelector: selector, policyTypes: [side.direction === 'ingress' ? 'Ingress' : 'Egress'], [side.direction]: [rule] },
    };
    return { summary, action: 'create', manifest };
  }
  const prefix = side.direction === 'ingress' ? 'from' : 'to';
  const rule: Manifest = {};
  if (peer.kind === 'pod') {
    rule[`${prefix}Endpoints`] = [{ matchLabels: { ...Object.fromEntries(stableLabels(peer.pod.labels)), 'k8s:io.kubernetes.pod.namespace': peer.pod.namespace } }];
  } else if (peerClass === 'world' && ip !== undefined) {
    rule[`${prefix}CIDR`] = [`${ip.text}/${ip.family === 4 ? 32 : 128}`];
  } else {
    rule[`${prefix}Entities`] = [peerClass];
  }
  rule['toPorts'] = [{ ports: [{ port: String(connection.port), protocol }] }];
  const manifest: Manifest = {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    metadata: { name, namespace: pod.namespace },
    spec: { endpointSelector: selector, [side.direction]: [rule] },
  };
  return { summary, action: 'create', manifest };
}

// ---- Deny rules: take them out ----

function removeDenyRules(context: SideContext): { gap: string } | undefined {
  // Later list entries first, so earlier indices stay valid.
  const rules = [...context.side.rules].sort((a, b) => indexOf(b.path) - indexOf(a.path));
  for (const rule of rules) {
    const guardrail = rule.policy.kind === 'CiliumClusterwideNetworkPolicy' ? ' This is a cluster guardrail: ask its owners before you change it.' : '';
    const caveat = `Cilium deny rules win over every allow, so ${rule.path} of ${rule.policy.name} has to go; that re-opens everything else it denied. Narrow its selectors or CIDRs instead if it should keep blocking other peers.${guardrail}`;
    const manifest = context.bench.edit(rule.policy, `remove the deny rule ${rule.path}`, caveat);
    if (!manifest) return { gap: `the manifest of ${rule.policy.kind} ${rule.policy.name} is not available to edit` };
    if (!removeAt(manifest, rule.path)) return { gap: `could not find ${rule.path} in ${rule.policy.kind} ${rule.policy.name}` };
  }
  return undefined;
}

function indexOf(path: string): number {
  const last = parsePath(path).pop();
  return typeof last === 'number' ? last : 0;
}

/** Deletes the list element at `path` (`spec.egressDeny[0]`), and the list when it becomes empty. */
function removeAt(manifest: Manifest, path: string): boolean {
  const segments = parsePath(path);
  const index = segments.pop();
  const key = segments.pop();
  let parent: unknown = manifest;
  for (const segment of segments) parent = isRecord(parent) || Array.isArray(parent) ? (parent as Record<string, unknown>)[segment as never] : undefined;
  if (!isRecord(parent) || typeof key !== 'string' || typeof index !== 'number') return false;
  const list = parent[key];
  if (!Array.isArray(list) || index >= list.length) return false;
  list.splice(index, 1);
  if (list.length === 0) delete parent[key];
  return true;
}

// ---- Tier rules: an Accept ahead of the deciding rule ----

function insertTierAccept(context: SideContext, rule: RuleRef): { gap: string } | undefined {
  const { side, peer, connection } = context;
  const v1alpha2 = rule.policy.kind === 'ClusterNetworkPolicy';
  const ip = endpointIp(peer);
  let peerSpec: Manifest;
  if (peer.kind === 'pod') {
    peerSpec = { pods: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': peer.pod.namespace } }, podSelector: { matchLabels: Object.fromEntries(stableLabels(peer.pod.labels)) } } };
  } else if (side.direction === 'egress' && ip !== undefined) {
    peerSpec = { networks: [`${ip.text}/${ip.family === 4 ? 32 : 128}`] };
  } else {
    return { gap: `${rule.policy.kind} ${side.direction} rules cannot name ${describeEndpoint(peer)}; change ${rule.path} of ${rule.policy.name} by hand` };
  }
  const protocol = connection.protocol;
  const ports = v1alpha2
    ? { protocols: [{ [protocol.toLowerCase()]: { destinationPort: { number: connection.port } } }] }
    : { ports: [{ portNumber: { protocol, port: connection.port } }] };
  const accept: Manifest = {
    name: toDnsLabel(`allow-${describeEndpoint(peer).replace(/\//g, '-')}-${connection.port}`, 'allow'),
    action: v1alpha2 ? 'Accept' : 'Allow',
    [side.direction === 'ingress' ? 'from' : 'to']: [peerSpec],
    ...ports,
  };
  const manifest = context.bench.edit(rule.policy, `add an ${accept['action'] as string} rule for ${describeEndpoint(peer)} on ${protocol}/${connection.port} just before ${rule.path}`);
  if (!manifest) return { gap: `the manifest of ${rule.policy.kind} ${rule.policy.name} is not available to edit` };
  const index = indexOf(rule.path);
  const spec = manifest['spec'];
  const list = isRecord(spec) ? spec[side.direction] : undefined;
  if (!Array.isArray(list)) return { gap: `could not find ${rule.path} in ${rule.policy.name}` };
  list.splice(index, 0, accept);
  return undefined;
}

// ---- L7: one more HTTP rule ----

function fixHttp(bench: Workbench, connection: Connection, side: DirectionVerdict): string | undefined {
  const grant = side.l7?.find((candidate) => candidate.http !== undefined);
  const request = connection.http;
  if (!grant || !request) return 'the HTTP request was refused but no HTTP rule was found to extend';
  const path = request.path.split('?')[0] ?? request.path;
  const manifest = bench.edit(grant.rule.policy, `allow ${request.method} ${path} in ${grant.rule.path}.toPorts[${grant.portRule}]`);
  if (!manifest) return `the manifest of ${grant.rule.policy.name} is not available to edit`;
  let node: unknown = manifest;
  for (const segment of [...parsePath(grant.rule.path), 'toPorts', grant.portRule, 'rules', 'http']) {
    node = isRecord(node) || Array.isArray(node) ? (node as Record<string, unknown>)[segment as never] : undefined;
  }
  if (!Array.isArray(node)) return `could not find the HTTP rules of ${grant.rule.path} in ${grant.rule.policy.name}`;
  node.push({ method: request.method, path: RE2JS.quote(path) });
  return undefined;
}
