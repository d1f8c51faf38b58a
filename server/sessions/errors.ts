/** Domain errors of the session layer; server/errors.ts maps them to HTTP in one place. */
export type SessionErrorCode =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'ended'
  | 'conflict'
  | 'idempotency_conflict'
  | 'too_large'
  | 'rate_limited'
  | 'busy'

export class SessionError extends Error {
  constructor(
    readonly code: SessionErrorCode,
    message: string,
    readonly details: { retryAfterSeconds?: number } = {},
  ) {
    super(message)
    this.name = 'SessionError'
  }
}
