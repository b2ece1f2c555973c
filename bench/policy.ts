/**
 * `npm run bench -- policy`: the compiled engine against the reference evaluator on the same
 * connections, full compile time and heap, and incremental updates against a full compile, on a
 * generated cluster of 10,000 pods in 1,000 namespaces with 5,000 policies.
 */
import { podEndpoint } from '../src/cluster/endpoint.js';
import type { Pod } from '../src/cluster/model.js';
import { createCompiledEngine, type CompiledEngine } from '../src/policy/compiled/engine.js';
import type { PolicyEngine } from '../src/policy/engine.js';
import { createReferenceEngine } from '../src/policy/reference/evaluator.js';
import { Prng } from '../src/policy/testing/prng.js';
import type { Connection } from '../src/policy/verdict.js';
import { unlocatedObjects } from '../src/manifest/document.js';
import { scenarioFromObjects, type Scenario } from '../src/scenario/load.js';
import { median, round } from './measure.js';
import { figureLog, type Figure } from './report.js';

type Manifest = Record<string, unknown>;

const NAMESPACES = 1000;
const PODS_PER_NAMESPACE = 10;
const APPS = 5;
const LOOKUPS = 1_000_000;
const REFERENCE_LOOKUPS = 300;
/** Timed passes over the same lookups; the figure is their median (this VM's memory latency drifts between passes). */
const PASSES = 3;

/** A cluster shaped like real ones: per namespace default deny, DNS, app-to-app, one cross-namespace allow, one Cilium policy. */
export function benchmarkManifests(seed: number): Manifest[] {
  const random = new Prng(seed);
  const out: Manifest[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } }];
  out.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'coredns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } }, spec: { containers: [{ name: 'c', ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }] }] }, status: { podIP: '10.96.0.10' } });
  for (let n = 0; n < NAMESPACES; n++) {
    const namespace = `team-${n}`;
    out.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { tier: random.pick(['critical', 'standard']), team: `t${n % 50}` } } });
    for (let p = 0; p < PODS_PER_NAMESPACE; p++) {
      const app = `app-${p % APPS}`;
      out.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${app}-${p}`, namespace, labels: { app, 'pod-template-hash': `h${p % APPS}` } },
        spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }, { name: 'metrics', containerPort: 9090 }] }] },
        status: { podIP: `10.${Math.floor(n / 250)}.${n % 250}.${p + 1}` },
      });
    }
    const peerNamespace = `team-${random.int(0, NAMESPACES - 1)}`;
    out.push(
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny', namespace }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } },
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'allow-dns', namespace },
        spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] }] },
      },
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'app-chain', namespace },
        spec: {
          podSelector: { matchLabels: { app: `app-${random.int(1, APPS - 1)}` } },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ podSelector: { matchLabels: { app: 'app-0' } } }], ports: [{ port: 'http' }] }],
        },
      },
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'from-partner', namespace },
        spec: {
          podSelector: { matchLabels: { app: 'app-0' } },
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': peerNamespace } }, podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['app-0', 'app-1'] }] } }], ports: [{ port: 8080 }] }],
          egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': peerNamespace } } }] }, { to: [{ podSelector: {} }], ports: [{ port: 'http' }] }],
        },
      },
      {
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumNetworkPolicy',
        metadata: { name: 'edge', namespace },
        spec: {
          endpointSelector: { matchLabels: { app: 'app-0' } },
          ingress: [
            { fromEntities: ['world'], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/public/.*' }] } }] },
            { fromEndpoints: [{ matchLabels: { 'io.cilium.k8s.namespace.labels.team': `t${n % 50}` } }], authentication: { mode: 'required' }, toPorts: [{ ports: [{ port: '9090', protocol: 'TCP' }] }] },
          ],
        },
      },
    );
  }
  out.push({
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumClusterwideNetworkPolicy',
    metadata: { name: 'deny-metadata' },
    spec: { endpointSelector: {}, enableDefaultDeny: { egress: false, ingress: false }, egressDeny: [{ toCIDR: ['169.254.169.254/32'] }] },
  });
  out.push({
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    kind: 'ClusterNetworkPolicy',
    metadata: { name: 'critical-lockdown' },
    spec: { tier: 'Admin', priority: 10, subject: { namespaces: { matchLabels: { tier: 'critical' } } }, ingress: [{ action: 'Pass', from: [{ namespaces: { matchLabels: { tier: 'critical' } } }] }, { action: 'Deny', from: [{ namespaces: { matchLabels: { tier: 'standard' } } }], protocols: [{ tcp: { destinationPort: { number: 22 } } }] }] },
  });
  return out;
}

/**
 * Connections between pod endpoints: `uniform` draws both ends from the whole cluster (the worst
 * case for caches); `node-local` draws sources from the 100 pods of ten namespaces, as one node
 * agent sees its own pods talk to the rest of the cluster.
 */
function connections(engine: CompiledEngine, count: number, seed: number, shape: Shape): Connection[] {
  const random = new Prng(seed);
  const endpoints = engine.cluster.pods.map((pod) => engine.endpointFor(pod));
  const podOf = (endpoint: Connection['src']): Pod => (endpoint as { pod: Pod }).pod;
  const local = endpoints.filter((endpoint) => /^team-\d$/.test(podOf(endpoint).namespace));
  const byNamespace = new Map<string, Connection['src'][]>();
  for (const endpoint of endpoints) byNamespace.set(podOf(endpoint).namespace, [...(byNamespace.get(podOf(endpoint).namespace) ?? []), endpoint]);
  const dns = endpoints.find((endpoint) => podOf(endpoint).name === 'coredns')!;
  const app = (namespace: string, name: string): Connection['src'] => byNamespace.get(namespace)!.find((endpoint) => podOf(endpoint).labels.get('app') === name)!;
  const ports = [8080, 9090, 53, 22, 443];
  return Array.from({ length: count }, () => {
    if (shape === 'service-graph') {
      const namespace = `team-${random.int(0, NAMESPACES - 1)}`;
      const pick = random.next();
      if (pick < 0.5) return { src: app(namespace, 'app-0'), dst: random.pick(byNamespace.get(namespace)!), protocol: 'TCP', port: 8080 };
      if (pick < 0.75) return { src: random.pick(byNamespace.get(namespace)!), dst: dns, protocol: 'UDP', port: 53 };
      return { src: app(namespace, 'app-0'), dst: random.pick(endpoints), protocol: 'TCP', port: 8080 };
    }
    const port = random.pick(ports);
    const src = random.pick(shape === 'uniform' ? endpoints : local);
    return { src, dst: random.pick(endpoints), protocol: port === 53 && random.chance(0.5) ? 'UDP' : 'TCP', port };
  });
}

type Shape = 'uniform' | 'node-local' | 'service-graph';

/** The same connections for another engine: endpoints resolved by name in its own state. */
function rebind(engine: PolicyEngine, connection: Connection): Connection {
  const endpoint = (end: Connection['src']): Connection['src'] => (end.kind === 'pod' ? podEndpoint(engine.cluster, engine.cluster.pod(end.pod.namespace, end.pod.name)!) : end);
  return { ...connection, src: endpoint(connection.src), dst: endpoint(connection.dst) };
}

function time<T>(work: () => T): { value: T; ms: number } {
  const start = process.hrtime.bigint();
  const value = work();
  return { value, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

/** Lookups per second of `lookup` over every connection, median of PASSES passes, and each pass's rate. */
function rates(sample: readonly Connection[], lookup: (connection: Connection) => boolean): { median: number; passes: number[]; allowed: number } {
  const passes: number[] = [];
  let allowed = 0;
  for (let pass = 0; pass < PASSES; pass++) {
    allowed = 0;
    const run = time(() => {
      for (const connection of sample) if (lookup(connection)) allowed++;
    });
    passes.push(sample.length / (run.ms / 1000));
  }
  return { median: median(passes), passes: passes.map(Math.round), allowed };
}

/** The JavaScript heap plus array buffers (the engine's arena lives outside the heap). */
function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

export function runPolicyBenchmark(log: (line: string) => void): Figure[] {
  const { figures, add } = figureLog(log);
  const manifests = benchmarkManifests(42);
  const parsed = time(() => scenarioFromObjects(unlocatedObjects(manifests, 'bench')));
  const scenario: Scenario = parsed.value;
  const errors = scenario.issues.filter((issue) => issue.severity === 'error');
  if (errors.length > 0) throw new Error(`benchmark input has errors: ${errors[0]?.message}`);
  add({ name: 'scenario', pods: scenario.cluster.pods.length, namespaces: scenario.cluster.namespaces.length, policies: scenario.policies.length, parse_ms: round(parsed.ms) });

  // Full compile: median of three; heap is what one engine adds after a forced GC.
  const compileTimes: number[] = [];
  const heaps: number[] = [];
  let engine: CompiledEngine | undefined;
  for (let trial = 0; trial < 3; trial++) {
    engine = undefined;
    const before = heapUsed();
    const start = process.hrtime.bigint();
    engine = createCompiledEngine(scenario);
    compileTimes.push(Number(process.hrtime.bigint() - start) / 1e6);
    heaps.push(heapUsed() - before);
  }
  if (!engine) throw new Error('no engine');
  add({ name: 'full_compile', ms: round(median(compileTimes)), trials: compileTimes.map((ms) => round(ms)), heap_mb: round(median(heaps) / 1024 / 1024), ...engine.stats(), target_ms: 2000, meets_target: median(compileTimes) <= 2000 });

  // Lookups: the same connections through both engines, for two traffic shapes.
  const reference = createReferenceEngine(scenario);
  for (const shape of ['uniform', 'node-local', 'service-graph', 'hot-set'] as const) {
    const distinct = connections(engine, shape === 'hot-set' ? 1000 : LOOKUPS, 7, shape === 'hot-set' ? 'service-graph' : shape);
    const sample = shape === 'hot-set' ? Array.from({ length: LOOKUPS }, (_, index) => distinct[index % distinct.length]!) : distinct;
    for (const connection of sample.slice(0, 20_000)) engine.evaluate(connection);
    const compiled = rates(sample, (connection) => engine.evaluate(connection).allowed);
    const prefix = sample.slice(0, REFERENCE_LOOKUPS).map((connection) => rebind(reference, connection));
    const referenceVerdicts = time(() => prefix.map((connection) => reference.evaluate(connection).allowed));
    const disagreements = referenceVerdicts.value.filter((verdict, index) => verdict !== engine.evaluate(sample[index]!).allowed).length;
    const compiledRate = compiled.median;
    const referenceRate = REFERENCE_LOOKUPS / (referenceVerdicts.ms / 1000);
    add({
      name: `lookups_${shape.replace(/-/g, '_')}`,
      compiled_per_s: Math.round(compiledRate),
      passes_per_s: compiled.passes,
      reference_per_s: round(referenceRate),
      ratio: Math.round(compiledRate / referenceRate),
      compiled_lookups: LOOKUPS,
      reference_lookups: REFERENCE_LOOKUPS,
      allowed_share: round(compiled.allowed / LOOKUPS, 3),
      disagreements,
      target_per_s: 1_000_000,
      target_ratio: 100,
      meets_target: compiledRate >= 1_000_000 && compiledRate / referenceRate >= 100,
    });
  }

  // One direction per lookup, as each node agent decides its side (egress at the source's node,
  // ingress at the destination's): uniform connections, egress only.
  {
    const sample = connections(engine, LOOKUPS, 11, 'uniform');
    for (const connection of sample.slice(0, 20_000)) engine.evaluateDirection(connection, 'egress');
    const compiled = rates(sample, (connection) => engine.evaluateDirection(connection, 'egress').allowed);
    const prefix = sample.slice(0, REFERENCE_LOOKUPS).map((connection) => rebind(reference, connection));
    const referenceVerdicts = time(() => prefix.map((connection) => reference.evaluateDirection(connection, 'egress').allowed));
    const disagreements = referenceVerdicts.value.filter((verdict, index) => verdict !== engine.evaluateDirection(sample[index]!, 'egress').allowed).length;
    const compiledRate = compiled.median;
    const referenceRate = REFERENCE_LOOKUPS / (referenceVerdicts.ms / 1000);
    add({ name: 'lookups_uniform_one_direction', compiled_per_s: Math.round(compiledRate), passes_per_s: compiled.passes, reference_per_s: round(referenceRate), ratio: Math.round(compiledRate / referenceRate), compiled_lookups: LOOKUPS, reference_lookups: REFERENCE_LOOKUPS, disagreements, target_per_s: 1_000_000, target_ratio: 100, meets_target: compiledRate >= 1_000_000 && compiledRate / referenceRate >= 100 });
  }

  // Incremental updates against the full compile.
  const full = median(compileTimes);
  const podTimes: number[] = [];
  const policyTimes: number[] = [];
  const random = new Prng(99);
  const live = engine;
  for (let trial = 0; trial < 15; trial++) {
    const pod = random.pick(live.cluster.pods);
    const labels = new Map(pod.labels);
    labels.set('app', `app-${random.int(0, APPS)}`);
    labels.set('canary', String(trial));
    podTimes.push(time(() => live.apply({ type: 'upsert-pod', pod: { ...pod, labels } })).ms);
    const policy = random.pick(live.policies.filter((candidate) => candidate.type === 'NetworkPolicy' && candidate.ref.name === 'app-chain'));
    if (policy.type !== 'NetworkPolicy') continue;
    const changed = { ...policy, podSelector: { requirements: [{ key: 'app', operator: 'In' as const, values: [`app-${random.int(0, APPS - 1)}`] }] } };
    policyTimes.push(time(() => live.apply({ type: 'upsert-policy', policy: changed })).ms);
  }
  for (const [name, times] of [['incremental_pod_label_change', podTimes], ['incremental_policy_change', policyTimes]] as const) {
    const ms = median(times);
    add({ name, ms: round(ms), share_of_full_compile_pct: round((ms / full) * 100, 3), trials: times.length, target_pct: 1, meets_target: ms / full <= 0.01 });
  }
  return figures;
}
