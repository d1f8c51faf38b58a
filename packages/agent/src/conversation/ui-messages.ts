import type { DynamicToolUIPart, UIMessage } from 'ai'
import type { Answer, ToolCall, WorkflowEvent } from '../../../../shared/sessions/channels'
import { messageId } from '../../../../shared/sessions/reducer'
import type { SessionState } from '../../../../shared/sessions/reducer'
import { selectApprovalDecisions } from '../../../../shared/sessions/selectors'

/**
 * A session's conversation as AI SDK UI messages: each prompt is a user message (its id is the
 * prompt's), each answer an assistant message (see answerMessageId). The same view serves a
 * `Chat`'s initial messages in the browser and the model's history on the agent's side.
 */

/** The id of the assistant message that answers a prompt. */
export const answerMessageId = (promptId: string) => `${promptId}.answer`

/** The id of an answer's text or reasoning part: its prompt and turn. */
export const answerPartId = (promptId: string, turn: number) => `${promptId}.${turn}`

/** The approval the AI SDK asked for a tool call: the `approval:requested` naming it, and its decision. */
export interface ToolApproval {
  request: WorkflowEvent
  decision?: WorkflowEvent
}

/** Approval requests by the tool call they are about (`payload.toolCallId`), with their decisions. */
export function toolApprovals(workflow: WorkflowEvent[]): Map<string, ToolApproval> {
  const decisions = selectApprovalDecisions(workflow)
  const approvals = new Map<string, ToolApproval>()
  for (const event of workflow) {
    const toolCallId = event.payload.toolCallId
    if (event.type === 'approval:requested' && typeof toolCallId === 'string')
      approvals.set(toolCallId, { request: event, decision: decisions.get(event.id) })
  }
  return approvals
}

export interface SessionUIMessagesOptions {
  /** Stop after this prompt (and its answer, if any): the history a model sees when answering it. */
  through?: string
}

/** The conversation so far, prompts and answers in stream order. */
export function sessionUIMessages(state: SessionState, options: SessionUIMessagesOptions = {}): UIMessage[] {
  const answers = new Map(state.answers.map(answer => [answer.id, answer]))
  const texts = new Map(state.messages.map(message => [message.id, message.text]))
  const calls = new Map(state.toolCalls.map(call => [call.id, call]))
  const approvals = toolApprovals(state.workflow)
  const messages: UIMessage[] = []
  for (const prompt of state.prompts) {
    messages.push({ id: prompt.id, role: 'user', parts: [{ type: 'text', text: prompt.text }] })
    const answer = answers.get(prompt.id)
    if (answer) messages.push(answerMessage(answer, texts, calls, approvals))
    if (prompt.id === options.through) break
  }
  return messages
}

function answerMessage(answer: Answer, texts: Map<string, string>, calls: Map<string, ToolCall>, approvals: Map<string, ToolApproval>): UIMessage {
  const parts: UIMessage['parts'] = []
  const last = answer.parts.length - 1
  answer.parts.forEach((part, index) => {
    const state = answer.status === 'running' && index === last ? 'streaming' : 'done'
    if (part.type === 'step') parts.push({ type: 'step-start' })
    else if (part.type === 'tool') {
      const call = calls.get(part.toolCallId)
      if (call) parts.push(toolPart(call, approvals.get(call.id)))
    }
    else {
      const text = texts.get(messageId(answer.agentId, part.turn)) ?? ''
      parts.push(part.type === 'text' ? { type: 'text', text, state } : { type: 'reasoning', id: answerPartId(answer.id, part.turn), text, state })
    }
  })
  return { id: answerMessageId(answer.id), role: 'assistant', parts }
}

/** What an error output says: `{error}` as the SDK records it, else the output as JSON. */
export function errorText(output: unknown): string {
  const error = (output as { error?: unknown } | null | undefined)?.error
  return typeof error === 'string' ? error : JSON.stringify(output ?? 'failed')
}

/** A tool call as the AI SDK's UI shows it, with its approval's state when it needed one. */
export function toolPart(call: ToolCall, approval?: ToolApproval): DynamicToolUIPart {
  const base = { type: 'dynamic-tool' as const, toolName: call.tool, toolCallId: call.id }
  const request = approval && { id: approval.request.id, ...signatureOf(approval.request) }
  const decided = approval?.decision && request && {
    ...request,
    approved: approval.decision.type === 'approval:approved',
    ...(typeof approval.decision.payload.reason === 'string' ? { reason: approval.decision.payload.reason } : {}),
  }
  if (call.status === 'complete') return { ...base, state: 'output-available', input: call.input, output: call.output ?? null, ...(decided?.approved ? { approval: { ...decided, approved: true } } : {}) }
  // Denied once the agent has recorded it; until then the model still has to be told.
  if (decided && !decided.approved && call.status === 'error') return { ...base, state: 'output-denied', input: call.input, approval: { ...decided, approved: false } }
  if (call.status === 'error') return { ...base, state: 'output-error', input: call.input, errorText: errorText(call.output), ...(decided?.approved ? { approval: { ...decided, approved: true } } : {}) }
  if (decided) return { ...base, state: 'approval-responded', input: call.input, approval: decided }
  if (request) return { ...base, state: 'approval-requested', input: call.input, approval: request }
  if (call.input === null && call.status === 'pending') return { ...base, state: 'input-streaming', input: undefined }
  return { ...base, state: 'input-available', input: call.input }
}

/** The signature the AI SDK put on an approval request (experimental_toolApprovalSecret), kept in its payload. */
function signatureOf(request: WorkflowEvent): { signature?: string } {
  return typeof request.payload.signature === 'string' ? { signature: request.payload.signature } : {}
}
