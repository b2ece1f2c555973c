import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { AuthorityStore, checkKeyFilePermissions, DATABASE_FILE, hashToken, serialHex } from './store.js';
import { thrownCode } from '../identity/testing.js';

const root = mkdtempSync(join(tmpdir(), 'podgate-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): AuthorityStore => AuthorityStore.create(join(root, `s${n++}`), { trustDomain: 'example.org', now: 0 });

describe('serialHex', () => {
  const cases: { input: bigint | string; want: string }[] = [
    { input: 1n, want: '01' },
    { input: 0x1234n, want: '1234' },
    { input: 'ABCDEF', want: 'abcdef' },
    { input: '0abc', want: '0abc' },
    { input: '00:0a:bc', want: '0abc' },
    { input: 'de:ad:be:ef', want: 'deadbeef' },
  ];
  for (const c of cases) it(`${String(c.input)} → ${c.want}`, () => assert.equal(serialHex(c.input), c.want));
  for (const bad of ['', 'xyz', '0', '-5', 0n, -1n]) {
    it(`refuses ${String(bad) || 'empty'}`, () => assert.equal(thrownCode(() => serialHex(bad)), 'PODGATE_E_SERIAL'));
  }
});

describe('AuthorityStore serials', () => {
  it('are 16 octets, positive, counting up, with a per-authority random prefix', () => {
    const a = fresh();
    const b = fresh();
    try {
      const fromA = a.transaction(() => [a.nextSerial(), a.nextSerial()]);
      const fromB = b.transaction(() => b.nextSerial());
      for (const s of [...fromA, fromB]) {
        assert.equal(s.toString(16).length, 32);
        assert.ok(s > 0n && s < 1n << 127n);
      }
      assert.equal(fromA[1]! - fromA[0]!, 1n);
      assert.notEqual(fromA[0]! >> 64n, fromB >> 64n);
      assert.equal(a.serialCounter(), 2n);
    } finally {
      a.close();
      b.close();
    }
  });

  it('a rolled-back transaction does not consume a serial', () => {
    const s = fresh();
    try {
      assert.throws(() => s.transaction(() => { s.nextSerial(); throw new Error('signing failed'); }), /signing failed/);
      assert.equal(s.serialCounter(), 0n);
    } finally {
      s.close();
    }
  });
});

describe('AuthorityStore join tokens', () => {
  it('are stored by hash and usable once', () => {
    const s = fresh();
    try {
      const hash = hashToken('tok');
      s.insertJoinToken(hash, 'node-a', 0, 1000);
      assert.deepEqual(s.joinToken(hash), { node: 'node-a', expiresAt: 1000, usedAt: null });
      assert.equal(s.joinToken('tok'), undefined);
      assert.equal(s.useJoinToken(hash, 5), true);
      assert.equal(s.useJoinToken(hash, 6), false);
      assert.equal(s.joinToken(hash)?.usedAt, 5);
      assert.equal(s.pruneJoinTokens(1000), 1);
    } finally {
      s.close();
    }
  });
});

describe('checkKeyFilePermissions', () => {
  const cases: { mode: number; want: string }[] = [
    { mode: 0o600, want: 'ok' },
    { mode: 0o400, want: 'ok' },
    { mode: 0o700, want: 'ok' },
    { mode: 0o610, want: 'PODGATE_E_CA_KEY_PERMISSIONS' },
    { mode: 0o602, want: 'PODGATE_E_CA_KEY_PERMISSIONS' },
    { mode: 0o644, want: 'PODGATE_E_CA_KEY_PERMISSIONS' },
  ];
  for (const c of cases) {
    it(`mode ${c.mode.toString(8)} → ${c.want}`, () => {
      const path = join(root, `k${c.mode.toString(8)}.pem`);
      writeFileSync(path, 'x');
      chmodSync(path, c.mode);
      assert.equal(thrownCode(() => checkKeyFilePermissions(path)), c.want);
    });
  }
  it('missing file → PODGATE_E_CA_KEY_MISSING', () => {
    assert.equal(thrownCode(() => checkKeyFilePermissions(join(root, 'nope.pem'))), 'PODGATE_E_CA_KEY_MISSING');
  });
});

describe('AuthorityStore refusals', () => {
  it('keep only the newest rows', () => {
    const s = fresh();
    try {
      for (let i = 1; i <= 5; i++) s.recordRefusal({ at: i, kind: 'issue', requester: 'spiffe://example.org/podgate/agent/n', detail: `refusal ${i}` }, 3);
      assert.deepEqual(s.refusals().map((r) => r.detail), ['refusal 5', 'refusal 4', 'refusal 3']);
    } finally {
      s.close();
    }
  });
});

describe('AuthorityStore state version', () => {
  const ca = { state: 'prepared', origin: 'podgate', certificatesPem: 'c', rootsPem: 'r', keyFile: null, notBefore: 0, notAfter: 10, createdAt: 0, activatedAt: null, retiredAt: null } as const;
  const issued = { serial: '0a', spiffeId: 'spiffe://example.org/a', caId: 1, kind: 'direct', requester: 'local', notBefore: 0, notAfter: 10, issuedAt: 0 } as const;
  // Each row: a change, and whether an open Authority must reload after it.
  const cases: { name: string; change: (s: AuthorityStore) => void; bumps: boolean }[] = [
    { name: 'insert a CA', change: (s) => s.insertCa(ca), bumps: true },
    { name: 'activate a CA', change: (s) => s.activateCa(s.insertCa(ca), 1), bumps: true },
    { name: 'retire a CA', change: (s) => s.retireCa(s.insertCa(ca), 1), bumps: true },
    { name: 'delete a CA', change: (s) => s.deleteCa(s.insertCa(ca)), bumps: true },
    { name: 'deny a serial', change: (s) => s.insertDenied({ serial: '0a', reason: 'x', deniedAt: 0, notAfter: 10 }), bumps: true },
    { name: 'prune an expired denial', change: (s) => { s.insertDenied({ serial: '0a', reason: 'x', deniedAt: 0, notAfter: 10 }); s.pruneDenied(11); }, bumps: true },
    { name: 'prune when nothing expired', change: (s) => s.pruneDenied(11), bumps: false },
    { name: 'record an issued SVID', change: (s) => s.recordIssued(issued), bumps: false },
    { name: 'record a refusal', change: (s) => s.recordRefusal({ at: 0, kind: 'attestation', requester: 'join-token:n', detail: 'x' }), bumps: false },
    { name: 'insert a join token', change: (s) => s.insertJoinToken('h', 'n', 0, 10), bumps: false },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.bumps ? 'bumps' : 'keeps'} the version`, () => {
      const s = fresh();
      try {
        const before = s.stateVersion();
        c.change(s);
        assert.equal(s.stateVersion() > before, c.bumps);
      } finally {
        s.close();
      }
    });
  }

  it('a rolled-back change does not bump it', () => {
    const s = fresh();
    try {
      assert.throws(() => s.transaction(() => { s.insertCa(ca); throw new Error('signing failed'); }), /signing failed/);
      assert.equal(s.stateVersion(), 0);
      assert.deepEqual(s.cas(), []);
    } finally {
      s.close();
    }
  });
});

describe('AuthorityStore key file names', () => {
  it('writes keys into stateDir/ca and stores only the file name', () => {
    const s = fresh();
    try {
      const name = s.writeKeyFile('ca-01-0', 'KEY');
      assert.equal(name, 'ca-01-0.key.pem');
      assert.equal(s.keyFilePath(name), join(s.stateDir, 'ca', name));
      assert.equal(s.readKeyFile(name), 'KEY');
      assert.equal(thrownCode(() => s.writeKeyFile('../escape', 'KEY')), 'PODGATE_E_AUTHORITY_STATE');
    } finally {
      s.close();
    }
  });
});

describe('AuthorityStore schema 1', () => {
  it('is migrated: CA origin (an intermediate is the operator\'s) and the state version', () => {
    const dir = join(root, `s${n++}`);
    AuthorityStore.create(dir, { trustDomain: 'example.org', now: 0 }).close();
    const db = new Database(join(dir, DATABASE_FILE));
    db.exec("ALTER TABLE cas DROP COLUMN origin; DELETE FROM meta WHERE key = 'state_version'; PRAGMA user_version = 1");
    const insert = db.prepare("INSERT INTO cas (state, certificates_pem, roots_pem, key_file, not_before, not_after, created_at) VALUES ('retired', ?, ?, NULL, 0, 10, 0)");
    insert.run('root', 'root');
    insert.run('intermediate', 'root');
    db.close();
    const s = AuthorityStore.open(dir);
    try {
      assert.deepEqual(s.cas().map((c) => c.origin), ['podgate', 'operator']);
      assert.equal(s.stateVersion(), 0);
    } finally {
      s.close();
    }
  });
});
