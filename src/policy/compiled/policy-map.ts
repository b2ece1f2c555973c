/**
 * The per-identity policy map: for one subject identity and direction, the entries of every rule
 * that selects it, split by tier and effect, ready for lookup without consulting any policy.
 */
import type { Node } from '../../cluster/model.js';
import { cidrContains, type IpAddress } from '../address.js';
import type { HttpRequest } from '../l7.js';
import type { Direction, RuleRef } from '../model.js';
import { portMatches, type NamedPort, type Protocol } from '../ports.js';
import { selects } from '../selector.js';
import { tierOrder } from '../tier-order.js';
import { judgeHttp, requiresAuth, sortRules, strongerAuth, type DirectionVerdict, type L7Grant } from '../verdict.js';
import { EMPTY_PROGRAM, HEADER_END, HEADER_ENTRIES, HEADER_FLAGS, PROGRAM_HEADER, ProgramArena } from './arena.js';
import { PROTOCOL_BITS, type Binding, type Entry, type PeerMatcher } from './translate.js';

export interface DirectionMap {
  readonly guardrails: readonly Entry[];
  readonly admin: readonly Entry[];
  readonly deny: readonly Entry[];
  readonly allow: readonly Entry[];
  readonly isolatedBy: readonly RuleRef[];
  readonly baseline: readonly Entry[];
  /** Arena offset of the program over the entries that can match a pod peer (see `program`); moved by compaction. */
  podProgram: number;
  /** Arena offset of the program over the entries that can match any other peer (an entity, an address, a node). */
  otherProgram: number;
  /** Every entry: the programs refer to them by index. */
  readonly order: readonly Entry[];
  /** The verdict of each entry of `order` when it alone decides, undefined where that depends on the traffic (L7) or on what follows (Pass). */
  readonly verdicts: readonly (DirectionVerdict | undefined)[];
  /** Verdicts after an admin Pass, by outcome, built on first use (see `outcome`). */
  readonly passed: Map<number, DirectionVerdict>;
  /** The default-deny verdict, built once: most denials are this one. */
  readonly defaultDeny: DirectionVerdict;
}

export type PolicyMap = Readonly<Record<Direction, DirectionMap>>;

const NOT_ISOLATED: Readonly<Record<Direction, DirectionVerdict>> = {
  ingress: Object.freeze({ direction: 'ingress', allowed: true, reason: 'not-isolated', tier: 'default', rules: [] }),
  egress: Object.freeze({ direction: 'egress', allowed: true, reason: 'not-isolated', tier: 'default', rules: [] }),
};
const HOST_ALLOWED: DirectionVerdict = Object.freeze({ direction: 'ingress', allowed: true, reason: 'host-allowed', tier: 'namespaced', rules: [] });

/**
 * The verdict of an entry that decides alone, built once per entry: an entry sits in one direction
 * and one layer, so it never changes. Undefined where it depends on the request (an L7 allow) or on
 * what comes after (a Pass).
 */
function singleVerdict(entry: Entry, direction: Direction, layer: number): DirectionVerdict | undefined {
  if (entry.verdict !== undefined) return entry.verdict;
  let verdict: DirectionVerdict | undefined;
  const decided = (reason: DirectionVerdict['reason'], tier: DirectionVerdict['tier'], allowed: boolean): DirectionVerdict => ({ direction, allowed, reason, tier, rules: entry.single });
  if (layer === LAYER_GUARDRAILS) verdict = decided('admin-deny', 'admin', false);
  else if (layer === LAYER_DENY) verdict = decided('denied', 'namespaced', false);
  else if (layer === LAYER_ALLOW) verdict = entry.hasL7 ? undefined : { ...decided('allowed', 'namespaced', true), ...(entry.auth ? { auth: entry.auth } : {}) };
  else if (entry.action !== 'Pass') {
    const tier = layer === LAYER_ADMIN ? 'admin' : 'baseline';
    verdict = entry.action === 'Accept' ? decided(`${tier}-accept`, tier, true) : decided(`${tier}-deny`, tier, false);
  }
  return (entry.verdict = verdict === undefined ? undefined : Object.freeze(verdict));
}

const NO_ENTRIES: readonly Entry[] = Object.freeze([]);

// ---- The packed program ----
// Header (PROGRAM_HEADER words): the start of each layer (guardrails, admin, deny, allow, baseline),
// the end, flags (FLAG_ISOLATED), the entry count. Record: [entry index, flags, class mask, port
// count, slot count, ports (protocol mask, from, to, name id) ..., selector slots ...]. Offsets are
// relative to the program, so compaction moves it as is. A lookup reads the program's few
// contiguous words instead of walking entry, port and matcher objects.
const LAYER_GUARDRAILS = 0;
const LAYER_ADMIN = 1;
const LAYER_DENY = 2;
const LAYER_ALLOW = 3;
const LAYER_BASELINE = 4;
/** Header flag: some policy isolates the subject in this direction. */
const FLAG_ISOLATED = 1;
// Record flags.
const FLAG_ANY = 1;
const FLAG_ANY_POD = 2;
/** The entry also matches by address or node labels: consult its PeerMatcher. */
const FLAG_SLOW = 4;
const FLAG_ALL_PORTS = 8;
/** The entry's verdict when it decides alone (see `singleVerdict`) allows. */
const FLAG_ALLOWS = 16;
/** ... and requires mutual authentication. */
const FLAG_AUTH = 32;
/** A tier entry whose action is Pass. */
const FLAG_PASS = 64;
/** An allow entry whose verdict carries L7 grants, which depend on the port matched. */
const FLAG_L7 = 128;

/** Port names are compared as small integers in the program. */
const PORT_NAME_IDS = new Map<string, number>();

function portNameId(name: string | undefined): number {
  if (name === undefined) return -1;
  let id = PORT_NAME_IDS.get(name);
  if (id === undefined) PORT_NAME_IDS.set(name, (id = PORT_NAME_IDS.size));
  return id;
}

/** Whether an entry can match a pod peer: by any peer, every pod, a selector, or an address block. */
function canMatchPod(matcher: PeerMatcher): boolean {
  return matcher.any || matcher.anyPod || matcher.podSlots.length > 0 || matcher.ipCidrs.length > 0;
}

/** Whether an entry can match a peer that is not a pod: by any peer, an entity, an address or node labels. */
function canMatchOther(matcher: PeerMatcher): boolean {
  return matcher.any || matcher.classMask !== 0 || matcher.ipCidrs.length > 0 || matcher.worldCidrs.length > 0 || matcher.nodeSelectors.length > 0;
}

/**
 * The words of one program: a pod peer's lookup walks only the entries that can match a pod (a
 * guardrail on world CIDRs is not among them), any other peer's only the rest. Which entries can
 * match which kind of peer is fixed when the map is built.
 */
function program(layers: readonly Entry[][], index: ReadonlyMap<Entry, number>, isolated: boolean, include: (matcher: PeerMatcher) => boolean): number[] {
  const words: number[] = [0, 0, 0, 0, 0, 0, isolated ? FLAG_ISOLATED : 0, index.size];
  layers.forEach((layer, layerIndex) => {
    words[layerIndex] = words.length;
    for (const entry of layer) {
      const matcher = entry.peer;
      if (!include(matcher)) continue;
      const verdict = entry.verdict;
      const flags =
        (matcher.any ? FLAG_ANY : 0) |
        (matcher.anyPod ? FLAG_ANY_POD : 0) |
        (matcher.ipCidrs.length > 0 || matcher.worldCidrs.length > 0 || matcher.nodeSelectors.length > 0 ? FLAG_SLOW : 0) |
        (entry.portSpecs === undefined ? FLAG_ALL_PORTS : 0) |
        (verdict?.allowed ? FLAG_ALLOWS : 0) |
        (requiresAuth(verdict?.auth) ? FLAG_AUTH : 0) |
        (entry.action === 'Pass' ? FLAG_PASS : 0) |
        (layerIndex === LAYER_ALLOW && entry.hasL7 ? FLAG_L7 : 0);
      const ports = entry.portSpecs ?? [];
      words.push(index.get(entry)!, flags, matcher.classMask, ports.length, matcher.podSlots.length);
      for (const port of ports) words.push(port.protocols, port.from, port.to, portNameId(port.name));
      words.push(...matcher.podSlots);
    }
  });
  words[HEADER_END] = words.length;
  return words;
}

/** A program's offset in the arena: the shared empty program when it has nothing to say. */
function storeProgram(arena: ProgramArena, words: readonly number[]): number {
  return words.length === PROGRAM_HEADER && words[HEADER_FLAGS] === 0 ? EMPTY_PROGRAM : arena.store(words);
}

function recordLength(words: Int32Array, at: number): number {
  return 5 + 4 * words[at + 3]! + words[at + 4]!;
}

/** Whether the record at `at` matches the peer and the traffic. */
function recordMatches(words: Int32Array, map: DirectionMap, at: number, peer: PeerView, protocolBit: number, port: number, portKeys: number): boolean {
  const flags = words[at + 1]!;
  const portCount = words[at + 3]!;
  if ((flags & FLAG_ALL_PORTS) === 0) {
    let portOk = false;
    for (let spec = at + 5, end = at + 5 + 4 * portCount; spec < end; spec += 4) {
      if ((words[spec]! & protocolBit) === 0) continue;
      const nameId = words[spec + 3]!;
      if (nameId < 0 ? port >= words[spec + 1]! && port <= words[spec + 2]! : namedPortMatches(words, nameId, protocolBit, port, portKeys)) {
        portOk = true;
        break;
      }
    }
    if (!portOk) return false;
  }
  if ((flags & FLAG_ANY) !== 0) return true;
  if (peer.isPod) {
    if ((flags & FLAG_ANY_POD) !== 0) return true;
    for (let slot = at + 5 + 4 * portCount, end = slot + words[at + 4]!; slot < end; slot++) {
      if (hasSlot(words, peer.slots, words[slot]!)) return true;
    }
  } else if ((words[at + 2]! & (1 << peer.variant)) !== 0) return true;
  return (flags & FLAG_SLOW) !== 0 && slowPeerMatches(map.order[words[at]!]!.peer, peer);
}

/** Whether a peer's slot list (ascending, a handful, at an arena offset) holds this slot. */
function hasSlot(words: Int32Array, slots: number, slot: number): boolean {
  for (let at = slots, end = slots + words[slots - 1]!; at < end; at++) {
    const value = words[at]!;
    if (value >= slot) return value === slot;
  }
  return false;
}

/** Whether the destination's named-port keys (an arena list, see `namedPortKeys`) give this name to the port. */
function namedPortMatches(words: Int32Array, nameId: number, protocolBit: number, port: number, portKeys: number): boolean {
  for (let at = portKeys, end = portKeys + words[portKeys - 1]!; at < end; at += 3) {
    if (words[at] === nameId && words[at + 1] === port && (words[at + 2]! & protocolBit) !== 0) return true;
  }
  return false;
}

/** A destination's named ports as the program compares them: (name id, port, protocol bit) triples. */
export function namedPortKeys(ports: readonly NamedPort[]): readonly number[] {
  return ports.flatMap((named) => [portNameId(named.name), named.port, PROTOCOL_BITS[named.protocol] ?? 0]);
}

const NONE = -1;
const SEVERAL = -2;

/** The one matching record of a layer (its offset), NONE, or SEVERAL. */
function onlyMatch(words: Int32Array, map: DirectionMap, program: number, layer: number, peer: PeerView, protocolBit: number, port: number, portKeys: number): number {
  let found = NONE;
  for (let at = program + words[program + layer]!, end = program + words[program + layer + 1]!; at < end; at += recordLength(words, at)) {
    if (!recordMatches(words, map, at, peer, protocolBit, port, portKeys)) continue;
    if (found !== NONE) return SEVERAL;
    found = at;
  }
  return found;
}

/** The first matching record of an ordered layer (tiers: first match decides), or NONE. */
function firstMatch(words: Int32Array, map: DirectionMap, program: number, layer: number, peer: PeerView, protocolBit: number, port: number, portKeys: number): number {
  for (let at = program + words[program + layer]!, end = program + words[program + layer + 1]!; at < end; at += recordLength(words, at)) {
    if (recordMatches(words, map, at, peer, protocolBit, port, portKeys)) return at;
  }
  return NONE;
}

// ---- Outcomes ----
// Most lookups end in one entry's verdict, the default deny or not-isolated, possibly after an
// admin Pass: `outcome` finds which as one integer, reading only the program's words and the peer's
// slot list, and says COMPLEX when the verdict must be assembled (several entries match, L7 grants,
// host traffic), which `decideInFull` then does. An entry that decides is `index * 4 + allows + 2 *
// requires authentication`; an outcome after a Pass is `-4 - (pass entry index * PASS_SPAN + outcome
// + 2)`. Whether an outcome allows or requires authentication is read from the integer alone.

export const OUTCOME_DEFAULT_DENY = -1;
export const OUTCOME_NOT_ISOLATED = -2;
export const OUTCOME_COMPLEX = -3;

function decidedBy(words: Int32Array, at: number): number {
  const flags = words[at + 1]!;
  return words[at]! * 4 + ((flags & FLAG_ALLOWS) !== 0 ? 1 : 0) + ((flags & FLAG_AUTH) !== 0 ? 2 : 0);
}

/** Larger than `outcome + 2` for every outcome without a Pass of a map with fewer than 2^20 entries. */
const PASS_SPAN = 2 ** 22;
const PASS_MAX_ENTRIES = 2 ** 20;

/**
 * The outcome of one direction: `program` is the offset of the map's program for this kind of peer
 * (`podProgram` or `otherProgram`, or a copy of that offset), the traffic is its protocol bit, port and
 * the destination's named-port keys. The map itself is read only for address and node matching.
 */
export function outcome(words: Int32Array, map: DirectionMap, program: number, peer: PeerView, protocolBit: number, port: number, portKeys: number): number {
  const guardrail = onlyMatch(words, map, program, LAYER_GUARDRAILS, peer, protocolBit, port, portKeys);
  if (guardrail !== NONE) return guardrail === SEVERAL ? OUTCOME_COMPLEX : decidedBy(words, guardrail);
  const admin = firstMatch(words, map, program, LAYER_ADMIN, peer, protocolBit, port, portKeys);
  if (admin === NONE) return namespacedOutcome(words, map, program, peer, protocolBit, port, portKeys);
  if ((words[admin + 1]! & FLAG_PASS) === 0) return decidedBy(words, admin);
  const rest = namespacedOutcome(words, map, program, peer, protocolBit, port, portKeys);
  if (rest === OUTCOME_COMPLEX || words[program + HEADER_ENTRIES]! >= PASS_MAX_ENTRIES) return OUTCOME_COMPLEX;
  return -4 - (words[admin]! * PASS_SPAN + rest + 2);
}

/** The layers after the admin tier: namespaced denies and allows, isolation, then the baseline tier. */
function namespacedOutcome(words: Int32Array, map: DirectionMap, program: number, peer: PeerView, protocolBit: number, port: number, portKeys: number): number {
  const deny = onlyMatch(words, map, program, LAYER_DENY, peer, protocolBit, port, portKeys);
  if (deny !== NONE) return deny === SEVERAL ? OUTCOME_COMPLEX : decidedBy(words, deny);
  const allow = onlyMatch(words, map, program, LAYER_ALLOW, peer, protocolBit, port, portKeys);
  if (allow !== NONE) return allow === SEVERAL || (words[allow + 1]! & FLAG_L7) !== 0 ? OUTCOME_COMPLEX : decidedBy(words, allow);
  if (peer.isLocalHost) return OUTCOME_COMPLEX;
  if ((words[program + HEADER_FLAGS]! & FLAG_ISOLATED) !== 0) return OUTCOME_DEFAULT_DENY;
  const baseline = firstMatch(words, map, program, LAYER_BASELINE, peer, protocolBit, port, portKeys);
  if (baseline === NONE || (words[baseline + 1]! & FLAG_PASS) !== 0) return OUTCOME_NOT_ISOLATED;
  return decidedBy(words, baseline);
}

/** An outcome without its Pass, if it has one. */
function unpassed(code: number): number {
  return code > -4 ? code : ((-4 - code) % PASS_SPAN) - 2;
}

/**
 * The verdict of an outcome that is not COMPLEX. A caller holding copies of the map's verdict table
 * and default deny passes them, so the common outcomes read no map object.
 */
export function outcomeVerdict(map: DirectionMap, direction: Direction, code: number, verdicts = map.verdicts, defaultDeny = map.defaultDeny, passed = map.passed): DirectionVerdict {
  if (code >= 0) return verdicts[code >> 2]!;
  if (code === OUTCOME_DEFAULT_DENY) return defaultDeny;
  if (code === OUTCOME_NOT_ISOLATED) return NOT_ISOLATED[direction];
  return passed.get(code) ?? passedVerdict(map, direction, code);
}

/** A verdict after a Pass, built once per map and outcome. */
function passedVerdict(map: DirectionMap, direction: Direction, code: number): DirectionVerdict {
  const passEntry = map.order[Math.floor((-4 - code) / PASS_SPAN)]!;
  const verdict = Object.freeze(withPass(outcomeVerdict(map, direction, unpassed(code)), passEntry.rule));
  map.passed.set(code, verdict);
  return verdict;
}

/** Whether an outcome (not COMPLEX) allows. */
export function outcomeAllows(code: number): boolean {
  const rest = unpassed(code);
  return rest >= 0 ? (rest & 1) !== 0 : rest === OUTCOME_NOT_ISOLATED;
}

/** Whether an outcome (not COMPLEX) requires mutual authentication. */
export function outcomeRequiresAuth(code: number): boolean {
  const rest = unpassed(code);
  return rest >= 0 && (rest & 2) !== 0;
}

/** The verdict of one direction: the outcome's when it has one and no HTTP request is judged, else assembled in full. */
export function decide(words: Int32Array, map: DirectionMap, direction: Direction, peer: PeerView, traffic: Traffic): DirectionVerdict {
  if (traffic.http === undefined) {
    const code = outcome(words, map, programFor(map, peer), peer, traffic.protocolBit, traffic.port, traffic.portKeys);
    if (code !== OUTCOME_COMPLEX) return outcomeVerdict(map, direction, code);
  }
  return decideInFull(words, map, direction, peer, traffic);
}

function programFor(map: DirectionMap, peer: PeerView): number {
  return peer.isPod ? map.podProgram : map.otherProgram;
}

function shared(entries: Entry[]): readonly Entry[] {
  return entries.length === 0 ? NO_ENTRIES : entries;
}

function byTierOrder(a: Entry, b: Entry): number {
  return tierOrder(a.tier!.policy, b.tier!.policy) || a.tier!.index - b.tier!.index;
}

/** The policy map of a subject from the bindings that select it; its programs are stored in the arena. */
export function buildPolicyMap(bindings: Iterable<Binding>, arena: ProgramArena): PolicyMap {
  const maps = {
    ingress: { guardrails: [] as Entry[], admin: [] as Entry[], deny: [] as Entry[], allow: [] as Entry[], isolatedBy: [] as RuleRef[], baseline: [] as Entry[] },
    egress: { guardrails: [] as Entry[], admin: [] as Entry[], deny: [] as Entry[], allow: [] as Entry[], isolatedBy: [] as RuleRef[], baseline: [] as Entry[] },
  };
  for (const binding of bindings) {
    for (const { direction, layer, entry } of binding.contributions) {
      const map = maps[direction];
      if (layer === 'isolate') map.isolatedBy.push(entry.rule);
      else if (layer === 'guardrail') map.guardrails.push(entry);
      else map[layer].push(entry);
    }
  }
  const finish = (direction: Direction): { map: DirectionMap; pod: number[]; other: number[] } => {
    const map = maps[direction];
    map.admin.sort(byTierOrder);
    map.baseline.sort(byTierOrder);
    const isolatedBy = sortRules(map.isolatedBy);
    const isolated = isolatedBy.length > 0;
    const layers = [map.guardrails, map.admin, map.deny, map.allow, map.baseline];
    const order = layers.flat();
    const index = new Map(order.map((entry, at) => [entry, at]));
    // Verdicts first: the programs' flags read them.
    const verdicts = layers.flatMap((layer, layerIndex) => layer.map((entry) => singleVerdict(entry, direction, layerIndex)));
    const built: DirectionMap = {
      podProgram: EMPTY_PROGRAM,
      otherProgram: EMPTY_PROGRAM,
      verdicts,
      defaultDeny: Object.freeze({ direction, allowed: false, reason: 'default-deny', tier: 'namespaced', rules: isolatedBy }),
      order,
      passed: new Map(),
      guardrails: shared(map.guardrails),
      admin: shared(map.admin),
      deny: shared(map.deny),
      allow: shared(map.allow),
      isolatedBy,
      baseline: shared(map.baseline),
    };
    return { map: built, pod: program(layers, index, isolated, canMatchPod), other: program(layers, index, isolated, canMatchOther) };
  };
  const egress = finish('egress');
  const ingress = finish('ingress');
  // The pod programs are stored last, next to each other: the engine stores the subject's pods' peer
  // lists right after them, so one pod's lookups read one region (see `movePolicyMap`, too).
  egress.map.otherProgram = storeProgram(arena, egress.other);
  ingress.map.otherProgram = storeProgram(arena, ingress.other);
  egress.map.podProgram = storeProgram(arena, egress.pod);
  ingress.map.podProgram = storeProgram(arena, ingress.pod);
  return { egress: egress.map, ingress: ingress.map };
}

/** Returns a map's programs to the arena (the map is being replaced). */
export function releasePolicyMap(map: PolicyMap, arena: ProgramArena): void {
  for (const side of [map.egress, map.ingress]) {
    arena.release(side.podProgram);
    arena.release(side.otherProgram);
  }
}

/**
 * Moves a map's programs during an arena compaction, in the order `buildPolicyMap` stored them (the
 * pod programs last). Call once per map: maps are never shared between subjects.
 */
export function movePolicyMap(map: PolicyMap, move: (offset: number) => number): void {
  map.egress.otherProgram = move(map.egress.otherProgram);
  map.ingress.otherProgram = move(map.ingress.otherProgram);
  map.egress.podProgram = move(map.egress.podProgram);
  map.ingress.podProgram = move(map.ingress.podProgram);
}

/** A map without entries: its programs are the arena's shared empty program, valid in every arena. */
export const EMPTY_MAP: PolicyMap = buildPolicyMap([], new ProgramArena());

/** The peer as one side sees it. */
export interface PeerView {
  readonly isPod: boolean;
  /** Arena offset of the slots of the selectors that select a pod peer's identity (ascending); EMPTY_LIST for other peers. */
  readonly slots: number;
  readonly ip: IpAddress | undefined;
  /** PEER_VARIANTS index of a non-pod peer; -1 for pods. */
  readonly variant: number;
  readonly isWorld: boolean;
  readonly isLocalHost: boolean;
  readonly node: Node | undefined;
}

export interface Traffic {
  readonly protocol: Protocol;
  /** PROTOCOL_BITS of the protocol. */
  readonly protocolBit: number;
  readonly port: number;
  readonly namedPorts: readonly NamedPort[];
  /** Arena offset of `namedPorts` as `namedPortKeys` makes them. */
  readonly portKeys: number;
  readonly http: HttpRequest | undefined;
}

/** Address and node-label matching, for the entries that need it (flag FLAG_SLOW). */
function slowPeerMatches(matcher: PeerMatcher, peer: PeerView): boolean {
  const ip = peer.ip;
  if (!peer.isPod) {
    if (peer.isWorld && ip !== undefined) {
      for (const rule of matcher.worldCidrs) if (cidrContains(rule.cidr, ip) && !rule.except.some((except) => cidrContains(except, ip))) return true;
    }
    if (peer.node !== undefined) for (const selector of matcher.nodeSelectors) if (selects(selector, peer.node.labels)) return true;
  }
  if (ip !== undefined) {
    for (const rule of matcher.ipCidrs) if (cidrContains(rule.cidr, ip) && !rule.except.some((except) => cidrContains(except, ip))) return true;
  }
  return false;
}

// ---- The full tier walk ----

/** The matching entries of one layer: one entry (no allocation), several, or none. */
function matchLayer(words: Int32Array, map: DirectionMap, program: number, layer: number, peer: PeerView, traffic: Traffic): Entry | Entry[] | undefined {
  let first: Entry | undefined;
  let more: Entry[] | undefined;
  for (let at = program + words[program + layer]!, end = program + words[program + layer + 1]!; at < end; at += recordLength(words, at)) {
    if (!recordMatches(words, map, at, peer, traffic.protocolBit, traffic.port, traffic.portKeys)) continue;
    const entry = map.order[words[at]!]!;
    if (first === undefined) first = entry;
    else (more ??= [first]).push(entry);
  }
  return more ?? first;
}

function firstInLayer(words: Int32Array, map: DirectionMap, program: number, layer: number, peer: PeerView, traffic: Traffic): Entry | undefined {
  const at = firstMatch(words, map, program, layer, peer, traffic.protocolBit, traffic.port, traffic.portKeys);
  return at === NONE ? undefined : map.order[words[at]!];
}

function provenance(entries: readonly Entry[]): readonly RuleRef[] {
  return sortRules(entries.map((entry) => entry.rule));
}

function withPass(verdict: DirectionVerdict, passedBy: RuleRef | undefined): DirectionVerdict {
  return passedBy === undefined ? verdict : { ...verdict, passedBy };
}

/**
 * The same tier walk as the reference evaluator, over precompiled entries, assembling verdicts an
 * outcome cannot name: several matching entries, L7 grants and HTTP judgement, host traffic.
 */
export function decideInFull(words: Int32Array, map: DirectionMap, direction: Direction, peer: PeerView, traffic: Traffic): DirectionVerdict {
  const program = programFor(map, peer);
  const guardrails = matchLayer(words, map, program, LAYER_GUARDRAILS, peer, traffic);
  if (guardrails !== undefined) {
    if (!Array.isArray(guardrails)) return guardrails.verdict!;
    return { direction, allowed: false, reason: 'admin-deny', tier: 'admin', rules: provenance(guardrails) };
  }
  let passedBy: RuleRef | undefined;
  const admin = firstInLayer(words, map, program, LAYER_ADMIN, peer, traffic);
  if (admin !== undefined) {
    if (admin.action !== 'Pass') return admin.verdict!;
    passedBy = admin.rule;
  }
  const denies = matchLayer(words, map, program, LAYER_DENY, peer, traffic);
  if (denies !== undefined) {
    const verdict = Array.isArray(denies) ? { direction, allowed: false, reason: 'denied' as const, tier: 'namespaced' as const, rules: provenance(denies) } : denies.verdict!;
    return withPass(verdict, passedBy);
  }
  const allows = matchLayer(words, map, program, LAYER_ALLOW, peer, traffic);
  if (allows !== undefined) {
    if (!Array.isArray(allows) && !allows.hasL7 && traffic.http === undefined) return withPass(allows.verdict!, passedBy);
    return withPass(allowVerdict(direction, Array.isArray(allows) ? allows : [allows], traffic), passedBy);
  }
  if (direction === 'ingress' && peer.isLocalHost) return withPass(HOST_ALLOWED, passedBy);
  if (map.isolatedBy.length > 0) return withPass(map.defaultDeny, passedBy);
  const baseline = firstInLayer(words, map, program, LAYER_BASELINE, peer, traffic);
  if (baseline !== undefined && baseline.action !== 'Pass') return withPass(baseline.verdict!, passedBy);
  return withPass(NOT_ISOLATED[direction], passedBy);
}

function allowVerdict(direction: Direction, allows: readonly Entry[], traffic: Traffic): DirectionVerdict {
  let auth: DirectionVerdict['auth'];
  let unrestricted = false;
  for (const entry of allows) {
    if (entry.auth !== undefined) auth = strongerAuth(auth, entry.auth);
    if (!entry.hasL7) unrestricted = true;
  }
  let l7: L7Grant[] | undefined;
  if (!unrestricted) {
    l7 = [];
    for (const entry of allows) {
      const portRules = entry.portRules ?? [];
      for (let index = 0; index < portRules.length && !unrestricted; index++) {
        const portRule = portRules[index]!;
        if (!portRule.ports.some((port) => portMatches(port, traffic.protocol, traffic.port, traffic.namedPorts))) continue;
        if (portRule.http === undefined && portRule.dns === undefined) unrestricted = true;
        else l7.push({ rule: entry.rule, portRule: index, ...(portRule.http ? { http: portRule.http } : {}), ...(portRule.dns ? { dns: portRule.dns } : {}) });
      }
    }
    if (unrestricted) l7 = undefined;
  }
  return {
    direction,
    allowed: true,
    reason: 'allowed',
    tier: 'namespaced',
    rules: allows.length === 1 ? allows[0]!.single : provenance(allows),
    ...(auth ? { auth } : {}),
    ...(l7 ? { l7 } : {}),
    ...(traffic.http ? { http: judgeHttp(l7, traffic.http) } : {}),
  };
}
