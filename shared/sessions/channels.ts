import { z } from 'zod'

// Zod compiles parsers with `new Function` where it may, deciding so as each schema is built. A
// page's Content-Security-Policy forbids eval, so in a browser the attempt only logs a violation:
// parse without compiling there (before the schemas below are built). Servers keep compiling.
if ('window' in globalThis) z.config({ jitless: true })

/**
 * The six channels of an agent session, with exactly the fields of the session spec, and the
 * conversation with it: users' prompts and the agents' answers to them. Objects are strict so a
 * misspelt field is a clear 400, not silently dropped data.
 */

const Id = z.string().min(1).max(200)
/** Agent ids name a stream (`agents/<agentId>`), so they keep to URL-safe characters. */
export const AgentIdSchema = Id.regex(/^[\w.:-]+$/, 'agentId may contain letters, digits, _ . : - only')
const Timestamp = z.iso.datetime({ offset: true })
const Text = z.string().max(100_000)
const Coordinate = z.number().finite().min(-1_000_000).max(1_000_000)
/** Only web URLs: an avatar must never become a `javascript:` link. */
const WebUrl = z.url({ protocol: /^https?$/ }).max(2048)

export const ChunkSchema = z.strictObject({
  id: Id,
  agentId: AgentIdSchema,
  sessionId: Id,
  text: Text,
  accumulated: Text.optional(),
  turn: z.int().min(0).optional(),
  timestamp: Timestamp,
})

/** Any JSON value: tool call input and output, workflow payloads. */
export type Json = z.infer<ReturnType<typeof z.json>>

export const ToolCallStatusSchema = z.enum(['pending', 'running', 'complete', 'error'])

export const ToolCallSchema = z.strictObject({
  id: Id,
  agentId: AgentIdSchema,
  sessionId: Id,
  tool: z.string().min(1).max(200),
  input: z.json(),
  output: z.json().optional(),
  status: ToolCallStatusSchema,
  /** Milliseconds from start to result. */
  duration: z.number().finite().min(0).optional(),
  timestamp: Timestamp,
})

export const PresenceSchema = z.strictObject({
  userId: Id,
  sessionId: Id,
  displayName: z.string().min(1).max(100).optional(),
  avatarUrl: WebUrl.optional(),
  cursor: z.strictObject({ x: Coordinate, y: Coordinate }).optional(),
  lastSeen: Timestamp,
  joinedAt: Timestamp,
})

export const TerminalSchema = z.strictObject({
  id: Id,
  sessionId: Id,
  type: z.enum(['input', 'output', 'error']),
  data: Text,
  source: z.enum(['user', 'agent', 'system']),
  timestamp: Timestamp,
})

export const WorkflowTypeSchema = z.enum([
  'approval:requested',
  'approval:approved',
  'approval:rejected',
  'worktree:created',
  'worktree:merged',
  'worktree:removed',
])

export const WorkflowSchema = z.strictObject({
  id: Id,
  sessionId: Id,
  taskId: Id.optional(),
  type: WorkflowTypeSchema,
  /** Free-form details; an approval decision names its request as `payload.requestId`. */
  payload: z.record(z.string(), z.json()),
  /** Who did it. On a collaborator's decision the server sets it: the display name they joined with. */
  actor: z.string().min(1).max(200).optional(),
  /** A stable id of the actor: on a collaborator's decision, the presence user id. */
  actorId: Id.optional(),
  timestamp: Timestamp,
})

export const AgentStatusSchema = z.enum(['idle', 'starting', 'running', 'paused', 'error', 'completed'])

export const AgentStateSchema = z.strictObject({
  agentId: AgentIdSchema,
  sessionId: Id,
  status: AgentStatusSchema,
  taskId: Id.optional(),
  turn: z.int().min(0).optional(),
  /** Percent complete, 0–100. */
  progress: z.number().finite().min(0).max(100).optional(),
  currentTool: z.string().max(200).optional(),
  message: z.string().max(10_000).optional(),
  error: z.string().max(10_000).optional(),
  timestamp: Timestamp,
})

/**
 * What a user asks an agent. Collaborators post prompts (the server sets `actor` and `actorId`
 * from their presence key, as on approval decisions); agents and the server may too.
 */
export const PromptSchema = z.strictObject({
  id: Id,
  sessionId: Id,
  /** The agent asked. Default: the session's agent. */
  agentId: AgentIdSchema.optional(),
  text: Text.min(1),
  actor: z.string().min(1).max(200).optional(),
  actorId: Id.optional(),
  timestamp: Timestamp,
})

/** A part of an answer, in the order the agent produced them. */
export const AnswerPartSchema = z.discriminatedUnion('type', [
  /** A model step begins (a call to the model; tool results are read in the next one). */
  z.strictObject({ type: z.literal('step') }),
  /** The text of the answering agent's chunks of this turn. */
  z.strictObject({ type: z.literal('text'), turn: z.int().min(0) }),
  /** The same, for the model's reasoning rather than its answer. */
  z.strictObject({ type: z.literal('reasoning'), turn: z.int().min(0) }),
  /** The tool call of this id (a `toolCalls` record). */
  z.strictObject({ type: z.literal('tool'), toolCallId: Id }),
])

export const AnswerStatusSchema = z.enum(['running', 'complete', 'error'])

/**
 * An agent's answer to a prompt: its `id` is the prompt's. It says which of the agent's chunks
 * (by turn) and tool calls make up the answer, in order, so answers stay apart however many
 * people prompt at once. The agent updates it as the answer grows.
 */
export const AnswerSchema = z.strictObject({
  id: Id,
  sessionId: Id,
  agentId: AgentIdSchema,
  status: AnswerStatusSchema,
  parts: z.array(AnswerPartSchema).max(1000),
  /** Tokens the model used for the answer, when the provider reports them. */
  usage: z.strictObject({
    inputTokens: z.int().min(0).optional(),
    outputTokens: z.int().min(0).optional(),
    totalTokens: z.int().min(0).optional(),
  }).optional(),
  error: z.string().max(10_000).optional(),
  timestamp: Timestamp,
})

export type Chunk = z.infer<typeof ChunkSchema>
export type ToolCall = z.infer<typeof ToolCallSchema>
export type ToolCallStatus = z.infer<typeof ToolCallStatusSchema>
export type Presence = z.infer<typeof PresenceSchema>
export type TerminalEntry = z.infer<typeof TerminalSchema>
export type WorkflowEvent = z.infer<typeof WorkflowSchema>
export type WorkflowType = z.infer<typeof WorkflowTypeSchema>
export type AgentState = z.infer<typeof AgentStateSchema>
export type AgentStatus = z.infer<typeof AgentStatusSchema>
export type Prompt = z.infer<typeof PromptSchema>
export type Answer = z.infer<typeof AnswerSchema>
export type AnswerPart = z.infer<typeof AnswerPartSchema>
export type AnswerStatus = z.infer<typeof AnswerStatusSchema>

export const CHANNEL_SCHEMAS = {
  chunks: ChunkSchema,
  toolCalls: ToolCallSchema,
  presence: PresenceSchema,
  terminal: TerminalSchema,
  workflow: WorkflowSchema,
  agentState: AgentStateSchema,
  prompts: PromptSchema,
  answers: AnswerSchema,
} as const

export type Channel = keyof typeof CHANNEL_SCHEMAS

export interface ChannelData {
  chunks: Chunk
  toolCalls: ToolCall
  presence: Presence
  terminal: TerminalEntry
  workflow: WorkflowEvent
  agentState: AgentState
  prompts: Prompt
  answers: Answer
}

/** A session event: one channel and its record. */
export type SessionEvent = { [C in Channel]: { channel: C, data: ChannelData[C] } }[Channel]

export const SessionEventSchema = z.discriminatedUnion('channel', [
  z.strictObject({ channel: z.literal('chunks'), data: ChunkSchema }),
  z.strictObject({ channel: z.literal('toolCalls'), data: ToolCallSchema }),
  z.strictObject({ channel: z.literal('presence'), data: PresenceSchema }),
  z.strictObject({ channel: z.literal('terminal'), data: TerminalSchema }),
  z.strictObject({ channel: z.literal('workflow'), data: WorkflowSchema }),
  z.strictObject({ channel: z.literal('agentState'), data: AgentStateSchema }),
  z.strictObject({ channel: z.literal('prompts'), data: PromptSchema }),
  z.strictObject({ channel: z.literal('answers'), data: AnswerSchema }),
])

/**
 * What a writer sends: the server fills `id`, `sessionId` and `timestamp` when they are absent.
 * Presence times come from the server's clock only, so they cannot be sent.
 */
export const SessionEventInputSchema = z.discriminatedUnion('channel', [
  z.strictObject({ channel: z.literal('chunks'), data: ChunkSchema.partial({ id: true, sessionId: true, timestamp: true }) }),
  z.strictObject({ channel: z.literal('toolCalls'), data: ToolCallSchema.partial({ id: true, sessionId: true, timestamp: true }) }),
  z.strictObject({ channel: z.literal('presence'), data: PresenceSchema.omit({ lastSeen: true, joinedAt: true }).partial({ sessionId: true }) }),
  z.strictObject({ channel: z.literal('terminal'), data: TerminalSchema.partial({ id: true, sessionId: true, timestamp: true }) }),
  z.strictObject({ channel: z.literal('workflow'), data: WorkflowSchema.partial({ id: true, sessionId: true, timestamp: true }) }),
  z.strictObject({ channel: z.literal('agentState'), data: AgentStateSchema.partial({ sessionId: true, timestamp: true }) }),
  z.strictObject({ channel: z.literal('prompts'), data: PromptSchema.partial({ id: true, sessionId: true, timestamp: true }) }),
  z.strictObject({ channel: z.literal('answers'), data: AnswerSchema.partial({ sessionId: true, timestamp: true }) }),
])

export type SessionEventInput = z.infer<typeof SessionEventInputSchema>
