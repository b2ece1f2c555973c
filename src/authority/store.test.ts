import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { IdentityError } from '../identity/errors.js';
import { AuthorityStore, checkKeyFilePermissions, hashToken, serialHex } from './store.js';

const root = mkdtempSync(join(tmpdir(), 'podgate-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): AuthorityStore => AuthorityStore.create(join(root, `s${n++}`), { trustDomain: 'example.org', now: 0 });

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof IdentityError);
    return e.code;
  }
  return 'ok';
}

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
    it(`refuses ${String(bad) || 'empty'}`, () => assert.equal(code(() => serialHex(bad)), 'PODGATE_E_SERIAL'));
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
      assert.equal(code(() => checkKeyFilePermissions(path)), c.want);
    });
  }
  it('missing file → PODGATE_E_CA_KEY_MISSING', () => {
    assert.equal(code(() => checkKeyFilePermissions(join(root, 'nope.pem'))), 'PODGATE_E_CA_KEY_MISSING');
  });
});
