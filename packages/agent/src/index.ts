/**
 * @durable-sessions/agent — connect an AI agent to a Durable Sessions server: publish its text,
 * tool calls, state and terminal to a live, shareable session, and be steered from it.
 *
 * ```ts
 * import { createSession } from '@durable-sessions/agent'
 * const session = await createSession({ server: 'http://localhost:3000', title: 'Fix the flaky test' })
 * console.log(session.collaborateUrl)
 * await session.text('Reading the test…')
 * await session.close({ status: 'completed' })
 * ```
 */
export { attachSession, AgentSession, createSession, MAX_EVENT_TEXT } from './session'
export type {
  ApprovalDecision, ApprovalRequestOptions, AttachSessionOptions, CloseOptions, ConnectionOptions, CreateSessionOptions,
  PublishData, StateUpdate, TerminalInput, TerminalOptions, ToolCallHandle,
} from './session'
export {
  ApprovalTimeoutError, ConflictError, DurableSessionsError, ForbiddenError, NetworkError, RateLimitedError,
  SessionClosedError, SessionNotFoundError, UnauthorizedError, ValidationError,
} from './errors'
export type { ValidationIssue } from './errors'
export type { RetryInfo, WriterOptions } from './writer'
export type {
  AgentState, AgentStatus, Channel, SessionEvent, TerminalEntry, ToolCall, WorkflowEvent, WorkflowType,
} from '../../../shared/sessions/channels'
