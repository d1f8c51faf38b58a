import { SessionError } from './sessions/errors'
import type { SessionErrorCode } from './sessions/errors'
import { StreamError } from './streams/errors'
import type { StreamErrorCode } from './streams/errors'

/**
 * Every domain error of the server → its HTTP answer, in one place: the protocol routes
 * (streams/http.ts) and the session API (utils/api.ts) both answer through `describeError`.
 * Nothing here matches message text: errors are told apart by class and code.
 */
const STATUS: Record<StreamErrorCode | SessionErrorCode, number> = {
  bad_request: 400,
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  producer_stale_epoch: 403,
  not_found: 404,
  config_conflict: 409,
  stream_closed: 409,
  content_type_conflict: 409,
  seq_conflict: 409,
  producer_seq_gap: 409,
  ended: 409,
  conflict: 409,
  idempotency_conflict: 409,
  gone: 410,
  offset_gone: 410,
  payload_too_large: 413,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  busy: 503,
  // Only the session layer appends with ifTailAt, and it decides again; one that never got its
  // turn is the server being busy.
  tail_moved: 503,
}

export interface HttpAnswer {
  status: number
  /** The error's code, for the JSON body. */
  code: string
  message: string
  headers: Record<string, string>
}

/** SQLite failures that are the server's momentary trouble, not the client's fault. */
const UNAVAILABLE_SQLITE_CODES = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN)/
/**
 * PostgreSQL's, by SQLSTATE: connection exceptions (08), a transaction rolled back by a
 * serialization failure or deadlock (40), insufficient resources such as a full disk or too
 * many connections (53), the server shutting down or starting (57P0x), a lock not available
 * (55P03), and a read-only server (25006); and postgres.js's own for a lost connection.
 */
const UNAVAILABLE_POSTGRES_CODES = /^(08...|40001|40P01|53...|57P0[1-4]|55P03|25006|CONNECTION_(CLOSED|ENDED|DESTROYED)|CONNECT_TIMEOUT|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT)$/

/** Whether a failure is the database being momentarily unavailable (503 with Retry-After). */
export function isStorageUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && (UNAVAILABLE_SQLITE_CODES.test(code) || UNAVAILABLE_POSTGRES_CODES.test(code))
}

export function describeError(error: unknown): HttpAnswer {
  if (error instanceof StreamError)
    return { status: STATUS[error.code], code: error.code, message: error.message, headers: error.headers }
  if (error instanceof SessionError) {
    const { retryAfterSeconds } = error.details
    return { status: STATUS[error.code], code: error.code, message: error.message, headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) } }
  }
  if (isStorageUnavailable(error))
    return { status: 503, code: 'unavailable', message: 'Storage is momentarily unavailable; retry shortly', headers: { 'retry-after': '1' } }
  return { status: 500, code: 'internal', message: 'Internal server error', headers: {} }
}
