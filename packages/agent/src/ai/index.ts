/**
 * @durable-sessions/agent/ai — AI SDK agents in durable sessions, on the agent's side: pipe a
 * `streamText` answer into a session, or let an agent answer the session's prompts.
 *
 * ```ts
 * import { streamText } from 'ai'
 * import { attachSession } from '@durable-sessions/agent'
 * import { answerPrompts } from '@durable-sessions/agent/ai'
 * const session = attachSession({ server, sessionId, agentToken })
 * answerPrompts(session, ({ messages, signal }) => streamText({ model, messages, tools, abortSignal: signal }))
 * ```
 */
export { pipeToSession } from './pipe'
export type { AnswerSource, PendingApproval, PipeOptions, PipeResult, StreamTextLike } from './pipe'
export { answerPrompts } from './answer-prompts'
export type { AnswerPromptsOptions, PromptAnswerer, PromptContext } from './answer-prompts'
export { answerMessageId, sessionUIMessages } from '../conversation/ui-messages'
export type { Answer, AnswerPart, Prompt } from '../../../../shared/sessions/channels'
