/**
 * Differential test: on random clusters, policies and connections, the compiled engine (built at
 * once, and kept current through incremental changes) must give exactly the reference's verdicts.
 * Seeds are fixed; a failure prints its seed. PODGATE_DIFF_SEEDS / PODGATE_DIFF_SEED widen or pin the run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ruleKey } from './model.js';
import { createCompiledEngine } from './compiled/engine.js';
import type { Change, PolicyEngine } from './engine.js';
import { createReferenceEngine } from './reference/evaluator.js';
import { probeConnection, RANDOM_EXTERNALS, RandomScenario, type ProbeSpec } from './testing/random-scenario.js';
import type { DirectionVerdict, Verdict } from './verdict.js';
import { scenarioFromObjects } from '../scenario/load.js';
import { unlocatedObjects } from '../manifest/document.js';

const FIRST_SEED = Number(process.env['PODGATE_DIFF_SEED'] ?? 20261125);
const SEEDS = process.env['PODGATE_DIFF_SEED'] ? 1 : Number(process.env['PODGATE_DIFF_SEEDS'] ?? 250);
const PROBES = 60;
const STEPS = 12;

function side(verdict: DirectionVerdict): unknown {
  return {
    allowed: verdict.allowed,
    reason: verdict.reason,
    tier: verdict.tier,
    rules: verdict.rules.map(ruleKey),
    passedBy: verdict.passedBy ? ruleKey(verdict.passedBy) : undefined,
    auth: verdict.auth,
    l7: verdict.l7?.map((grant) => ruleKey(grant.rule)).sort(),
    http: verdict.http ? { allowed: verdict.http.allowed, rules: verdict.http.rules.map(ruleKey) } : undefined,
  };
}

function summary(verdict: Verdict): unknown {
  return { allowed: verdict.allowed, decidedBy: verdict.decidedBy, authRequired: verdict.authRequired, l7Denied: verdict.l7Denied, egress: side(verdict.egress), ingress: side(verdict.ingress) };
}

function compare(seed: number, step: string, probe: ProbeSpec, expected: PolicyEngine, actual: PolicyEngine): void {
  const expectedConnection = probeConnection(expected.cluster, probe);
  const actualConnection = probeConnection(actual.cluster, probe);
  assert.equal(actualConnection === undefined, expectedConnection === undefined, `seed ${seed} ${step}: endpoints differ for ${JSON.stringify(probe)}`);
  if (!expectedConnection || !actualConnection) return;
  const want = summary(expected.evaluate(expectedConnection));
  const got = summary(actual.evaluate(actualConnection));
  const where = `seed ${seed} (rerun with PODGATE_DIFF_SEED=${seed}) ${step}: ${actual.name} disagrees with ${expected.name} on ${JSON.stringify(probe)}`;
  assert.deepEqual(got, want, where);
  const direction = probe.port % 2 === 0 ? 'ingress' : 'egress';
  assert.deepEqual(side(actual.evaluateDirection(actualConnection, direction)), side(expected.evaluateDirection(expectedConnection, direction)), `${where} (${direction} alone)`);
}

function decode(manifests: Record<string, unknown>[]) {
  return scenarioFromObjects(unlocatedObjects(manifests, 'mutation'), { externals: RANDOM_EXTERNALS });
}

function randomChange(scenario: RandomScenario, reference: PolicyEngine): Change | undefined {
  const r = scenario.random;
  const pods = reference.cluster.pods;
  switch (r.int(0, 7)) {
    case 0: {
      if (pods.length === 0) return undefined;
      const pod = r.pick(pods);
      const [decoded] = decode([scenario.relabeledPod(`${pod.namespace}/${pod.name}`, pod.ip!.text)]).cluster.pods;
      return decoded ? { type: 'upsert-pod', pod: decoded } : undefined;
    }
    case 1: {
      if (pods.length === 0) return undefined;
      const pod = r.pick(pods);
      return { type: 'delete-pod', namespace: pod.namespace, name: pod.name };
    }
    case 2: {
      const namespace = r.pick(scenario.namespaces);
      const name = `pod-new-${r.int(0, 999)}`;
      scenario.podNames.push(`${namespace}/${name}`);
      const [decoded] = decode([scenario.podManifest(namespace, name, `10.200.${r.int(0, 250)}.${r.int(1, 250)}`)]).cluster.pods;
      return decoded ? { type: 'upsert-pod', pod: decoded } : undefined;
    }
    case 3: {
      const decoded = decode([scenario.namespaceManifest(r.pick(scenario.namespaces))]).cluster.namespaces.find((namespace) => !namespace.implicit);
      return decoded ? { type: 'upsert-namespace', namespace: decoded } : undefined;
    }
    case 4:
    case 5: {
      const [policy] = decode([scenario.policy()]).policies;
      return policy ? { type: 'upsert-policy', policy } : undefined;
    }
    case 6: {
      const policies = reference.policies;
      if (policies.length === 0) return undefined;
      return { type: 'delete-policy', ref: r.pick(policies).ref };
    }
    default: {
      const [service] = decode([
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc-mut', namespace: r.pick(scenario.namespaces), labels: { exposed: 'yes' } }, spec: { selector: { app: r.pick(['web', 'api', 'db']) }, ports: [{ port: 80 }] } },
      ]).cluster.services;
      return service ? { type: 'upsert-service', service } : undefined;
    }
  }
}

test(`compiled engine agrees with the reference on ${SEEDS} random scenarios, built at once and updated incrementally`, () => {
  for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
    const scenario = new RandomScenario(seed);
    const loaded = decode(scenario.manifests());
    const reference = createReferenceEngine(loaded);
    const compiled = createCompiledEngine(loaded);
    for (let index = 0; index < PROBES; index++) compare(seed, 'initial', scenario.probe(), reference, compiled);
    for (let step = 0; step < STEPS; step++) {
      const change = randomChange(scenario, reference);
      if (!change) continue;
      reference.apply(change);
      compiled.apply(change);
      const label = `after change ${step + 1} (${change.type})`;
      for (let index = 0; index < PROBES / 4; index++) compare(seed, label, scenario.probe(), reference, compiled);
      if (step % 4 === 3) {
        const fresh = createCompiledEngine({ cluster: reference.cluster, policies: reference.policies });
        for (let index = 0; index < PROBES / 4; index++) compare(seed, `${label}, fresh compile`, scenario.probe(), fresh, compiled);
      }
    }
  }
});

test('compiled engine still agrees when its arena is compacted after most changes', () => {
  let compactions = 0;
  for (let seed = FIRST_SEED; seed < FIRST_SEED + Math.min(SEEDS, 40); seed++) {
    const scenario = new RandomScenario(seed);
    const loaded = decode(scenario.manifests());
    const reference = createReferenceEngine(loaded);
    const compiled = createCompiledEngine(loaded, { arenaCompactFloor: 0 });
    for (let step = 0; step < 3 * STEPS; step++) {
      const change = randomChange(scenario, reference);
      if (!change) continue;
      reference.apply(change);
      compiled.apply(change);
      for (let index = 0; index < PROBES / 4; index++) compare(seed, `after change ${step + 1} (${change.type}), compacting`, scenario.probe(), reference, compiled);
    }
    compactions += compiled.stats().arenaCompactions;
  }
  assert.ok(compactions > 40, `the arena was compacted ${compactions} times: the moves were exercised`);
});

