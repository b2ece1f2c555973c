/**
 * The compiled engine: identities, a selector cache and a policy map per identity, kept current
 * incrementally. A change to one pod, namespace or policy recomputes only what it touches. The
 * maps' programs and the pods' peer lists (selector slots, named ports) live in one arena of int32
 * words, which a pod's state points into by offset (see arena.ts).
 */
import { describeEndpoint, endpointIp, namedPortsOf, peerClassOf, podEndpoint, type Endpoint } from '../../cluster/endpoint.js';
import type { Node, Pod } from '../../cluster/model.js';
import { podKey, type ClusterState } from '../../cluster/state.js';
import { applyToCluster, type Change, type EngineInput, type PolicyEngine } from '../engine.js';
import { podIdentityLabels } from '../identity-labels.js';
import { policyKey, type Direction, type Policy } from '../model.js';
import type { NamedPort } from '../ports.js';
import { selects } from '../selector.js';
import { combine, failClosed, type Connection, type DirectionVerdict, type Verdict } from '../verdict.js';
import { IdentityTable, type Identity } from './identities.js';
import { EMPTY_LIST, ProgramArena } from './arena.js';
import { buildPolicyMap, decide, decideInFull, EMPTY_MAP, movePolicyMap, namedPortKeys, outcome, OUTCOME_COMPLEX, outcomeAllows, outcomeRequiresAuth, outcomeVerdict, releasePolicyMap, type DirectionMap, type PeerView, type PolicyMap, type Traffic } from './policy-map.js';
import { SelectorCache } from './selector-cache.js';
import { compilePolicy, peerVariant, PROTOCOL_BITS, type Binding, type CompiledPolicy } from './translate.js';

export interface CompiledEngineOptions {
  /** Arena garbage (int32 words) below which no compaction runs; 65,536 by default. Tests set 0 to compact often. */
  readonly arenaCompactFloor?: number;
}

export function createCompiledEngine(input: EngineInput, options: CompiledEngineOptions = {}): CompiledEngine {
  return new CompiledEngine(input.cluster.clone(), input.policies, options);
}

const UNKNOWN = Symbol('unknown pod');
const NO_PORTS: readonly never[] = Object.freeze([]);

/** A pod's compiled state. It is also how the pod looks as a peer (the same from every subject). */
interface PodInfo extends PeerView {
  readonly engine: CompiledEngine;
  /** False once the pod was replaced or deleted: a handle to it is stale. */
  live: boolean;
  /**
   * The pod's peer lists in the arena, one region: its identity's selector slots, then its named-port
   * keys. `slots` and `portKeys` point into it (lengths in the word before each); `lists` is the
   * region's own offset, EMPTY_LIST until stored.
   */
  lists: number;
  slots: number;
  portKeys: number;
  readonly pod: Pod;
  readonly identity: Identity;
  /**
   * The identity's maps, and copies of the fields of theirs a lookup reads (program offsets, verdict
   * tables, default denies, after-Pass caches), refreshed when the maps are rebuilt or moved: a
   * lookup reads the endpoint, this state and the arena, and no identity or map object (a map only
   * for the rare verdicts that are assembled).
   */
  egress: DirectionMap;
  ingress: DirectionMap;
  egressProgram: number;
  ingressProgram: number;
  egressVerdicts: DirectionMap['verdicts'];
  ingressVerdicts: DirectionMap['verdicts'];
  egressDeny: DirectionVerdict;
  ingressDeny: DirectionVerdict;
  egressPassed: DirectionMap['passed'];
  ingressPassed: DirectionMap['passed'];
  readonly namedPorts: readonly NamedPort[];
  /** The pod's endpoint with this state as its handle, allocated right after it (one memory region for both). */
  endpoint: Endpoint | undefined;
}

export interface CompileStats {
  readonly identities: number;
  readonly selectors: number;
  readonly policies: number;
  readonly bindings: number;
  /** Int32 words of programs and peer lists in the arena (garbage excluded), and how often it was compacted. */
  readonly arenaWords: number;
  readonly arenaCompactions: number;
}

export class CompiledEngine implements PolicyEngine {
  readonly name = 'compiled';
  revision = 0;
  private readonly arena: ProgramArena;
  private readonly identities = new IdentityTable();
  private readonly cache = new SelectorCache(this.identities);
  private readonly compiled = new Map<string, CompiledPolicy>();
  private readonly podInfo = new Map<string, PodInfo>();
  private readonly infoByPod = new WeakMap<Pod, PodInfo>();
  /** The pods holding each identity, whose copies of its maps a rebuild refreshes. */
  private readonly podsOf = new Map<number, Set<PodInfo>>();
  /** Pod-subject bindings by the identities they select. */
  private readonly bindingsOf = new Map<number, Set<Binding>>();
  private readonly podBindings = new Set<Binding>();
  private readonly nodeBindings = new Set<Binding>();
  private readonly nodeMaps = new Map<string, PolicyMap>();

  constructor(
    readonly cluster: ClusterState,
    policies: readonly Policy[],
    options: CompiledEngineOptions = {},
  ) {
    this.arena = new ProgramArena(options.arenaCompactFloor);
    for (const pod of cluster.pods) this.addPod(pod, false);
    for (const policy of policies) this.register(this.compile(policy), false);
    for (const identity of this.identities.all()) this.rebuild(identity.id);
    this.rebuildNodes();
  }

  get policies(): Policy[] {
    return [...this.compiled.values()].map((compiled) => compiled.policy);
  }

  stats(): CompileStats {
    return {
      identities: this.identities.size,
      selectors: this.cache.size,
      policies: this.compiled.size,
      bindings: this.podBindings.size + this.nodeBindings.size,
      arenaWords: this.arena.live,
      arenaCompactions: this.arena.compactions,
    };
  }

  /** The compiled map of the identity a pod holds (for explain and tests). */
  policyMapOf(pod: Pod): PolicyMap | undefined {
    const identity = this.infoByPod.get(pod)?.identity;
    return identity ? { egress: identity.egress, ingress: identity.ingress } : undefined;
  }

  evaluate(connection: Connection): Verdict {
    const src = this.stateOf(connection.src);
    const dst = this.stateOf(connection.dst);
    if (src !== undefined && src !== UNKNOWN && dst !== undefined && dst !== UNKNOWN && connection.http === undefined) {
      const verdict = this.betweenPods(src, dst, connection);
      if (verdict !== undefined) return verdict;
    }
    const traffic = this.traffic(connection, dst);
    const egress = this.side('egress', connection.src, src, connection.dst, dst, traffic);
    const ingress = this.side('ingress', connection.dst, dst, connection.src, src, traffic);
    return combine(egress, ingress, this.revision);
  }

  evaluateDirection(connection: Connection, direction: Direction): DirectionVerdict {
    const src = this.stateOf(connection.src);
    const dst = this.stateOf(connection.dst);
    const traffic = this.traffic(connection, dst);
    return direction === 'egress' ? this.side('egress', connection.src, src, connection.dst, dst, traffic) : this.side('ingress', connection.dst, dst, connection.src, src, traffic);
  }

  /**
   * The common lookup, pod to pod without an HTTP request: each direction's outcome as an integer,
   * combined without reading any verdict object, so a cache-cold lookup touches little more than the
   * two pods' state and their arena regions. A side whose outcome is COMPLEX is assembled in full. Undefined
   * on an error: the caller's per-side evaluation then fails closed.
   */
  private betweenPods(src: PodInfo, dst: PodInfo, connection: Connection): Verdict | undefined {
    try {
      const words = this.arena.words;
      const protocolBit = PROTOCOL_BITS[connection.protocol] ?? 0;
      const egress = outcome(words, src.egress, src.egressProgram, dst, protocolBit, connection.port, dst.portKeys);
      const ingress = outcome(words, dst.ingress, dst.ingressProgram, src, protocolBit, connection.port, dst.portKeys);
      if (egress === OUTCOME_COMPLEX || ingress === OUTCOME_COMPLEX) {
        const traffic = this.traffic(connection, dst);
        return combine(
          egress === OUTCOME_COMPLEX ? decideInFull(words, src.egress, 'egress', dst, traffic) : outcomeVerdict(src.egress, 'egress', egress),
          ingress === OUTCOME_COMPLEX ? decideInFull(words, dst.ingress, 'ingress', src, traffic) : outcomeVerdict(dst.ingress, 'ingress', ingress),
          this.revision,
        );
      }
      const egressAllows = outcomeAllows(egress);
      const allowed = egressAllows && outcomeAllows(ingress);
      return {
        allowed,
        decidedBy: !egressAllows ? 'egress' : allowed ? 'both' : 'ingress',
        egress: outcomeVerdict(src.egress, 'egress', egress, src.egressVerdicts, src.egressDeny, src.egressPassed),
        ingress: outcomeVerdict(dst.ingress, 'ingress', ingress, dst.ingressVerdicts, dst.ingressDeny, dst.ingressPassed),
        authRequired: allowed && (outcomeRequiresAuth(egress) || outcomeRequiresAuth(ingress)),
        l7Denied: false,
        revision: this.revision,
      };
    } catch {
      return undefined;
    }
  }

  private traffic(connection: Connection, dst: PodInfo | typeof UNKNOWN | undefined): Traffic {
    return {
      protocol: connection.protocol,
      protocolBit: PROTOCOL_BITS[connection.protocol] ?? 0,
      port: connection.port,
      namedPorts: dst === undefined || dst === UNKNOWN ? NO_PORTS : dst.namedPorts,
      portKeys: dst === undefined || dst === UNKNOWN ? EMPTY_LIST : dst.portKeys,
      http: connection.http,
    };
  }

  /**
   * An endpoint for a pod that carries this engine's handle, so a lookup finds the pod's compiled
   * state without a hash lookup (the datapath resolves endpoints through the engine this way).
   */
  endpointFor(pod: Pod): Endpoint {
    return this.infoByPod.get(pod)?.endpoint ?? podEndpoint(this.cluster, pod);
  }

  /** A pod's compiled state, UNKNOWN for a pod the engine does not hold, undefined for other endpoints. */
  private stateOf(endpoint: Endpoint): PodInfo | typeof UNKNOWN | undefined {
    if (endpoint.kind !== 'pod') return undefined;
    const handle = endpoint.handle as PodInfo | undefined;
    if (handle !== undefined && handle.engine === this && handle.live && handle.pod === endpoint.pod) return handle;
    return this.infoByPod.get(endpoint.pod) ?? UNKNOWN;
  }

  private side(direction: 'ingress' | 'egress', subject: Endpoint, subjectState: PodInfo | typeof UNKNOWN | undefined, peer: Endpoint, peerState: PodInfo | typeof UNKNOWN | undefined, traffic: Traffic): DirectionVerdict {
    try {
      let map: DirectionMap;
      if (subjectState === UNKNOWN) return failClosed(direction, 'unknown-endpoint', `pod ${describeEndpoint(subject)} is not in the engine's state`);
      if (subjectState !== undefined) map = direction === 'egress' ? subjectState.egress : subjectState.ingress;
      else if (subject.kind === 'node' && subject.node !== undefined) map = (this.nodeMaps.get(subject.node.name) ?? EMPTY_MAP)[direction];
      else return { direction, allowed: true, reason: 'not-enforced', tier: 'default', rules: [] };
      if (peerState === UNKNOWN) return failClosed(direction, 'unknown-endpoint', `peer pod ${describeEndpoint(peer)} is not in the engine's state`);
      return decide(this.arena.words, map, direction, peerState ?? this.otherPeerView(peer, subject), traffic);
    } catch (error) {
      return failClosed(direction, 'error', String(error));
    }
  }

  /** How a node or an address outside the pods looks from the subject. */
  private otherPeerView(peer: Endpoint, subject: Endpoint): PeerView {
    const ip = endpointIp(peer);
    const peerClass = peerClassOf(peer, subject);
    return {
      isPod: false,
      slots: EMPTY_LIST,
      ip,
      variant: peerVariant(peerClass, ip?.family),
      isWorld: peerClass === 'world',
      isLocalHost: peerClass === 'host',
      node: peer.kind === 'node' ? peer.node : undefined,
    };
  }

  apply(change: Change): void {
    applyToCluster(this.cluster, change);
    switch (change.type) {
      case 'upsert-pod': {
        this.removePod(podKey(change.pod.namespace, change.pod.name));
        const current = this.cluster.pod(change.pod.namespace, change.pod.name);
        if (current) this.addPod(current, true);
        break;
      }
      case 'delete-pod':
        this.removePod(podKey(change.namespace, change.name));
        break;
      case 'upsert-namespace':
      case 'delete-namespace': {
        const name = change.type === 'upsert-namespace' ? change.namespace.name : change.name;
        for (const [key, info] of [...this.podInfo]) {
          if (info.pod.namespace !== name) continue;
          this.removePod(key);
          const current = this.cluster.pod(info.pod.namespace, info.pod.name);
          if (current) this.addPod(current, true);
        }
        break;
      }
      case 'upsert-node':
      case 'delete-node':
        this.rebuildNodes();
        break;
      case 'upsert-service':
      case 'delete-service':
        for (const compiled of [...this.compiled.values()]) if (compiled.usesServices) this.upsertPolicy(compiled.policy);
        break;
      case 'upsert-policy':
        this.upsertPolicy(change.policy);
        break;
      case 'delete-policy':
        this.removePolicy(policyKey(change.ref));
        break;
    }
    this.storeChangedPeerLists();
    if (this.arena.wasteful) this.compactArena();
    this.revision++;
  }

  // ---- Pods and identities ----

  /** `incremental`: a change to a built engine, so the pod's lists and a new identity's maps are stored now. */
  private addPod(pod: Pod, incremental: boolean): void {
    if (pod.hostNetwork) return;
    const namespace = this.cluster.namespace(pod.namespace);
    const labels = podIdentityLabels({ podLabels: pod.labels, namespace: pod.namespace, namespaceLabels: namespace.labels, serviceAccount: pod.serviceAccount });
    const { identity, created } = this.identities.acquire(labels);
    if (created) this.cache.identityAdded(identity);
    const info = this.podState(pod, identity, namedPortsOf({ kind: 'pod', pod }));
    // A new identity's rebuild stores its pods' lists.
    if (incremental && !created) this.storePeerLists(info);
    this.podInfo.set(podKey(pod.namespace, pod.name), info);
    this.infoByPod.set(pod, info);
    let holders = this.podsOf.get(identity.id);
    if (!holders) this.podsOf.set(identity.id, (holders = new Set()));
    holders.add(info);
    if (!created) return;
    const bindings = new Set<Binding>();
    for (const binding of this.podBindings) if (binding.subject.type === 'pods' && binding.subject.selector.has(identity.id)) bindings.add(binding);
    this.bindingsOf.set(identity.id, bindings);
    if (incremental) this.rebuild(identity.id);
  }

  /**
   * A pod's compiled state and its endpoint, allocated together. The fields a lookup reads come
   * first, so they share the object's first cache lines.
   */
  private podState(pod: Pod, identity: Identity, namedPorts: readonly NamedPort[]): PodInfo {
    const info: PodInfo = {
      engine: this,
      live: true,
      pod,
      isPod: true,
      isLocalHost: false,
      slots: EMPTY_LIST,
      portKeys: EMPTY_LIST,
      egressProgram: identity.egress.podProgram,
      ingressProgram: identity.ingress.podProgram,
      egressVerdicts: identity.egress.verdicts,
      ingressVerdicts: identity.ingress.verdicts,
      egressDeny: identity.egress.defaultDeny,
      ingressDeny: identity.ingress.defaultDeny,
      egressPassed: identity.egress.passed,
      ingressPassed: identity.ingress.passed,
      egress: identity.egress,
      ingress: identity.ingress,
      lists: EMPTY_LIST,
      ip: pod.ip,
      variant: -1,
      isWorld: false,
      node: undefined,
      identity,
      namedPorts,
      endpoint: undefined,
    };
    info.endpoint = { kind: 'pod', pod, handle: info };
    return info;
  }

  /** Copies the identity's maps and their lookup fields into the state of each of its pods. */
  private refreshPods(identity: Identity): void {
    for (const info of this.podsOf.get(identity.id) ?? []) {
      info.egress = identity.egress;
      info.ingress = identity.ingress;
      info.egressProgram = identity.egress.podProgram;
      info.ingressProgram = identity.ingress.podProgram;
      info.egressDeny = identity.egress.defaultDeny;
      info.ingressDeny = identity.ingress.defaultDeny;
      info.egressPassed = identity.egress.passed;
      info.ingressPassed = identity.ingress.passed;
      info.egressVerdicts = identity.egress.verdicts;
      info.ingressVerdicts = identity.ingress.verdicts;
    }
  }

  /** Stores a pod's peer lists (its identity's slots, its named-port keys) as one arena region, replacing the old one. */
  private storePeerLists(info: PodInfo): void {
    const slots = info.identity.slots;
    const keys = namedPortKeys(info.namedPorts);
    this.arena.release(info.lists);
    this.pointAtLists(info, this.arena.store([slots.length, ...slots, keys.length, ...keys]));
  }

  private pointAtLists(info: PodInfo, lists: number): void {
    info.lists = lists;
    info.slots = lists === EMPTY_LIST ? EMPTY_LIST : lists + 1;
    info.portKeys = lists === EMPTY_LIST ? EMPTY_LIST : lists + 2 + this.arena.words[lists]!;
  }

  /** Stores again the peer lists of the pods whose identity's slots the selector cache changed. */
  private storeChangedPeerLists(): void {
    for (const identity of this.cache.takeChanged()) {
      if (this.identities.get(identity.id) !== identity) continue;
      for (const info of this.podsOf.get(identity.id) ?? []) this.storePeerLists(info);
    }
  }

  /** Copies the live programs and peer lists into a fresh arena buffer and updates every offset that points at them. */
  private compactArena(): void {
    this.arena.compact((move) => {
      for (const identity of this.identities.all()) {
        movePolicyMap(identity, move);
        for (const info of this.podsOf.get(identity.id) ?? []) info.lists = move(info.lists);
      }
      for (const map of this.nodeMaps.values()) movePolicyMap(map, move);
    });
    for (const identity of this.identities.all()) this.refreshPods(identity);
    for (const info of this.podInfo.values()) this.pointAtLists(info, info.lists);
  }

  private removePod(key: string): void {
    const info = this.podInfo.get(key);
    if (!info) return;
    this.podInfo.delete(key);
    this.infoByPod.delete(info.pod);
    info.live = false;
    this.arena.release(info.lists);
    this.podsOf.get(info.identity.id)?.delete(info);
    if (this.identities.release(info.identity)) {
      const identity = info.identity;
      this.cache.identityRemoved(identity);
      this.bindingsOf.delete(identity.id);
      this.podsOf.delete(identity.id);
      releasePolicyMap(identity, this.arena);
      identity.egress = EMPTY_MAP.egress;
      identity.ingress = EMPTY_MAP.ingress;
    }
  }

  private rebuild(identityId: number): void {
    const identity = this.identities.get(identityId);
    if (!identity) return;
    const map = buildPolicyMap(this.bindingsOf.get(identityId) ?? [], this.arena);
    releasePolicyMap(identity, this.arena);
    identity.egress = map.egress;
    identity.ingress = map.ingress;
    this.refreshPods(identity);
    // Right after the new pod programs: a pod's lookups then read one region of the arena.
    for (const info of this.podsOf.get(identityId) ?? []) this.storePeerLists(info);
    this.cache.settled(identity);
  }

  private rebuildNodes(): void {
    for (const map of this.nodeMaps.values()) releasePolicyMap(map, this.arena);
    this.nodeMaps.clear();
    for (const node of this.cluster.nodes) this.nodeMaps.set(node.name, buildPolicyMap(this.nodeBindingsFor(node), this.arena));
  }

  private nodeBindingsFor(node: Node): Binding[] {
    return [...this.nodeBindings].filter((binding) => binding.subject.type === 'nodes' && selects(binding.subject.selector, node.labels));
  }

  // ---- Policies ----

  private compile(policy: Policy): CompiledPolicy {
    return compilePolicy(policy, { cache: this.cache, services: () => this.cluster.services });
  }

  /** Compiles the new version before releasing the old, so selectors both share stay cached. */
  private upsertPolicy(policy: Policy): void {
    const compiled = this.compile(policy);
    const touched = this.removePolicy(policyKey(policy.ref), false);
    for (const id of this.register(compiled, true)) touched.add(id);
    for (const id of touched) if (this.identities.get(id)) this.rebuild(id);
  }

  /** Adds a compiled policy's bindings; returns the identities whose maps it touches. */
  private register(compiled: CompiledPolicy, track: boolean): Set<number> {
    this.compiled.set(policyKey(compiled.policy.ref), compiled);
    const touched = new Set<number>();
    let nodesTouched = false;
    for (const binding of compiled.bindings) {
      if (binding.subject.type === 'nodes') {
        this.nodeBindings.add(binding);
        nodesTouched = true;
        continue;
      }
      this.podBindings.add(binding);
      for (const id of binding.subject.selector.ids()) {
        let set = this.bindingsOf.get(id);
        if (!set) this.bindingsOf.set(id, (set = new Set()));
        set.add(binding);
        if (track) touched.add(id);
      }
    }
    if (nodesTouched && track) this.rebuildNodes();
    return touched;
  }

  private removePolicy(key: string, rebuild = true): Set<number> {
    const compiled = this.compiled.get(key);
    const touched = new Set<number>();
    if (!compiled) return touched;
    this.compiled.delete(key);
    let nodesTouched = false;
    for (const binding of compiled.bindings) {
      if (binding.subject.type === 'nodes') {
        this.nodeBindings.delete(binding);
        nodesTouched = true;
        continue;
      }
      this.podBindings.delete(binding);
      for (const id of binding.subject.selector.ids()) {
        this.bindingsOf.get(id)?.delete(binding);
        touched.add(id);
      }
    }
    for (const selector of compiled.selectors) this.cache.release(selector);
    if (nodesTouched) this.rebuildNodes();
    if (rebuild) for (const id of touched) if (this.identities.get(id)) this.rebuild(id);
    return touched;
  }
}
