import type { UIMessageChunk } from 'ai'
import type { Answer, ToolCall, WorkflowEvent } from '../../../../shared/sessions/channels'
import { fromChange } from '../../../../shared/sessions/wire'
import { answerMessageId, answerPartId, errorText } from './ui-messages'

type SentKind = 'start' | 'input' | 'request' | 'response' | 'output'

interface ToolProgress {
  call?: ToolCall
  approvalId?: string
  signature?: string
  decision?: WorkflowEvent
  /** Chunks already sent for this call, by kind. */
  sent: Set<SentKind>
  registered: boolean
}

/**
 * Turns the session stream into the AI SDK UI message chunks of one answer: the stream is read
 * in order from any offset before the answer began, and everything that is not about this
 * answer is skipped. The answer record says which of the agent's turns and tool calls belong
 * to it (see AnswerSchema), and it is always published before them, so this works however
 * many prompts are answered in the same session.
 */
export class AnswerChunks {
  private answer?: Answer
  private registeredParts = 0
  private readonly turns = new Map<number, 'text' | 'reasoning'>()
  private open?: { kind: 'text' | 'reasoning', id: string }
  private inStep = false
  private readonly tools = new Map<string, ToolProgress>()
  private readonly approvals = new Map<string, string>()
  private started = false
  /** The answer is complete or failed: its last chunk has been returned. */
  done = false

  constructor(readonly promptId: string) {}

  /** The chunks one change message of the session stream adds to the answer. */
  apply(message: unknown): UIMessageChunk[] {
    if (this.done) return []
    const decoded = fromChange(message)
    if (!decoded) return []
    const out: UIMessageChunk[] = []
    const { event } = decoded
    switch (event.channel) {
      case 'answers':
        if (event.data.id === this.promptId) this.onAnswer(event.data, out)
        break
      case 'chunks': {
        const kind = this.answer?.agentId === event.data.agentId ? this.turns.get(event.data.turn ?? 0) : undefined
        if (kind && this.open?.id === this.partId(event.data.turn ?? 0) && event.data.text)
          out.push(kind === 'text' ? { type: 'text-delta', id: this.open.id, delta: event.data.text } : { type: 'reasoning-delta', id: this.open.id, delta: event.data.text })
        break
      }
      case 'toolCalls':
        this.toolOf(event.data.id).call = event.data
        this.sendTool(event.data.id, out)
        break
      case 'workflow':
        this.onWorkflow(event.data, out)
        break
    }
    return out
  }

  private onAnswer(answer: Answer, out: UIMessageChunk[]): void {
    this.answer = answer
    this.start(out)
    for (; this.registeredParts < answer.parts.length; this.registeredParts++) {
      const part = answer.parts[this.registeredParts]!
      this.closeText(out)
      if (part.type === 'step') {
        if (this.inStep) out.push({ type: 'finish-step' })
        out.push({ type: 'start-step' })
        this.inStep = true
      }
      else if (part.type === 'tool') {
        this.toolOf(part.toolCallId).registered = true
        this.sendTool(part.toolCallId, out)
      }
      else {
        const id = this.partId(part.turn)
        this.turns.set(part.turn, part.type)
        this.open = { kind: part.type, id }
        out.push(part.type === 'text' ? { type: 'text-start', id } : { type: 'reasoning-start', id })
      }
    }
    if (answer.status === 'running') return
    this.closeText(out)
    if (this.inStep) out.push({ type: 'finish-step' })
    if (answer.status === 'error') out.push({ type: 'error', errorText: answer.error ?? 'The agent could not answer' })
    else out.push({ type: 'finish', finishReason: 'stop' })
    this.done = true
  }

  private onWorkflow(event: WorkflowEvent, out: UIMessageChunk[]): void {
    const toolCallId = event.type === 'approval:requested' ? event.payload.toolCallId : this.approvals.get(String(event.payload.requestId))
    if (typeof toolCallId !== 'string') return
    const tool = this.toolOf(toolCallId)
    if (event.type === 'approval:requested') {
      this.approvals.set(event.id, toolCallId)
      tool.approvalId = event.id
      if (typeof event.payload.signature === 'string') tool.signature = event.payload.signature
    }
    else if (event.type === 'approval:approved' || event.type === 'approval:rejected') {
      tool.decision ??= event
    }
    this.sendTool(toolCallId, out)
  }

  /** Whatever this tool call's state adds to what was sent, in the order the AI SDK expects. */
  private sendTool(toolCallId: string, out: UIMessageChunk[]): void {
    const tool = this.toolOf(toolCallId)
    const call = tool.call
    if (!tool.registered || !call) return
    const once = (kind: SentKind, chunk: UIMessageChunk) => {
      if (tool.sent.has(kind)) return
      tool.sent.add(kind)
      out.push(chunk)
    }
    const base = { toolCallId, toolName: call.tool, dynamic: true as const }
    once('start', { type: 'tool-input-start', ...base })
    const hasInput = call.input !== null || call.status !== 'pending'
    if (!hasInput) return
    once('input', { type: 'tool-input-available', ...base, input: call.input })
    if (tool.approvalId) once('request', { type: 'tool-approval-request', approvalId: tool.approvalId, toolCallId, ...(tool.signature ? { signature: tool.signature } : {}) })
    if (tool.approvalId && tool.decision) {
      const approved = tool.decision.type === 'approval:approved'
      const reason = tool.decision.payload.reason
      once('response', { type: 'tool-approval-response', approvalId: tool.approvalId, approved, ...(typeof reason === 'string' && reason ? { reason } : {}) })
      if (!approved) return once('output', { type: 'tool-output-denied', toolCallId })
    }
    if (call.status === 'complete') once('output', { type: 'tool-output-available', toolCallId, output: call.output ?? null, dynamic: true })
    else if (call.status === 'error') once('output', { type: 'tool-output-error', toolCallId, errorText: errorText(call.output), dynamic: true })
  }

  private start(out: UIMessageChunk[]): void {
    if (this.started) return
    this.started = true
    out.push({ type: 'start', messageId: answerMessageId(this.promptId) })
  }

  private closeText(out: UIMessageChunk[]): void {
    if (!this.open) return
    out.push(this.open.kind === 'text' ? { type: 'text-end', id: this.open.id } : { type: 'reasoning-end', id: this.open.id })
    this.open = undefined
  }

  private partId(turn: number): string {
    return answerPartId(this.promptId, turn)
  }

  private toolOf(toolCallId: string): ToolProgress {
    let tool = this.tools.get(toolCallId)
    if (!tool) {
      tool = { sent: new Set(), registered: false }
      this.tools.set(toolCallId, tool)
    }
    return tool
  }
}
