/**
 * @durable-sessions/agent/chat — the browser side of an AI SDK agent in a durable session: a
 * ChatTransport for `@ai-sdk/vue`'s `Chat` (or any AI SDK UI), and the session's conversation as
 * UI messages. Nothing here imports Node modules or the `ai` runtime (types only).
 *
 * ```ts
 * import { Chat } from '@ai-sdk/vue'
 * import { SessionChatTransport, sessionUIMessages } from '@durable-sessions/agent/chat'
 * const chat = new Chat({ id: sessionId, messages: sessionUIMessages(state), transport: new SessionChatTransport({ sessionId, collaboratorKey }) })
 * ```
 */
export { SessionChatTransport } from './transport'
export type { SessionChatTransportOptions } from './transport'
export { answerMessageId, sessionUIMessages } from '../conversation/ui-messages'
export type { SessionUIMessagesOptions } from '../conversation/ui-messages'
export type { SessionState } from '../../../../shared/sessions/reducer'
