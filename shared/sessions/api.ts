import { z } from 'zod'
import { AgentIdSchema } from './channels'
import type { Presence } from './channels'
import type { SessionState } from './reducer'

/** Request and response shapes of the session API, shared by the server and the Vue client. */

/** Header carrying the collaborator key of a collaborate link. */
export const COLLABORATOR_KEY_HEADER = 'x-collaborator-key'
/** Header making a write idempotent: a retry with the same key returns the first result. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key'

export const CreateSessionBodySchema = z.strictObject({
  title: z.string().trim().min(1).max(200).optional(),
  projectId: z.string().min(1).max(200).optional(),
  taskId: z.string().min(1).max(200).optional(),
  agentId: AgentIdSchema.optional(),
})
export type CreateSessionBody = z.infer<typeof CreateSessionBodySchema>

export const PresenceActionSchema = z.enum(['join', 'heartbeat', 'update', 'leave'])
export type PresenceAction = z.infer<typeof PresenceActionSchema>

export const PresenceBodySchema = z.strictObject({
  userId: z.string().min(1).max(200),
  displayName: z.string().trim().min(1).max(100).optional(),
  avatarUrl: z.url({ protocol: /^https?$/ }).max(2048).optional(),
  cursor: z.strictObject({ x: z.number().finite(), y: z.number().finite() }).optional(),
  action: PresenceActionSchema,
})
export type PresenceBody = z.infer<typeof PresenceBodySchema>

export type SessionStatus = 'active' | 'ended'

export interface SessionSummary {
  id: string
  title: string
  status: SessionStatus
  agentId: string
  projectId: string | null
  taskId: string | null
  createdAt: string
  lastActivityAt: string
  participantsOnline: number
  agentStatus: string | null
  /** Next offset of the session stream (where the next event will land); null if the stream is gone. */
  tailOffset: string | null
  url: string
}

/** Returned once, at creation: the only time the agent token and collaborator key are shown. */
export interface CreatedSession extends SessionSummary {
  shareUrl: string
  collaborateUrl: string
  streamUrl: string
  presenceStreamUrl: string
  agentStreamUrl: string
  agentToken: string
  collaboratorKey: string
}

export interface SessionList {
  sessions: SessionSummary[]
  /** Pass as `?cursor=` for the next (older) page; null on the last page. */
  nextCursor: string | null
}

export interface SessionDetails extends SessionSummary {
  streamUrl: string
  presenceStreamUrl: string
  agentStreamUrl: string
  presence: Presence[]
  presenceOffset: string
}

/** The materialised session at `offset`: the client resumes live from exactly there. */
export interface SessionSnapshot {
  session: SessionSummary
  offset: string
  state: SessionState
  presenceOffset: string
}

export interface WriteResult {
  ok: true
  /** The stream's next offset after this write. */
  offset: string
}

/** What the viewer may do, derived from the credentials it presented. */
export interface SessionAccess {
  canCollaborate: boolean
  isAgent: boolean
}
