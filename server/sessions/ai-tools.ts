import { tool } from 'ai'
import { z } from 'zod'
import type { AgentSession } from '../../packages/agent/src/index'
import { selectParticipants } from '#layers/durable-sessions/shared/sessions/selectors'

/**
 * What the built-in AI agent can do in its session: look around freely, and write to the
 * session's terminal only once a collaborator approves (the AI SDK's tool approval, answered
 * from the viewer).
 */
export function builtinTools(session: AgentSession) {
  return {
    current_time: tool({
      description: 'The current date and time (ISO 8601, UTC).',
      inputSchema: z.object({}),
      execute: async () => ({ now: new Date().toISOString() }),
    }),
    session_participants: tool({
      description: 'Who is in this session right now (their display names).',
      inputSchema: z.object({}),
      execute: async () => {
        const { state } = await session.snapshot()
        return { participants: selectParticipants(state.presence, Date.now()).map(entry => entry.displayName ?? entry.userId) }
      },
    }),
    write_to_terminal: tool({
      description: 'Prints a line in the session\'s terminal, which everyone in the session sees. A collaborator must approve it.',
      inputSchema: z.object({ text: z.string().min(1).max(2000) }),
      execute: async ({ text }) => {
        await session.terminal(text)
        return { written: true }
      },
    }),
  }
}

/** Tools that wait for a collaborator's approval. */
export const APPROVED_TOOLS = { write_to_terminal: 'user-approval' } as const
