import { getActivePinia } from 'pinia'
import type { Pinia } from 'pinia'
import type { PresenceBody } from '#shared/sessions/api'
import type { Presence, TerminalEntry, WorkflowEvent } from '#shared/sessions/channels'
import { useSessionStore } from '../stores/session'
import type { LocalWriteToken } from '../stores/session'
import { postEvents, postPresence } from './session-api'
import type { SessionClientOptions } from './session-api'
import { credentialHeaders } from './session-credentials'
import { writeManagerFor } from './write-manager'
import type { WriteManager, WriteOutcome } from './write-manager'

export interface SessionWriteOptions extends SessionClientOptions {
  /** Default: the active Pinia. */
  pinia?: Pinia
  /** Default: the write manager of that Pinia. */
  manager?: WriteManager
  /** Default: the credentials this browser holds for the session (agent token, else collaborator key). */
  headers?: Record<string, string>
  /** Retries after the first attempt. Default: the manager's (3). */
  retries?: number
}

export type SendResult<T> = WriteOutcome & { event: T }

export interface WriteCallbacks<T> {
  /** The entry is in the store, marked pending. */
  onOptimistic?: (event: T) => void
  /** The server accepted it; `offset` is the stream's offset after the write. */
  onConfirm?: (event: T, offset: string) => void
  /** Every attempt failed and the entry was removed again. */
  onRollback?: (event: T, error: Error) => void
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
export async function sendTerminalInput(sessionId: string, input: string, callbacks: TerminalInputCallbacks = {}, options: SessionWriteOptions = {}): Promise<SendResult<TerminalEntry>> {
  const { store, manager } = writeContext(sessionId, options)
  const entry: TerminalEntry = { id: crypto.randomUUID(), sessionId, type: 'input', data: input, source: 'user', timestamp: new Date().toISOString() }
  const event = { channel: 'terminal', data: entry } as const
  let token: LocalWriteToken = 0
  const outcome = await manager.submit({
    sessionId,
    kind: 'terminal',
    entityId: entry.id,
    retries: options.retries,
    apply: () => {
      token = store.applyLocal(event)
      callbacks.onOptimistic?.(entry)
    },
    // The body is the same on every attempt: the server ties an Idempotency-Key to its hash.
    send: (idempotencyKey, signal) => postEvents(sessionId, { channel: 'terminal', data: { id: entry.id, type: 'input', data: input, source: 'user' } }, {
      idempotencyKey,
      signal,
      headers: options.headers ?? credentialHeaders(sessionId),
    }, options),
    rollback: (error) => {
      // Not rolled back when the stream has echoed the entry meanwhile: it did land after all.
      if (store.rollbackLocal(event, token)) callbacks.onRollback?.(entry, error)
    },
  })
  if (outcome.ok) callbacks.onConfirm?.(entry, outcome.offset)
  return { ...outcome, event: entry }
}

export interface ApprovalDetails {
  /** Who decided, shown next to the decision. */
  actor?: string
  note?: string
}

/** Approves or rejects an approval request (collaborator key or agent token), optimistically. */
export async function sendApprovalDecision(
  sessionId: string,
  requestId: string,
  decision: 'approved' | 'rejected',
  details: ApprovalDetails = {},
  callbacks: WriteCallbacks<WorkflowEvent> = {},
  options: SessionWriteOptions = {},
): Promise<SendResult<WorkflowEvent>> {
  const { store, manager } = writeContext(sessionId, options)
  const data: Omit<WorkflowEvent, 'sessionId' | 'timestamp'> = {
    id: crypto.randomUUID(),
    type: `approval:${decision}`,
    payload: { requestId, ...(details.note ? { note: details.note } : {}) },
    ...(details.actor ? { actor: details.actor } : {}),
  }
  const entry: WorkflowEvent = { ...data, sessionId, timestamp: new Date().toISOString() }
  const event = { channel: 'workflow', data: entry } as const
  let token: LocalWriteToken = 0
  const outcome = await manager.submit({
    sessionId,
    kind: 'approval',
    entityId: entry.id,
    retries: options.retries,
    apply: () => {
      token = store.applyLocal(event)
      callbacks.onOptimistic?.(entry)
    },
    send: (idempotencyKey, signal) => postEvents(sessionId, { channel: 'workflow', data }, {
      idempotencyKey,
      signal,
      headers: options.headers ?? credentialHeaders(sessionId),
    }, options),
    rollback: (error) => {
      if (store.rollbackLocal(event, token)) callbacks.onRollback?.(entry, error)
    },
  })
  if (outcome.ok) callbacks.onConfirm?.(entry, outcome.offset)
  return { ...outcome, event: entry }
}

export interface PresenceWriteOptions extends SessionWriteOptions {
  /** List the write in the manager. Default: true except for `update` (cursor moves, many a second). */
  track?: boolean
}

/**
 * Join, heartbeat, update (cursor) or leave, shown in the store at once. Cursor updates are not
 * retried: the next move supersedes them anyway. Presence needs no credentials.
 */
export async function sendPresence(sessionId: string, body: PresenceBody, options: PresenceWriteOptions = {}): Promise<SendResult<Presence>> {
  const { store, manager } = writeContext(sessionId, options)
  const current = store.presence[body.userId]
  const previous = current ? { ...current, ...(current.cursor ? { cursor: { ...current.cursor } } : {}) } : undefined
  const now = new Date().toISOString()
  const record = withoutUndefined<Presence>({
    userId: body.userId,
    sessionId,
    displayName: body.displayName ?? previous?.displayName,
    avatarUrl: body.avatarUrl ?? previous?.avatarUrl,
    cursor: body.cursor ?? previous?.cursor,
    lastSeen: now,
    joinedAt: previous?.joinedAt ?? now,
  })
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
    send: (idempotencyKey, signal) => postPresence(sessionId, body, { idempotencyKey, signal, headers: options.headers }, options),
    rollback: () => {
      store.rollbackLocal(event, token, previous)
    },
  })
  return { ...outcome, event: record }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T
}
