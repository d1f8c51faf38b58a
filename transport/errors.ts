import { isRetryableStatus } from '#layers/durable-sessions/shared/sessions/api'

/**
 * The client's one error type: every failed call of the session API and every failure of a live
 * stream. `status` is the HTTP status of the answer, or 0 when there was none (network down, an
 * abort, a timeout); `code` is the server's domain code (`data.code`) when it sent one.
 */
export class SessionApiError extends Error {
  constructor(message: string, readonly status: number, readonly code?: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'SessionApiError'
  }

  /** Worth asking again: no answer, or a timeout, throttling or a server fault (isRetryableStatus). */
  get retryable(): boolean {
    return this.status === 0 || isRetryableStatus(this.status)
  }
}

/** Anything thrown, as an Error. */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

/**
 * Any failure as a SessionApiError: the stream library's errors keep their HTTP status, anything
 * without one counts as no answer (status 0). The original is kept as `cause`.
 */
export function toSessionApiError(error: unknown): SessionApiError {
  if (error instanceof SessionApiError) return error
  const { status, code } = (error ?? {}) as { status?: unknown, code?: unknown }
  return new SessionApiError(toError(error).message, typeof status === 'number' && status > 0 ? status : 0, typeof code === 'string' ? code : undefined, { cause: error })
}
