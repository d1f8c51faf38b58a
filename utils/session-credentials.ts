import { isClient } from '@vueuse/core'
import { COLLABORATOR_KEY_HEADER } from '#shared/sessions/api'
import type { CreatedSession } from '#shared/sessions/api'

/**
 * Per-session capabilities this browser holds. Both live in localStorage: a collaborate link
 * opened once keeps working in every tab and on the next visit, and the agent token of a
 * session created here is shown by the server only once.
 */
const COLLABORATOR_KEY = (sessionId: string) => `durable-sessions:collaborator-key:${sessionId}`
const AGENT_TOKEN = (sessionId: string) => `durable-sessions:agent-token:${sessionId}`

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

/** Keeps both secrets of a session this browser just created. */
export function rememberCreatedSession(created: Pick<CreatedSession, 'id' | 'agentToken' | 'collaboratorKey'>): void {
  rememberAgentToken(created.id, created.agentToken)
  rememberCollaboratorKey(created.id, created.collaboratorKey)
}

export function forgetSessionCredentials(sessionId: string): void {
  rememberAgentToken(sessionId, undefined)
  rememberCollaboratorKey(sessionId, undefined)
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
 * key can, and the server reads a bearer first), else the collaborator key, else none (viewer).
 */
export function credentialHeaders(sessionId: string): Record<string, string> {
  const token = agentTokenFor(sessionId)
  if (token) return { authorization: `Bearer ${token}` }
  const key = collaboratorKeyFor(sessionId)
  return key ? { [COLLABORATOR_KEY_HEADER]: key } : {}
}

/** What the UI may offer: whether this browser holds a key or token for the session. */
export function heldCredentials(sessionId: string): { canCollaborate: boolean, isAgent: boolean } {
  const isAgent = agentTokenFor(sessionId) !== undefined
  return { isAgent, canCollaborate: isAgent || collaboratorKeyFor(sessionId) !== undefined }
}
