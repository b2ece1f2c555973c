/**
 * A bounded queue between the flow feed and one follow stream. A client slower than the feed fills
 * it; further records are dropped and counted, and the gap is reported in order as a lost_events
 * record (source OBSERVER_EVENTS_QUEUE), as Hubble does, instead of buffering without limit.
 */
import type { FlowRecord } from '../model.js';

export const DEFAULT_FOLLOW_QUEUE_SIZE = 1024;

interface Entry {
  readonly record: FlowRecord;
  /** Whether it takes queue capacity (lost-event markers do not). */
  readonly counted: boolean;
}

export class FollowQueue {
  private entries: Entry[] = [];
  private head = 0;
  private queued = 0;
  private pendingLost = 0;
  private closed = false;
  private waiter: (() => void) | undefined;
  /** Records dropped over the queue's life. */
  lostTotal = 0;

  constructor(
    private readonly capacity: number,
    private readonly lostRecord: (count: number) => FlowRecord,
  ) {}

  push(record: FlowRecord): void {
    if (this.closed) return;
    if (this.queued >= this.capacity) {
      this.pendingLost++;
      this.lostTotal++;
      return;
    }
    this.flushLost();
    this.entries.push({ record, counted: true });
    this.queued++;
    this.wake();
  }

  /** The next record, waiting for one; undefined once closed and drained. */
  async next(): Promise<FlowRecord | undefined> {
    for (;;) {
      if (this.head < this.entries.length) {
        const entry = this.entries[this.head]!;
        this.head++;
        if (entry.counted) this.queued--;
        if (this.head > 1024 && this.head * 2 > this.entries.length) {
          this.entries = this.entries.slice(this.head);
          this.head = 0;
        }
        return entry.record;
      }
      if (this.pendingLost > 0) {
        this.flushLost();
        continue;
      }
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Ends the queue: `next` returns what is queued, then undefined. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  get length(): number {
    return this.queued;
  }

  private flushLost(): void {
    if (this.pendingLost === 0) return;
    this.entries.push({ record: this.lostRecord(this.pendingLost), counted: false });
    this.pendingLost = 0;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
