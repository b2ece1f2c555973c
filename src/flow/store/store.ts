/**
 * The persistent flow store: flow records in one SQLite database (better-sqlite3), indexed by time.
 *
 * Appends are buffered in memory and written in one transaction per flush; a flush runs at least
 * every `flushIntervalMs` (an unref'ed timer) and whenever the buffer holds `batchSize` records, so
 * a killed process loses at most the records appended since the last flush. The database runs in
 * WAL mode: a commit is appended to the write-ahead log with checksummed frames, so a process killed
 * mid-transaction leaves the last committed state readable and uncorrupted (see ARCHITECTURE.md).
 *
 * Retention: `prune()` deletes records older than `maxAgeNs` and, when the live pages exceed
 * `maxBytes`, the oldest records until they are under it; it runs automatically every
 * `pruneEveryFlushes` flushes (or sooner when a burst wrote a sixteenth of `maxBytes`). Deleted
 * pages go on SQLite's freelist and are reused by later inserts, so the file stops growing at about
 * `maxBytes` without a VACUUM.
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { formatFlowLine } from '../jsonl.js';
import { recordTimeNs, type FlowRecord } from '../model.js';

export const STORE_ERROR_CODE = 'PODGATE_E_STORE';

/** Any failure to open, read or write the store: a stable code and what to do next. */
export class FlowStoreError extends Error {
  readonly code = STORE_ERROR_CODE;
  constructor(
    message: string,
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FlowStoreError';
  }
}

const NS_PER_HOUR = 3_600_000_000_000n;
export const DEFAULT_MAX_AGE_NS = 168n * NS_PER_HOUR;
export const DEFAULT_MAX_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_FLUSH_INTERVAL_MS = 1000;
export const DEFAULT_BATCH_SIZE = 8192;
export const DEFAULT_PRUNE_EVERY_FLUSHES = 60;

/** Identifies a podgate flow store among SQLite files ("pgfl"). */
const APPLICATION_ID = 0x7067666c;
const SCHEMA_VERSION = 1;
/** SQLite's INTEGER range: the open ends of a time range. */
const MIN_NS = -(2n ** 63n);
const MAX_NS = 2n ** 63n - 1n;
/** Rows per INSERT statement: fewer calls across the native boundary per flush. */
const ROWS_PER_INSERT = 64;
const PAGE_SIZE = 65536;
const CACHE_KIB = 64 * 1024;
/** Per-row cost beyond the JSON text (row header, time index entry, page slack) when choosing how much to delete. */
const ROW_OVERHEAD_BYTES = 48;
/** A size prune deletes down to this fraction of maxBytes so the next flush does not prune again. */
const SIZE_PRUNE_TARGET = 0.9;

export interface FlowStoreOptions {
  /** Records older than now minus this are deleted by prune (default 168 h); 0 keeps records of any age. */
  readonly maxAgeNs?: bigint;
  /**
   * Upper bound for the database's live pages ((page_count - freelist_count) * page_size), i.e. the
   * bytes SQLite uses for records and the time index (default 1 GiB). The file on disk stays near
   * this high-water mark because freed pages are reused; the WAL (checkpointed every ~4 MiB) is extra.
   */
  readonly maxBytes?: number;
  /** A flush runs at least this often while records are buffered (default 1000 ms). The timer is unref'ed: call close() before exiting. */
  readonly flushIntervalMs?: number;
  /** A flush runs as soon as this many records are buffered (default 8192). */
  readonly batchSize?: number;
  /** prune() runs after this many flushes (default 60). */
  readonly pruneEveryFlushes?: number;
  /**
   * NORMAL (default) survives kill -9 of the process without losing a commit and survives power loss
   * without corruption; FULL also makes every flush survive power loss, at one fsync per flush.
   */
  readonly synchronous?: 'NORMAL' | 'FULL';
  /** Create the database when the file does not exist (default true). */
  readonly create?: boolean;
  /** Nanoseconds since the epoch; injected by tests. */
  readonly clock?: () => bigint;
  /** Called after every committed flush (acknowledgements, metrics). */
  readonly onFlush?: (flush: FlushInfo) => void;
  /** Called when a timer-driven flush or prune fails (the records stay buffered); default: ignore. */
  readonly onError?: (error: FlowStoreError) => void;
}

export interface FlushInfo {
  /** Records committed by this flush. */
  readonly records: number;
  /** Records committed by this store object since it was opened. */
  readonly flushedTotal: number;
}

export interface FlowQuery {
  /** Inclusive lower bound, ns since the epoch. */
  readonly sinceNs?: bigint;
  /** Inclusive upper bound, ns since the epoch. */
  readonly untilNs?: bigint;
  /** At most this many records (the first ones in the chosen order). */
  readonly limit?: number;
  readonly order?: 'asc' | 'desc';
}

export interface FlowStoreStats {
  readonly records: number;
  /** Live bytes: (page_count - freelist_count) * page_size; what maxBytes bounds. */
  readonly bytes: number;
  /** Size of the database file plus its WAL on disk. */
  readonly fileBytes: number;
  readonly oldestNs: bigint | undefined;
  readonly newestNs: bigint | undefined;
  /** Appended and not yet flushed. */
  readonly pending: number;
}

/** One buffered row, in column order. */
type Row = [timeNs: bigint, sourceNamespace: string | null, destinationNamespace: string | null, verdict: string | null, nodeName: string | null, record: string];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS flows (
  id INTEGER PRIMARY KEY,
  time_ns INTEGER NOT NULL,
  source_namespace TEXT,
  destination_namespace TEXT,
  verdict TEXT,
  node_name TEXT,
  record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS flows_by_time ON flows (time_ns);
`;

const COLUMNS = '(time_ns, source_namespace, destination_namespace, verdict, node_name, record)';

function insertSql(rows: number): string {
  return `INSERT INTO flows ${COLUMNS} VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?)').join(', ')}`;
}

function querySql(order: 'asc' | 'desc'): string {
  const direction = order === 'asc' ? 'ASC' : 'DESC';
  // The rowid is the tiebreak: records with equal times come back in insertion order (reversed for desc).
  return `SELECT record FROM flows WHERE time_ns >= ? AND time_ns <= ? ORDER BY time_ns ${direction}, id ${direction} LIMIT ?`;
}

export const QUERY_SQL = { asc: querySql('asc'), desc: querySql('desc') } as const;

function isSqliteError(error: unknown): error is Error & { code: string } {
  const code: unknown = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('SQLITE_');
}

/** Turns a SQLite error into a FlowStoreError that says what to do; other errors pass through. */
function storeError(path: string, doing: string, error: unknown): unknown {
  if (error instanceof FlowStoreError || !isSqliteError(error)) return error;
  const code = error.code;
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new FlowStoreError(`${path} is not a readable flow store (${doing}: ${error.message})`, `move the file aside and start a new store; inspect it with: sqlite3 ${path} 'PRAGMA integrity_check'`, { cause: error });
  }
  if (code === 'SQLITE_FULL') return new FlowStoreError(`the disk holding ${path} is full (${doing})`, 'free space or lower the store size limit', { cause: error });
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_IOERR')) {
    return new FlowStoreError(`cannot use ${path} (${doing}: ${error.message})`, 'check that the directory exists and is writable by this user', { cause: error });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new FlowStoreError(`${path} is locked by another writer (${doing})`, 'stop the other podgate process using this store, or use another --store path', { cause: error });
  }
  return new FlowStoreError(`flow store ${path}: ${doing} failed: ${error.message}`, 'check the file and the disk; move the file aside to start a new store', { cause: error });
}

function openConnection(path: string, create: boolean): Database.Database {
  try {
    return new Database(path, { fileMustExist: !create });
  } catch (error) {
    if (isSqliteError(error) && error.code.startsWith('SQLITE_CANTOPEN') && !create) {
      throw new FlowStoreError(`no flow store at ${path}`, `create one with: podgate flows store ingest --store ${path} --file FLOWS.jsonl`, { cause: error });
    }
    throw storeError(path, 'opening', error);
  }
}

export class FlowStore {
  private readonly buffer: Row[] = [];
  private readonly insertBatch: Database.Statement;
  private readonly insertOne: Database.Statement;
  private readonly flushTransaction: (rows: readonly Row[]) => void;
  private readonly deleteBefore: Database.Statement;
  private readonly deleteAtOrBefore: Database.Statement;
  private readonly oldestRows: Database.Statement;
  /** Reader connections not running a query; each open query iterator holds one (its own WAL snapshot). */
  private readonly idleReaders: Database.Database[] = [];
  private readonly readers: Database.Database[] = [];
  private readonly openIterators = new Set<IterableIterator<unknown>>();
  private readonly readStatements = new WeakMap<Database.Database, Map<string, Database.Statement>>();
  private timer: NodeJS.Timeout | undefined;
  private flushedTotal = 0;
  private deletedTotal = 0;
  private flushesSincePrune = 0;
  private bytesSincePrune = 0;
  private closed = false;
  private readonly maxAgeNs: bigint;
  private readonly maxBytes: number;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly pruneEveryFlushes: number;
  private readonly clock: () => bigint;

  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
    private readonly options: FlowStoreOptions,
  ) {
    this.maxAgeNs = options.maxAgeNs ?? DEFAULT_MAX_AGE_NS;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.batchSize = Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE);
    this.flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.pruneEveryFlushes = Math.max(1, options.pruneEveryFlushes ?? DEFAULT_PRUNE_EVERY_FLUSHES);
    this.clock = options.clock ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.insertBatch = db.prepare(insertSql(ROWS_PER_INSERT));
    this.insertOne = db.prepare(insertSql(1));
    this.deleteBefore = db.prepare('DELETE FROM flows WHERE time_ns < ?');
    this.deleteAtOrBefore = db.prepare('DELETE FROM flows WHERE time_ns = ? AND id <= ?');
    this.oldestRows = db.prepare('SELECT time_ns, id, octet_length(record) AS bytes FROM flows ORDER BY time_ns ASC, id ASC').safeIntegers(true);
    const values: unknown[] = new Array(ROWS_PER_INSERT * 6);
    this.flushTransaction = db.transaction((rows: readonly Row[]) => {
      let index = 0;
      for (; index + ROWS_PER_INSERT <= rows.length; index += ROWS_PER_INSERT) {
        for (let offset = 0; offset < ROWS_PER_INSERT; offset++) {
          const row = rows[index + offset]!;
          for (let column = 0; column < 6; column++) values[offset * 6 + column] = row[column];
        }
        this.insertBatch.run(values);
      }
      for (; index < rows.length; index++) this.insertOne.run(rows[index]!);
    });
  }

  /** Opens (or creates) the store at `path`. Throws FlowStoreError (PODGATE_E_STORE) for a file that is not a usable store. */
  static open(path: string, options: FlowStoreOptions = {}): FlowStore {
    const db = openConnection(path, options.create ?? true);
    try {
      // Reading the header here turns "not a database" into an error now, not at the first flush.
      const applicationId = db.pragma('application_id', { simple: true }) as number;
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
      if (applicationId !== APPLICATION_ID && tables.length > 0) {
        throw new FlowStoreError(`${path} is an SQLite database but not a podgate flow store`, 'point --store at a new file or an existing podgate flow store');
      }
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) throw new FlowStoreError(`${path} was written by a newer podgate (store schema ${version}, this one reads ${SCHEMA_VERSION})`, 'upgrade podgate or use another --store path');
      // Big pages pack ~1 KiB records with less slack and fewer B-tree splits; only settable before the first table.
      if (tables.length === 0) db.pragma(`page_size = ${PAGE_SIZE}`);
      db.pragma('journal_mode = WAL');
      // A whole flush batch fits in the page cache, so a transaction does not spill pages mid-way.
      db.pragma(`cache_size = -${CACHE_KIB}`);
      db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
      // Another process briefly holding the write lock (a prune from the CLI) is waited for, not an error.
      db.pragma('busy_timeout = 5000');
      // Truncate the WAL back to 64 MiB after a checkpoint so a burst does not keep a large file.
      db.pragma('journal_size_limit = 67108864');
      // One transaction: a store killed while being created is either empty or marked as ours.
      db.transaction(() => {
        db.exec(SCHEMA);
        if (applicationId !== APPLICATION_ID) {
          db.pragma(`application_id = ${APPLICATION_ID}`);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        }
      })();
      return new FlowStore(path, db, options);
    } catch (error) {
      db.close();
      throw storeError(path, 'opening', error);
    }
  }

  /** Records deleted by retention (automatic and explicit prunes) since this store object was opened. */
  get prunedTotal(): number {
    return this.deletedTotal;
  }

  /**
   * Buffers one record; it is written by the next flush (at the latest `flushIntervalMs` from now).
   * `json` is the record's JSON text when the caller already has it (the line it was parsed from):
   * it is stored as is, which saves a JSON.stringify per record (the larger half of ingest cost).
   */
  append(record: FlowRecord, json?: string): void {
    if (this.closed) throw new FlowStoreError(`flow store ${this.path} is closed`, 'open it again before appending');
    const flow = record.flow;
    this.buffer.push([
      recordTimeNs(record),
      stringOrNull(flow?.source?.namespace),
      stringOrNull(flow?.destination?.namespace),
      stringOrNull(flow?.verdict),
      stringOrNull(record.node_name ?? flow?.node_name),
      json ?? formatFlowLine(record),
    ]);
    if (this.buffer.length >= this.batchSize) this.flush();
    else this.armTimer();
  }

  /** Writes every buffered record in one transaction; may prune afterwards. */
  flush(): void {
    this.disarmTimer();
    if (this.buffer.length === 0) return;
    const rows = this.buffer.splice(0, this.buffer.length);
    try {
      this.flushTransaction(rows);
    } catch (error) {
      // Keep the records for the next attempt, in order.
      this.buffer.unshift(...rows);
      this.armTimer();
      throw storeError(this.path, 'writing', error);
    }
    this.flushedTotal += rows.length;
    this.flushesSincePrune++;
    for (const row of rows) this.bytesSincePrune += row[5].length;
    this.options.onFlush?.({ records: rows.length, flushedTotal: this.flushedTotal });
    if (this.flushesSincePrune >= this.pruneEveryFlushes || this.bytesSincePrune >= this.maxBytes / 16) this.prune();
  }

  /**
   * Deletes records older than maxAge (relative to `nowNs`, default the clock) and, while the live
   * pages exceed maxBytes, the oldest records until they are under 90% of it.
   */
  prune(nowNs: bigint = this.clock()): { deleted: number } {
    this.flushesSincePrune = 0;
    this.bytesSincePrune = 0;
    try {
      let deleted = this.maxAgeNs > 0n ? this.deleteBefore.run(nowNs - this.maxAgeNs).changes : 0;
      // Freed pages only count once B-tree pages empty out; re-measure and go again (a few rounds at most).
      for (let round = 0; round < 8 && this.liveBytes() > this.maxBytes; round++) {
        const removed = this.deleteOldest(this.liveBytes() - Math.floor(this.maxBytes * SIZE_PRUNE_TARGET));
        if (removed === 0) break;
        deleted += removed;
      }
      this.deletedTotal += deleted;
      return { deleted };
    } catch (error) {
      throw storeError(this.path, 'pruning', error);
    }
  }

  /** Deletes the oldest records whose estimated size adds up to `bytes`. */
  private deleteOldest(bytes: number): number {
    let total = 0;
    let last: { time_ns: bigint; id: bigint } | undefined;
    for (const row of this.oldestRows.iterate() as IterableIterator<{ time_ns: bigint; id: bigint; bytes: bigint }>) {
      last = row;
      total += Number(row.bytes) + ROW_OVERHEAD_BYTES;
      if (total >= bytes) break;
    }
    if (last === undefined) return 0;
    return this.db.transaction(() => this.deleteBefore.run(last.time_ns).changes + this.deleteAtOrBefore.run(last.time_ns, last.id).changes)();
  }

  private liveBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  /**
   * Records in a time range, oldest first (or newest first with order 'desc'), parsed lazily as the
   * iterator is read. Buffered records are flushed first so a query sees every append before it.
   * Each query reads its own WAL snapshot on a reader connection (taken at the first next()), so
   * appends, flushes and other queries may run while an iterator is open. Read it to the end or
   * break out of the loop (return()) to give the connection back.
   */
  query(options: FlowQuery = {}): IterableIterator<FlowRecord> {
    if (this.closed) throw new FlowStoreError(`flow store ${this.path} is closed`, 'open it again before querying');
    const limit = options.limit ?? -1;
    if (!Number.isSafeInteger(limit) || (options.limit !== undefined && limit < 0)) throw new FlowStoreError(`limit ${String(options.limit)} is not a whole number >= 0`, 'pass a limit such as 100');
    this.flush();
    return this.readRecords(QUERY_SQL[options.order ?? 'asc'], [options.sinceNs ?? MIN_NS, options.untilNs ?? MAX_NS, limit]);
  }

  private *readRecords(sql: string, parameters: unknown[]): Generator<FlowRecord> {
    const reader = this.takeReader();
    let rows: IterableIterator<string> | undefined;
    try {
      rows = this.readStatement(reader, sql).pluck().iterate(...parameters) as IterableIterator<string>;
      this.openIterators.add(rows);
      for (const text of rows) yield JSON.parse(text) as FlowRecord;
    } catch (error) {
      if (error instanceof SyntaxError) throw new FlowStoreError(`${this.path} holds a record that is not JSON (${error.message})`, 'the file was changed by something other than podgate; move it aside and start a new store', { cause: error });
      throw storeError(this.path, 'querying', error);
    } finally {
      if (rows !== undefined) this.openIterators.delete(rows);
      if (!this.closed) this.idleReaders.push(reader);
    }
  }

  /** The plan SQLite chooses for a time-range query (for tests and diagnostics). */
  explainQuery(order: 'asc' | 'desc' = 'asc'): string[] {
    return this.withReader((reader) => (reader.prepare(`EXPLAIN QUERY PLAN ${QUERY_SQL[order]}`).all(0n, 1n, 10) as { detail: string }[]).map((row) => row.detail));
  }

  stats(): FlowStoreStats {
    try {
      return this.withReader((reader) => {
        const range = this.readStatement(reader, 'SELECT MIN(time_ns) AS oldest, MAX(time_ns) AS newest FROM flows').get() as { oldest: bigint | null; newest: bigint | null };
        const records = Number(this.readStatement(reader, 'SELECT COUNT(*) AS n FROM flows').pluck().get());
        return {
          records,
          bytes: this.liveBytes(),
          fileBytes: fileSize(this.path) + fileSize(`${this.path}-wal`),
          oldestNs: range.oldest ?? undefined,
          newestNs: range.newest ?? undefined,
          pending: this.buffer.length,
        };
      });
    } catch (error) {
      throw storeError(this.path, 'reading statistics', error);
    }
  }

  /** Flushes what is buffered, ends open query iterators and closes the database. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      this.disarmTimer();
      for (const rows of this.openIterators) rows.return?.();
      this.openIterators.clear();
      for (const reader of this.readers) reader.close();
      this.db.close();
    }
  }

  private withReader<T>(use: (reader: Database.Database) => T): T {
    if (this.closed) throw new FlowStoreError(`flow store ${this.path} is closed`, 'open it again before reading');
    const reader = this.takeReader();
    try {
      return use(reader);
    } finally {
      this.idleReaders.push(reader);
    }
  }

  private takeReader(): Database.Database {
    const idle = this.idleReaders.pop();
    if (idle !== undefined) return idle;
    try {
      const reader = new Database(this.path, { fileMustExist: true });
      reader.pragma('busy_timeout = 5000');
      this.readers.push(reader);
      return reader;
    } catch (error) {
      throw storeError(this.path, 'opening for reading', error);
    }
  }

  /** Prepared once per reader connection; integers come back as bigints (times in ns exceed 2^53). */
  private readStatement(reader: Database.Database, sql: string): Database.Statement {
    let statements = this.readStatements.get(reader);
    if (statements === undefined) this.readStatements.set(reader, (statements = new Map()));
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = reader.prepare(sql).safeIntegers(true);
      statements.set(sql, statement);
    }
    return statement;
  }

  private armTimer(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      try {
        this.flush();
      } catch (error) {
        // A timer callback must never throw: that would take the whole process down.
        this.options.onError?.(error instanceof FlowStoreError ? error : new FlowStoreError(`flow store ${this.path}: ${String(error)}`, 'check the file and the disk', { cause: error }));
      }
    }, this.flushIntervalMs);
    this.timer.unref();
  }

  private disarmTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
