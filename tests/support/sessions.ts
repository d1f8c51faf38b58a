import type { CreatedSession, SessionDetails, SessionList, SessionSnapshot } from '../../shared/sessions/api'
import { startServer } from './server'
import type { StartOptions, TestServer } from './server'
import { readAll } from './streams'

/** Plain-HTTP access to the session API of a test server (real requests, nothing mocked). */

/**
 * Defaults for session tests: no seeded demo session (it would write into lists and agent
 * streams), and rate limits and caps (live reads, demo runs) far above what a test sends from
 * one address (they have tests of their own).
 */
export const SESSION_TEST_ENV: Record<string, string> = {
  NUXT_DURABLE_SESSIONS_SEED_DEMO: 'false',
  NUXT_DURABLE_SESSIONS_STREAMS_MAX_LIVE_READS_PER_CLIENT: '1000000',
  NUXT_DURABLE_SESSIONS_STREAMS_MAX_LIVE_READS: '1000000',
  NUXT_DURABLE_SESSIONS_DEMO_MAX_RUNS_PER_CLIENT: '1000000',
  NUXT_DURABLE_SESSIONS_DEMO_MAX_RUNS: '1000000',
  NUXT_DURABLE_SESSIONS_RATE_LIMIT_PER_SECOND: '1000000',
  NUXT_DURABLE_SESSIONS_RATE_LIMIT_BURST: '1000000',
  NUXT_DURABLE_SESSIONS_RATE_LIMIT_AGENT_PER_SECOND: '1000000',
  NUXT_DURABLE_SESSIONS_RATE_LIMIT_AGENT_BURST: '1000000',
  NUXT_DURABLE_SESSIONS_RATE_LIMIT_CREATE_PER_MINUTE: '1000000',
}

/** The built server with SESSION_TEST_ENV under `options.env`. */
export function startSessionServer(options: StartOptions = {}): Promise<TestServer> {
  return startServer({ ...options, env: { ...SESSION_TEST_ENV, ...options.env } })
}

/** Who is asking: nobody in particular, the holder of the collaborate link, the agent, or the server. */
export type Role = 'viewer' | 'collaborator' | 'agent' | 'server'
export const ROLES: Role[] = ['viewer', 'collaborator', 'agent', 'server']

export const START_OFFSET = '0000000000000000_0000000000000000'
export const DAY_MS = 24 * 60 * 60 * 1000

export interface ApiResponse<T = any> {
  status: number
  headers: Headers
  /** Parsed JSON, or the text when the body is not JSON. */
  body: T
  text: string
}

export interface ApiInit {
  /** Sent as JSON with `Content-Type: application/json`. */
  json?: unknown
  /** Sent as is (with `contentType`, default application/json). */
  raw?: string
  contentType?: string
  headers?: Record<string, string>
}

export async function api<T = any>(server: TestServer, method: string, path: string, init: ApiInit = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...init.headers }
  let body: string | undefined
  if (init.json !== undefined) {
    body = JSON.stringify(init.json)
    headers['content-type'] ??= 'application/json'
  }
  else if (init.raw !== undefined) {
    body = init.raw
    headers['content-type'] ??= init.contentType ?? 'application/json'
  }
  const response = await fetch(`${server.url}${path}`, { method, headers, body })
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = text ? JSON.parse(text) : null
  }
  catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed as T, text }
}

/** The request headers of a role on a session. */
export function as(role: Role, session: CreatedSession, server: TestServer): Record<string, string> {
  switch (role) {
    case 'viewer': return {}
    case 'collaborator': return { 'x-collaborator-key': session.collaboratorKey }
    case 'agent': return { authorization: `Bearer ${session.agentToken}` }
    case 'server': return asServer(server)
  }
}

/** A credential that is wrong whatever the right one is: its last character changed. */
export function wrongSecret(secret: string): string {
  return `${secret.slice(0, -1)}${secret.endsWith('x') ? 'y' : 'x'}`
}

/** POST /api/sessions; `headers` (e.g. asServer) for an agent id another session registered too. */
export async function createSession(server: TestServer, body: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<CreatedSession> {
  const response = await api<CreatedSession>(server, 'POST', '/api/sessions', { json: body, headers })
  if (response.status !== 201) throw new Error(`POST /api/sessions answered ${response.status}: ${response.text}`)
  return response.body
}

/** POST /api/sessions/:id/events, as the agent unless other headers are given: `{ok, offset}` or an error body. */
export function postEvents(server: TestServer, session: CreatedSession, events: unknown, headers: Record<string, string> = as('agent', session, server)) {
  return api(server, 'POST', `/api/sessions/${session.id}/events`, { json: events, headers })
}

/** Like postEvents, but throws unless the write was accepted; returns the offset. */
export async function publish(server: TestServer, session: CreatedSession, events: unknown, headers?: Record<string, string>): Promise<string> {
  const response = await postEvents(server, session, events, headers)
  if (response.status !== 200) throw new Error(`events answered ${response.status}: ${response.text}`)
  return response.body.offset
}

export function postPresence(server: TestServer, session: CreatedSession, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return api(server, 'POST', `/api/sessions/${session.id}/presence`, { json: body, headers })
}

/** Joins presence as `userId`; throws unless accepted. Returns the offset and the presence key. */
export async function joinPresence(server: TestServer, session: CreatedSession, userId: string, extra: Record<string, unknown> = {}): Promise<{ offset: string, presenceKey: string }> {
  const response = await postPresence(server, session, { userId, action: 'join', ...extra })
  if (response.status !== 200 || typeof response.body.presenceKey !== 'string') throw new Error(`join answered ${response.status}: ${response.text}`)
  return response.body
}

/** The header a presence user's later writes carry. */
export const withPresenceKey = (presenceKey: string): Record<string, string> => ({ 'x-presence-key': presenceKey })

export async function details(server: TestServer, id: string): Promise<SessionDetails> {
  return (await expectOk<SessionDetails>(server, 'GET', `/api/sessions/${id}`)).body
}

export async function snapshot(server: TestServer, id: string): Promise<SessionSnapshot> {
  return (await expectOk<SessionSnapshot>(server, 'GET', `/api/sessions/${id}/snapshot`)).body
}

/** GET /api/sessions: the public sessions, or every session with the server's headers. */
export async function list(server: TestServer, query = '', headers: Record<string, string> = {}): Promise<SessionList> {
  return (await expectOk<SessionList>(server, 'GET', `/api/sessions${query}`, headers)).body
}

/** The server token's headers, for what only the operator may do (list every session, share agent ids). */
export const asServer = (server: TestServer): Record<string, string> => ({ authorization: `Bearer ${server.token}` })

async function expectOk<T>(server: TestServer, method: string, path: string, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
  const response = await api<T>(server, method, path, { headers })
  if (response.status !== 200) throw new Error(`${method} ${path} answered ${response.status}: ${response.text}`)
  return response
}

/** A State Protocol change message as it sits on a session stream. */
export interface ChangeMessage {
  type: string
  key: string
  value?: Record<string, any>
  old_value?: Record<string, any>
  headers: { operation: 'insert' | 'update' | 'delete' | 'upsert', timestamp?: string }
}

/** Every message of a stream (`sessions/<id>`, `sessions/<id>/presence`, `agents/<agentId>`), read raw. */
export async function streamMessages(server: TestServer, path: string): Promise<ChangeMessage[]> {
  const read = await readAll(server, path)
  if (read.status !== 200) throw new Error(`GET ${path} answered ${read.status}: ${read.body.toString('utf8')}`)
  return read.messages as ChangeMessage[]
}

/** Polls until `probe` returns something other than undefined (no timing is asserted). */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}
