import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { formatFlowLine } from '../jsonl.js';
import { recordTimeNs, type FlowRecord } from '../model.js';
import { FlowStore, FlowStoreError, type FlowQuery } from './store.js';
import { crashTestRecord } from './testing.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const FIXTURES = join(here, '../../../../../shared/fixtures/hubble');
const directory = mkdtempSync(join(tmpdir(), 'podgate-store-'));
after(() => rmSync(directory, { recursive: true, force: true }));

let counter = 0;
function freshPath(): string {
  return join(directory, `store-${++counter}.db`);
}

const SECOND = 1_000_000_000n;
const BASE_NS = 1_700_000_000_000_000_000n;

function fixtureRecords(): FlowRecord[] {
  return ['hubble-observe-samples.jsonl', 'hubble-printer-test-expected.jsonl'].flatMap((file) =>
    readFileSync(join(FIXTURES, file), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as FlowRecord),
  );
}

function uuids(records: Iterable<FlowRecord>): string[] {
  return [...records].map((record) => record.flow?.uuid ?? '?');
}

function rawCount(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT COUNT(*) FROM flows').pluck().get() as number;
  } finally {
    db.close();
  }
}

describe('FlowStore', () => {
  test('round trip: records out equal records in as JSON values, stored as their exact JSON lines', () => {
    const records = fixtureRecords();
    assert.ok(records.length > 30, 'the fixtures were read');
    const path = freshPath();
    const store = FlowStore.open(path);
    for (const record of records) store.append(record);
    const out = [...store.query()];
    // Query order is by time, then insertion order: a stable sort of the input.
    const expected = records.map((record, index) => ({ record, index })).sort((a, b) => (recordTimeNs(a.record) < recordTimeNs(b.record) ? -1 : recordTimeNs(a.record) > recordTimeNs(b.record) ? 1 : a.index - b.index));
    assert.deepEqual(out, expected.map(({ record }) => record));
    store.close();
    const db = new Database(path, { readonly: true });
    const stored = db.prepare('SELECT record FROM flows ORDER BY id').pluck().all() as string[];
    db.close();
    assert.deepEqual(stored, records.map(formatFlowLine));
  });

  test('a record handed over with its JSON line is stored as that line', () => {
    const path = freshPath();
    const store = FlowStore.open(path);
    const line = '{"flow": {"time": "2023-11-14T22:13:20Z", "uuid": "spaced"}, "time": "2023-11-14T22:13:20Z"}';
    store.append(JSON.parse(line) as FlowRecord, line);
    assert.deepEqual([...store.query()], [JSON.parse(line)]);
    assert.deepEqual(store.stats().oldestNs, BASE_NS);
    store.close();
    const db = new Database(path, { readonly: true });
    assert.equal(db.prepare('SELECT record FROM flows').pluck().get(), line);
    db.close();
  });

  test('stats of an empty store', () => {
    const store = FlowStore.open(freshPath());
    const stats = store.stats();
    assert.deepEqual({ records: stats.records, oldestNs: stats.oldestNs, newestNs: stats.newestNs, pending: stats.pending }, { records: 0, oldestNs: undefined, newestNs: undefined, pending: 0 });
    assert.ok(stats.bytes > 0 && stats.fileBytes >= stats.bytes);
    store.close();
  });

  test('the derived columns hold time, namespaces, verdict and node', () => {
    const path = freshPath();
    const store = FlowStore.open(path);
    store.append(crashTestRecord(7));
    store.close();
    const db = new Database(path, { readonly: true });
    const row = db.prepare('SELECT time_ns, source_namespace, destination_namespace, verdict, node_name FROM flows').safeIntegers(true).get();
    db.close();
    assert.deepEqual({ ...(row as object) }, { time_ns: BASE_NS + 7_000_000n, source_namespace: 'frontend', destination_namespace: 'payments', verdict: 'DROPPED', node_name: 'kind-worker' });
  });

  describe('time-range queries', () => {
    // Records 0..9 at BASE + i seconds; record 10 shares record 5's time (insertion order breaks the tie).
    const store = FlowStore.open(freshPath());
    const at = (index: number, uuid: string): FlowRecord => {
      const time = new Date(Number((BASE_NS + BigInt(index) * SECOND) / 1_000_000n)).toISOString();
      return { flow: { time, uuid }, time };
    };
    for (let index = 9; index >= 0; index--) store.append(at(index, String(index)));
    store.append(at(5, '5b'));
    after(() => store.close());
    const cases: { name: string; query: FlowQuery; want: string[] }[] = [
      { name: 'everything, oldest first', query: {}, want: ['0', '1', '2', '3', '4', '5', '5b', '6', '7', '8', '9'] },
      { name: 'everything, newest first', query: { order: 'desc' }, want: ['9', '8', '7', '6', '5b', '5', '4', '3', '2', '1', '0'] },
      { name: 'since is inclusive', query: { sinceNs: BASE_NS + 7n * SECOND }, want: ['7', '8', '9'] },
      { name: 'until is inclusive', query: { untilNs: BASE_NS + 2n * SECOND }, want: ['0', '1', '2'] },
      { name: 'since and until', query: { sinceNs: BASE_NS + 4n * SECOND, untilNs: BASE_NS + 6n * SECOND }, want: ['4', '5', '5b', '6'] },
      { name: 'between two records', query: { sinceNs: BASE_NS + 4n * SECOND + 1n, untilNs: BASE_NS + 5n * SECOND - 1n }, want: [] },
      { name: 'limit takes the oldest', query: { limit: 3 }, want: ['0', '1', '2'] },
      { name: 'limit with desc takes the newest', query: { limit: 3, order: 'desc' }, want: ['9', '8', '7'] },
      { name: 'range, desc and limit', query: { sinceNs: BASE_NS + 2n * SECOND, untilNs: BASE_NS + 8n * SECOND, order: 'desc', limit: 4 }, want: ['8', '7', '6', '5b'] },
      { name: 'limit 0', query: { limit: 0 }, want: [] },
      { name: 'since after until', query: { sinceNs: BASE_NS + 8n * SECOND, untilNs: BASE_NS + 2n * SECOND }, want: [] },
    ];
    for (const { name, query, want } of cases) {
      test(name, () => assert.deepEqual(uuids(store.query(query)), want));
    }

    test('a negative or fractional limit is a store error', () => {
      for (const limit of [-1, 1.5]) assert.throws(() => store.query({ limit }), (error: unknown) => error instanceof FlowStoreError && error.code === 'PODGATE_E_STORE');
    });
  });

  test('results are lazy, and appends and flushes may continue while an iterator is open', () => {
    const store = FlowStore.open(freshPath());
    for (let sequence = 0; sequence < 100; sequence++) store.append(crashTestRecord(sequence));
    const iterator = store.query();
    assert.equal(iterator.next().value?.flow?.uuid, '0');
    for (let sequence = 100; sequence < 200; sequence++) store.append(crashTestRecord(sequence));
    store.flush();
    const second = uuids(store.query({ order: 'desc', limit: 1 }));
    assert.deepEqual(second, ['199']);
    // The open iterator reads the snapshot it started on.
    assert.equal([...iterator].length, 99);
    store.close();
  });

  test('time-range queries search the time index instead of scanning the table', () => {
    const path = freshPath();
    const store = FlowStore.open(path);
    for (let sequence = 0; sequence < 2000; sequence++) store.append(crashTestRecord(sequence));
    store.flush();
    for (const order of ['asc', 'desc'] as const) {
      const plan = store.explainQuery(order).join('\n');
      assert.match(plan, /SEARCH flows USING INDEX flows_by_time \(time_ns>\? AND time_ns<\?\)/, plan);
      assert.doesNotMatch(plan, /SCAN flows(?! USING)/, plan);
      assert.doesNotMatch(plan, /TEMP B-TREE/, `${plan}: ordering must come from the index`);
    }
    store.close();
  });

  describe('retention', () => {
    test('by age: prune deletes records older than maxAge at the given time', () => {
      const store = FlowStore.open(freshPath(), { maxAgeNs: 10n * SECOND });
      // One record per second for 30 s.
      for (let second = 0; second < 30; second++) store.append(crashTestRecord(second * 1000));
      store.flush();
      assert.deepEqual(store.prune(BASE_NS + 25n * SECOND), { deleted: 15 });
      assert.equal(store.query().next().value?.flow?.uuid, '15000');
      assert.equal(store.stats().records, 15);
      assert.deepEqual(store.prune(BASE_NS + 25n * SECOND), { deleted: 0 });
      store.close();
    });

    test('by age: flushes prune automatically using the injected clock', () => {
      let now = BASE_NS;
      const store = FlowStore.open(freshPath(), { maxAgeNs: 60n * SECOND, pruneEveryFlushes: 3, clock: () => now });
      for (let second = 0; second < 10; second++) store.append(crashTestRecord(second * 1000));
      store.flush();
      now = BASE_NS + 65n * SECOND;
      store.append(crashTestRecord(65_000));
      store.flush();
      assert.equal(store.stats().records, 11, 'two flushes: no prune yet');
      store.append(crashTestRecord(66_000));
      store.flush();
      // The third flush pruned everything before 5 s.
      assert.deepEqual(uuids(store.query()), ['5000', '6000', '7000', '8000', '9000', '65000', '66000']);
      store.close();
    });

    test('by size: the oldest records go until the live pages are under maxBytes', () => {
      const maxBytes = 3 * 1024 * 1024;
      const path = freshPath();
      const total = 12_000;
      const unlimited = FlowStore.open(path, { clock: () => BASE_NS });
      for (let sequence = 0; sequence < total; sequence++) unlimited.append(crashTestRecord(sequence));
      unlimited.close();
      const store = FlowStore.open(path, { maxBytes, clock: () => BASE_NS });
      const before = store.stats();
      assert.ok(before.bytes > maxBytes, `the test writes more than maxBytes (${before.bytes})`);
      const { deleted } = store.prune();
      const afterPrune = store.stats();
      assert.ok(afterPrune.bytes <= maxBytes, `live bytes ${afterPrune.bytes} <= ${maxBytes}`);
      assert.ok(deleted > 0 && deleted < total, `deleted ${deleted}`);
      assert.equal(afterPrune.records, total - deleted);
      // What is left is the newest records, without gaps.
      const left = uuids(store.query()).map(Number);
      assert.deepEqual(left, Array.from({ length: total - deleted }, (_, index) => deleted + index));
      // Freed pages are reused: writing as much again does not grow the file past its high-water mark by much.
      store.close();
      const fileBefore = statSync(path).size;
      const reopened = FlowStore.open(path, { maxBytes, batchSize: 500, pruneEveryFlushes: 1, clock: () => BASE_NS });
      for (let sequence = total; sequence < 2 * total; sequence++) reopened.append(crashTestRecord(sequence));
      reopened.flush();
      assert.ok(reopened.stats().bytes <= maxBytes, 'flushes pruned by themselves');
      assert.equal(reopened.query({ order: 'desc' }).next().value?.flow?.uuid, String(2 * total - 1));
      reopened.close();
      assert.ok(statSync(path).size <= fileBefore * 1.25, `file ${statSync(path).size} vs ${fileBefore} before`);
    });
  });

  describe('flushing', () => {
    test('buffered records are written when the interval timer fires', (t) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const path = freshPath();
      const flushes: number[] = [];
      const store = FlowStore.open(path, { flushIntervalMs: 1000, onFlush: (flush) => flushes.push(flush.records) });
      store.append(crashTestRecord(1));
      store.append(crashTestRecord(2));
      assert.equal(rawCount(path), 0, 'nothing is written before the interval');
      t.mock.timers.tick(999);
      assert.equal(rawCount(path), 0);
      t.mock.timers.tick(1);
      assert.equal(rawCount(path), 2, 'written after 1000 ms');
      assert.deepEqual(flushes, [2]);
      // The next record arms the timer again.
      store.append(crashTestRecord(3));
      t.mock.timers.tick(1000);
      assert.equal(rawCount(path), 3);
      assert.deepEqual(flushes, [2, 1]);
      store.close();
    });

    test('a full buffer is written at once', () => {
      const path = freshPath();
      const store = FlowStore.open(path, { batchSize: 10, flushIntervalMs: 60_000 });
      for (let sequence = 0; sequence < 9; sequence++) store.append(crashTestRecord(sequence));
      assert.equal(rawCount(path), 0);
      store.append(crashTestRecord(9));
      assert.equal(rawCount(path), 10);
      assert.equal(store.stats().pending, 0);
      store.close();
    });

    test('close writes what is buffered; a closed store refuses appends', () => {
      const path = freshPath();
      const store = FlowStore.open(path, { flushIntervalMs: 60_000 });
      store.append(crashTestRecord(1));
      store.close();
      store.close();
      assert.equal(rawCount(path), 1);
      assert.throws(() => store.append(crashTestRecord(2)), { code: 'PODGATE_E_STORE' });
    });
  });

  describe('bad files', () => {
    const cases: { name: string; prepare(path: string): void; message: RegExp }[] = [
      { name: 'not a database', prepare: (path) => writeFileSync(path, 'this is a text file, not SQLite\n'.repeat(200)), message: /not a readable flow store/ },
      {
        name: 'another SQLite database',
        prepare: (path) => {
          const db = new Database(path);
          db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY)');
          db.close();
        },
        message: /not a podgate flow store/,
      },
      { name: 'a directory', prepare: (path) => mkdirSync(path), message: /cannot use|not a readable/ },
    ];
    for (const { name, prepare, message } of cases) {
      test(name, () => {
        const path = freshPath();
        prepare(path);
        assert.throws(() => FlowStore.open(path), (error: unknown) => error instanceof FlowStoreError && error.code === 'PODGATE_E_STORE' && message.test(error.message) && error.hint.length > 0);
      });
    }

    test('a missing file when creating is not allowed', () => {
      const path = freshPath();
      assert.throws(() => FlowStore.open(path, { create: false }), (error: unknown) => error instanceof FlowStoreError && /no flow store at/.test(error.message) && error.hint.includes('ingest'));
    });

    test('a truncated store fails with PODGATE_E_STORE on open or read, never another error', () => {
      const path = freshPath();
      const store = FlowStore.open(path);
      for (let sequence = 0; sequence < 3000; sequence++) store.append(crashTestRecord(sequence));
      store.close();
      truncateSync(path, Math.floor(statSync(path).size / 2));
      try {
        const reopened = FlowStore.open(path);
        try {
          for (const record of reopened.query()) assert.ok(record);
          reopened.stats();
          assert.fail('reading a truncated store did not fail');
        } finally {
          try {
            reopened.close();
          } catch (error) {
            assert.ok(error instanceof FlowStoreError);
          }
        }
      } catch (error) {
        assert.ok(error instanceof FlowStoreError, `got ${String(error)}`);
        assert.equal(error.code, 'PODGATE_E_STORE');
      }
    });
  });

  test('kill -9 while appending loses no acknowledged flush and corrupts nothing', async () => {
    const path = freshPath();
    const child = spawn(process.execPath, [join(here, 'crash-child.js'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    let flushed = 0;
    let announced = 0;
    let acknowledgedFlushes = 0;
    for await (const line of createInterface({ input: child.stdout })) {
      const [word, count] = line.split(' ');
      if (word === 'flushed') {
        flushed = Math.max(flushed, Number(count));
        // Kill only after several flushes, some by size and some by timer, while it keeps appending.
        if (++acknowledgedFlushes === 25) child.kill('SIGKILL');
      } else if (word === 'appending') announced = Math.max(announced, Number(count));
    }
    await exited;
    assert.equal(child.signalCode, 'SIGKILL');
    assert.ok(flushed > 0);

    const db = new Database(path);
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    db.close();
    const store = FlowStore.open(path);
    const stored = [...store.query()];
    store.close();
    assert.ok(stored.length >= flushed, `${stored.length} records stored, ${flushed} acknowledged`);
    assert.ok(stored.length <= announced, `${stored.length} records stored, only ${announced} appended`);
    // Exactly records 0..n-1, each as appended: nothing lost in the middle, duplicated or made up.
    stored.forEach((record, sequence) => assert.deepEqual(record, crashTestRecord(sequence)));
  });
});
