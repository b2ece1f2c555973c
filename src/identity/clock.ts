/** Time is injected everywhere identity decisions depend on it, so expiry and rotation are tested without sleeping. */

/** Milliseconds since the epoch. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
