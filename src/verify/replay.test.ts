/** Replay: how flow records become connections (pods, workloads, labels, nodes, the world, ICMP, HTTP). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEndpoint, type Endpoint } from '../cluster/endpoint.js';
import type { Flow, FlowEndpoint, FlowRecord } from '../flow/model.js';
import { loadScenario } from '../scenario/load.js';
import { FlowMapper, flowConnection, isLegitimate, isReplyFlow, replayFlows, splitUrl } from './replay.js';

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {kubernetes.io/metadata.name: shop}}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {addresses: [{type: InternalIP, address: 172.18.0.2}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: web, image: web}]}
status: {podIP: 10.244.1.5}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api, tier: backend}}
    spec: {containers: [{name: api, image: api}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: db}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec:
  schedule: "0 1 * * *"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: nightly}}
        spec: {containers: [{name: job, image: job}]}
`;

const scenario = loadScenario([{ name: 'cluster.yaml', text: MANIFESTS }]);
const cluster = scenario.cluster;
const apiPods = cluster.pods.filter((pod) => pod.owner?.name === 'api').map((pod) => pod.name).sort();

/** `undefined` removes a default field (is_reply unknown). */
type FlowPatch = { [K in keyof Flow]?: Flow[K] | undefined };

function tcp(source: FlowEndpoint, destination: FlowEndpoint, extra: FlowPatch = {}): FlowRecord {
  const flow: Flow = {
    verdict: 'FORWARDED',
    IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 40000, destination_port: 8080, flags: { SYN: true } } },
    source,
    destination,
    is_reply: false,
    ...(extra as Partial<Flow>),
  };
  for (const key of Object.keys(flow)) if (flow[key] === undefined) delete flow[key];
  return { flow };
}

function describe(endpoint: Endpoint): string {
  if (endpoint.kind === 'node') return `node(${endpoint.role ?? '-'},${endpoint.node?.name ?? '-'},${endpoint.ip?.text ?? '-'})`;
  if (endpoint.kind === 'external') return `external(${endpoint.peerClass},${endpoint.ip?.text ?? '-'})`;
  return describeEndpoint(endpoint);
}

const WEB: FlowEndpoint = { namespace: 'shop', pod_name: 'web', labels: ['k8s:app=web'] };

const CASES: readonly { name: string; record: FlowRecord; src?: string; dst?: string; protocol?: string; port?: number; http?: string; skip?: RegExp }[] = [
  { name: 'pods by namespace and name', record: tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }), src: 'shop/web', dst: 'shop/db-0', protocol: 'TCP', port: 8080 },
  {
    name: 'a Deployment pod by its workloads field',
    record: tcp(WEB, { namespace: 'shop', pod_name: 'api-5d8f7c9b6-qwert', workloads: [{ name: 'api', kind: 'Deployment' }] }),
    dst: `shop/${apiPods[0]}`,
  },
  { name: 'a Deployment pod by its generated name', record: tcp(WEB, { namespace: 'shop', pod_name: 'api-5d8f7c9b6-qwert' }), dst: `shop/${apiPods[0]}` },
  { name: 'a StatefulSet pod by its ordinal', record: tcp(WEB, { namespace: 'shop', pod_name: 'db-7' }), dst: 'shop/db-0' },
  { name: 'a CronJob pod by its run and pod suffix', record: tcp({ namespace: 'shop', pod_name: 'nightly-29001234-abcde' }, WEB), src: `shop/${cluster.pods.find((pod) => pod.owner?.name === 'nightly')!.name}` },
  {
    name: 'identity labels only (namespace from the labels, volatile labels ignored)',
    record: tcp({ labels: ['k8s:app=api', 'k8s:pod-template-hash=zzz', 'k8s:io.kubernetes.pod.namespace=shop', 'k8s:io.cilium.k8s.policy.cluster=default'] }, WEB),
    src: `shop/${apiPods[0]}`,
  },
  {
    name: 'a pod named nowhere in the state is skipped, not guessed',
    record: tcp(WEB, { namespace: 'shop', pod_name: 'ghost', labels: ['k8s:app=ghost'] }),
    skip: /destination: pod shop\/ghost is not in the cluster state/,
  },
  {
    name: 'reserved:host at a declared node address',
    record: tcp({ identity: 1, labels: ['reserved:host'] }, WEB, { IP: { source: '172.18.0.2', destination: '10.244.1.5' } }),
    src: 'node(host,node-a,172.18.0.2)',
    dst: 'shop/web',
  },
  { name: 'reserved:host elsewhere', record: tcp({ identity: 1, labels: ['reserved:host'] }, WEB, { IP: { source: '10.244.0.1', destination: '10.244.1.5' } }), src: 'node(host,-,10.244.0.1)' },
  { name: 'reserved:remote-node', record: tcp({ identity: 6, labels: ['reserved:remote-node'] }, WEB, { IP: { source: '10.244.2.1', destination: '10.244.1.5' } }), src: 'node(remote-node,-,10.244.2.1)' },
  {
    name: 'the world, by address',
    record: tcp(WEB, { identity: 2, labels: ['reserved:world'] }, { IP: { source: '10.244.1.5', destination: '203.0.113.7' }, l4: { TCP: { source_port: 40000, destination_port: 443, flags: { SYN: true } } } }),
    dst: 'external(world,203.0.113.7)',
    port: 443,
  },
  { name: 'an address without labels that is a pod', record: tcp({}, WEB, { IP: { source: '10.244.1.5', destination: '10.244.1.5' } }), src: 'shop/web' },
  { name: 'kube-apiserver wins over host', record: tcp(WEB, { labels: ['reserved:host', 'reserved:kube-apiserver'] }, { IP: { source: '10.244.1.5', destination: '172.18.0.9' } }), dst: 'external(kube-apiserver,172.18.0.9)' },
  { name: 'UDP', record: tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }, { l4: { UDP: { source_port: 5353, destination_port: 53 } } }), protocol: 'UDP', port: 53 },
  { name: 'SCTP', record: tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }, { l4: { SCTP: { source_port: 5000, destination_port: 3868 } } }), protocol: 'SCTP', port: 3868 },
  { name: 'ICMP echo request: the type is the port', record: tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }, { is_reply: undefined, l4: { ICMPv4: { type: 8 } } }), protocol: 'ICMP', port: 8 },
  { name: 'ICMPv6 echo reply is a reply', record: tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }, { is_reply: undefined, l4: { ICMPv6: { type: 129 } } }), skip: /^reply$/ },
  {
    name: 'an HTTP request: method, path with query, host',
    record: tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }, { Type: 'L7', l7: { type: 'REQUEST', http: { method: 'POST', url: 'http://db.shop:8080/api/v1/x?y=1', protocol: 'HTTP/1.1' } } }),
    http: 'POST db.shop:8080 /api/v1/x?y=1',
  },
  { name: 'an HTTP response is a reply', record: tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }, { is_reply: undefined, Type: 'L7', l7: { type: 'RESPONSE', http: { code: 200, method: 'GET', url: 'http://db/x' } } }), skip: /^reply$/ },
  { name: 'is_reply true', record: tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }, { is_reply: true }), skip: /^reply$/ },
  { name: 'legacy reply true', record: tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }, { is_reply: undefined, reply: true }), skip: /^reply$/ },
  {
    name: 'unknown direction, SYN+ACK is a reply',
    record: tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }, { is_reply: undefined, l4: { TCP: { source_port: 8080, destination_port: 40000, flags: { SYN: true, ACK: true } } } }),
    skip: /^reply$/,
  },
  {
    name: 'unknown direction, a service port to an ephemeral port is a reply',
    record: tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }, { is_reply: undefined, l4: { TCP: { source_port: 9080, destination_port: 58634, flags: { FIN: true, ACK: true } } } }),
    skip: /^reply$/,
  },
  {
    name: 'unknown direction, an ephemeral port to a service port is a request',
    record: tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }, { is_reply: undefined, l4: { TCP: { source_port: 42044, destination_port: 15020, flags: { ACK: true } } } }),
    port: 15020,
  },
  { name: 'no L4 header', record: tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }, { l4: {} }), skip: /no L4 header/ },
  { name: 'lost events are not flows', record: { lost_events: { num_events_lost: '3' } }, skip: /not a flow/ },
];

test('flowConnection maps flow records to connections', () => {
  for (const entry of CASES) {
    const mapped = flowConnection(cluster, entry.record);
    if (entry.skip) {
      assert.ok('skip' in mapped, `${entry.name}: expected a skip, got a connection`);
      assert.match(mapped.skip, entry.skip, entry.name);
      continue;
    }
    assert.ok('connection' in mapped, `${entry.name}: ${'skip' in mapped ? mapped.skip : ''}`);
    const { connection } = mapped;
    if (entry.src) assert.equal(describe(connection.src), entry.src, entry.name);
    if (entry.dst) assert.equal(describe(connection.dst), entry.dst, entry.name);
    if (entry.protocol) assert.equal(connection.protocol, entry.protocol, entry.name);
    if (entry.port !== undefined) assert.equal(connection.port, entry.port, entry.name);
    const http = connection.http ? `${connection.http.method} ${connection.http.host ?? ''} ${connection.http.path}` : undefined;
    assert.equal(http, entry.http, entry.name);
  }
});

test('isLegitimate: traffic the cluster carried', () => {
  const table: [string | undefined, boolean][] = [
    ['FORWARDED', true],
    ['REDIRECTED', true],
    ['AUDIT', true],
    ['TRANSLATED', true],
    ['TRACED', true],
    ['DROPPED', false],
    ['ERROR', false],
    ['VERDICT_UNKNOWN', false],
    [undefined, false],
  ];
  for (const [verdict, expected] of table) {
    const record: FlowRecord = { flow: verdict === undefined ? {} : { verdict: verdict as NonNullable<Flow['verdict']> } };
    assert.equal(isLegitimate(record), expected, String(verdict));
  }
  assert.equal(isLegitimate({ lost_events: {} }), false);
});

test('flow ends get stable identities for grouping', () => {
  const mapper = new FlowMapper({ cluster });
  const flow = (destination: FlowEndpoint, extra: FlowPatch = {}): Flow => tcp(WEB, destination, extra).flow!;
  const identity = (destination: FlowEndpoint, extra: FlowPatch = {}): string => {
    const resolved = mapper.resolve(flow(destination, extra), 'destination');
    assert.ok(typeof resolved !== 'string', String(resolved));
    return `${resolved.identity.kind}:${resolved.identity.name}`;
  };
  assert.equal(identity({ namespace: 'shop', pod_name: 'api-5d8f7c9b6-qwert' }), 'workload:shop/api');
  assert.equal(identity({ namespace: 'shop', pod_name: 'db-0' }), 'workload:shop/db');
  assert.equal(identity({ namespace: 'shop', pod_name: 'web' }), 'app:shop/web');
  assert.equal(identity({ labels: ['reserved:host'] }), 'entity:host');
  assert.equal(identity({ labels: ['reserved:world'] }, { IP: { source: '10.244.1.5', destination: '198.51.100.1' } }), 'ip:198.51.100.1');
  assert.equal(identity({ labels: ['reserved:world'] }, { IP: { source: '10.244.1.5', destination: '198.51.100.2' }, destination_names: ['api.example.com'] }), 'dns:api.example.com');
  // A real pod owned by a ReplicaSet (as kubectl shows it) is named for its Deployment, as advise and diff name it.
  const owned = loadScenario([
    {
      name: 'owned.yaml',
      text: MANIFESTS + '\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: cart-6c9f8b7d4-x2x9z\n  namespace: shop\n  labels: {app: cart, pod-template-hash: 6c9f8b7d4}\n  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: cart-6c9f8b7d4, uid: u1, controller: true}]\nspec: {containers: [{name: cart, image: cart}]}\nstatus: {podIP: 10.244.1.9}\n',
    },
  ]);
  const ownedMapper = new FlowMapper({ cluster: owned.cluster });
  const cart = ownedMapper.resolve(flow({ namespace: 'shop', pod_name: 'cart-6c9f8b7d4-x2x9z' }), 'destination');
  assert.ok(typeof cart !== 'string', String(cart));
  assert.equal(cart.identity.name, 'shop/cart');
  const byWorkload = ownedMapper.resolve(flow({ namespace: 'shop', pod_name: 'cart-6c9f8b7d4-gone', workloads: [{ name: 'cart', kind: 'Deployment' }] }), 'destination');
  assert.ok(typeof byWorkload !== 'string' && byWorkload.identity.name === 'shop/cart', 'a pod of the same Deployment found through its workload');
  // Equal ends share one resolution (and one id): the cache at work.
  const a = mapper.resolve(flow({ namespace: 'shop', pod_name: 'db-0' }), 'destination');
  const b = mapper.resolve(flow({ namespace: 'shop', pod_name: 'db-0' }), 'destination');
  assert.ok(typeof a !== 'string' && typeof b !== 'string' && a === b);
});

test('isReplyFlow prefers what Hubble knew', () => {
  assert.equal(isReplyFlow({ is_reply: false, l4: { TCP: { source_port: 80, destination_port: 50000 } } }), false);
  assert.equal(isReplyFlow({ is_reply: true, l4: { TCP: { source_port: 50000, destination_port: 80 } } }), true);
  assert.equal(isReplyFlow({ l4: { UDP: { source_port: 53, destination_port: 40000 } } }), true);
  assert.equal(isReplyFlow({ l4: { UDP: { source_port: 40000, destination_port: 53 } } }), false);
});

test('splitUrl keeps the query (Envoy :path) and the authority', () => {
  assert.deepEqual(splitUrl('http://a.b:80/x/y?z=1'), { host: 'a.b:80', path: '/x/y?z=1' });
  assert.deepEqual(splitUrl('http://a.b'), { host: 'a.b', path: '/' });
  assert.deepEqual(splitUrl('/only/path'), { path: '/only/path' });
  assert.deepEqual(splitUrl(''), { path: '/' });
});

test('replayFlows yields every record with its connection or reason', () => {
  const records = [tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }), tcp(WEB, { namespace: 'shop', pod_name: 'db-0' }, { is_reply: true }), { node_status: {} }];
  const replayed = [...replayFlows({ cluster, records })];
  assert.equal(replayed.length, 3);
  assert.equal(replayed[0]!.record, records[0]);
  assert.ok(replayed[0]!.connection);
  assert.equal(replayed[1]!.connection, undefined);
  assert.equal(replayed[1]!.reason, 'reply');
  assert.match(replayed[2]!.reason ?? '', /not a flow/);
});
