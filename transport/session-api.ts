import { isClient } from '@vueuse/core'
import { IDEMPOTENCY_KEY_HEADER } from '#layers/durable-sessions/shared/sessions/api'
import type {
  CreateSessionBody, CreatedSession, PresenceBody, PresenceWriteResult, ServerAgents, SessionDetails, SessionList, SessionLookup, SessionSnapshot, WriteResult,
} from '#layers/durable-sessions/shared/sessions/api'
import type { SessionEventInput } from '#layers/durable-sessions/shared/sessions/channels'
import { AGENTS_API_PATH, SESSIONS_API_PATH, SESSIONS_LOOKUP_PATH, sessionApiPath } from '#layers/durable-sessions/shared/sessions/paths'
import type { HistoryList, HistoryPage } from '#layers/durable-sessions/shared/sessions/window'
import { SessionApiError, toError } from './errors'

/** Where the session API lives and how to reach it; shared by every client composable. */
export interface SessionClientOptions {
  /**
   * Origin of the app server. Default: the page's origin (required outside a browser). `''` keeps
   * URLs relative, for a `fetch` that resolves them itself (the server's own, during SSR).
   */
  baseUrl?: string
  /** fetch implementation. Default: globalThis.fetch, looked up per request. */
  fetch?: typeof fetch
}

export function resolveBaseUrl(options: SessionClientOptions = {}): string {
  if (options.baseUrl !== undefined) return options.baseUrl.replace(/\/+$/, '')
  if (isClient) return window.location.origin
  throw new Error('The session client needs options.baseUrl outside a browser')
}

interface ApiRequest {
  method?: string
  body?: unknown
  headers?: Record<string, string>
  signal?: AbortSignal
}

async function request<T>(url: string, init: ApiRequest, options: SessionClientOptions): Promise<T> {
  const fetchImpl = options.fetch ?? globalThis.fetch
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers }
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  let response: Response
  try {
    response = await fetchImpl(url, {
      method: init.method ?? 'GET',
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: init.signal,
    })
  }
  catch (error) {
    if (init.signal?.aborted) throw new SessionApiError('The request was aborted', 0, 'aborted')
    throw new SessionApiError(`No answer from ${url}: ${toError(error).message}`, 0, undefined, { cause: error })
  }
  const text = await response.text()
  let body: unknown
  try {
    body = text ? JSON.parse(text) : undefined
  }
  catch {
    body = undefined
  }
  if (!response.ok) {
    // h3 errors carry `message` and our domain `data.code`.
    const problem = body as { message?: string, data?: { code?: string } } | undefined
    throw new SessionApiError(problem?.message || `${response.status} ${response.statusText}`, response.status, problem?.data?.code)
  }
  return body as T
}

/**
 * The session as the viewer first shows it: the newest window of each list and where their
 * history continues (`window: false`: the whole state, which grows with the session).
 */
export function fetchSnapshot(sessionId: string, options: SessionClientOptions = {}, signal?: AbortSignal, { window = true } = {}): Promise<SessionSnapshot> {
  return request(`${resolveBaseUrl(options)}${sessionApiPath(sessionId, 'snapshot')}${window ? '?window=1' : ''}`, { signal }, options)
}

/** A page of a list's earlier history: up to `limit` items before the one keyed `before`. */
export function fetchHistory(sessionId: string, list: HistoryList, before: string, limit: number, options: SessionClientOptions = {}, signal?: AbortSignal): Promise<HistoryPage> {
  const query = new URLSearchParams({ list, before, limit: String(limit) })
  return request(`${resolveBaseUrl(options)}${sessionApiPath(sessionId, 'history')}?${query}`, { signal }, options)
}

export function fetchDetails(sessionId: string, options: SessionClientOptions = {}, signal?: AbortSignal): Promise<SessionDetails> {
  return request(`${resolveBaseUrl(options)}${sessionApiPath(sessionId)}`, { signal }, options)
}

export interface ListSessionsQuery {
  /** Only sessions whose title contains this. */
  q?: string
  /** Page size (1–100). Default 20. */
  limit?: number
  /** `nextCursor` of the previous page. */
  cursor?: string
}

/** Public sessions (every session with the server token), newest first, a page at a time. */
export function listSessions(query: ListSessionsQuery = {}, options: SessionClientOptions = {}, signal?: AbortSignal): Promise<SessionList> {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(name, String(value))
  const search = params.size ? `?${params}` : ''
  return request(`${resolveBaseUrl(options)}${SESSIONS_API_PATH}${search}`, { signal }, options)
}

/** A new session; its agent token and collaborator key are in this answer only. */
export function createSession(body: CreateSessionBody, options: SessionClientOptions = {}): Promise<CreatedSession> {
  return request(`${resolveBaseUrl(options)}${SESSIONS_API_PATH}`, { method: 'POST', body }, options)
}

/** The agents the server can run in a session: whether the built-in AI agent is configured, and how to configure it. */
export function fetchServerAgents(options: SessionClientOptions = {}, signal?: AbortSignal): Promise<ServerAgents> {
  return request(`${resolveBaseUrl(options)}${AGENTS_API_PATH}`, { signal }, options)
}

/** Runs the scripted demo agent in the server on a session (its agent token). */
export function startDemo(sessionId: string, agentToken: string, options: SessionClientOptions = {}): Promise<unknown> {
  return request(`${resolveBaseUrl(options)}${sessionApiPath(sessionId, 'demo')}`, { method: 'POST', body: {}, headers: { authorization: `Bearer ${agentToken}` } }, options)
}

/** The sessions of these ids that exist, newest first (ids go in the body: they are secrets). */
export function lookupSessions(ids: string[], q: string | undefined, options: SessionClientOptions = {}, signal?: AbortSignal): Promise<SessionLookup> {
  return request(`${resolveBaseUrl(options)}${SESSIONS_LOOKUP_PATH}`, { method: 'POST', body: { ids, ...(q ? { q } : {}) }, signal }, options)
}

export interface WriteInit {
  idempotencyKey?: string
  headers?: Record<string, string>
  signal?: AbortSignal
}

export function postEvents(sessionId: string, events: SessionEventInput | SessionEventInput[], init: WriteInit, options: SessionClientOptions = {}): Promise<WriteResult> {
  return request(`${resolveBaseUrl(options)}${sessionApiPath(sessionId, 'events')}`, {
    method: 'POST',
    body: events,
    headers: withIdempotency(init),
    signal: init.signal,
  }, options)
}

export function postPresence(sessionId: string, body: PresenceBody, init: WriteInit, options: SessionClientOptions = {}): Promise<PresenceWriteResult> {
  return request(`${resolveBaseUrl(options)}${sessionApiPath(sessionId, 'presence')}`, {
    method: 'POST',
    body,
    headers: withIdempotency(init),
    signal: init.signal,
  }, options)
}

/**
 * Presence leave while the page is going away. A keepalive fetch outlives the page as a beacon
 * does, and unlike `sendBeacon` it carries headers: the leave needs the presence key.
 */
export function sendPresenceOnUnload(sessionId: string, body: PresenceBody, headers: Record<string, string>, options: SessionClientOptions = {}): void {
  if (!isClient) return
  const fetchImpl = options.fetch ?? globalThis.fetch
  void fetchImpl(`${resolveBaseUrl(options)}${sessionApiPath(sessionId, 'presence')}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    keepalive: true,
  }).catch(() => {
    // Nothing to do as the page goes away; the record goes stale and is not shown after 30 s.
  })
}

function withIdempotency(init: WriteInit): Record<string, string> {
  return { ...init.headers, ...(init.idempotencyKey ? { [IDEMPOTENCY_KEY_HEADER]: init.idempotencyKey } : {}) }
}
