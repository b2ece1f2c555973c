import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRootCa, type CertificateAuthority } from './ca/ca.js';
import { rotationTime } from './ca/rotation.js';
import { signSvid } from './ca/sign.js';
import { IdentityError } from './errors.js';
import { DEFAULT_RETRY, MIN_ROTATION_INTERVAL_MS, StaticX509Source, SvidRotator, timerScheduler, type RotatorEvent, type Scheduler } from './source.js';
import { TrustDomain, workloadId } from './spiffe-id.js';
import type { X509Svid } from './svid/x509-svid.js';
import { createCsr, parseCsr } from './x509/csr.js';

const T0 = Date.UTC(2030, 0, 1);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const td = TrustDomain.parse('example.org');
const appId = workloadId(td, 'default', 'app');

/** Timers fire only when the test says so; `fireDue` runs every timer whose time has come. */
class ManualScheduler implements Scheduler {
  timers: { at: number; fn: () => void; live: boolean }[] = [];
  setTimer(at: number, fn: () => void): () => void {
    const timer = { at, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }
  pending(): number[] {
    return this.timers.filter((t) => t.live).map((t) => t.at);
  }
  fireDue(now: number): number {
    const due = this.timers.filter((t) => t.live && t.at <= now);
    for (const t of due) {
      t.live = false;
      t.fn();
    }
    return due.length;
  }
}

interface Harness {
  clock: { t: number; now(): number };
  scheduler: ManualScheduler;
  ca: CertificateAuthority;
  csrs: Buffer[];
  /** Set to make the next fetches fail. */
  failWith: Error | undefined;
  serial: bigint;
  fetch(csr: Buffer): Promise<readonly Uint8Array[]>;
}

function harness(): Harness {
  const clock = { t: T0, now(): number { return this.t; } };
  const ca = createRootCa({ trustDomain: td, now: T0 - HOUR, ttlMs: 1000 * HOUR });
  const h: Harness = {
    clock,
    scheduler: new ManualScheduler(),
    ca,
    csrs: [],
    failWith: undefined,
    serial: 1n,
    async fetch(csr) {
      h.csrs.push(csr);
      if (h.failWith) throw h.failWith;
      return signSvid({ ca, csrDer: csr, id: appId, ttlMs: HOUR, now: clock.now(), serial: h.serial++ }).chain;
    },
  };
  return h;
}

function rotator(h: Harness, extra: Partial<ConstructorParameters<typeof SvidRotator>[0]> = {}): SvidRotator {
  return new SvidRotator({ fetch: (csr) => h.fetch(csr), clock: h.clock, scheduler: h.scheduler, random: () => 0, ...extra });
}

/**
 * Fires the due renewal timer and awaits that renewal's own promise: `rotateNow()` joins a renewal
 * under way, and the one fetch shows it joined rather than started another. Settles after the
 * rotator has finished with the attempt, however many microtasks that takes.
 */
async function fireRenewal(h: Harness, r: SvidRotator): Promise<void> {
  const fetches = h.csrs.length;
  assert.equal(h.scheduler.fireDue(h.clock.t), 1);
  const renewal = r.rotateNow();
  assert.equal(h.csrs.length, fetches + 1, 'the timer started exactly one renewal');
  await renewal.catch(() => undefined);
}

describe('SvidRotator', () => {
  it('fetches an SVID for a CSR carrying the expected ID and schedules renewal at half-life', async () => {
    const h = harness();
    const r = rotator(h, { id: appId });
    assert.throws(() => r.getX509Svid(), { code: 'PODGATE_E_SOURCE_NOT_READY' });
    const svid = await r.start();
    assert.equal(svid.id.toString(), appId.toString());
    assert.equal(r.getX509Svid(), svid);
    assert.deepEqual(parseCsr(h.csrs[0]!).uris, [appId.toString()]);
    const leaf = svid.certificates[0]!;
    const half = leaf.notBefore.getTime() + (leaf.notAfter.getTime() - leaf.notBefore.getTime()) / 2;
    assert.deepEqual(h.scheduler.pending(), [half]);
    assert.equal(r.nextAttempt?.getTime(), half);
  });

  it('applies jitter through the injected random source, never later than half-life', async () => {
    for (const random of [0, 0.25, 0.999]) {
      const h = harness();
      const r = rotator(h, { random: () => random });
      const leaf = (await r.start()).certificates[0]!;
      const expected = rotationTime({ notBefore: leaf.notBefore, notAfter: leaf.notAfter, random: () => random }).getTime();
      assert.deepEqual(h.scheduler.pending(), [expected], `random ${random}`);
      assert.ok(expected <= (leaf.notBefore.getTime() + leaf.notAfter.getTime()) / 2);
    }
  });

  it('renews when the timer fires: new key, new SVID, listeners notified, next renewal scheduled', async () => {
    const h = harness();
    const r = rotator(h);
    const first = await r.start();
    const seen: X509Svid[] = [];
    r.onChange((svid) => seen.push(svid));
    h.clock.t = h.scheduler.pending()[0]!;
    await fireRenewal(h, r);
    assert.equal(seen.length, 1);
    const second = r.getX509Svid();
    assert.equal(seen[0], second);
    assert.notEqual(second.certificates[0]!.serial, first.certificates[0]!.serial);
    assert.ok(!second.privateKey.equals(first.privateKey), 'each renewal uses a fresh key');
    assert.equal(h.scheduler.pending().length, 1);
    assert.ok(h.scheduler.pending()[0]! > h.clock.t);
  });

  it('the ID learned from the first SVID is requested on renewal when none was given', async () => {
    const h = harness();
    const r = rotator(h);
    await r.start();
    assert.deepEqual(parseCsr(h.csrs[0]!).uris, []);
    await r.rotateNow();
    assert.deepEqual(parseCsr(h.csrs[1]!).uris, [appId.toString()]);
  });

  it('retries with exponential backoff while serving the old SVID, then recovers', async () => {
    const h = harness();
    const r = rotator(h, { retry: { initialMs: 1000, maxMs: 8000 } });
    const first = await r.start();
    const events: RotatorEvent[] = [];
    r.onEvent((e) => events.push(e));
    h.failWith = new IdentityError('PODGATE_E_TEST', 'authority unreachable');
    h.clock.t = h.scheduler.pending()[0]!;
    // random() = 0 takes half of each backoff step: 500, 1000, 2000, 4000, 4000 (capped at 8000/2).
    const expectedDelays = [500, 1000, 2000, 4000, 4000];
    for (const [i, delay] of expectedDelays.entries()) {
      await fireRenewal(h, r);
      const failure = events.at(-1);
      assert.equal(failure?.type, 'fetch-failed');
      if (failure?.type !== 'fetch-failed') return;
      assert.equal(failure.attempt, i + 1);
      assert.equal(failure.retryAt.getTime(), h.clock.t + delay);
      assert.equal(failure.svidExpired, false);
      assert.equal(r.getX509Svid(), first, 'old SVID served while retrying');
      h.clock.t += delay;
    }
    h.failWith = undefined;
    await fireRenewal(h, r);
    assert.equal(events.at(-1)?.type, 'rotated');
    assert.notEqual(r.getX509Svid(), first);
  });

  it('reports an expired SVID while the authority stays unreachable', async () => {
    const h = harness();
    const r = rotator(h);
    await r.start();
    const events: RotatorEvent[] = [];
    r.onEvent((e) => events.push(e));
    h.failWith = new Error('down');
    h.clock.t = T0 + 2 * HOUR;
    await assert.rejects(r.rotateNow(), /down/);
    const last = events.at(-1);
    assert.ok(last?.type === 'fetch-failed' && last.svidExpired);
    assert.equal(h.scheduler.pending().length, 1, 'still retrying');
  });

  it('a failed first fetch rejects start() and schedules nothing', async () => {
    const h = harness();
    h.failWith = new IdentityError('PODGATE_E_API_FORBIDDEN', 'pod not on this node');
    const r = rotator(h);
    await assert.rejects(r.start(), { code: 'PODGATE_E_API_FORBIDDEN' });
    assert.deepEqual(h.scheduler.pending(), []);
    assert.throws(() => r.getX509Svid(), { code: 'PODGATE_E_SOURCE_NOT_READY' });
  });

  const refusals: { name: string; setup: (h: Harness) => Partial<ConstructorParameters<typeof SvidRotator>[0]> }[] = [
    {
      name: 'an SVID for another identity',
      setup: (h) => ({
        id: appId,
        // A misbehaving authority that ignores the requested ID.
        fetch: async (csr) => signSvid({ ca: h.ca, csrDer: { ...parseCsr(csr), uris: [] }, id: workloadId(td, 'default', 'other'), ttlMs: HOUR, now: h.clock.now(), serial: 3n }).chain,
      }),
    },
    {
      name: 'an SVID for another key',
      setup: (h) => ({
        fetch: async () => {
          const { privateKey } = await import('node:crypto').then((c) => c.generateKeyPairSync('ec', { namedCurve: 'P-256' }));
          return signSvid({ ca: h.ca, csrDer: createCsr(privateKey, appId), id: appId, ttlMs: HOUR, now: h.clock.now(), serial: 9n }).chain;
        },
      }),
    },
    { name: 'a CA certificate instead of a leaf', setup: (h) => ({ fetch: async () => [h.ca.certificate.der] }) },
    { name: 'garbage bytes', setup: () => ({ fetch: async () => [Buffer.from('not a certificate')] }) },
    { name: 'an empty chain', setup: () => ({ fetch: async () => [] }) },
    {
      name: 'a chain the check hook refuses',
      setup: () => ({
        check: () => {
          throw new IdentityError('PODGATE_E_SVID_UNTRUSTED', 'not in bundle');
        },
      }),
    },
  ];
  for (const { name, setup } of refusals) {
    it(`refuses ${name}`, async () => {
      const h = harness();
      const r = rotator(h, setup(h));
      await assert.rejects(r.start(), (e: unknown) => e instanceof IdentityError && /PODGATE_E_SOURCE_BAD_SVID|PODGATE_E_SVID_UNTRUSTED/.test(e.code));
      assert.throws(() => r.getX509Svid(), { code: 'PODGATE_E_SOURCE_NOT_READY' });
    });
  }

  it('concurrent rotateNow calls share one fetch', async () => {
    const h = harness();
    const r = rotator(h);
    const [a, b] = await Promise.all([r.rotateNow(), r.rotateNow()]);
    assert.equal(a, b);
    assert.equal(h.csrs.length, 1);
  });

  it('close cancels the timer, drops an in-flight result and refuses reads', async () => {
    const h = harness();
    const r = rotator(h);
    await r.start();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const inner = h.fetch.bind(h);
    h.fetch = async (csr) => {
      await gate;
      return inner(csr);
    };
    const seen: X509Svid[] = [];
    r.onChange((svid) => seen.push(svid));
    const pending = r.rotateNow();
    r.close();
    release();
    await assert.rejects(pending, { code: 'PODGATE_E_SOURCE_CLOSED' });
    assert.deepEqual(h.scheduler.pending(), []);
    assert.deepEqual(seen, []);
    assert.throws(() => r.getX509Svid(), { code: 'PODGATE_E_SOURCE_CLOSED' });
  });

  it('unsubscribed listeners hear nothing; a throwing listener does not stop the others', async () => {
    const h = harness();
    const r = rotator(h);
    await r.start();
    const events: RotatorEvent[] = [];
    r.onEvent((e) => events.push(e));
    let gone = 0;
    let kept = 0;
    r.onChange(() => {
      throw new Error('listener bug');
    });
    const off = r.onChange(() => gone++);
    r.onChange(() => kept++);
    off();
    await r.rotateNow();
    assert.equal(gone, 0);
    assert.equal(kept, 1);
    assert.ok(events.some((e) => e.type === 'listener-failed'));
  });

  it('never schedules renewal sooner than the minimum interval for a tiny lifetime', async () => {
    const h = harness();
    const r = rotator(h, { fetch: async (csr) => signSvid({ ca: h.ca, csrDer: csr, id: appId, ttlMs: 1000, now: h.clock.now() - 60_000, serial: 5n }).chain });
    await r.start();
    assert.deepEqual(h.scheduler.pending(), [h.clock.t + MIN_ROTATION_INTERVAL_MS]);
    assert.ok(DEFAULT_RETRY.initialMs > 0);
  });
});

describe('timerScheduler', () => {
  it('runs a due timer and never a cancelled one (timers of equal delay fire in order)', async () => {
    const scheduler = timerScheduler({ now: () => 1_000 });
    const fired: string[] = [];
    const cancel = scheduler.setTimer(500, () => fired.push('cancelled'));
    cancel();
    cancel();
    await new Promise<void>((resolve) => scheduler.setTimer(1_000, () => {
        fired.push('due');
        resolve();
      }),
    );
    assert.deepEqual(fired, ['due']);
  });
});

describe('StaticX509Source', () => {
  it('serves its SVID and notifies on update', async () => {
    const h = harness();
    const first = await rotator(h).start();
    const second = await rotator(h).start();
    const source = new StaticX509Source(first);
    const seen: X509Svid[] = [];
    const off = source.onChange((svid) => seen.push(svid));
    source.update(second);
    off();
    source.update(first);
    assert.deepEqual(seen, [second]);
    assert.equal(source.getX509Svid(), first);
  });
});
