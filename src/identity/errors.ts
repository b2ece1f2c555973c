/**
 * Every identity failure carries a stable `PODGATE_E_*` code (callers branch on it, not on the
 * message) and, where there is one, the next step for the operator.
 */
export class IdentityError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'IdentityError';
  }
}
