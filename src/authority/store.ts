/**
 * The authority's state on disk: one SQLite database (`authority.db`) plus one PEM key file per
 * CA that may still sign (`ca/ca-<serial>-<time>.key.pem`, mode 0600), both inside the state
 * directory (mode 0700). The database holds the CAs and their rotation state, the serial counter,
 * the issued-SVID audit log, the deny-list, hashed join tokens and recorded refusals (the newest
 * `MAX_REFUSALS`). Key files are recorded by name only, so a moved or restored state directory
 * still finds them, and a copy never deletes the original's keys.
 *
 * State version: `meta.state_version` bumps in the same transaction as every change an open
 * `Authority` keeps in memory (CAs, their states, the deny-list), so a long-running process asks
 * "am I current?" with one read and sees what another process (the CLI) changed.
 *
 * Serial numbers: `instance (64 bits) ‖ counter (64 bits)`, 16 octets, always positive. The
 * instance prefix is random, chosen once at init, with its top bit clear and the next bit set, so
 * every serial has the same length and is positive. The counter is persisted and incremented in
 * the same transaction that records the certificate, never reset (not by restarts, not by CA
 * rotation: it belongs to the authority, not to a CA), so serials never repeat within an
 * authority; the random prefix keeps a re-initialized authority (or a second one for the same
 * trust domain) from reusing serials of an earlier one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import Database from 'better-sqlite3';
import { IdentityError } from '../identity/errors.js';

export const DATABASE_FILE = 'authority.db';
export const KEY_DIRECTORY = 'ca';
const SCHEMA_VERSION = 2;
/** Refusal rows kept; older ones are dropped as new ones arrive. */
export const MAX_REFUSALS = 10_000;
const APPLICATION_ID = 0x70676964; // "pgid"

export type CaState = 'prepared' | 'active' | 'retired';
/** Who made the CA: podgate (rotated by `maintain()`) or the operator (rotated by the operator). */
export type CaOrigin = 'podgate' | 'operator';

export interface StoredCa {
  readonly id: number;
  readonly state: CaState;
  readonly origin: CaOrigin;
  /** The signing CA first, then intermediates. */
  readonly certificatesPem: string;
  /** The bundle anchors this CA contributes. */
  readonly rootsPem: string;
  /** File name of the key inside `stateDir/ca`; null once the CA is retired (its key is deleted). */
  readonly keyFile: string | null;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly createdAt: number;
  readonly activatedAt: number | null;
  readonly retiredAt: number | null;
}

export type IssuedKind = 'workload' | 'agent' | 'authority' | 'direct';

export interface IssuedRecord {
  /** Lower-case hex, even length (as `Certificate.serialHex`). */
  readonly serial: string;
  readonly spiffeId: string;
  readonly caId: number;
  readonly kind: IssuedKind;
  /** Who asked: the agent's SPIFFE ID, `join-token:<node>`, or `local`. */
  readonly requester: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly issuedAt: number;
}

export interface DeniedRecord {
  readonly serial: string;
  readonly reason: string;
  readonly deniedAt: number;
  readonly notAfter: number;
}

export interface RefusalRecord {
  readonly id: number;
  readonly at: number;
  readonly kind: 'attestation' | 'issue';
  readonly requester: string;
  readonly detail: string;
}

export interface JoinTokenRecord {
  readonly node: string;
  readonly expiresAt: number;
  readonly usedAt: number | null;
}

/** Normalized serial text: lower-case hex of the magnitude, even length. */
export function serialHex(serial: bigint | string): string {
  let value: bigint;
  try {
    value = typeof serial === 'bigint' ? serial : BigInt('0x' + serial.replace(/[:\s]/g, ''));
  } catch {
    throw new IdentityError('PODGATE_E_SERIAL', `not a serial number: ${String(serial)}`, 'give the serial in hex, as openssl x509 -serial prints it');
  }
  if (value <= 0n) throw new IdentityError('PODGATE_E_SERIAL', 'serial numbers are positive', 'give the serial in hex');
  const hex = value.toString(16);
  return hex.length % 2 === 1 ? '0' + hex : hex;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Refuses a key file that group or others may read or write. */
export function checkKeyFilePermissions(path: string): void {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (cause) {
    throw new IdentityError('PODGATE_E_CA_KEY_MISSING', `CA key file ${path} cannot be read: ${(cause as Error).message}`, 'restore the state directory from backup, or re-initialize the authority', { cause });
  }
  if ((mode & 0o077) !== 0) {
    throw new IdentityError(
      'PODGATE_E_CA_KEY_PERMISSIONS',
      `CA key file ${path} has mode ${(mode & 0o777).toString(8).padStart(4, '0')}; group and others must have no access`,
      `chmod 600 ${path}`,
    );
  }
}

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE cas (
  id INTEGER PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('prepared', 'active', 'retired')),
  origin TEXT NOT NULL CHECK (origin IN ('podgate', 'operator')),
  certificates_pem TEXT NOT NULL,
  roots_pem TEXT NOT NULL,
  key_file TEXT,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  activated_at INTEGER,
  retired_at INTEGER
) STRICT;
CREATE TABLE issued (
  serial TEXT PRIMARY KEY,
  spiffe_id TEXT NOT NULL,
  ca_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  requester TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  issued_at INTEGER NOT NULL
) STRICT;
CREATE INDEX issued_by_ca ON issued (ca_id, not_after);
CREATE TABLE denied (serial TEXT PRIMARY KEY, reason TEXT NOT NULL, denied_at INTEGER NOT NULL, not_after INTEGER NOT NULL) STRICT;
CREATE TABLE join_tokens (hash TEXT PRIMARY KEY, node TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER) STRICT;
CREATE TABLE refusals (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, requester TEXT NOT NULL, detail TEXT NOT NULL) STRICT;
`;

interface CaRow {
  id: number;
  state: CaState;
  origin: CaOrigin;
  certificates_pem: string;
  roots_pem: string;
  key_file: string | null;
  not_before: number;
  not_after: number;
  created_at: number;
  activated_at: number | null;
  retired_at: number | null;
}

// v1 did not record who made a CA; a podgate CA is a self-signed root that is its own bundle.
const MIGRATE_FROM_1 = `
ALTER TABLE cas ADD COLUMN origin TEXT NOT NULL DEFAULT 'podgate' CHECK (origin IN ('podgate', 'operator'));
UPDATE cas SET origin = 'operator' WHERE certificates_pem <> roots_pem;
INSERT OR IGNORE INTO meta (key, value) VALUES ('state_version', '0');
`;

/** A key file name as stored; a v1 database stored absolute paths, of which the name is kept. */
export function keyFileName(stored: string): string {
  const name = isAbsolute(stored) ? basename(stored) : stored;
  if (name.length === 0 || name === '.' || name.includes('/') || name.includes('\\') || name.includes('..') || name.includes('\0')) {
    throw new IdentityError('PODGATE_E_AUTHORITY_STATE', `CA key file name ${JSON.stringify(stored)} is not a plain file name`, 'restore the state directory from backup');
  }
  return name;
}

function caFromRow(row: CaRow): StoredCa {
  return {
    id: row.id,
    state: row.state,
    origin: row.origin,
    certificatesPem: row.certificates_pem,
    rootsPem: row.roots_pem,
    keyFile: row.key_file,
    notBefore: row.not_before,
    notAfter: row.not_after,
    createdAt: row.created_at,
    activatedAt: row.activated_at,
    retiredAt: row.retired_at,
  };
}

export class AuthorityStore {
  private readonly nextSerialStatement: Database.Statement;
  private readonly insertIssuedStatement: Database.Statement;
  private readonly stateVersionStatement: Database.Statement;
  private readonly bumpStateVersionStatement: Database.Statement;
  private readonly insertRefusalStatement: Database.Statement;
  private readonly trimRefusalsStatement: Database.Statement;

  private constructor(
    readonly stateDir: string,
    private readonly db: Database.Database,
  ) {
    this.nextSerialStatement = db.prepare("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'serial_counter' RETURNING value");
    this.insertIssuedStatement = db.prepare(
      'INSERT INTO issued (serial, spiffe_id, ca_id, kind, requester, not_before, not_after, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.stateVersionStatement = db.prepare("SELECT value FROM meta WHERE key = 'state_version'").pluck();
    this.bumpStateVersionStatement = db.prepare("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'state_version'");
    this.insertRefusalStatement = db.prepare('INSERT INTO refusals (at, kind, requester, detail) VALUES (?, ?, ?, ?)');
    this.trimRefusalsStatement = db.prepare('DELETE FROM refusals WHERE id <= (SELECT id FROM refusals ORDER BY id DESC LIMIT 1 OFFSET ?)');
  }

  static exists(stateDir: string): boolean {
    return existsSync(join(stateDir, DATABASE_FILE));
  }

  /** Creates the state directory and an empty database. Refuses an existing one. */
  static create(stateDir: string, options: { trustDomain: string; now: number }): AuthorityStore {
    if (AuthorityStore.exists(stateDir)) {
      throw new IdentityError('PODGATE_E_AUTHORITY_EXISTS', `an authority already exists in ${stateDir}`, 'use it, or choose another --state-dir');
    }
    // A directory podgate creates is private; an existing one keeps its mode (the key directory is always private).
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    mkdirSync(join(stateDir, KEY_DIRECTORY), { recursive: true, mode: 0o700 });
    chmodSync(join(stateDir, KEY_DIRECTORY), 0o700);
    const db = new Database(join(stateDir, DATABASE_FILE));
    db.pragma('journal_mode = WAL');
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.transaction(() => {
      db.exec(SCHEMA);
      const instance = randomBytes(8);
      instance[0] = (instance[0]! & 0x3f) | 0x40;
      const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
      put.run('trust_domain', options.trustDomain);
      put.run('serial_instance', instance.toString('hex'));
      put.run('serial_counter', '0');
      put.run('bundle_sequence', '1');
      put.run('state_version', '0');
      put.run('created_at', String(options.now));
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
    return new AuthorityStore(stateDir, db);
  }

  static open(stateDir: string): AuthorityStore {
    if (!AuthorityStore.exists(stateDir)) {
      throw new IdentityError('PODGATE_E_AUTHORITY_NOT_INITIALIZED', `no authority in ${stateDir}`, 'run: podgate identity init --state-dir DIR');
    }
    let db: Database.Database;
    try {
      db = new Database(join(stateDir, DATABASE_FILE), { fileMustExist: true });
      const applicationId = db.pragma('application_id', { simple: true }) as number;
      const version = db.pragma('user_version', { simple: true }) as number;
      if (applicationId !== APPLICATION_ID || (version !== SCHEMA_VERSION && version !== 1)) throw new Error(`application_id ${applicationId}, schema ${version}`);
      db.pragma('journal_mode = WAL');
      if (version === 1) {
        db.transaction(() => {
          db.exec(MIGRATE_FROM_1);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        }).immediate();
      }
    } catch (cause) {
      throw new IdentityError('PODGATE_E_AUTHORITY_STATE', `${join(stateDir, DATABASE_FILE)} is not a podgate authority database: ${(cause as Error).message}`, 'restore the state directory from backup, or re-initialize it', { cause });
    }
    return new AuthorityStore(stateDir, db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * Runs `fn` in one transaction: everything it wrote commits together or not at all. The write
   * lock is taken at the start, so another process's write cannot slip between `fn`'s reads and writes.
   */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Runs `fn` on one consistent snapshot (reads only). */
  read<T>(fn: () => T): T {
    return this.db.transaction(fn).deferred();
  }

  /** Bumps on every change to CAs and the deny-list, by any process. One prepared read. */
  stateVersion(): number {
    return Number(this.stateVersionStatement.get() as string);
  }

  // Every method that changes what an open Authority keeps in memory calls this in its transaction.
  private changed<T>(fn: () => T): T {
    return this.db.transaction(() => {
      const result = fn();
      this.bumpStateVersionStatement.run();
      return result;
    })();
  }

  meta(key: string): string {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    if (row === undefined) throw new IdentityError('PODGATE_E_AUTHORITY_STATE', `authority state lacks ${key}`, 'restore the state directory from backup');
    return row.value;
  }

  /** Takes the next serial (see the file comment); call inside the transaction that records its use. */
  nextSerial(): bigint {
    const row = this.nextSerialStatement.get() as { value: string };
    return (BigInt('0x' + this.meta('serial_instance')) << 64n) | BigInt(row.value);
  }

  serialCounter(): bigint {
    return BigInt(this.meta('serial_counter'));
  }

  bundleSequence(): number {
    return Number(this.meta('bundle_sequence'));
  }

  bumpBundleSequence(): void {
    this.db.prepare("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'bundle_sequence'").run();
  }

  // --- CAs -----------------------------------------------------------------------------------

  /** Where a key file of this state directory lives; refuses names that would leave `stateDir/ca`. */
  keyFilePath(name: string): string {
    return join(this.stateDir, KEY_DIRECTORY, keyFileName(name));
  }

  /** Writes a CA key with mode 0600 (created exclusively, so an existing file is never reused); returns the file name to store. */
  writeKeyFile(stem: string, keyPem: string): string {
    const name = keyFileName(`${stem}.key.pem`);
    const path = this.keyFilePath(name);
    writeFileSync(path, keyPem, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    return name;
  }

  readKeyFile(name: string): string {
    const path = this.keyFilePath(name);
    checkKeyFilePermissions(path);
    return readFileSync(path, 'utf8');
  }

  removeKeyFile(name: string): void {
    rmSync(this.keyFilePath(name), { force: true });
  }

  insertCa(ca: Omit<StoredCa, 'id'>): number {
    return this.changed(() => {
      const result = this.db
        .prepare('INSERT INTO cas (state, origin, certificates_pem, roots_pem, key_file, not_before, not_after, created_at, activated_at, retired_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(ca.state, ca.origin, ca.certificatesPem, ca.rootsPem, ca.keyFile === null ? null : keyFileName(ca.keyFile), ca.notBefore, ca.notAfter, ca.createdAt, ca.activatedAt, ca.retiredAt);
      return Number(result.lastInsertRowid);
    });
  }

  cas(): StoredCa[] {
    return (this.db.prepare('SELECT * FROM cas ORDER BY id').all() as CaRow[]).map(caFromRow);
  }

  caInState(state: CaState): StoredCa | undefined {
    const row = this.db.prepare('SELECT * FROM cas WHERE state = ? ORDER BY id DESC LIMIT 1').get(state) as CaRow | undefined;
    return row === undefined ? undefined : caFromRow(row);
  }

  activateCa(id: number, now: number): void {
    this.changed(() => this.db.prepare("UPDATE cas SET state = 'active', activated_at = ? WHERE id = ?").run(now, id));
  }

  retireCa(id: number, now: number): void {
    this.changed(() => this.db.prepare("UPDATE cas SET state = 'retired', retired_at = ?, key_file = NULL WHERE id = ?").run(now, id));
  }

  deleteCa(id: number): void {
    this.changed(() => this.db.prepare('DELETE FROM cas WHERE id = ?').run(id));
  }

  /** The latest NotAfter of any SVID the CA signed, or undefined when it signed none. */
  lastExpiryOfCa(id: number): number | undefined {
    const row = this.db.prepare('SELECT MAX(not_after) AS last FROM issued WHERE ca_id = ?').get(id) as { last: number | null };
    return row.last ?? undefined;
  }

  // --- issued audit log ------------------------------------------------------------------------

  recordIssued(record: IssuedRecord): void {
    this.insertIssuedStatement.run(record.serial, record.spiffeId, record.caId, record.kind, record.requester, record.notBefore, record.notAfter, record.issuedAt);
  }

  issuedBySerial(serial: string): IssuedRecord | undefined {
    const row = this.db.prepare('SELECT * FROM issued WHERE serial = ?').get(serial) as IssuedRow | undefined;
    return row === undefined ? undefined : issuedFromRow(row);
  }

  /** Newest first. */
  issued(options: { limit?: number; spiffeId?: string } = {}): IssuedRecord[] {
    const limit = options.limit ?? -1;
    const rows = (
      options.spiffeId === undefined
        ? this.db.prepare('SELECT * FROM issued ORDER BY issued_at DESC, rowid DESC LIMIT ?').all(limit)
        : this.db.prepare('SELECT * FROM issued WHERE spiffe_id = ? ORDER BY issued_at DESC, rowid DESC LIMIT ?').all(options.spiffeId, limit)
    ) as IssuedRow[];
    return rows.map(issuedFromRow);
  }

  // --- deny-list -------------------------------------------------------------------------------

  insertDenied(record: DeniedRecord): void {
    this.changed(() =>
      this.db
        .prepare('INSERT INTO denied (serial, reason, denied_at, not_after) VALUES (?, ?, ?, ?) ON CONFLICT (serial) DO UPDATE SET reason = excluded.reason')
        .run(record.serial, record.reason, record.deniedAt, record.notAfter),
    );
  }

  denied(): DeniedRecord[] {
    return (this.db.prepare('SELECT serial, reason, denied_at, not_after FROM denied ORDER BY denied_at, serial').all() as DeniedRow[]).map((r) => ({
      serial: r.serial,
      reason: r.reason,
      deniedAt: r.denied_at,
      notAfter: r.not_after,
    }));
  }

  /** Drops deny-list entries whose SVID has expired; returns their serials. */
  pruneDenied(now: number): string[] {
    return this.db.transaction(() => {
      const rows = this.db.prepare('DELETE FROM denied WHERE not_after < ? RETURNING serial').all(now) as { serial: string }[];
      if (rows.length > 0) this.bumpStateVersionStatement.run();
      return rows.map((r) => r.serial);
    })();
  }

  // --- join tokens -----------------------------------------------------------------------------

  insertJoinToken(hash: string, node: string, createdAt: number, expiresAt: number): void {
    this.db.prepare('INSERT INTO join_tokens (hash, node, created_at, expires_at) VALUES (?, ?, ?, ?)').run(hash, node, createdAt, expiresAt);
  }

  joinToken(hash: string): JoinTokenRecord | undefined {
    const row = this.db.prepare('SELECT node, expires_at, used_at FROM join_tokens WHERE hash = ?').get(hash) as { node: string; expires_at: number; used_at: number | null } | undefined;
    return row === undefined ? undefined : { node: row.node, expiresAt: row.expires_at, usedAt: row.used_at };
  }

  /** Marks an unused token used; false when it was already used (single use even under races). */
  useJoinToken(hash: string, now: number): boolean {
    return this.db.prepare('UPDATE join_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL').run(now, hash).changes === 1;
  }

  /** Drops tokens that expired at or before `now`, used or not. */
  pruneJoinTokens(now: number): number {
    return this.db.prepare('DELETE FROM join_tokens WHERE expires_at <= ?').run(now).changes;
  }

  // --- refusals --------------------------------------------------------------------------------

  /** Records a refusal and drops all but the newest `keep` (the table must not grow without bound). */
  recordRefusal(refusal: Omit<RefusalRecord, 'id'>, keep: number = MAX_REFUSALS): void {
    this.db.transaction(() => {
      this.insertRefusalStatement.run(refusal.at, refusal.kind, refusal.requester, refusal.detail);
      this.trimRefusalsStatement.run(keep);
    })();
  }

  refusals(options: { limit?: number } = {}): RefusalRecord[] {
    return this.db.prepare('SELECT id, at, kind, requester, detail FROM refusals ORDER BY id DESC LIMIT ?').all(options.limit ?? -1) as RefusalRecord[];
  }
}

interface IssuedRow {
  serial: string;
  spiffe_id: string;
  ca_id: number;
  kind: IssuedKind;
  requester: string;
  not_before: number;
  not_after: number;
  issued_at: number;
}

interface DeniedRow {
  serial: string;
  reason: string;
  denied_at: number;
  not_after: number;
}

function issuedFromRow(row: IssuedRow): IssuedRecord {
  return {
    serial: row.serial,
    spiffeId: row.spiffe_id,
    caId: row.ca_id,
    kind: row.kind,
    requester: row.requester,
    notBefore: row.not_before,
    notAfter: row.not_after,
    issuedAt: row.issued_at,
  };
}
