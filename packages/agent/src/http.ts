import { IDEMPOTENCY_KEY_HEADER, isRetryableStatus } from '../../../shared/sessions/api'
import {
  ConflictError, DurableSessionsError, ForbiddenError, NetworkError, RateLimitedError, SessionClosedError,
  SessionNotFoundError, UnauthorizedError, ValidationError,
} from './errors'
import type { ValidationIssue } from './errors'

/** Where the session API lives and how to reach it. */
export interface Transport {
  /** Origin of the Durable Sessions server, without a trailing slash. */
  server: string
  fetch: typeof globalThis.fetch
}

export interface ApiCall {
  method: 'GET' | 'POST'
  /** Path below the server, e.g. `/api/sessions/<id>/events`. */
  path: string
  body?: unknown
  /** A body already serialised as JSON (sent as is, so a retry sends the same bytes). */
  rawBody?: string
  /** A credential: the agent token or the server token. */
  bearer?: string
  idempotencyKey?: string
  /** More headers, e.g. a collaborator's key. */
  headers?: Record<string, string>
  signal?: AbortSignal
  /** Named in error messages. */
  sessionId?: string
  /** What was being done, for error messages: "Publishing events". */
  action: string
}

/** The answer to a refused call, with the seconds the server asked to wait (429, 503). */
export interface ApiFailure extends DurableSessionsError {
  retryAfterMs?: number
}

export function normalizeServer(server: string): string {
  const url = URL.canParse(server) ? new URL(server) : undefined
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:')
    throw new ValidationError(`server must be an absolute http(s) URL such as http://localhost:3000, not ${JSON.stringify(server)}`, [{ path: 'server', message: 'not an absolute http(s) URL' }])
  return url.href.replace(/\/+$/, '')
}

export async function callApi<T>(transport: Transport, call: ApiCall): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...call.headers }
  const body = call.rawBody ?? (call.body === undefined ? undefined : JSON.stringify(call.body))
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (call.bearer) headers.authorization = `Bearer ${call.bearer}`
  if (call.idempotencyKey) headers[IDEMPOTENCY_KEY_HEADER] = call.idempotencyKey
  let response: Response
  try {
    response = await transport.fetch(`${transport.server}${call.path}`, {
      method: call.method,
      headers,
      body,
      signal: call.signal,
    })
  }
  catch (error) {
    if (call.signal?.aborted) throw call.signal.reason
    throw new NetworkError(`${call.action}: no answer from ${transport.server} (${describe(error)})`, 0, 'network', call.sessionId)
  }
  const text = await response.text().catch(() => '')
  const answer = parseJson(text)
  if (!response.ok) throw apiError(response, answer, transport, call)
  return answer as T
}

/** Worth sending again: no answer, or a timeout, throttling or a server fault (isRetryableStatus). */
export function isRetryable(error: unknown): boolean {
  if (error instanceof NetworkError) return true
  return error instanceof DurableSessionsError && isRetryableStatus(error.status)
}

interface ProblemBody {
  message?: string
  data?: { code?: string, issues?: { path?: (string | number)[], message?: string }[] }
}

function apiError(response: Response, body: unknown, transport: Transport, call: ApiCall): ApiFailure {
  const problem = (typeof body === 'object' && body !== null ? body : {}) as ProblemBody
  const said = problem.message || `${response.status} ${response.statusText}`.trim()
  const code = problem.data?.code
  const session = call.sessionId ? `session ${call.sessionId}` : 'this request'
  const status = response.status
  let error: ApiFailure
  switch (status) {
    case 400:
    case 413:
    case 415: {
      const issues: ValidationIssue[] = (problem.data?.issues ?? []).map(issue => ({
        path: formatPath(issue.path ?? []),
        message: issue.message ?? 'invalid',
      }))
      error = new ValidationError(`${call.action} was refused by the server (${status}): ${said}`, issues.length ? issues : [{ path: 'body', message: said }], status, code, call.sessionId)
      break
    }
    case 401:
      error = new UnauthorizedError(call.sessionId
        ? `${call.action}: the token is not valid for session ${call.sessionId} on ${transport.server} (401). Pass the agentToken that createSession returned for this session, or the server token. Server said: ${said}`
        : `${call.action}: ${transport.server} refused the token (401). Pass the server token (NUXT_DURABLE_SESSIONS_STREAMS_TOKEN) or none. Server said: ${said}`, status, code, call.sessionId)
      break
    case 403:
      error = new ForbiddenError(`${call.action} is not allowed for ${session} (403): ${said}`, status, code, call.sessionId)
      break
    case 404:
      error = new SessionNotFoundError(call.sessionId
        ? `Session ${call.sessionId} was not found on ${transport.server} (404): it was deleted, expired, or the id is wrong. Server said: ${said}`
        : `${call.action}: ${transport.server} answered 404 for ${call.path}. Is this a Durable Sessions server? Server said: ${said}`, status, code, call.sessionId)
      break
    case 409:
      error = code === 'ended'
        ? new SessionClosedError(`Session ${call.sessionId} has ended and accepts no further events (409). Start a new session.`, status, code, call.sessionId)
        : new ConflictError(`${call.action} conflicts with the state of ${session} (409): ${said}`, status, code, call.sessionId)
      break
    case 429:
      error = new RateLimitedError(`${call.action}: too many requests for ${session} (429): ${said}`, status, code, call.sessionId)
      break
    default:
      error = new DurableSessionsError(`${call.action} failed on ${transport.server} (${status}): ${said}`, status, code, call.sessionId)
  }
  const retryAfter = Number(response.headers.get('retry-after'))
  if (Number.isFinite(retryAfter) && retryAfter > 0) error.retryAfterMs = retryAfter * 1000
  return error
}

/** `['data', 'status']` → `data.status`; `[3, 'data', 'text']` → `[3].data.text`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((part, index) => typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`).join('') || 'body'
}

function parseJson(text: string): unknown {
  if (!text) return undefined
  try {
    return JSON.parse(text)
  }
  catch {
    return text
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const cause = (error as { cause?: unknown }).cause
  return cause instanceof Error && cause.message ? `${error.message}: ${cause.message}` : error.message
}
