import { isClient } from '@vueuse/core'
import { COLLABORATOR_KEY_HEADER, MAX_LOOKUP_IDS, PRESENCE_KEY_HEADER } from '#layers/durable-sessions/shared/sessions/api'
import type { CreatedSession } from '#layers/durable-sessions/shared/sessions/api'

/**
 * Per-session capabilities this browser holds, and the sessions it knows. All live in
 * localStorage: a collaborate link opened once keeps working in every tab and on the next visit,
 * the agent token of a session created here is shown by the server only once, and a session id
 * is a secret the server lists to nobody, so "your sessions" are the ids kept here.
 */
const COLLABORATOR_KEY_PREFIX = 'durable-sessions:collaborator-key:'
const AGENT_TOKEN_PREFIX = 'durable-sessions:agent-token:'
const COLLABORATOR_KEY = (sessionId: string) => `${COLLABORATOR_KEY_PREFIX}${sessionId}`
const AGENT_TOKEN = (sessionId: string) => `${AGENT_TOKEN_PREFIX}${sessionId}`
const PRESENCE_KEY = (sessionId: string) => `durable-sessions:presence-key:${sessionId}`
const KNOWN_SESSIONS = 'durable-sessions:sessions'
const SESSION_ID = /^[\w-]{1,100}$/

/** Storage may be missing (SSR) or throw (privacy modes, quota): credentials are then simply not kept. */
function storage(): Storage | undefined {
  try {
    return isClient ? window.localStorage : undefined
  }
  catch {
    return undefined
  }
}

function read(key: string): string | undefined {
  try {
    return storage()?.getItem(key) ?? undefined
  }
  catch {
    return undefined
  }
}

function parse<T>(text: string | undefined): T | undefined {
  try {
    return text === undefined ? undefined : JSON.parse(text) as T
  }
  catch {
    return undefined
  }
}

function storageKeys(): string[] {
  try {
    const store = storage()
    return store ? Array.from({ length: store.length }, (_, n) => store.key(n)).filter((key): key is string => key !== null) : []
  }
  catch {
    return []
  }
}

function write(key: string, value: string | undefined): void {
  try {
    if (value) storage()?.setItem(key, value)
    else storage()?.removeItem(key)
  }
  catch {
    // see storage()
  }
}

export const collaboratorKeyFor = (sessionId: string) => read(COLLABORATOR_KEY(sessionId))
export const rememberCollaboratorKey = (sessionId: string, key: string | undefined) => write(COLLABORATOR_KEY(sessionId), key)
export const agentTokenFor = (sessionId: string) => read(AGENT_TOKEN(sessionId))
export const rememberAgentToken = (sessionId: string, token: string | undefined) => write(AGENT_TOKEN(sessionId), token)

/** The presence key a join returned for this user in this session, if this browser has it. */
export function presenceKeyFor(sessionId: string, userId: string): string | undefined {
  const kept = parse<{ userId?: unknown, key?: unknown }>(read(PRESENCE_KEY(sessionId)))
  return kept?.userId === userId && typeof kept.key === 'string' ? kept.key : undefined
}

/** Keeps (or, without a key, forgets) the presence key of this browser's user in a session. */
export function rememberPresenceKey(sessionId: string, userId: string, key: string | undefined): void {
  write(PRESENCE_KEY(sessionId), key ? JSON.stringify({ userId, key }) : undefined)
}

/**
 * Ids of the sessions this browser created or opened, most recent first (at most as many as one
 * lookup takes). Sessions whose token or key is kept here count too, so sessions from before this
 * list existed are not lost.
 */
export function knownSessionIds(): string[] {
  const listed = parse<unknown[]>(read(KNOWN_SESSIONS))
  const ids = Array.isArray(listed) ? listed.filter((id): id is string => typeof id === 'string') : []
  for (const key of storageKeys()) {
    for (const prefix of [AGENT_TOKEN_PREFIX, COLLABORATOR_KEY_PREFIX]) if (key.startsWith(prefix)) ids.push(key.slice(prefix.length))
  }
  // Only what can be a session id: one odd entry must not make the whole lookup a 400.
  return [...new Set(ids)].filter(id => SESSION_ID.test(id)).slice(0, MAX_LOOKUP_IDS)
}

/** Puts a session first in this browser's list. */
export function rememberSession(sessionId: string): void {
  write(KNOWN_SESSIONS, JSON.stringify([sessionId, ...knownSessionIds().filter(id => id !== sessionId)].slice(0, MAX_LOOKUP_IDS)))
}

/** Drops sessions (and what this browser keeps for them) that no longer exist. */
export function forgetSessions(sessionIds: string[]): void {
  const gone = new Set(sessionIds)
  for (const sessionId of gone) forgetSessionCredentials(sessionId)
  write(KNOWN_SESSIONS, JSON.stringify(knownSessionIds().filter(id => !gone.has(id))))
}

/** Keeps both secrets of a session this browser just created, and lists it first. */
export function rememberCreatedSession(created: Pick<CreatedSession, 'id' | 'agentToken' | 'collaboratorKey'>): void {
  rememberAgentToken(created.id, created.agentToken)
  rememberCollaboratorKey(created.id, created.collaboratorKey)
  rememberSession(created.id)
}

export function forgetSessionCredentials(sessionId: string): void {
  rememberAgentToken(sessionId, undefined)
  rememberCollaboratorKey(sessionId, undefined)
  write(PRESENCE_KEY(sessionId), undefined)
}

/**
 * Reads a collaborate link's `?key=` from the page URL and keeps it for the session. Taken from
 * the address bar, it is then removed from it (history.replaceState), so the key stays neither in
 * the browser's history nor in the Referer of the page's later requests.
 */
export function captureCollaboratorKey(sessionId: string, href: string | undefined = isClient ? window.location.href : undefined): string | undefined {
  if (!href) return undefined
  const key = new URL(href).searchParams.get('key') ?? undefined
  if (!key) return undefined
  rememberCollaboratorKey(sessionId, key)
  if (isClient && href === window.location.href) removeKeyFromAddressBar()
  return key
}

function removeKeyFromAddressBar(): void {
  const withoutKey = (url: string) => {
    const parsed = new URL(url, window.location.href)
    parsed.searchParams.delete('key')
    return `${parsed.pathname}${parsed.search}${parsed.hash}`
  }
  // Vue Router keeps the entry's URL in history.state.current and writes it back to the entry on
  // its next navigation: that copy loses the key too.
  const state = window.history.state as Record<string, unknown> | null
  const current = typeof state?.current === 'string' ? state.current : undefined
  window.history.replaceState(current === undefined ? state : { ...state, current: withoutKey(current) }, '', withoutKey(window.location.href))
}

/**
 * Headers for a write: the agent token when this browser has one (it can do everything the
 * key can, and the server reads a bearer first), else the collaborator key — with the presence
 * key, which the server names the collaborator's decisions by — else none (viewer).
 */
export function credentialHeaders(sessionId: string): Record<string, string> {
  const token = agentTokenFor(sessionId)
  if (token) return { authorization: `Bearer ${token}` }
  const key = collaboratorKeyFor(sessionId)
  if (!key) return {}
  const presenceKey = parse<{ key?: unknown }>(read(PRESENCE_KEY(sessionId)))?.key
  return typeof presenceKey === 'string' ? { [COLLABORATOR_KEY_HEADER]: key, [PRESENCE_KEY_HEADER]: presenceKey } : { [COLLABORATOR_KEY_HEADER]: key }
}

/** What the UI may offer: whether this browser holds a key or token for the session. */
export function heldCredentials(sessionId: string): { canCollaborate: boolean, isAgent: boolean } {
  const isAgent = agentTokenFor(sessionId) !== undefined
  return { isAgent, canCollaborate: isAgent || collaboratorKeyFor(sessionId) !== undefined }
}
