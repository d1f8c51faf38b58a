import { z } from 'zod'
import { AgentIdSchema } from './channels'
import type { Presence } from './channels'
import type { SessionState } from './reducer'
import type { SessionHistory } from './window'

/** Request and response shapes of the session API, shared by the server and the Vue client. */

/** Header carrying the collaborator key of a collaborate link. */
export const COLLABORATOR_KEY_HEADER = 'x-collaborator-key'
/** Header making a write idempotent: a retry with the same key returns the first result. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key'
/** Header carrying the presence key a join returned: it proves who a presence user is. */
export const PRESENCE_KEY_HEADER = 'x-presence-key'

/**
 * Whether a call the server refused is worth sending again, by the status of its answer. A 4xx
 * other than 408 and 429 is the server's answer to this very request and will not change; a
 * timeout, throttling or a server fault (a restart, a full disk) may. A call that got no answer at
 * all is always worth another try. Every client of the API retries by this rule: the Vue client's
 * writes and live streams, and the agent SDK.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500
}

/** At most this many agents per session, and session ids per lookup. */
export const MAX_AGENTS_PER_SESSION = 20
export const MAX_LOOKUP_IDS = 100

export const CreateSessionBodySchema = z.strictObject({
  title: z.string().trim().min(1).max(200).optional(),
  projectId: z.string().min(1).max(200).optional(),
  taskId: z.string().min(1).max(200).optional(),
  /** The session's agent; with `agentIds`, the first of them. Default: a random id. */
  agentId: AgentIdSchema.optional(),
  /** Every agent the session may publish as (each `agents/<id>` stream becomes this session's). */
  agentIds: z.array(AgentIdSchema).min(1).max(MAX_AGENTS_PER_SESSION).optional(),
  /** Listed for everyone on the home page. Default false: only those given the id find it. */
  public: z.boolean().optional(),
  /** `ai`: the server's built-in AI SDK agent answers the session's prompts (when a model is configured). */
  agent: z.enum(['ai']).optional(),
})
export type CreateSessionBody = z.infer<typeof CreateSessionBodySchema>

export const UpdateSessionBodySchema = z.strictObject({
  public: z.boolean(),
})
export type UpdateSessionBody = z.infer<typeof UpdateSessionBodySchema>

/** Session ids travel in a body, not a query string: ids are secrets, and URLs end up in logs. */
export const LookupSessionsBodySchema = z.strictObject({
  ids: z.array(z.string().min(1).max(100)).max(MAX_LOOKUP_IDS),
  /** Only sessions whose title contains this. */
  q: z.string().trim().max(200).optional(),
})
export type LookupSessionsBody = z.infer<typeof LookupSessionsBodySchema>

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
  /** Listed on the home page for everyone; otherwise only whoever has the id finds it. */
  public: boolean
  /** The agent this server runs in the session (`ai`: the built-in AI SDK agent), or null. */
  builtinAgent: 'ai' | null
  /** Next offset of the session stream (where the next event will land); null if the stream is gone. */
  tailOffset: string | null
  url: string
}

/** Returned once, at creation: the only time the agent token and collaborator key are shown. */
export interface CreatedSession extends SessionSummary {
  /** Every agent id this session publishes as; the first is `agentId`. */
  agentIds: string[]
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

/** The sessions of a lookup that exist, newest first. */
export interface SessionLookup {
  sessions: SessionSummary[]
}

export interface SessionDetails extends SessionSummary {
  agentIds: string[]
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
  /**
   * Present when the state is the newest window of each list (`?window=1`, what the pages load):
   * where each list's earlier history continues. Absent: the state is complete.
   */
  history?: SessionHistory
}

export interface WriteResult {
  ok: true
  /** The stream's next offset after this write. */
  offset: string
}

export interface PresenceWriteResult extends WriteResult {
  /** Returned by `join`: send it as X-Presence-Key on this user's later writes. */
  presenceKey?: string
  /** A cursor update over the per-user rate was dropped; the next one supersedes it anyway. */
  dropped?: true
}

/** The agents this server can run in a session (`GET /api/agents`). */
export interface ServerAgents {
  ai: {
    /** A model is configured: sessions may be created with `{"agent": "ai"}`. */
    available: boolean
    /** `provider:model`, when configured. */
    model: string | null
    /** How to configure one (or what is wrong with the configuration). */
    setup: string
  }
}

/** What the viewer may do, derived from the credentials it presented. */
export interface SessionAccess {
  canCollaborate: boolean
  isAgent: boolean
}
