/**
 * Deterministic, realistic Hubble flows for a cluster described by manifests: `generateFlows`
 * runs a profile's activities on a simulated clock and yields records in time order. The same
 * manifests, profile, start, duration and seed always give the same records.
 */
import { compareText } from '../../manifest/syntax.js';
import type { ClusterState } from '../../cluster/state.js';
import { createCompiledEngine, type CompiledEngine } from '../../policy/compiled/engine.js';
import { policyKey, type Policy } from '../../policy/model.js';
import type { FlowRecord } from '../model.js';
import { parseDurationNs, parseTimestampNs } from '../model.js';
import { profileNamed, GenerateError, type Activity, type Profile } from './profiles.js';
import { FlowBuilder, type RuleShape } from './records.js';
import { DAY, HOUR, SECOND, Simulation, TimeHeap } from './simulation.js';
import { Topology } from './topology.js';

export { GenerateError, PROFILES } from './profiles.js';

export const DEFAULT_START = '2026-11-01T00:00:00Z';
export const DEFAULT_DURATION = '168h';
/** Offsets are exact integers in a double up to 2^53 ns (104 days). */
export const MAX_DURATION_NS = 2400 * HOUR;

export interface ScenarioInput {
  readonly cluster: ClusterState;
  readonly policies: readonly Policy[];
}

export interface GenerateOptions {
  readonly scenario: ScenarioInput;
  readonly profile: string;
  /** Nanoseconds since the epoch; default 2026-11-01T00:00:00Z (never the wall clock). */
  readonly startNs?: bigint;
  /** Default 168 h; at most 2400 h. */
  readonly durationNs?: number;
  readonly seed?: number;
  /** Stop after this many records; traffic rates are calibrated so they span about the whole duration. */
  readonly count?: number;
  /** Multiplies the profile's traffic rates (default 1; ignored with `count`). */
  readonly intensity?: number;
  /** Probes run every 10 s; write one in this many (default: the profile's). */
  readonly probeEvery?: number;
}

/** Everything a generation run is built from; tests use it to check verdicts independently. */
export interface PreparedGeneration {
  readonly profile: Profile;
  /** The manifests' cluster plus what the profile adds (its batch jobs). */
  readonly cluster: ClusterState;
  readonly policies: readonly Policy[];
  readonly engine: CompiledEngine;
  readonly topology: Topology;
  /** The policy repository revision verdicts are reported at. */
  readonly revision: number;
}

/** Go-style durations (`168h`, `90m`, `1h30m`, `45s`, `500ms`) plus `d` for days, in nanoseconds. */
export function parseDuration(text: string): number {
  const total = parseDurationNs(text.trim());
  if (total === undefined) throw new GenerateError('PODGATE_E_DURATION', `"${text}" is not a duration`, 'write it like 168h, 30m, 1h30m or 7d');
  if (total <= 0n) throw new GenerateError('PODGATE_E_DURATION', `duration "${text}" is not positive`, 'give a duration such as 1h');
  if (total > BigInt(MAX_DURATION_NS)) throw new GenerateError('PODGATE_E_DURATION', `duration "${text}" is longer than 2400h`, 'generate at most 100 days at a time (use --start for later periods)');
  return Number(total);
}

export function parseStart(text: string): bigint {
  const ns = parseTimestampNs(text.trim());
  if (ns === undefined) throw new GenerateError('PODGATE_E_START', `"${text}" is not an RFC 3339 time`, `write it like ${DEFAULT_START}`);
  return ns;
}

/**
 * The profile's cluster and an engine holding it. The policy revision flows carry is the one an
 * agent reaches importing the policies one by one (one revision each); the engine is built with
 * all of them at once because that is much faster for large inputs, and decides the same.
 */
export function prepareGeneration(options: { scenario: ScenarioInput; profile: string }): PreparedGeneration {
  const profile = profileNamed(options.profile);
  const cluster = profile.extend(options.scenario.cluster);
  const policies = [...options.scenario.policies].sort((a, b) => compareText(policyKey(a.ref), policyKey(b.ref)));
  const engine = createCompiledEngine({ cluster, policies });
  const topology = new Topology(engine.cluster, engine);
  if (topology.pods.length === 0) throw new GenerateError('PODGATE_E_PROFILE', 'no pods with addresses to generate traffic for', 'add Pods or workloads to the manifests');
  return { profile, cluster: engine.cluster, policies, engine, topology, revision: engine.revision + policies.length };
}

/** Every rule's shape, for Hubble's policy_match_type (L3 only, L3+L4, L4 only, all). */
function ruleShapes(policies: readonly Policy[]): Map<string, RuleShape> {
  const shapes = new Map<string, RuleShape>();
  const key = (policy: Policy, path: string): string => `${policy.ref.kind}/${policy.ref.namespace ?? ''}/${policy.ref.name}#${path}`;
  for (const policy of policies) {
    switch (policy.type) {
      case 'NetworkPolicy':
        for (const rule of [...policy.ingress, ...policy.egress]) shapes.set(key(policy, rule.ref.path), { peer: (rule.peers?.length ?? 0) > 0, port: (rule.ports?.length ?? 0) > 0 });
        break;
      case 'Cilium':
        for (const rule of policy.rules) {
          for (const peerRule of [...rule.allow.ingress, ...rule.allow.egress, ...rule.deny.ingress, ...rule.deny.egress]) {
            shapes.set(key(policy, peerRule.ref.path), { peer: peerRule.peers !== undefined, port: (peerRule.ports?.length ?? 0) > 0 });
          }
        }
        break;
      case 'Tiered':
        for (const rule of [...policy.ingress, ...policy.egress]) shapes.set(key(policy, rule.ref.path), { peer: rule.peers.length > 0, port: rule.ports !== undefined });
        break;
    }
  }
  return shapes;
}

interface RunParameters {
  readonly startNs: bigint;
  readonly durationNs: number;
  readonly seed: number;
  readonly intensity: number;
  readonly probeEvery: number;
  readonly limit: number;
}

interface Scheduled {
  readonly t: number;
  readonly seq: number;
  readonly activity: Activity;
}

/** One simulated run: activities fire in time order; records are released once nothing earlier can come. */
function* simulate(prepared: PreparedGeneration, params: RunParameters, sink?: (sim: Simulation) => void): Generator<FlowRecord> {
  const { profile, engine, topology } = prepared;
  const builder = new FlowBuilder({ startNs: params.startNs, seed: params.seed, generator: profile.name, revision: prepared.revision, ruleShapes: ruleShapes(prepared.policies) });
  const sim = new Simulation({ topology, engine, builder, seed: params.seed, externalNames: profile.externalNames, upstreamResolver: profile.upstreamResolver });
  sink?.(sim);
  const startMs = Number(params.startNs / 1_000_000n);
  const activities = profile.activities({ sim, topology, startMs, durationNs: params.durationNs, intensity: params.intensity, probeEvery: params.probeEvery });
  const schedule = new TimeHeap<Scheduled>();
  let seq = 0;
  for (const activity of activities) if (activity.first < params.durationNs) schedule.push({ t: activity.first, seq: seq++, activity });
  const end = params.durationNs;
  let emitted = 0;
  for (;;) {
    const next = schedule.peek();
    const bound = next && next.t < end ? next.t : end;
    while (sim.nextTime() <= bound && sim.nextTime() < end) {
      yield sim.take()!;
      if (++emitted >= params.limit) return;
    }
    if (!next || next.t >= end) return;
    schedule.pop();
    sim.currentClass = next.activity.kind;
    const again = next.activity.run(next.t);
    if (again !== undefined && again < end) schedule.push({ t: Math.max(again, next.t + 1), seq: seq++, activity: next.activity });
  }
}

/**
 * Rates for `count` records over the duration: probes get at most a third of the records (thinned
 * if needed), traffic the rest, measured on a sample day of the same run and corrected until close.
 */
function calibrate(prepared: PreparedGeneration, base: RunParameters, count: number, fixedProbeEvery: number | undefined): { intensity: number; probeEvery: number } {
  const sampleNs = Math.min(base.durationNs, DAY);
  const scale = base.durationNs / sampleNs;
  const measure = (intensity: number, probeEvery: number): { probe: number; traffic: number } => {
    let counts = { probe: 0, traffic: 0 };
    for (const _record of simulate(prepared, { ...base, durationNs: sampleNs, intensity, probeEvery, limit: Number.POSITIVE_INFINITY }, (sim) => (counts = sim.counts))) {
      // Only the counts matter here.
    }
    return { probe: counts.probe * scale, traffic: counts.traffic * scale };
  };
  // A sample shorter than the run can only estimate: aim a little high. A full-length sample is exact.
  const exact = sampleNs === base.durationNs;
  const target = exact ? count : count * 1.04;
  const coarse = measure(0.05, 60);
  const probesAtFullRate = coarse.probe * 60;
  const probeEvery = fixedProbeEvery ?? Math.max(1, Math.ceil(probesAtFullRate / (target / 3)));
  const probes = probesAtFullRate / probeEvery;
  const perIntensity = Math.max(coarse.traffic / 0.05, 1);
  let intensity = Math.max((target - probes) / perIntensity, 0.001);
  // Records do not grow quite linearly with the rate (DNS answers are cached, sessions are random): correct.
  for (let pass = 0; pass < 6; pass++) {
    const fine = measure(intensity, probeEvery);
    const wanted = target - fine.probe;
    if (fine.traffic <= 0 || wanted <= 0) break;
    if (exact ? fine.probe + fine.traffic >= count : Math.abs(wanted / fine.traffic - 1) < 0.01) break;
    intensity = Math.max(intensity * (wanted / fine.traffic) * (exact ? 1.01 : 1), 0.001);
  }
  return { intensity, probeEvery };
}

/**
 * Flow records in time order, deterministic for the options. Bad options throw GenerateError here,
 * before the first record; the records themselves are produced lazily (nothing is held in memory).
 */
export function generateFlows(options: GenerateOptions): Generator<FlowRecord> {
  const prepared = prepareGeneration(options);
  const durationNs = options.durationNs ?? parseDuration(DEFAULT_DURATION);
  if (!(durationNs > 0) || durationNs > MAX_DURATION_NS) throw new GenerateError('PODGATE_E_DURATION', `duration ${durationNs} ns is out of range`, 'give a duration from 1s to 2400h');
  const seed = (options.seed ?? 1) >>> 0;
  const base: RunParameters = {
    startNs: options.startNs ?? parseTimestampNs(DEFAULT_START)!,
    durationNs,
    seed,
    intensity: options.intensity ?? 1,
    probeEvery: options.probeEvery ?? prepared.profile.defaultProbeEvery,
    limit: options.count ?? Number.POSITIVE_INFINITY,
  };
  if (options.count !== undefined && !(Number.isInteger(options.count) && options.count > 0)) throw new GenerateError('PODGATE_E_COUNT', `count ${options.count} is not a positive integer`, 'give --count a number such as 1000000');
  if (!(base.intensity > 0 && Number.isFinite(base.intensity))) throw new GenerateError('PODGATE_E_USAGE', `intensity ${base.intensity} is not a positive number`, 'use 1 for the profile\'s rates, 2 for twice the traffic');
  if (!(Number.isInteger(base.probeEvery) && base.probeEvery >= 1)) throw new GenerateError('PODGATE_E_USAGE', `probe sampling ${base.probeEvery} is not a positive integer`, 'write one probe in N with N = 1, 2, 6, ...');
  const params = options.count === undefined ? base : { ...base, ...calibrate(prepared, base, options.count, options.probeEvery) };
  return simulate(prepared, params);
}

