/** The flow generator: deterministic, valid Hubble JSON, time-ordered, and every verdict the policy engine's. */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { podEndpoint, endpointAt, type Endpoint } from '../../cluster/endpoint.js';
import { CliError } from '../../cli/common.js';
import { runGenerate } from '../../cli/commands/flows-generate.js';
import { parseIp } from '../../policy/address.js';
import type { PolicyEngine } from '../../policy/engine.js';
import { createReferenceEngine } from '../../policy/reference/evaluator.js';
import type { Connection, Verdict } from '../../policy/verdict.js';
import { loadScenario } from '../../scenario/load.js';
import { loadScenarioFromPaths } from '../../scenario/files.js';
import { checkRecord, formatFlowLine } from '../jsonl.js';
import { destinationPort, parseTimestampNs, recordTimeNs, type Flow, type FlowRecord } from '../model.js';
import { decodeJson, encodeJson, messageType } from '../proto.js';
import { generateFlows, GenerateError, parseDuration, prepareGeneration, type GenerateOptions } from './generator.js';
import { dropReasonOf, formatRuleRef } from './records.js';

const PAYMENTS = fileURLToPath(new URL('../../../../examples/payments/', import.meta.url));
const payments = loadScenarioFromPaths([PAYMENTS]);

/** A small cluster whose API answers only GET /api/v1/items/... over HTTP: POSTs are refused at L7. */
const SHOP = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {kubernetes.io/metadata.name: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system, labels: {kubernetes.io/metadata.name: kube-system}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: api, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {selector: {app: api}, clusterIP: 10.96.1.1, ports: [{name: http, port: 80, targetPort: http}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec: {containers: [{name: coredns, image: coredns, ports: [{name: dns, containerPort: 53, protocol: UDP}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec: {selector: {k8s-app: kube-dns}, clusterIP: 10.96.0.10, ports: [{name: dns, port: 53, protocol: UDP, targetPort: 53}]}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-reads-only, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: web}}]
      toPorts:
        - ports: [{port: "8080", protocol: TCP}]
          rules:
            http: [{method: GET, path: "/api/v1/items/.*"}]
`;
const shop = loadScenario([{ name: 'shop.yaml', text: SHOP }]);

function collect(options: GenerateOptions): FlowRecord[] {
  return [...generateFlows(options)];
}

function text(records: readonly FlowRecord[]): string {
  return records.map((record) => `${formatFlowLine(record)}\n`).join('');
}

// ---- rebuilding a flow's connection, independently of the generator ----

function endpointOf(flow: Flow, side: 'source' | 'destination', engine: PolicyEngine): Endpoint {
  const endpoint = flow[side]!;
  if (endpoint.pod_name !== undefined && endpoint.namespace !== undefined) {
    const pod = engine.cluster.pod(endpoint.namespace, endpoint.pod_name);
    assert.ok(pod, `flow names pod ${endpoint.namespace}/${endpoint.pod_name}, which the cluster does not have`);
    return podEndpoint(engine.cluster, pod);
  }
  if (endpoint.labels?.includes('reserved:host')) return { kind: 'node', role: 'host' };
  const ip = parseIp(side === 'source' ? flow.IP!.source! : flow.IP!.destination!);
  assert.ok(ip);
  return endpointAt(engine.cluster, ip);
}

/** The connection a flow belongs to, from its client to its server (replies are turned around). */
function connectionOf(flow: Flow, engine: PolicyEngine): Connection {
  const reply = flow.is_reply === true;
  const client = endpointOf(flow, reply ? 'destination' : 'source', engine);
  const server = endpointOf(flow, reply ? 'source' : 'destination', engine);
  const l4 = flow.l4!;
  const ports = l4.TCP ?? l4.UDP!;
  const port = reply ? ports.source_port! : ports.destination_port!;
  const http = flow.l7?.http;
  return {
    src: client,
    dst: server,
    protocol: l4.TCP ? 'TCP' : 'UDP',
    port,
    ...(http ? { http: { method: http.method!, path: new URL(http.url!).pathname } } : {}),
  };
}

function verdictCache(engine: PolicyEngine): (flow: Flow) => Verdict {
  const cache = new Map<string, Verdict>();
  return (flow) => {
    const connection = connectionOf(flow, engine);
    const key = JSON.stringify([flow.source?.pod_name, flow.source?.namespace, flow.destination?.pod_name, flow.destination?.namespace, flow.IP, flow.is_reply, connection.protocol, connection.port, connection.http]);
    let verdict = cache.get(key);
    if (!verdict) {
      verdict = engine.evaluate(connection);
      cache.set(key, verdict);
    }
    return verdict;
  };
}

function isPod(flow: Flow, side: 'source' | 'destination'): boolean {
  return flow[side]?.pod_name !== undefined;
}

/** Checks every record against the JSON checker, the proto round trip (a sample), time order and a fresh reference engine. */
function checkRun(records: readonly FlowRecord[], prepared: ReturnType<typeof prepareGeneration>, options: { roundTripEvery: number }): { dropped: number; forwardedPodToPod: number } {
  const reference = createReferenceEngine({ cluster: prepared.cluster, policies: prepared.policies });
  const verdictOf = verdictCache(reference);
  const type = messageType('observer.GetFlowsResponse');
  let previous = 0n;
  let dropped = 0;
  let forwardedPodToPod = 0;
  let forwardedConnections = 0;
  records.forEach((record, index) => {
    const json = JSON.parse(formatFlowLine(record)) as Record<string, unknown>;
    assert.equal(typeof checkRecord(json), 'object', `record ${index} fails checkRecord: ${String(checkRecord(json))}`);
    const flow = record.flow!;
    if (index % options.roundTripEvery === 0 || (flow.verdict !== 'FORWARDED' && index % 4 === 0) || flow.verdict === 'DROPPED' || (flow.Type === 'L7' && index % 8 === 0)) {
      assert.deepEqual(decodeJson(type, encodeJson(type, json)), json, `record ${index} changes in a protobuf round trip`);
    }
    const time = recordTimeNs(record);
    assert.ok(time >= previous, `record ${index} at ${record.time} is earlier than the one before`);
    previous = time;
    assert.equal(record.time, flow.time);
    assert.equal(record.node_name, flow.node_name);
    assert.equal(parseTimestampNs(record.time), time);
    if (flow.verdict === 'DROPPED') {
      dropped++;
      const verdict = verdictOf(flow);
      assert.equal(verdict.allowed, false, `DROPPED flow ${index} is allowed by the reference engine: ${formatFlowLine(record)}`);
      if (flow.Type === 'L7') {
        assert.equal(verdict.l7Denied, true);
        assert.equal(flow.l7?.http?.code, 403);
        assert.equal(flow.podgate?.reason, 'l7-denied');
        return;
      }
      const side = verdict.decidedBy === 'egress' ? verdict.egress : verdict.ingress;
      assert.equal(flow.traffic_direction, verdict.decidedBy === 'egress' ? 'EGRESS' : 'INGRESS', `flow ${index} is dropped on the wrong side`);
      assert.equal(flow.drop_reason_desc, dropReasonOf(side).desc);
      assert.equal(flow.podgate?.reason, side.reason);
      assert.deepEqual(flow.podgate?.rules ?? [], side.rules.map(formatRuleRef));
      assert.equal(flow.podgate?.enforcement, 'enforce');
    } else if (isPod(flow, 'source') && isPod(flow, 'destination')) {
      forwardedPodToPod++;
      const verdict = verdictOf(flow);
      // A packet seen leaving its client was allowed by the client's egress; anything else by both sides.
      const leaving = flow.traffic_direction === 'EGRESS' && flow.is_reply === false && flow.Type === 'L3_L4';
      const allowed = leaving ? verdict.egress.allowed : verdict.allowed;
      assert.equal(allowed, true, `${flow.verdict} flow ${index} is denied by the reference engine: ${formatFlowLine(record)}`);
      if (!leaving || verdict.allowed) forwardedConnections++;
    }
  });
  assert.ok(forwardedConnections > 0);
  return { dropped, forwardedPodToPod };
}

// ---- the payments profile, generated once for the content tests ----

const PAYMENTS_RUN: GenerateOptions = { scenario: payments, profile: 'payments', durationNs: parseDuration('27h'), seed: 7 };
const paymentsRecords = collect(PAYMENTS_RUN);
const paymentsPrepared = prepareGeneration({ scenario: payments, profile: 'payments' });

test('the same inputs and seed give the same bytes; another seed gives others', () => {
  const options: GenerateOptions = { scenario: payments, profile: 'payments', durationNs: parseDuration('3h'), seed: 42 };
  const first = text(collect(options));
  const second = text(collect(options));
  assert.ok(first.length > 100_000);
  assert.equal(second, first);
  assert.notEqual(text(collect({ ...options, seed: 43 })), first);
  const mesh = { scenario: shop, profile: 'mesh', durationNs: parseDuration('2h'), seed: 5 };
  assert.equal(text(collect(mesh)), text(collect(mesh)));
});

test('payments: valid Hubble JSON and protojson, in time order, every verdict the reference engine agrees with', () => {
  const { dropped, forwardedPodToPod } = checkRun(paymentsRecords, paymentsPrepared, { roundTripEvery: 40 });
  assert.ok(dropped > 10, `only ${dropped} drops`);
  assert.ok(forwardedPodToPod > 1000, `only ${forwardedPodToPod} pod-to-pod flows`);
  const first = paymentsRecords[0]!;
  const last = paymentsRecords.at(-1)!;
  assert.ok(recordTimeNs(first) >= parseTimestampNs('2026-11-01T00:00:00Z')!);
  assert.ok(recordTimeNs(last) < parseTimestampNs('2026-11-02T03:00:00Z')!);
});

test('payments: DNS lookups to the cluster DNS pods come before connections to Services', () => {
  const answers = new Map<string, bigint[]>();
  let checked = 0;
  for (const record of paymentsRecords) {
    const flow = record.flow!;
    const dns = flow.l7?.dns;
    if (dns && flow.is_reply && (dns.ips?.length ?? 0) > 0) {
      assert.equal(flow.source?.pod_name, 'coredns');
      assert.equal(flow.l4?.UDP?.source_port, 53);
      assert.equal(flow.destination_service, undefined);
      const key = `${flow.destination?.namespace}/${flow.destination?.pod_name} ${dns.query}`;
      answers.set(key, [...(answers.get(key) ?? []), recordTimeNs(record)]);
    }
    const service = flow.destination_service;
    if (!service || flow.l4?.TCP?.flags?.SYN !== true || flow.is_reply || !flow.source?.pod_name) continue;
    const key = `${flow.source.namespace}/${flow.source.pod_name} ${service.name}.${service.namespace}.svc.cluster.local.`;
    const time = recordTimeNs(record);
    const earlier = (answers.get(key) ?? []).filter((at) => at < time && time - at < 60_000_000_000n);
    assert.ok(earlier.length > 0, `no DNS answer for ${key} in the minute before ${record.time}`);
    checked++;
  }
  assert.ok(checked > 50, `only ${checked} connections to Services`);
  const queries = paymentsRecords.filter((record) => record.flow?.l7?.dns && !record.flow.is_reply).map((record) => record.flow!.l7!.dns!);
  assert.ok(queries.some((dns) => dns.query === 'payments-api.payments.frontend.svc.cluster.local.'), 'the search list is tried first');
  const nxdomain = paymentsRecords.find((record) => record.flow?.l7?.dns?.rcode === 3);
  assert.ok(nxdomain);
  assert.match(nxdomain.flow!.Summary!, /^DNS Answer RCode: Non-Existent Domain TTL: 30 /);
  const answer = paymentsRecords.find((record) => record.flow?.l7?.dns?.query === 'payments-api.payments.svc.cluster.local.' && record.flow.is_reply)!;
  assert.deepEqual(answer.flow!.l7!.dns!.ips, ['10.96.20.1']);
  assert.equal(answer.flow!.l7!.dns!.ttl, 30);
  assert.deepEqual(answer.flow!.l7!.dns!.qtypes, ['A']);
});

test('payments: kubelet probes from the host reach every serving pod once a minute (every sixth 10 s probe)', () => {
  const probes = new Map<string, bigint[]>();
  for (const record of paymentsRecords) {
    const flow = record.flow!;
    if (flow.source?.identity !== 1 || flow.l4?.TCP?.flags?.SYN !== true || flow.event_type?.type !== 4) continue;
    assert.deepEqual(flow.source.labels, ['reserved:host']);
    assert.equal(flow.trace_observation_point, 'TO_ENDPOINT');
    assert.equal(flow.traffic_direction, 'INGRESS');
    assert.equal(flow.verdict, 'FORWARDED');
    const key = `${flow.destination?.namespace}/${flow.destination?.pod_name}:${destinationPort(flow)}`;
    probes.set(key, [...(probes.get(key) ?? []), recordTimeNs(record)]);
  }
  assert.deepEqual([...probes.keys()].sort(), ['frontend/web-gateway:8443', 'kube-system/coredns:8181', 'payments/payments-api:8080', 'payments/postgres:5432']);
  for (const [key, times] of probes) {
    assert.ok(times.length > 1500, `${key}: ${times.length} probes`);
    for (let index = 1; index < times.length; index++) {
      const gap = Number(times[index]! - times[index - 1]!) / 1e9;
      assert.ok(Math.abs(gap - 60) < 0.01, `${key}: probes ${gap} s apart`);
    }
  }
  const every = collect({ scenario: payments, profile: 'payments', durationNs: parseDuration('5m'), seed: 1, probeEvery: 1 });
  const postgres = every.filter((record) => record.flow?.source?.identity === 1 && record.flow.l4?.TCP?.flags?.SYN === true && record.flow.destination?.pod_name === 'postgres' && record.flow.event_type?.type === 4);
  assert.equal(postgres.length, 30, 'every 10 s for 5 minutes');
});

test('payments: the nightly reconciliation at 02:00 talks to postgres; the month-end job on the 1st is dropped', () => {
  const jobFlows = (owner: string): FlowRecord[] => paymentsRecords.filter((record) => record.flow?.source?.workloads?.some((workload) => workload.name === owner && workload.kind === 'CronJob'));
  const nightly = jobFlows('payments-reconcile');
  assert.ok(nightly.length > 50);
  const days = new Set(nightly.map((record) => record.time!.slice(0, 10)));
  assert.deepEqual([...days].sort(), ['2026-11-01', '2026-11-02']);
  for (const day of days) {
    const first = nightly.find((record) => record.time!.startsWith(day))!;
    assert.ok(first.time! >= `${day}T02:00:00` && first.time! < `${day}T02:01:00`, `the ${day} run starts at ${first.time}`);
  }
  const toPostgres = nightly.filter((record) => record.flow!.destination?.pod_name === 'postgres');
  assert.ok(toPostgres.some((record) => record.flow!.l4?.TCP?.flags?.SYN === true && record.flow!.verdict === 'FORWARDED'));
  assert.ok(toPostgres.filter((record) => record.flow!.l4?.TCP?.flags?.PSH === true).length > 20, 'it works for minutes');
  assert.ok(nightly.every((record) => record.flow!.verdict !== 'DROPPED'));

  const monthEnd = jobFlows('payments-month-end');
  assert.ok(monthEnd.length > 0);
  assert.ok(monthEnd.every((record) => record.time!.startsWith('2026-11-01T01:0')), 'on the 1st at 01:00');
  const drops = monthEnd.filter((record) => record.flow!.verdict === 'DROPPED' && record.flow!.event_type?.type === 1);
  assert.ok(drops.length >= 3);
  for (const drop of drops) {
    assert.equal(drop.flow!.destination?.pod_name, 'postgres');
    assert.equal(drop.flow!.traffic_direction, 'EGRESS');
    assert.equal(drop.flow!.drop_reason_desc, 'POLICY_DENIED');
    assert.deepEqual(drop.flow!.event_type, { type: 1, sub_type: 133 });
  }
  // Later in the month nothing runs; on the next 1st it runs again.
  const late = collect({ scenario: payments, profile: 'payments', startNs: parseTimestampNs('2026-11-29T12:00:00Z')!, durationNs: parseDuration('3d'), seed: 1, probeEvery: 60, intensity: 0.05 });
  const runs = new Set(late.filter((record) => record.flow?.source?.workloads?.some((workload) => workload.name === 'payments-month-end')).map((record) => record.time!.slice(0, 13)));
  assert.deepEqual([...runs], ['2026-12-01T01']);
});

test('payments: HTTP L7 requests and responses, and the drops the policies make', () => {
  const http = paymentsRecords.filter((record) => record.flow?.l7?.http);
  const requests = http.filter((record) => !record.flow!.is_reply);
  const responses = http.filter((record) => record.flow!.is_reply);
  assert.ok(requests.some((record) => record.flow!.l7!.http!.method === 'GET' && record.flow!.l7!.http!.url!.startsWith('http://payments-api.payments/api/v1/balance/')));
  assert.ok(requests.some((record) => record.flow!.l7!.http!.method === 'POST' && record.flow!.l7!.http!.url === 'http://payments-api.payments/api/v1/transfer'));
  const response = responses.find((record) => record.flow!.l7!.http!.code === 201)!;
  assert.ok(response);
  assert.equal(response.flow!.l7!.type, 'RESPONSE');
  assert.ok(Number(response.flow!.l7!.latency_ns) > 0);
  assert.match(response.flow!.Summary!, /^HTTP\/1\.1 201 \d+ms \(POST http:\/\/payments-api\.payments\/api\/v1\/transfer\)$/);
  assert.equal(response.flow!.traffic_direction, 'INGRESS');
  assert.equal(response.flow!.podgate?.source_spiffe_id, 'spiffe://cluster.local/ns/payments/sa/payments-api', 'mTLS: the response comes from the API');

  const drops = paymentsRecords.filter((record) => record.flow?.verdict === 'DROPPED' && record.flow.event_type?.type === 1);
  const describe = (record: FlowRecord): string => `${record.flow!.source?.pod_name ?? 'world'}->${record.flow!.destination?.pod_name ?? record.flow!.IP?.destination} ${record.flow!.traffic_direction} ${record.flow!.drop_reason_desc}`;
  const kinds = new Set(drops.map(describe));
  assert.ok(kinds.has('web-gateway->postgres INGRESS POLICY_DENIED'), [...kinds].join(', '));
  assert.ok(kinds.has('web-gateway->169.254.169.254 EGRESS POLICY_DENY'), 'the clusterwide guardrail');
  assert.ok([...kinds].some((kind) => /^payments-api->203\.0\.113\.\d+ EGRESS POLICY_DENIED$/.test(kind)), 'egress to the internet');
  const verdictEvent = paymentsRecords.find((record) => record.flow?.verdict === 'DROPPED' && record.flow.event_type?.type === 5 && record.flow.destination?.pod_name === 'postgres')!;
  assert.equal(verdictEvent.flow!.policy_match_type, undefined, 'a denied verdict matched no rule');
  const allowedVerdict = paymentsRecords.find((record) => record.flow?.event_type?.type === 5 && record.flow.verdict !== 'DROPPED' && record.flow.destination?.pod_name === 'postgres' && record.flow.source?.pod_name === 'payments-api')!;
  assert.equal(allowedVerdict.flow!.policy_match_type, 2);
  assert.deepEqual(allowedVerdict.flow!.ingress_allowed_by?.map((policy) => policy.name) ?? allowedVerdict.flow!.egress_allowed_by?.map((policy) => policy.name), allowedVerdict.flow!.traffic_direction === 'INGRESS' ? ['allow-api-to-postgres'] : ['allow-api-egress-to-postgres']);
});

test('mesh: calls the policies allow, HTTP refused at L7 as the proxy does (403), every verdict checked', () => {
  const options: GenerateOptions = { scenario: shop, profile: 'mesh', durationNs: parseDuration('6h'), seed: 3, intensity: 3 };
  const records = collect(options);
  const { forwardedPodToPod } = checkRun(records, prepareGeneration(options), { roundTripEvery: 10 });
  assert.ok(forwardedPodToPod > 100);
  const refused = records.filter((record) => record.flow?.Type === 'L7' && record.flow.verdict === 'DROPPED');
  assert.ok(refused.length > 0, 'POSTs are refused');
  for (const record of refused) {
    assert.equal(record.flow!.l7!.http!.method, 'POST');
    assert.equal(record.flow!.l7!.http!.code, 403);
    assert.equal(record.flow!.traffic_direction, 'INGRESS');
  }
  const served = records.filter((record) => record.flow?.Type === 'L7' && record.flow.l7?.http && record.flow.verdict === 'FORWARDED' && !record.flow.is_reply);
  assert.ok(served.length > 0 && served.every((record) => record.flow!.l7!.http!.method === 'GET'));
  const nodes = new Set(records.map((record) => record.node_name));
  assert.ok([...nodes].every((node) => node === 'kind-worker' || node === 'kind-worker2'), [...nodes].join(', '));
});

test('count: exactly N records, spread over the duration', () => {
  const durationNs = parseDuration('24h');
  const records = collect({ scenario: shop, profile: 'mesh', durationNs, seed: 9, count: 5000 });
  assert.equal(records.length, 5000);
  const start = parseTimestampNs('2026-11-01T00:00:00Z')!;
  const span = Number(recordTimeNs(records.at(-1)!) - start);
  assert.ok(span > durationNs * 0.6 && span < durationNs, `the records span ${span / 3.6e12} h`);
});

test('bad input: a stable code and a next step', async () => {
  const cases: { name: string; options: Parameters<typeof runGenerate>[0]; code: string }[] = [
    { name: 'unknown profile', options: { paths: [PAYMENTS], profile: 'nope' }, code: 'PODGATE_E_PROFILE' },
    { name: 'no profile', options: { paths: [PAYMENTS] }, code: 'PODGATE_E_USAGE' },
    { name: 'missing manifests', options: { paths: ['/nonexistent/manifests'], profile: 'mesh' }, code: 'PODGATE_E_INPUT' },
    { name: 'no manifests', options: { paths: [], profile: 'mesh' }, code: 'PODGATE_E_USAGE' },
    { name: 'bad duration', options: { paths: [PAYMENTS], profile: 'payments', duration: '3 days' }, code: 'PODGATE_E_DURATION' },
    { name: 'duration too long', options: { paths: [PAYMENTS], profile: 'payments', duration: '3000h' }, code: 'PODGATE_E_DURATION' },
    { name: 'bad start', options: { paths: [PAYMENTS], profile: 'payments', start: 'yesterday' }, code: 'PODGATE_E_START' },
    { name: 'bad seed', options: { paths: [PAYMENTS], profile: 'payments', seed: '-1' }, code: 'PODGATE_E_USAGE' },
    { name: 'bad count', options: { paths: [PAYMENTS], profile: 'payments', count: '0' }, code: 'PODGATE_E_USAGE' },
  ];
  const quiet = { out: () => undefined, err: () => undefined };
  for (const { name, options, code } of cases) {
    await assert.rejects(runGenerate(options, quiet), (error: unknown) => {
      assert.ok(error instanceof CliError, `${name}: ${String(error)}`);
      assert.equal(error.code, code, name);
      assert.ok(error.hint && error.hint.length > 0, `${name} has a next step`);
      return true;
    });
  }
  // The payments profile on other manifests, and manifests with errors.
  assert.throws(() => generateFlows({ scenario: shop, profile: 'payments' }), (error: unknown) => error instanceof GenerateError && error.code === 'PODGATE_E_PROFILE' && /mesh/.test(error.hint));
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const directory = mkdtempSync(join(tmpdir(), 'podgate-generate-'));
  writeFileSync(join(directory, 'broken.yaml'), 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: broken, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  ingress: [{ports: [{port: 99999}]}]\n---\n' + SHOP);
  const errors: string[] = [];
  await assert.rejects(runGenerate({ paths: [directory], profile: 'mesh' }, { out: () => undefined, err: (line) => errors.push(line) }), (error: unknown) => error instanceof CliError && error.code === 'PODGATE_E_MANIFEST' && /validate/.test(error.hint ?? ''));
  assert.ok(errors.some((line) => line.includes('broken.yaml')), errors.join('\n'));
});

test('the command writes the same lines the generator yields', async () => {
  const { Writable } = await import('node:stream');
  let out = '';
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => ((out += chunk.toString()), done()) });
  const written = await runGenerate({ paths: [PAYMENTS], profile: 'payments', duration: '30m', seed: '11' }, { out: () => undefined, err: () => undefined }, sink);
  const expected = text(collect({ scenario: payments, profile: 'payments', durationNs: parseDuration('30m'), seed: 11 }));
  assert.equal(out, expected);
  assert.equal(written, expected.split('\n').length - 1);
});
