/**
 * One engine's lookup programs and its pods' peer lists (selector slots, named ports), as int32
 * words in one buffer. A lookup then reads a pod's program with one cache-cold load and no pointer
 * chase: the buffer's address is hot, and a region's words are contiguous. JavaScript arrays would
 * cost two dependent loads (array object, then elements), and the garbage collector moves them
 * apart from the state that uses them.
 *
 * Regions are immutable: a rebuilt map stores a new one and releases the old. `compact` copies the
 * live regions into a fresh buffer when releases have left more garbage than live words.
 */
export class ProgramArena {
  words = new Int32Array(1 << 12);
  /** Words in use, garbage included. */
  private used = 0;
  private garbage = 0;
  /** How many times `compact` ran. */
  compactions = 0;

  /** `compactFloor`: below this much garbage a compaction is not worth its copy. */
  constructor(private readonly compactFloor = 1 << 16) {
    this.storePrefix();
  }

  /** Words held by live regions. */
  get live(): number {
    return this.used - this.garbage - PREFIX.length;
  }

  /** Copies values into a new region and returns its offset; the region's length is kept in the word before it. */
  store(values: ArrayLike<number>): number {
    this.reserve(values.length + 1);
    this.words[this.used] = values.length;
    const offset = this.used + 1;
    for (let index = 0; index < values.length; index++) this.words[offset + index] = values[index]!;
    this.used = offset + values.length;
    return offset;
  }

  /** The length of the region at an offset. */
  length(offset: number): number {
    return this.words[offset - 1]!;
  }

  /** Marks a region as garbage. The shared regions of the prefix are never released. */
  release(offset: number): void {
    if (offset > EMPTY_LIST) this.garbage += this.length(offset) + 1;
  }

  /** Whether a compaction would at least halve the buffer's words in use. */
  get wasteful(): boolean {
    return this.garbage > this.compactFloor && this.garbage > this.live;
  }

  /**
   * Copies the live regions into a fresh buffer. `visit` is given `move`, which copies one region
   * and returns its new offset; the caller moves every live region exactly once and stores the new
   * offsets. A region moved twice is copied once.
   */
  compact(visit: (move: (offset: number) => number) => void): void {
    const old = this.words;
    const moved = new Map<number, number>();
    this.words = new Int32Array(Math.max(1 << 12, 2 * (this.live + PREFIX.length)));
    this.used = 0;
    this.garbage = 0;
    this.compactions++;
    this.storePrefix();
    visit((offset) => {
      if (offset <= EMPTY_LIST) return offset;
      let next = moved.get(offset);
      if (next === undefined) {
        next = this.store(old.subarray(offset, offset + old[offset - 1]!));
        moved.set(offset, next);
      }
      return next;
    });
  }

  private reserve(count: number): void {
    if (this.used + count <= this.words.length) return;
    let size = this.words.length * 2;
    while (size < this.used + count) size *= 2;
    const grown = new Int32Array(size);
    grown.set(this.words.subarray(0, this.used));
    this.words = grown;
  }

  /** The regions every arena starts with, at fixed offsets: the empty program and the empty list. */
  private storePrefix(): void {
    this.words.set(PREFIX, 0);
    this.used = PREFIX.length;
  }
}

/** Header words of a program, relative to its offset: the start of each of the five layers, the end, flags, the entry count. */
export const PROGRAM_HEADER = 8;
export const HEADER_END = 5;
export const HEADER_FLAGS = 6;
export const HEADER_ENTRIES = 7;
/** The program of a map without entries, at this offset in every arena. */
export const EMPTY_PROGRAM = 1;
/** An empty list (the slots and named ports of a peer that is not a pod), at this offset in every arena. */
export const EMPTY_LIST = 10;
/** Every arena starts with the two shared regions, each after its length word. */
const PREFIX = [
  PROGRAM_HEADER, // the empty program's length; then its header: every layer starts and ends right after it,
  PROGRAM_HEADER, PROGRAM_HEADER, PROGRAM_HEADER, PROGRAM_HEADER, PROGRAM_HEADER, PROGRAM_HEADER,
  0, // not isolated,
  0, // no entries.
  0, // The empty list's length (the list itself is at EMPTY_LIST, where the prefix ends).
];
