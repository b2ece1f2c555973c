import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { FlowRecord } from '../model.js';
import { mergeByTime, parsePeer, startRelay, type RunningRelay } from './relay.js';
import { FlowRing } from './ring.js';
import { startObserverServer } from './server.js';
import type { RunningObserver } from './service.js';
import { atOf, BASE_SECONDS, cancel, deadPort, flowAt, hubbleClient, take, WatchedSource, type HubbleTestClient, type Plain } from './testing.js';

function nodeStatuses(responses: Plain[]): [unknown, unknown][] {
  return responses.filter((response) => response['response_types'] === 'node_status').map((response) => {
    const status = response['node_status'] as Plain;
    return [status['state_change'], status['node_names']];
  });
}

function flows(responses: Plain[]): Plain[] {
  return responses.filter((response) => response['response_types'] === 'flow');
}

describe('relay over two live observers', () => {
  // Interleaved times: node-a has the even seconds, node-b the odd ones.
  const ringA = new FlowRing();
  const ringB = new FlowRing();
  const watchedB = new WatchedSource(ringB);
  let serverA: RunningObserver;
  let serverB: RunningObserver;
  let relay: RunningRelay;
  let client: HubbleTestClient;

  before(async () => {
    for (let at = 0; at < 10; at += 2) ringA.append(flowAt({ at, node: 'node-a', verdict: at === 4 ? 'DROPPED' : 'FORWARDED' }));
    for (let at = 1; at < 10; at += 2) ringB.append(flowAt({ at, node: 'node-b', verdict: at === 7 ? 'DROPPED' : 'FORWARDED' }));
    serverA = await startObserverServer({ host: '127.0.0.1', port: 0, source: ringA, nodeName: 'node-a' });
    serverB = await startObserverServer({ host: '127.0.0.1', port: 0, source: watchedB, nodeName: 'node-b' });
    relay = await startRelay({
      host: '127.0.0.1',
      port: 0,
      nodeName: 'relay',
      peers: [
        { name: 'node-a', address: `127.0.0.1:${serverA.port}` },
        { name: 'node-b', address: `127.0.0.1:${serverB.port}` },
      ],
    });
    client = hubbleClient(`127.0.0.1:${relay.port}`);
  });
  after(async () => {
    client.close();
    await relay.close();
    await serverA.close();
    await serverB.close();
  });

  const cases: { name: string; request: Plain; ats: number[] }[] = [
    { name: 'all flows, merged in time order', request: {}, ats: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
    { name: 'last 3 of the merged stream', request: { number: 3 }, ats: [7, 8, 9] },
    { name: 'first 3 of the merged stream', request: { number: 3, first: true }, ats: [0, 1, 2] },
    { name: 'filters applied by the peers', request: { whitelist: [{ verdict: ['DROPPED'] }] }, ats: [4, 7] },
  ];
  for (const { name, request, ats } of cases) {
    it(`GetFlows: ${name}`, async () => {
      const responses = await client.collect(request);
      assert.deepEqual(nodeStatuses(responses), [['NODE_CONNECTED', ['node-a', 'node-b']]]);
      assert.equal(responses[0]!['response_types'], 'node_status', 'node status comes first');
      assert.equal(responses[0]!['node_name'], 'relay');
      assert.deepEqual(flows(responses).map(atOf), ats);
      assert.deepEqual(
        flows(responses).map((response) => response['node_name']),
        ats.map((at) => (at % 2 === 0 ? 'node-a' : 'node-b')),
      );
    });
  }

  it('GetFlows follow forwards records appended on a peer after the call', async () => {
    const subscribed = watchedB.nextSubscribe();
    const stream = client.getFlows({ follow: true });
    assert.deepEqual(nodeStatuses(await take(stream, 1)), [['NODE_CONNECTED', ['node-a', 'node-b']]]);
    await subscribed;
    ringB.append(flowAt({ at: 11, node: 'node-b' }));
    assert.deepEqual((await take(stream, 1)).map(atOf), [11]);
    const cleaned = watchedB.nextUnsubscribe();
    cancel(stream);
    // Cancelling at the relay ends the relay's call to the peer too.
    await cleaned;
    assert.equal(watchedB.active, 0);
  });

  it('rejects an invalid filter with INVALID_ARGUMENT', async () => {
    await assert.rejects(client.collect({ whitelist: [{ http_path: ['(unclosed'] }] }), (error: grpc.ServiceError) => error.code === grpc.status.INVALID_ARGUMENT);
  });

  it('ServerStatus sums the peers', async () => {
    const status = await client.unary('ServerStatus');
    assert.equal(status['num_flows'], String(ringA.size + ringB.size));
    assert.equal(status['max_flows'], String(ringA.capacity + ringB.capacity));
    assert.deepEqual(status['num_connected_nodes'], { value: 2 });
    assert.deepEqual(status['num_unavailable_nodes'], { value: 0 });
  });
});

describe('relay with one dead peer', () => {
  const ring = new FlowRing();
  let server: RunningObserver;
  let relay: RunningRelay;
  let client: HubbleTestClient;
  let deadAddress: string;

  before(async () => {
    for (let at = 0; at < 3; at++) ring.append(flowAt({ at, node: 'node-a' }));
    server = await startObserverServer({ host: '127.0.0.1', port: 0, source: ring, nodeName: 'node-a', version: 'test-1' });
    deadAddress = `127.0.0.1:${await deadPort()}`;
    relay = await startRelay({
      host: '127.0.0.1',
      port: 0,
      nodeName: 'relay',
      peers: [
        { name: 'node-a', address: `127.0.0.1:${server.port}` },
        { name: 'node-dead', address: deadAddress },
      ],
    });
    client = hubbleClient(`127.0.0.1:${relay.port}`);
  });
  after(async () => {
    client.close();
    await relay.close();
    await server.close();
  });

  it('GetFlows reports the dead peer as unavailable and still returns the live peer\'s flows', async () => {
    const responses = await client.collect({});
    assert.deepEqual(nodeStatuses(responses), [
      ['NODE_CONNECTED', ['node-a']],
      ['NODE_UNAVAILABLE', ['node-dead']],
    ]);
    assert.deepEqual(flows(responses).map(atOf), [0, 1, 2]);
  });

  it('ServerStatus counts and names the unavailable peer', async () => {
    const status = await client.unary('ServerStatus');
    assert.deepEqual(status['num_connected_nodes'], { value: 1 });
    assert.deepEqual(status['num_unavailable_nodes'], { value: 1 });
    assert.deepEqual(status['unavailable_nodes'], ['node-dead']);
    assert.equal(status['num_flows'], '3');
  });

  it('GetNodes lists every peer with its state, address and counts', async () => {
    const response = await client.unary('GetNodes');
    const nodes = response['nodes'] as Plain[];
    assert.deepEqual(
      nodes.map((node) => [node['name'], node['state'], node['address'], node['version'], node['num_flows']]),
      [
        ['node-a', 'NODE_CONNECTED', `127.0.0.1:${server.port}`, 'test-1', '3'],
        ['node-dead', 'NODE_UNAVAILABLE', deadAddress, undefined, undefined],
      ],
    );
    assert.match(String(nodes[0]!['uptime_ns']), /^\d+$/);
  });
});

describe('parsePeer', () => {
  const cases: { text: string; peer?: { name: string; address: string } }[] = [
    { text: '10.0.0.1:4244', peer: { name: '10.0.0.1:4244', address: '10.0.0.1:4244' } },
    { text: 'node-a=10.0.0.1:4244', peer: { name: 'node-a', address: '10.0.0.1:4244' } },
    { text: 'n=[::1]:4244', peer: { name: 'n', address: '[::1]:4244' } },
    { text: 'node-a' },
    { text: 'a=b:99999' },
    { text: 'a=:4244' },
  ];
  for (const { text, peer } of cases) {
    it(`${text} → ${peer ? peer.name : 'error'}`, () => {
      if (peer) assert.deepEqual(parsePeer(text), peer);
      else assert.throws(() => parsePeer(text), RangeError);
    });
  }
});

describe('mergeByTime', () => {
  async function* stream(ats: number[], failAfter?: number): AsyncGenerator<FlowRecord> {
    for (const [index, second] of ats.entries()) {
      if (failAfter !== undefined && index === failAfter) throw new Error('peer went away');
      yield flowAt({ at: second });
    }
  }
  const link = (name: string): Parameters<typeof mergeByTime>[0][number]['link'] => ({ peer: { name, address: `${name}:4244` }, connection: undefined as never });

  it('interleaves time-ordered streams and drops a failing one after reporting it', async () => {
    const failures: string[] = [];
    const merged: number[] = [];
    const streams = [
      { link: link('a'), records: stream([0, 3, 6, 9]) },
      { link: link('b'), records: stream([1, 4, 7], 2) },
      { link: link('c'), records: stream([2, 5, 8]) },
    ];
    for await (const record of mergeByTime(streams, async (failed, error) => void failures.push(`${failed.peer.name}: ${(error as Error).message}`))) {
      merged.push(Number(BigInt(Date.parse(record.time!.slice(0, 19) + 'Z') / 1000) - BASE_SECONDS));
    }
    assert.deepEqual(merged, [0, 1, 2, 3, 4, 5, 6, 8, 9]);
    assert.deepEqual(failures, ['b: peer went away']);
  });

  it('stopping early ends every stream', async () => {
    const ended: string[] = [];
    async function* tracked(name: string, ats: number[]): AsyncGenerator<FlowRecord> {
      try {
        for (const second of ats) yield flowAt({ at: second });
      } finally {
        ended.push(name);
      }
    }
    for await (const record of mergeByTime([{ link: link('a'), records: tracked('a', [0, 2]) }, { link: link('b'), records: tracked('b', [1, 3]) }], async () => undefined)) {
      assert.ok(record.flow);
      break;
    }
    assert.deepEqual(ended.sort(), ['a', 'b']);
  });
});
