/**
 * The process the kill -9 test kills: appends numbered records to a store without pause and
 * acknowledges on stdout, synchronously, before and after each step it might be killed in.
 *
 *   node crash-child.js STORE_PATH
 *   stdout: "appending N" before records up to N-1 are appended; "flushed N" once records 0..N-1 are committed.
 */
import { writeSync } from 'node:fs';
import { crashTestRecord } from './testing.js';
import { FlowStore } from './store.js';

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write('usage: crash-child.js STORE_PATH\n');
  process.exit(2);
}

// writeSync: an acknowledgement on stdout must mean the step before it really happened.
const store = FlowStore.open(path, {
  batchSize: 64,
  flushIntervalMs: 5,
  onFlush: (flush) => writeSync(1, `flushed ${flush.flushedTotal}\n`),
});

const BURST = 41;
let next = 0;
function burst(): void {
  writeSync(1, `appending ${next + BURST}\n`);
  for (let end = next + BURST; next < end; next++) store.append(crashTestRecord(next));
  // Yield to the event loop so interval flushes run too, not only batch-size ones.
  setImmediate(burst);
}
burst();
