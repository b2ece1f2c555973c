/**
 * When to renew an X509-SVID: at half of its lifetime, pulled earlier by up to a tenth of the
 * lifetime of random jitter so a fleet issued together does not renew in the same instant. It is
 * never later than half-life, so an SVID always has at least half its life left when renewed.
 */

/** Fraction of the lifetime at which renewal is due without jitter. */
export const ROTATION_FRACTION = 0.5;
/** Largest jitter, as a fraction of the lifetime, subtracted from the half-life point. */
export const ROTATION_JITTER_FRACTION = 0.1;

export interface RotationTimeOptions {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Uniform in [0, 1); `Math.random` in production, a fixed value in tests. */
  readonly random: () => number;
}

export function rotationTime(options: RotationTimeOptions): Date {
  const start = options.notBefore.getTime();
  const lifetime = Math.max(0, options.notAfter.getTime() - start);
  const r = Math.min(Math.max(options.random(), 0), 1);
  return new Date(start + Math.floor(lifetime * (ROTATION_FRACTION - ROTATION_JITTER_FRACTION * r)));
}

