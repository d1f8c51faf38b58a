import { createStateSchema } from '@durable-streams/state'
import { AgentStateSchema, AnswerSchema, ChunkSchema, PresenceSchema, PromptSchema, TerminalSchema, ToolCallSchema, WorkflowSchema } from './channels'
import type { Channel } from './channels'

/**
 * The session as a Durable Streams State Protocol schema: any `@durable-streams/state`
 * consumer (MaterializedState, StreamDB) can materialise a session stream with it.
 */
export const sessionStateSchema = createStateSchema({
  chunks: { schema: ChunkSchema, type: 'chunk', primaryKey: 'id' },
  toolCalls: { schema: ToolCallSchema, type: 'tool', primaryKey: 'id' },
  presence: { schema: PresenceSchema, type: 'presence', primaryKey: 'userId' },
  terminal: { schema: TerminalSchema, type: 'terminal', primaryKey: 'id' },
  workflow: { schema: WorkflowSchema, type: 'workflow', primaryKey: 'id' },
  agentState: { schema: AgentStateSchema, type: 'state', primaryKey: 'agentId' },
  prompts: { schema: PromptSchema, type: 'prompt', primaryKey: 'id' },
  answers: { schema: AnswerSchema, type: 'answer', primaryKey: 'id' },
})

export const CHANNEL_BY_TYPE: Record<string, Channel> = Object.fromEntries(
  Object.entries(sessionStateSchema).map(([channel, definition]) => [definition.type, channel as Channel]),
)
