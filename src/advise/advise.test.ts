/**
 * advise's guarantees, on generated flows (payments on examples/payments, mesh on a bigger
 * generated cluster) and on the Hubble fixtures: the advice admits every observed legitimate flow
 * (checked with verify), denies what was not observed, is byte-for-byte stable, validates, and
 * handles the published jq pipeline's TSV honestly.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { isVolatileLabel } from '../cluster/stable-labels.js';
import { podEndpoint } from '../cluster/endpoint.js';
import type { Pod } from '../cluster/model.js';
import { SkipReport } from '../flow/jsonl.js';
import { generateFlows } from '../flow/generate/generator.js';
import { parseFlowLine } from '../flow/jsonl.js';
import { destinationPort, l4Protocol, type FlowRecord } from '../flow/model.js';
import type { SourceText } from '../manifest/document.js';
import { createReferenceEngine } from '../policy/reference/evaluator.js';
import { Prng } from '../policy/testing/prng.js';
import { loadScenario, type Scenario } from '../scenario/load.js';
import { isLegitimate, isReplyFlow } from '../verify/replay.js';
import { verifyFlows } from '../verify/verify.js';
import { AdviseInputError, Advisor, adviceToYaml, type Advice, type AdviseOptions, type PolicyFormat } from './advise.js';
import { feedStream } from './input.js';
import { workloadOf } from '../cluster/workloads.js';
import { manifestsFromFlows, meshClusterManifests } from './testing.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = join(ROOT, '..', 'shared', 'fixtures', 'hubble');
const PAYMENTS_CLUSTER = join(ROOT, 'examples', 'payments', 'cluster.yaml');
const JQ = '/usr/bin/jq';
const jqMissing = existsSync(JQ) ? false : `Debian jq is not installed at ${JQ} (apt-get install jq): the pipeline test needs it`;
const FORMATS: readonly PolicyFormat[] = ['networkpolicy', 'cilium'];

interface Case {
  readonly name: string;
  /** Cluster manifests only (no policies): the advice is evaluated on its own. */
  readonly cluster: SourceText;
  readonly records: readonly FlowRecord[];
}

function scenarioOf(sources: readonly SourceText[]): Scenario {
  return loadScenario(sources);
}

function yamlSource(name: string, manifests: readonly Record<string, unknown>[]): SourceText {
  return { name, text: manifests.map((manifest) => JSON.stringify(manifest)).join('\n---\n') };
}

let cached: { payments: Case; mesh: Case; fixtures: Case } | undefined;
function cases(): { payments: Case; mesh: Case; fixtures: Case } {
  if (cached) return cached;
  const paymentsCluster = { name: PAYMENTS_CLUSTER, text: readFileSync(PAYMENTS_CLUSTER, 'utf8') };
  // The payments profile adds its batch jobs to its copy of the cluster; advise sees the manifests only.
  const paymentsScenario = scenarioOf([paymentsCluster, ...policySources(join(ROOT, 'examples', 'payments', 'policies'))]);
  const payments = [...generateFlows({ scenario: paymentsScenario, profile: 'payments', durationNs: 6 * 3600e9, seed: 7 })];
  const meshCluster = yamlSource('mesh-cluster.yaml', meshClusterManifests({ namespaces: 4, workloadsPerNamespace: 4, replicas: 2 }));
  const mesh = [...generateFlows({ scenario: scenarioOf([meshCluster]), profile: 'mesh', durationNs: 3 * 3600e9, seed: 11 })];
  const fixtureRecords = ['hubble-observe-samples.jsonl', 'hubble-printer-test-expected.jsonl'].flatMap((file) =>
    readFileSync(join(FIXTURES, file), 'utf8')
      .split('\n')
      .map((line) => parseFlowLine(line))
      .filter((record): record is FlowRecord => typeof record === 'object'),
  );
  cached = {
    payments: { name: 'payments', cluster: paymentsCluster, records: payments },
    mesh: { name: 'mesh', cluster: meshCluster, records: mesh },
    fixtures: { name: 'fixtures', cluster: yamlSource('fixture-cluster.yaml', manifestsFromFlows(fixtureRecords)), records: fixtureRecords },
  };
  return cached;
}

function policySources(dir: string): SourceText[] {
  return ['cluster-guardrails.yaml', 'payments-cilium.yaml', 'payments-networkpolicies.yaml'].map((file) => ({ name: file, text: readFileSync(join(dir, file), 'utf8') }));
}

function advise(testCase: Case, options: Omit<AdviseOptions, 'cluster'> = {}, records: readonly FlowRecord[] = testCase.records): Advice {
  const advisor = new Advisor({ cluster: scenarioOf([testCase.cluster]).cluster, ...options });
  for (const record of records) advisor.add(record);
  return advisor.finish();
}

/** The cluster plus the advice, loaded as `podgate validate` and `verify` load them. */
function withAdvice(testCase: Case, advice: Advice): Scenario {
  return scenarioOf([testCase.cluster, { name: 'advice.yaml', text: adviceToYaml(advice) }]);
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = new Prng(seed);
  const out = [...items];
  for (let index = out.length - 1; index > 0; index--) {
    const other = random.int(0, index);
    [out[index], out[other]] = [out[other]!, out[index]!];
  }
  return out;
}

describe('advise guarantees', () => {
  for (const name of ['payments', 'mesh', 'fixtures'] as const) {
    for (const format of FORMATS) {
      test(`${name}, ${format}: verify(advise(F), F) reports nothing newly dropped`, () => {
        const testCase = cases()[name];
        const advice = advise(testCase, { format });
        assert.ok(advice.stats.used > 0, 'some flows were used');
        const result = verifyFlows({ scenario: withAdvice(testCase, advice), records: testCase.records, fixes: false });
        assert.ok(result.counts.legitimate > 0);
        // toFQDNs is read but not resolved by podgate's engine yet (docs/semantics.md): those groups are
        // checked to be named by an FQDN rule instead.
        const dropped = result.groups.filter((group) => !(format === 'cilium' && coveredByFqdn(advice, group.source.name, testCase.records, group.port)));
        assert.deepEqual(
          dropped.map((group) => `${group.source.name} -> ${group.destination.name} ${group.port}/${group.protocol}: ${group.reasons.join(',')}`),
          [],
        );
      });
    }
  }

  test('the check has teeth: without one allow policy verify reports drops', () => {
    const testCase = cases().payments;
    const advice = advise(testCase);
    const text = adviceToYaml(advice)
      .split('---\n')
      .filter((document) => !document.includes('name: allow-postgres\n'))
      .join('---\n');
    const result = verifyFlows({ scenario: scenarioOf([testCase.cluster, { name: 'advice.yaml', text }]), records: testCase.records, fixes: false });
    assert.ok(result.groups.some((group) => group.destination.name.includes('postgres') && group.port === 5432));
  });

  for (const name of ['payments', 'mesh'] as const) {
    for (const format of FORMATS) {
      test(`${name}, ${format}: every pod x pod x declared port not observed is denied`, () => {
        const testCase = cases()[name];
        const advice = advise(testCase, { format });
        const scenario = withAdvice(testCase, advice);
        const engine = createReferenceEngine({ cluster: scenario.cluster, policies: scenario.policies });
        const advised = new Set(advice.namespaces.map((namespace) => namespace.namespace));
        const observed = observedTriples(scenario, testCase.records);
        const dnsPods = new Set(scenario.cluster.pods.filter((pod) => pod.namespace === 'kube-system' && pod.labels.get('k8s-app') === 'kube-dns'));
        const pods = scenario.cluster.pods.filter((pod) => advised.has(pod.namespace) && !pod.hostNetwork);
        let checked = 0;
        const wronglyAllowed: string[] = [];
        for (const src of pods) {
          for (const dst of pods) {
            if (src === dst) continue;
            for (const port of dst.containerPorts) {
              if (dnsPods.has(dst) && port.port === 53) continue;
              if (observed.has(`${workloadKey(src)}|${workloadKey(dst)}|${port.protocol}|${port.port}`)) continue;
              checked++;
              const verdict = engine.evaluate({ src: podEndpoint(scenario.cluster, src), dst: podEndpoint(scenario.cluster, dst), protocol: port.protocol, port: port.port });
              if (verdict.allowed) wronglyAllowed.push(`${src.namespace}/${src.name} -> ${dst.namespace}/${dst.name} ${port.port}/${port.protocol}`);
            }
          }
        }
        assert.ok(checked >= (name === 'mesh' ? 100 : 4), `checked ${checked} unobserved combinations`);
        assert.deepEqual(wronglyAllowed, []);
      });
    }
  }

  for (const name of ['payments', 'mesh', 'fixtures'] as const) {
    test(`${name}: advising twice, or the flows shuffled, gives the same bytes`, () => {
      const testCase = cases()[name];
      for (const format of FORMATS) {
        const first = adviceToYaml(advise(testCase, { format }));
        assert.equal(adviceToYaml(advise(testCase, { format })), first);
        assert.equal(adviceToYaml(advise(testCase, { format }, shuffled(testCase.records, 42))), first);
        assert.equal(adviceToYaml(advise(testCase, { format }, [...testCase.records].reverse())), first);
      }
    });

    test(`${name}: the advice validates without errors, and every rule carries its evidence`, () => {
      const testCase = cases()[name];
      for (const format of FORMATS) {
        const advice = advise(testCase, { format, requireAuth: format === 'cilium' });
        const scenario = scenarioOf([{ name: 'advice.yaml', text: adviceToYaml(advice) }]);
        const errors = scenario.issues.filter((issue) => issue.severity === 'error');
        assert.deepEqual(errors, []);
        const unexpected = scenario.issues.filter((issue) => !/toFQDNs|FQDN/i.test(issue.message));
        assert.deepEqual(unexpected.map((issue) => `${issue.code}: ${issue.message}`), []);
        // Every allow rule (a list item under ingress: or egress:) is preceded by its evidence comment.
        const lines = adviceToYaml(advice).split('\n');
        let rules = 0;
        lines.forEach((line, index) => {
          if (!/^ {4}- /.test(line) || line === '    - {}') return;
          let section = index - 1;
          while (section >= 0 && /^ {4}/.test(lines[section]!)) section--;
          if (!/^ {2}(ingress|egress):$/.test(lines[section] ?? '')) return;
          rules++;
          let start = index;
          while (start > 0 && /^ {4}#/.test(lines[start - 1]!)) start--;
          assert.match(lines.slice(start, index).join('\n'), /^ {4}# .*(\d+ flows?, first seen \d{4}-\d\d-\d\dT[\d:.]+Z, last seen \d{4}-\d\d-\d\dT[\d:.]+Z|not observed|no counts, times)/m, `rule at line ${index + 1}: ${line}`);
        });
        assert.ok(rules > 0);
      }
    });
  }

  test('payments: the advice is what the example needs, and the Cilium form has host, auth and DNS visibility', () => {
    const testCase = cases().payments;
    const text = adviceToYaml(advise(testCase));
    assert.match(text, /name: allow-payments-api[\s\S]*?podSelector:\n {4}matchLabels:\n {6}app: payments-api/);
    assert.match(text, /kubernetes.io\/metadata.name: kube-system\n {10}podSelector:\n {12}matchLabels:\n {14}k8s-app: kube-dns/);
    assert.doesNotMatch(text, /name: default-deny\n {2}namespace: kube-system/, 'kube-system is not advised by default');
    const cilium = adviceToYaml(advise(testCase, { format: 'cilium', requireAuth: true }));
    assert.match(cilium, /fromEntities:\n {8}- host/);
    assert.match(cilium, /matchPattern: "\*"/);
    assert.match(cilium, /k8s:io.kubernetes.pod.namespace: frontend\n {12}app: web-gateway/);
    assert.match(cilium, /authentication:\n {8}mode: required/);
  });

  test('NetworkPolicy format: host traffic is a note, not a rule', () => {
    const advice = advise(cases().payments);
    assert.ok(advice.notes.some((note) => /NetworkPolicy cannot select traffic from nodes/.test(note) && /allow-localhost/.test(note)));
    assert.match(adviceToYaml(advice), /# Traffic from nodes was observed[^\n]*\n#\s+web-gateway 8443\/TCP from the node/);
  });

  test('only the namespaces asked for are advised; each side gets its own allow', () => {
    const testCase = cases().payments;
    const advice = advise(testCase, { namespaces: ['payments'] });
    assert.deepEqual(advice.namespaces.map((namespace) => namespace.namespace), ['payments']);
    const text = adviceToYaml(advice);
    assert.match(text, /from:\n {8}- namespaceSelector:\n {12}matchLabels:\n {14}kubernetes.io\/metadata.name: frontend/);
    assert.doesNotMatch(text, /^  namespace: frontend$/m);
  });

  test('mesh, cilium: world egress with DNS names becomes toFQDNs; without names, exact private addresses', () => {
    const text = adviceToYaml(advise(cases().mesh, { format: 'cilium' }));
    assert.match(text, /toFQDNs:\n(\s+- matchName: [a-z.]+\n)+/);
    assert.match(text, /toCIDRSet:\n\s+- cidr: 169.254.169.254\/32/);
    const networkPolicy = adviceToYaml(advise(cases().mesh));
    assert.doesNotMatch(networkPolicy, /toFQDNs/);
    assert.match(networkPolicy, /ipBlock:\n\s+cidr: 203\.0\.113\.\d+\/\d+/);
  });
});

describe('advise labels', () => {
  test('controller-generated and per-replica labels never appear in selectors', () => {
    const testCase = cases().mesh;
    const scenario = scenarioOf([testCase.cluster]);
    // The generated cluster really has them, so the check means something.
    const podLabels = new Set(scenario.cluster.pods.flatMap((pod) => [...pod.labels.keys()]));
    for (const key of ['pod-template-hash', 'controller-revision-hash', 'statefulset.kubernetes.io/pod-name']) assert.ok(podLabels.has(key), key);
    for (const format of FORMATS) {
      const keys = selectorKeys(adviceToYaml(advise(testCase, { format })));
      assert.ok(keys.size > 0);
      assert.deepEqual([...keys].filter((key) => isVolatileLabel(key.replace(/^k8s:/, ''))), []);
      assert.ok(!keys.has('pod-template-hash') && !keys.has('job-name') && !keys.has('controller-uid'));
    }
  });
});

describe('the published jq pipeline', { skip: jqMissing }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'podgate-advise-jq-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const jq = (filter: string, file: string): string => {
    const result = spawnSync('sh', ['-c', `${JQ} -r '${filter}' < ${file} | LC_ALL=C sort -u`], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout;
  };

  test('its TSV has no pod names: advise refuses it and advises nothing', async () => {
    const testCase = cases().payments;
    const file = join(dir, 'flows.jsonl');
    writeFileSync(file, testCase.records.map((record) => JSON.stringify(record)).join('\n') + '\n');
    const tsv = jq('[.source.namespace, .source.pod.name, .destination.namespace, .destination.pod.name] | @tsv', file);
    assert.equal(tsv, '\t\t\t\n', 'the published pipeline prints one line of empty fields on real output');
    const advisor = new Advisor({ cluster: scenarioOf([testCase.cluster]).cluster });
    const kind = await feedStream({ input: Readable.from([tsv]), advisor, report: new SkipReport(), source: 'observed-flows.tsv' });
    assert.equal(kind, 'tsv');
    assert.throws(() => advisor.finish(), (error: unknown) => error instanceof AdviseInputError && error.code === 'PODGATE_E_TSV_NO_PODS' && /no pod|none names a pod/.test(error.message));
  });

  test('the corrected pipeline\'s TSV: advise admits every listed pod pair on the declared ports', async () => {
    const testCase = cases().mesh;
    const file = join(dir, 'mesh.jsonl');
    writeFileSync(file, testCase.records.map((record) => JSON.stringify(record)).join('\n') + '\n');
    const tsv = jq('select(.flow) | .flow | [.source.namespace, .source.pod_name, .destination.namespace, .destination.pod_name] | @tsv', file);
    const advisor = new Advisor({ cluster: scenarioOf([testCase.cluster]).cluster });
    const report = new SkipReport();
    assert.equal(await feedStream({ input: Readable.from([tsv]), advisor, report, source: 'observed-flows.tsv' }), 'tsv');
    assert.equal(report.skipped, 0);
    const advice = advisor.finish();
    assert.ok(advice.notes.some((note) => /carries no ports/.test(note)));
    const scenario = withAdvice(testCase, advice);
    const engine = createReferenceEngine({ cluster: scenario.cluster, policies: scenario.policies });
    const advised = new Set(advice.namespaces.map((namespace) => namespace.namespace));
    let checked = 0;
    for (const line of tsv.split('\n')) {
      const [srcNs = '', srcPod = '', dstNs = '', dstPod = ''] = line.split('\t');
      const src = scenario.cluster.pod(srcNs, srcPod);
      const dst = scenario.cluster.pod(dstNs, dstPod);
      if (!src || !dst || (!advised.has(srcNs) && !advised.has(dstNs))) continue;
      for (const port of dst.containerPorts) {
        checked++;
        const verdict = engine.evaluate({ src: podEndpoint(scenario.cluster, src), dst: podEndpoint(scenario.cluster, dst), protocol: port.protocol, port: port.port });
        assert.ok(verdict.allowed, `${line} ${port.port}/${port.protocol}`);
      }
    }
    assert.ok(checked > 10, `checked ${checked}`);
  });
});

/** (source workload, destination workload, protocol, port) of every legitimate request flow. */
function observedTriples(scenario: Scenario, records: readonly FlowRecord[]): Set<string> {
  const out = new Set<string>();
  for (const record of records) {
    const flow = record.flow;
    if (!flow || !isLegitimate(record) || isReplyFlow(flow)) continue;
    const src = flow.source?.pod_name ? scenario.cluster.pod(flow.source.namespace ?? '', flow.source.pod_name) : undefined;
    const dst = flow.destination?.pod_name ? scenario.cluster.pod(flow.destination.namespace ?? '', flow.destination.pod_name) : undefined;
    const port = destinationPort(flow);
    if (!src || !dst || port === undefined) continue;
    out.add(`${workloadKey(src)}|${workloadKey(dst)}|${l4Protocol(flow)}|${port}`);
  }
  return out;
}

function workloadKey(pod: Pod): string {
  return `${pod.namespace}/${workloadOf(pod).name}`;
}

/** Label keys used by any selector in the advice. */
function selectorKeys(text: string): Set<string> {
  const keys = new Set<string>();
  const visit = (value: unknown, inSelector: boolean): void => {
    if (Array.isArray(value)) value.forEach((item) => visit(item, inSelector));
    else if (value && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        if (key === 'matchLabels' && child && typeof child === 'object') for (const label of Object.keys(child)) keys.add(label);
        else visit(child, inSelector || key.endsWith('Selector'));
      }
    }
  };
  for (const document of parseAllDocuments(text)) visit(document.toJS(), false);
  return keys;
}

/** Whether the flows behind a verify group went to names a generated toFQDNs rule lists. */
function coveredByFqdn(advice: Advice, source: string, records: readonly FlowRecord[], port: number): boolean {
  const [namespace] = source.split('/');
  const text = advice.namespaces.find((entry) => entry.namespace === namespace)?.text ?? '';
  const names = new Set<string>();
  for (const record of records) {
    const flow = record.flow;
    if (!flow || destinationPort(flow) !== port || !flow.source?.pod_name || `${flow.source.namespace}/${flow.source.pod_name}`.indexOf(namespace ?? '') !== 0) continue;
    for (const name of flow.destination_names ?? []) names.add(name.replace(/\.$/, ''));
  }
  return names.size > 0 && [...names].every((name) => text.includes(`matchName: ${name}`));
}

