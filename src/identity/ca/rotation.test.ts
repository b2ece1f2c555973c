import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rotationTime } from './rotation.js';

describe('rotationTime', () => {
  const notBefore = new Date('2030-01-01T00:00:00Z');
  const hour = new Date('2030-01-01T01:00:00Z');
  const cases: { name: string; notAfter: Date; random: number; want: string }[] = [
    { name: 'no jitter: half-life', notAfter: hour, random: 0, want: '2030-01-01T00:30:00.000Z' },
    { name: 'half jitter: 45% of life', notAfter: hour, random: 0.5, want: '2030-01-01T00:27:00.000Z' },
    { name: 'most jitter: just over 40% of life', notAfter: hour, random: 0.999999, want: '2030-01-01T00:24:00.000Z' },
    { name: 'random out of range is clamped', notAfter: hour, random: 7, want: '2030-01-01T00:24:00.000Z' },
    { name: 'negative random is clamped', notAfter: hour, random: -1, want: '2030-01-01T00:30:00.000Z' },
    { name: 'empty lifetime: at once', notAfter: notBefore, random: 0.3, want: '2030-01-01T00:00:00.000Z' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const at = rotationTime({ notBefore, notAfter: c.notAfter, random: () => c.random });
      // 0.999999 lands a few ms after the 40% mark; compare to the second.
      assert.equal(new Date(Math.round(at.getTime() / 1000) * 1000).toISOString(), c.want);
    });
  }

  it('is never after half-life and never before 40% of life', () => {
    for (let i = 0; i < 100; i++) {
      const at = rotationTime({ notBefore, notAfter: hour, random: () => i / 100 }).getTime() - notBefore.getTime();
      assert.ok(at <= 30 * 60_000 && at >= 24 * 60_000, String(at));
    }
  });
});
