import { getActivePinia } from 'pinia'
import type { Pinia } from 'pinia'
import { PRESENCE_KEY_HEADER } from '#layers/durable-sessions/shared/sessions/api'
import type { PresenceBody } from '#layers/durable-sessions/shared/sessions/api'
import type { Presence, Prompt, SessionEventInput, TerminalEntry, WorkflowEvent } from '#layers/durable-sessions/shared/sessions/channels'
import { nextPresence } from '#layers/durable-sessions/shared/sessions/presence'
import { useSessionStore } from '../stores/session'
import type { LocalEvent, LocalWriteToken } from '../stores/session'
import { SessionApiError } from '../transport/errors'
import { postEvents, postPresence } from '../transport/session-api'
import type { SessionClientOptions } from '../transport/session-api'
import { credentialHeaders, presenceKeyFor, rememberPresenceKey } from '../transport/session-credentials'
import { currentPinia } from './pinia'
import { writeManagerFor } from './write-manager'
import type { WriteManager, WriteOutcome } from './write-manager'

export interface SessionWriteOptions extends SessionClientOptions {
  /** Default: the active Pinia. */
  pinia?: Pinia
  /** Default: the write manager of that Pinia. */
  manager?: WriteManager
  /**
   * Default: the credentials this browser holds for the session (agent token, else collaborator
   * key); for presence, the user's presence key.
   */
  headers?: Record<string, string>
  /** Retries after the first attempt. Default: the manager's (3). */
  retries?: number
}

/** Where a composable's options say its writes go: the API, the Pinia, and the `writes` overrides. */
export interface WriteSource extends SessionClientOptions {
  /** Default: the app's Pinia (currentPinia). */
  pinia?: Pinia | null
  writes?: Pick<SessionWriteOptions, 'headers' | 'retries' | 'manager'>
}

/** The options of every write a composable sends; resolved once, in its setup. */
export function writeOptionsOf(source: WriteSource): SessionWriteOptions {
  return { ...source.writes, baseUrl: source.baseUrl, fetch: source.fetch, pinia: currentPinia(source.pinia) }
}

export type SendResult<T> = WriteOutcome & { event: T }

export interface WriteCallbacks<T> {
  /** The entry is in the store, marked pending. */
  onOptimistic?: (event: T) => void
  /** The server accepted it; `offset` is the stream's offset after the write. */
  onConfirm?: (event: T, offset: string) => void
  /** Every attempt failed and the entry was removed again. */
  onRollback?: (event: T, error: SessionApiError) => void
}

export type TerminalInputCallbacks = WriteCallbacks<TerminalEntry>

function writeContext(sessionId: string, options: SessionWriteOptions) {
  const pinia = options.pinia ?? getActivePinia()
  if (!pinia) throw new Error('Session writes need an active Pinia, or options.pinia')
  return { store: useSessionStore(sessionId, pinia), manager: options.manager ?? writeManagerFor(pinia) }
}

/**
 * Sends user input to the session terminal. The entry shows at once under a client-made id;
 * the server keeps that id, so the stream's echo replaces the entry instead of adding a second.
 * Needs the collaborator key (or agent token): a viewer's input is refused and rolled back.
 */
export function sendTerminalInput(sessionId: string, input: string, callbacks: TerminalInputCallbacks = {}, options: SessionWriteOptions = {}): Promise<SendResult<TerminalEntry>> {
  const entry: TerminalEntry = { id: crypto.randomUUID(), sessionId, type: 'input', data: input, source: 'user', timestamp: new Date().toISOString() }
  return sendOptimisticEvent(sessionId, 'terminal', { channel: 'terminal', data: entry }, callbacks, options)
}

export interface ApprovalDetails {
  /** Who decided, shown next to the decision. */
  actor?: string
  /** Why: shown in the history and handed to the agent (the SDK's requestApproval resolves with it). */
  reason?: string
}

/** Approves or rejects an approval request (collaborator key or agent token), optimistically. */
export function sendApprovalDecision(
  sessionId: string,
  requestId: string,
  decision: 'approved' | 'rejected',
  details: ApprovalDetails = {},
  callbacks: WriteCallbacks<WorkflowEvent> = {},
  options: SessionWriteOptions = {},
): Promise<SendResult<WorkflowEvent>> {
  const entry: WorkflowEvent = {
    id: crypto.randomUUID(),
    sessionId,
    type: `approval:${decision}`,
    payload: { requestId, ...(details.reason ? { reason: details.reason } : {}) },
    ...(details.actor ? { actor: details.actor } : {}),
    timestamp: new Date().toISOString(),
  }
  return sendOptimisticEvent(sessionId, 'approval', { channel: 'workflow', data: entry }, callbacks, options)
}

export interface PromptDetails {
  /** Who asks, shown at once; the server names a collaborator from their presence key instead. */
  actor?: string
  actorId?: string
  /** The agent asked. Default: the session's. */
  agentId?: string
}

/**
 * Asks the session's agent something (collaborator key or agent token), optimistically: the prompt
 * shows in the conversation at once under a client-made id, which the server keeps.
 */
export function sendPrompt(sessionId: string, text: string, details: PromptDetails = {}, callbacks: WriteCallbacks<Prompt> = {}, options: SessionWriteOptions = {}): Promise<SendResult<Prompt>> {
  const entry: Prompt = {
    id: crypto.randomUUID(),
    sessionId,
    text,
    ...(details.agentId ? { agentId: details.agentId } : {}),
    ...(details.actor ? { actor: details.actor } : {}),
    ...(details.actorId ? { actorId: details.actorId } : {}),
    timestamp: new Date().toISOString(),
  }
  return sendOptimisticEvent(sessionId, 'prompt', { channel: 'prompts', data: entry }, callbacks, options)
}

/**
 * An event shown in the store at once, confirmed by the offset of its POST, or rolled back
 * after the last failed attempt. The body is the same on every attempt (the server ties an
 * Idempotency-Key to its hash) and leaves the timestamp to the server.
 */
async function sendOptimisticEvent<E extends TerminalEntry | WorkflowEvent | Prompt>(
  sessionId: string,
  kind: string,
  event: Extract<LocalEvent, { channel: 'terminal' | 'workflow' | 'prompts' }> & { data: E },
  callbacks: WriteCallbacks<E>,
  options: SessionWriteOptions,
): Promise<SendResult<E>> {
  const { store, manager } = writeContext(sessionId, options)
  const { sessionId: _sessionId, timestamp: _timestamp, ...data } = event.data
  let token: LocalWriteToken = 0
  const outcome = await manager.submit({
    sessionId,
    kind,
    entityId: event.data.id,
    retries: options.retries,
    apply: () => {
      token = store.applyLocal(event)
      callbacks.onOptimistic?.(event.data)
    },
    send: (idempotencyKey, signal) => postEvents(sessionId, { channel: event.channel, data } as SessionEventInput, {
      idempotencyKey,
      signal,
      headers: options.headers ?? credentialHeaders(sessionId),
    }, options),
    rollback: (error) => {
      // Not rolled back when the stream has echoed the entry meanwhile: it did land after all.
      if (store.rollbackLocal(event, token)) callbacks.onRollback?.(event.data, error)
    },
  })
  if (outcome.ok) callbacks.onConfirm?.(event.data, outcome.offset)
  return { ...outcome, event: event.data }
}

export interface PresenceWriteOptions extends SessionWriteOptions {
  /** List the write in the manager. Default: true except for `update` (cursor moves, many a second). */
  track?: boolean
}

/**
 * Join, heartbeat, update (cursor) or leave, shown in the store at once. Cursor updates are not
 * retried: the next move supersedes them anyway. A join keeps the presence key it is answered
 * with (in localStorage, per session and user) and every other action sends it; a key the server
 * refuses (401: its record is gone) or a leave ends it, so the next join starts afresh.
 */
export async function sendPresence(sessionId: string, body: PresenceBody, options: PresenceWriteOptions = {}): Promise<SendResult<Presence>> {
  const { store, manager } = writeContext(sessionId, options)
  const current = store.presence[body.userId]
  const previous = current ? { ...current, ...(current.cursor ? { cursor: { ...current.cursor } } : {}) } : undefined
  const record = nextPresence(sessionId, body, previous, new Date().toISOString())
  const event = { channel: 'presence', data: record } as const
  const isUpdate = body.action === 'update'
  let token: LocalWriteToken = 0
  const outcome = await manager.submit({
    sessionId,
    kind: 'presence',
    entityId: body.userId,
    retries: isUpdate ? 0 : options.retries,
    track: options.track ?? !isUpdate,
    apply: () => {
      token = store.applyLocal(event, body.action === 'leave' ? 'delete' : 'upsert')
    },
    send: async (idempotencyKey, signal) => {
      try {
        const result = await postPresence(sessionId, body, { idempotencyKey, signal, headers: options.headers ?? presenceHeaders(sessionId, body.userId) }, options)
        if (result.presenceKey || body.action === 'leave') rememberPresenceKey(sessionId, body.userId, result.presenceKey)
        return result
      }
      catch (error) {
        if (error instanceof SessionApiError && error.status === 401) rememberPresenceKey(sessionId, body.userId, undefined)
        throw error
      }
    },
    rollback: () => {
      store.rollbackLocal(event, token, previous)
    },
  })
  return { ...outcome, event: record }
}

/** The presence key header of this browser's user in a session, when it holds one. */
export function presenceHeaders(sessionId: string, userId: string): Record<string, string> {
  const key = presenceKeyFor(sessionId, userId)
  return key ? { [PRESENCE_KEY_HEADER]: key } : {}
}
