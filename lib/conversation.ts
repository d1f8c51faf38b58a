import type { Prompt } from '#layers/durable-sessions/shared/sessions/channels'
import type { AgentMessage, ConversationEntry } from '#layers/durable-sessions/shared/sessions/reducer'

/** One row of the messages panel: a user's prompt or an agent's message. */
export type ConversationItem = { kind: 'prompt', prompt: Prompt } | { kind: 'message', message: AgentMessage }

/**
 * The messages panel's rows: prompts and messages in `conversation` (stream) order, or the
 * messages alone without one. An entry whose record is not (or no longer) there is skipped.
 */
export function conversationItems(messages: AgentMessage[], prompts: Prompt[], conversation?: ConversationEntry[]): ConversationItem[] {
  if (!conversation) return messages.map(message => ({ kind: 'message', message }))
  const messagesById = new Map(messages.map(message => [message.id, message]))
  const promptsById = new Map(prompts.map(prompt => [prompt.id, prompt]))
  const items: ConversationItem[] = []
  for (const entry of conversation) {
    if (entry.kind === 'prompt') {
      const prompt = promptsById.get(entry.id)
      if (prompt) items.push({ kind: 'prompt', prompt })
    }
    else {
      const message = messagesById.get(entry.id)
      if (message) items.push({ kind: 'message', message })
    }
  }
  return items
}
