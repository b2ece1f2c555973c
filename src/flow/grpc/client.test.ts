import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { FlowRecord } from '../model.js';
import { getFlows, getNamespaces, getNodes, ObserverRequestError, ObserverUnavailableError, serverStatus } from './client.js';
import { FlowRing } from './ring.js';
import { startObserverServer } from './server.js';
import type { RunningObserver } from './service.js';
import { deadPort, flowAt, WatchedSource } from './testing.js';

async function collect(records: AsyncIterable<FlowRecord>): Promise<FlowRecord[]> {
  const out: FlowRecord[] = [];
  for await (const record of records) out.push(record);
  return out;
}

describe('podgate observer client', () => {
  const ring = new FlowRing();
  const source = new WatchedSource(ring);
  let server: RunningObserver;
  let address: string;

  before(async () => {
    for (let at = 0; at < 5; at++) ring.append(flowAt({ at, verdict: at === 3 ? 'DROPPED' : 'FORWARDED', httpPath: '/x' }));
    server = await startObserverServer({ host: '127.0.0.1', port: 0, source, nodeName: 'node-a' });
    address = `127.0.0.1:${server.port}`;
  });
  after(() => server.close());

  it('returns records exactly as they were served: protojson, podgate extension included', async () => {
    const records = await collect(getFlows(address, { number: '2' }));
    assert.deepEqual(records, ring.snapshot().slice(-2));
  });

  it('passes filters to the server', async () => {
    const records = await collect(getFlows(address, { whitelist: [{ verdict: ['DROPPED'] }] }));
    assert.deepEqual(records.map((record) => record.flow?.Summary), ['TCP Flags: SYN #3']);
  });

  it('follows until the signal aborts, and the server lets go of the stream', async () => {
    const controller = new AbortController();
    const subscribed = source.nextSubscribe();
    const unsubscribed = source.nextUnsubscribe();
    const seen: (string | undefined)[] = [];
    const reading = (async () => {
      for await (const record of getFlows(address, { follow: true }, { signal: controller.signal })) {
        seen.push(record.flow?.Summary);
        controller.abort();
      }
    })();
    await subscribed;
    ring.append(flowAt({ at: 9 }));
    await reading;
    await unsubscribed;
    assert.deepEqual(seen, ['TCP Flags: SYN #9']);
  });

  it('reads ServerStatus, GetNodes and GetNamespaces', async () => {
    const status = await serverStatus(address);
    assert.equal(status['num_flows'], String(ring.size));
    const nodes = await getNodes(address);
    assert.deepEqual(nodes.map((node) => node['name']), ['node-a']);
    const namespaces = await getNamespaces(address);
    assert.deepEqual(namespaces.map((entry) => entry['namespace']), ['default', 'payments']);
  });

  it('turns an invalid filter into ObserverRequestError (INVALID_ARGUMENT)', async () => {
    await assert.rejects(collect(getFlows(address, { whitelist: [{ http_path: ['(unclosed'] }] })), (error: unknown) => {
      assert.ok(error instanceof ObserverRequestError);
      assert.equal(error.grpcCode, grpc.status.INVALID_ARGUMENT);
      assert.equal(error.code, 'PODGATE_E_SERVER_REJECTED');
      return true;
    });
  });

  it('turns a server that is not there into ObserverUnavailableError', async () => {
    const dead = `127.0.0.1:${await deadPort()}`;
    for (const call of [() => collect(getFlows(dead, {})), () => serverStatus(dead), () => getNodes(dead)]) {
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(error instanceof ObserverUnavailableError);
        assert.equal(error.code, 'PODGATE_E_SERVER_UNAVAILABLE');
        assert.match(error.message, new RegExp(dead));
        return true;
      });
    }
  });
});
