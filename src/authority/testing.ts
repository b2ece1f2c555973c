/** Test helpers for authority tests (the openssl scratch directory is in identity/openssl-testing.ts). */

/** A clock tests move by hand. */
export class ManualClock {
  constructor(private ms: number) {}

  now(): number {
    return this.ms;
  }

  advance(ms: number): void {
    this.ms += ms;
  }

  set(ms: number): void {
    this.ms = ms;
  }
}
