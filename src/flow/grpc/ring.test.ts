import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FlowRecord } from '../model.js';
import { FlowStore } from '../store/store.js';
import { FollowQueue } from './follow-queue.js';
import { FlowRing } from './ring.js';
import { RingWithHistory, type FlowHistory } from './source.js';
import { BASE_SECONDS, flowAt } from './testing.js';

const at = (record: FlowRecord | undefined): number | string => {
  if (record?.lost_events) return `lost:${record.lost_events.num_events_lost}`;
  const seconds = record?.time?.slice(0, 19);
  return seconds === undefined ? -1 : (Date.parse(`${seconds}Z`) / 1000 - Number(BASE_SECONDS));
};
const ns = (seconds: number): bigint => (BASE_SECONDS + BigInt(seconds)) * 1_000_000_000n;

describe('FlowRing', () => {
  it('keeps the newest records up to its capacity, oldest first', () => {
    const ring = new FlowRing(3);
    for (let second = 0; second < 5; second++) ring.append(flowAt({ at: second }));
    assert.deepEqual(ring.snapshot().map(at), [2, 3, 4]);
    assert.deepEqual(ring.records({ order: 'desc' }).map(at), [4, 3, 2]);
    assert.deepEqual(ring.records({ order: 'asc', sinceNs: ns(3) }).map(at), [3, 4]);
    assert.deepEqual(ring.status(), { numFlows: 3, maxFlows: 3, seenFlows: 5 });
    assert.equal(ring.oldestTimeNs(), ns(2) + 123_456_789n);
  });

  it('counts only flows as seen, but holds lost events too', () => {
    const ring = new FlowRing(4);
    ring.append(flowAt({ at: 0 }));
    ring.append({ lost_events: { source: 'PERF_EVENT_RING_BUFFER', num_events_lost: '3' }, time: '2023-11-14T22:13:21Z' });
    assert.deepEqual(ring.status(), { numFlows: 2, maxFlows: 4, seenFlows: 1 });
  });

  it('calls subscribers until they unsubscribe; a throwing subscriber does not stop the others', () => {
    const ring = new FlowRing(2);
    const seen: number[] = [];
    ring.subscribe(() => {
      throw new Error('broken subscriber');
    });
    const off = ring.subscribe((record) => seen.push(Number(at(record))));
    ring.append(flowAt({ at: 1 }));
    off();
    ring.append(flowAt({ at: 2 }));
    assert.deepEqual(seen, [1]);
    assert.equal(ring.subscriberCount, 1);
  });

  it('tracks namespaces seen on either side', () => {
    const ring = new FlowRing(2);
    ring.append(flowAt({ at: 0, namespace: 'shop' }));
    ring.append(flowAt({ at: 1, namespace: 'default' }));
    assert.deepEqual(ring.namespaces(), [
      { cluster: '', namespace: 'default' },
      { cluster: '', namespace: 'payments' },
      { cluster: '', namespace: 'shop' },
    ]);
  });

  it('rejects a capacity that is not a positive integer', () => {
    assert.throws(() => new FlowRing(0), RangeError);
  });
});

describe('FollowQueue', () => {
  const lost = (count: number): FlowRecord => ({ lost_events: { source: 'OBSERVER_EVENTS_QUEUE', num_events_lost: String(count) } });
  const cases: { name: string; capacity: number; steps: (number | 'take')[]; expected: (number | string)[] }[] = [
    { name: 'within capacity nothing is lost', capacity: 3, steps: [1, 2, 3], expected: [1, 2, 3] },
    { name: 'overflow is reported after the queued records', capacity: 2, steps: [1, 2, 3, 4, 5], expected: [1, 2, 'lost:3'] },
    { name: 'the gap is reported where it happened', capacity: 2, steps: [1, 2, 3, 'take', 4, 5], expected: [1, 2, 'lost:1', 4, 'lost:1'] },
    { name: 'two gaps, two reports', capacity: 1, steps: [1, 2, 'take', 3, 4, 4, 'take', 'take', 5], expected: [1, 'lost:1', 3, 'lost:2', 5] },
  ];
  for (const { name, capacity, steps, expected } of cases) {
    it(name, async () => {
      const queue = new FollowQueue(capacity, lost);
      const out: (number | string)[] = [];
      for (const step of steps) {
        if (step === 'take') out.push(at(await queue.next()));
        else queue.push(flowAt({ at: step }));
      }
      queue.close();
      for (let record = await queue.next(); record !== undefined; record = await queue.next()) out.push(at(record));
      assert.deepEqual(out, expected);
    });
  }

  it('wakes a waiting reader on push and ends it on close', async () => {
    const queue = new FollowQueue(4, lost);
    const waiting = queue.next();
    queue.push(flowAt({ at: 7 }));
    assert.equal(at(await waiting), 7);
    const ended = queue.next();
    queue.close();
    assert.equal(await ended, undefined);
  });
});

describe('RingWithHistory', () => {
  // The history holds 0..5, the ring 4..7: history answers only for what is older than the ring.
  const history: FlowHistory = {
    query(options) {
      const all = [0, 1, 2, 3, 4, 5].map((second) => flowAt({ at: second }));
      const inside = all.filter((record) => {
        const time = ns(Number(at(record))) + 123_456_789n;
        return (options.sinceNs === undefined || time >= options.sinceNs) && (options.untilNs === undefined || time <= options.untilNs);
      });
      return options.order === 'desc' ? inside.reverse() : inside;
    },
  };
  const ring = new FlowRing(4);
  for (let second = 4; second < 8; second++) ring.append(flowAt({ at: second }));
  const source = new RingWithHistory(ring, history);

  const cases: { name: string; range: { sinceNs?: bigint; untilNs?: bigint; order: 'asc' | 'desc' }; expected: number[] }[] = [
    { name: 'everything, oldest first, no duplicates', range: { order: 'asc' }, expected: [0, 1, 2, 3, 4, 5, 6, 7] },
    { name: 'everything, newest first', range: { order: 'desc' }, expected: [7, 6, 5, 4, 3, 2, 1, 0] },
    { name: 'a range across both', range: { order: 'asc', sinceNs: ns(2), untilNs: ns(5) + 999_999_999n }, expected: [2, 3, 4, 5] },
    { name: 'a range inside the ring', range: { order: 'asc', sinceNs: ns(6) }, expected: [6, 7] },
    { name: 'a range inside the history', range: { order: 'asc', untilNs: ns(1) + 999_999_999n }, expected: [0, 1] },
  ];
  for (const { name, range, expected } of cases) {
    it(name, () => assert.deepEqual([...source.records(range)].map(at), expected));
  }

  describe('over a real FlowStore', () => {
    const directory = mkdtempSync(join(tmpdir(), 'podgate-grpc-'));
    after(() => rmSync(directory, { recursive: true, force: true }));

    it('serves history the ring has evicted', () => {
      const store = FlowStore.open(join(directory, 'flows.db'));
      try {
        const small = new FlowRing(2);
        for (let second = 0; second < 6; second++) {
          const record = flowAt({ at: second });
          small.append(record);
          store.append(record);
        }
        store.flush();
        const combined = new RingWithHistory(small, store);
        assert.deepEqual([...combined.records({ order: 'asc' })].map(at), [0, 1, 2, 3, 4, 5]);
        assert.deepEqual([...combined.records({ order: 'desc', sinceNs: ns(3) })].map(at), [5, 4, 3]);
      } finally {
        store.close();
      }
    });
  });
});
