/**
 * Typed errors: each says what went wrong and what to do about it. `status` is the HTTP status
 * the server answered (0 when the error was found before anything was sent); `code` is the
 * server's domain code (`invalid`, `unauthorized`, `ended`, …) when it gave one.
 */
export class DurableSessionsError extends Error {
  constructor(message: string, readonly status: number, readonly code?: string, readonly sessionId?: string) {
    super(message)
    this.name = new.target.name
  }
}

/** 401: the agent token (or server token) is not valid for this session. */
export class UnauthorizedError extends DurableSessionsError {}

/** 403: the credential is valid but may not do this (e.g. an agent id the session did not register). */
export class ForbiddenError extends DurableSessionsError {}

/** 404: no such session (never created, deleted, or expired after its retention period). */
export class SessionNotFoundError extends DurableSessionsError {}

/**
 * 409: the session has ended (`code: 'ended'`), a decision answered an approval that is no longer
 * pending, or an Idempotency-Key was reused for a different request.
 */
export class ConflictError extends DurableSessionsError {}

/** 429 that outlasted the retries of a one-off call. Queued writes never see it: they wait and retry. */
export class RateLimitedError extends DurableSessionsError {}

export interface ValidationIssue {
  /** Where the problem is, e.g. `data.status` or `[3].data.text`. */
  path: string
  message: string
}

/** 400, 413 or 415, or an event refused before it was sent: `issues` name each field. */
export class ValidationError extends DurableSessionsError {
  constructor(message: string, readonly issues: ValidationIssue[], status = 0, code = 'invalid', sessionId?: string) {
    super(message, status, code, sessionId)
  }
}

/** The session was closed (by this handle, the server, or another holder of the agent token). */
export class SessionClosedError extends DurableSessionsError {}

/** `requestApproval` saw no decision within `timeoutMs`. The request stays open in the viewer. */
export class ApprovalTimeoutError extends DurableSessionsError {
  constructor(message: string, readonly requestId: string, sessionId?: string) {
    super(message, 0, 'timeout', sessionId)
  }
}

/** No answer from the server (connection refused, reset, DNS). Queued writes retry these forever. */
export class NetworkError extends DurableSessionsError {}
