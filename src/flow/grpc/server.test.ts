import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { FlowRing } from './ring.js';
import { startObserverServer } from './server.js';
import type { RunningObserver } from './service.js';
import { atOf, cancel, BASE_SECONDS, flowAt, hubbleClient, statusOf, take, WatchedSource, type HubbleTestClient, type Plain } from './testing.js';

const NOW_NS = (BASE_SECONDS + 1000n) * 1_000_000_000n;

describe('observer server (agent side) with a proto-loader client', () => {
  const ring = new FlowRing(8);
  const source = new WatchedSource(ring);
  let server: RunningObserver;
  let client: HubbleTestClient;
  let clock = NOW_NS;

  before(async () => {
    // 10 flows into a ring of 8: flows 0 and 1 are evicted.
    for (let at = 0; at < 10; at++) ring.append(flowAt({ at, pod: at % 2 === 0 ? 'even' : 'odd', verdict: at % 3 === 0 ? 'DROPPED' : 'FORWARDED' }));
    server = await startObserverServer({ host: '127.0.0.1', port: 0, source, nodeName: 'node-a', now: () => clock, followQueueSize: 4 });
    client = hubbleClient(`127.0.0.1:${server.port}`);
  });
  after(async () => {
    client.close();
    await server.close();
  });

  const historical: { name: string; request: Plain; ats: number[] }[] = [
    { name: 'everything in the ring', request: {}, ats: [2, 3, 4, 5, 6, 7, 8, 9] },
    { name: 'last 3', request: { number: 3 }, ats: [7, 8, 9] },
    { name: 'first 3', request: { number: 3, first: true }, ats: [2, 3, 4] },
    { name: 'whitelist source pod', request: { whitelist: [{ source_pod: ['default/even'] }] }, ats: [2, 4, 6, 8] },
    { name: 'whitelist verdict, last 2', request: { number: 2, whitelist: [{ verdict: ['DROPPED'] }] }, ats: [6, 9] },
    { name: 'blacklist verdict', request: { blacklist: [{ verdict: ['DROPPED'] }] }, ats: [2, 4, 5, 7, 8] },
    { name: 'whitelist OR of two filters', request: { whitelist: [{ source_pod: ['default/odd'], verdict: ['DROPPED'] }, { source_pod: ['default/even'], verdict: ['FORWARDED'] }] }, ats: [2, 3, 4, 8, 9] },
    { name: 'since and until', request: { since: { seconds: String(BASE_SECONDS + 4n), nanos: 0 }, until: { seconds: String(BASE_SECONDS + 6n), nanos: 999_999_999 } }, ats: [4, 5, 6] },
  ];
  for (const { name, request, ats } of historical) {
    it(`GetFlows ${name}`, async () => {
      const responses = await client.collect(request);
      assert.deepEqual(responses.map(atOf), ats);
      for (const response of responses) {
        assert.equal(response['response_types'], 'flow');
        assert.equal(response['node_name'], 'node-a');
      }
    });
  }

  it('sends flows that decode field by field in a generated client (enums, ports, time)', async () => {
    const [response] = await client.collect({ number: 1 });
    const flow = response!['flow'] as Plain;
    assert.equal(flow['verdict'], 'DROPPED');
    assert.equal(flow['Type'], 'L3_L4');
    assert.deepEqual((flow['l4'] as Plain)['TCP'], { source_port: 40009, destination_port: 8080, flags: { SYN: true } });
    assert.deepEqual(flow['source'], { namespace: 'default', pod_name: 'odd', labels: ['k8s:app=client'] });
    assert.deepEqual(response!['time'], { seconds: String(BASE_SECONDS + 9n), nanos: 123_456_789 });
  });

  it('ServerStatus reports ring length, capacity, flows seen, uptime and version', async () => {
    clock = NOW_NS + 5_000_000_000n;
    const status = await client.unary('ServerStatus');
    assert.equal(status['num_flows'], '8');
    assert.equal(status['max_flows'], '8');
    assert.equal(status['seen_flows'], '10');
    assert.equal(status['uptime_ns'], '5000000000');
    assert.match(String(status['version']), /podgate/);
  });

  it('GetNodes lists this node and GetNamespaces the namespaces seen', async () => {
    const nodes = await client.unary('GetNodes');
    assert.deepEqual(
      (nodes['nodes'] as Plain[]).map((node) => [node['name'], node['state'], node['num_flows']]),
      [['node-a', 'NODE_CONNECTED', '8']],
    );
    const namespaces = await client.unary('GetNamespaces');
    assert.deepEqual((namespaces['namespaces'] as Plain[]).map((entry) => entry['namespace']), ['default', 'payments']);
  });

  it('follow with number sends the last N, then records appended after the call', async () => {
    const stream = client.getFlows({ follow: true, number: 2, whitelist: [{ source_pod: ['default/even'] }] });
    const history = await take(stream, 2);
    assert.deepEqual(history.map(atOf), [6, 8]);
    ring.append(flowAt({ at: 10, pod: 'odd' }));
    ring.append(flowAt({ at: 11, pod: 'even' }));
    const live = await take(stream, 1);
    assert.deepEqual(live.map(atOf), [11]);
    const cleaned = source.nextUnsubscribe();
    cancel(stream);
    await cleaned;
    assert.equal(source.active, 0);
  });

  it('follow without number starts at the live edge', async () => {
    const subscribed = source.nextSubscribe();
    const stream = client.getFlows({ follow: true });
    // An append before the server has subscribed would rightly be missed: wait for the subscription.
    await subscribed;
    ring.append(flowAt({ at: 12 }));
    assert.deepEqual((await take(stream, 1)).map(atOf), [12]);
    const cleaned = source.nextUnsubscribe();
    cancel(stream);
    await cleaned;
  });

  it('a follower that falls behind gets a lost_events record instead of unbounded buffering', async () => {
    const subscribed = source.nextSubscribe();
    const stream = client.getFlows({ follow: true });
    await subscribed;
    // Ten appends in one tick: the queue (4) takes the first four, the other six are dropped.
    for (let at = 20; at < 30; at++) ring.append(flowAt({ at }));
    const responses = await take(stream, 5);
    assert.deepEqual(responses.slice(0, 4).map(atOf), [20, 21, 22, 23]);
    assert.equal(responses[4]!['response_types'], 'lost_events');
    assert.deepEqual(responses[4]!['lost_events'], { source: 'OBSERVER_EVENTS_QUEUE', num_events_lost: '6' });
    ring.append(flowAt({ at: 31 }));
    assert.deepEqual((await take(stream, 1)).map(atOf), [31]);
    const cleaned = source.nextUnsubscribe();
    cancel(stream);
    await cleaned;
  });

  const rejected: { name: string; request: Plain; details: RegExp }[] = [
    { name: 'an invalid http_path regex', request: { whitelist: [{ http_path: ['(unclosed'] }] }, details: /./ },
    { name: 'first with follow', request: { first: true, follow: true }, details: /first cannot be specified with follow/ },
  ];
  for (const { name, request, details } of rejected) {
    it(`rejects ${name} with INVALID_ARGUMENT and keeps serving`, async () => {
      await assert.rejects(client.collect(request), (error: grpc.ServiceError) => {
        assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
        assert.match(error.details, details);
        return true;
      });
      assert.equal((await client.collect({ number: 1 })).length, 1);
    });
  }

  it('answers UNIMPLEMENTED for GetAgentEvents and GetDebugEvents', async () => {
    for (const method of ['GetAgentEvents', 'GetDebugEvents']) {
      const stream = client.raw[method]!.call(client.raw, {}) as grpc.ClientReadableStream<Plain>;
      stream.on('error', () => undefined);
      stream.resume();
      const status = await statusOf(stream);
      assert.equal(status.code, grpc.status.UNIMPLEMENTED, method);
    }
  });
});

describe('observer server with a failing source', () => {
  const ring = new FlowRing(4);
  const broken = new WatchedSource(ring);
  broken.records = () => {
    throw new Error('disk on fire');
  };
  let server: RunningObserver;
  let client: HubbleTestClient;
  const reported: string[] = [];

  before(async () => {
    server = await startObserverServer({ host: '127.0.0.1', port: 0, source: broken, onError: (message) => reported.push(message) });
    client = hubbleClient(`127.0.0.1:${server.port}`);
  });
  after(async () => {
    client.close();
    await server.close();
  });

  it('answers INTERNAL, reports the error once, and keeps serving', async () => {
    await assert.rejects(client.collect({ number: 1 }), (error: grpc.ServiceError) => error.code === grpc.status.INTERNAL && /disk on fire/.test(error.details));
    assert.deepEqual(reported, ['disk on fire']);
    const nodes = await client.unary('GetNodes');
    assert.equal((nodes['nodes'] as Plain[]).length, 1);
  });
});
