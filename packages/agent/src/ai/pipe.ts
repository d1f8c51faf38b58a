import { toUIMessageStream } from 'ai'
import type { LanguageModelUsage, TextStreamPart, ToolSet, UIMessageChunk } from 'ai'
import type { Answer, AnswerPart, ToolCall } from '../../../../shared/sessions/channels'
import type { SessionState } from '../../../../shared/sessions/reducer'
import { toolApprovals } from '../conversation/ui-messages'
import type { AgentSession } from '../session'

type Json = string | number | boolean | null | Json[] | { [key: string]: Json }

/** A `streamText` result (its `stream`, and `totalUsage` when there is one). */
export interface StreamTextLike {
  stream: ReadableStream<TextStreamPart<ToolSet>>
  totalUsage?: PromiseLike<LanguageModelUsage>
}

/** What can be piped: a `streamText` result, or a UI message stream (e.g. `toUIMessageStream(...)`). */
export type AnswerSource = StreamTextLike | ReadableStream<UIMessageChunk> | AsyncIterable<UIMessageChunk>

export interface PipeOptions {
  /** The prompt being answered: the answer record takes its id. */
  promptId: string
  /** The session as it stands (a snapshot's state); read from the server when not given. */
  state?: SessionState
  /** The steps the model may take (`stopWhen: stepCountIs(n)`): the agent's progress is step ÷ maxSteps. */
  maxSteps?: number
  /**
   * The signal the source was started with (`abortSignal`): once it aborts, the answer is left
   * running as it stands, to be continued (a server shutting down), rather than marked failed.
   */
  signal?: AbortSignal
}

export interface PendingApproval {
  approvalId: string
  toolCallId: string
  toolName: string
}

export interface PipeResult {
  /**
   * `waiting`: the model asked for approvals; the answer goes on once they are decided.
   * `stopped`: `signal` aborted; the answer stays running, to be continued.
   */
  status: 'complete' | 'error' | 'waiting' | 'stopped'
  approvals: PendingApproval[]
  error?: string
}

interface ToolRun {
  name: string
  input: Json
  startedAt: number
  done: boolean
}

/**
 * Publishes an AI SDK answer into a session as it streams: text and reasoning deltas become
 * chunks (each text or reasoning part its own turn, so reasoning stays apart), tool calls one
 * `toolCalls` record per call id (`pending` → `running` → `complete`/`error`, with duration),
 * steps, tools, usage and the end the agent's state, and approvals the AI SDK asks for become
 * `approval:requested` (the request's id is the SDK's approvalId). The `answers` record with
 * the prompt's id lists the answer's turns and tool calls in order; it is published before
 * what it lists.
 *
 * Piping again into an answer that is complete publishes nothing; into one still running
 * (waiting for approvals, or cut off by a restart) it continues after what is there, under new
 * turns. Chunk ids derive from the answer, turn and position, and queued writes retry with the
 * same Idempotency-Key, so nothing lands twice.
 */
export async function pipeToSession(session: AgentSession, source: AnswerSource, options: PipeOptions): Promise<PipeResult> {
  const snapshot = options.state ? undefined : await session.snapshot()
  const state = options.state ?? snapshot!.state
  const agentId = session.agentId ?? snapshot?.session.agentId ?? (await session.snapshot()).session.agentId
  const existing = state.answers.find(answer => answer.id === options.promptId)
  if (existing && existing.status !== 'running') return { status: existing.status, approvals: [], error: existing.error }
  return new AnswerPipe(session, state, agentId, options, existing).run(source)
}

class AnswerPipe {
  private readonly parts: AnswerPart[]
  private nextTurn: number
  private readonly turns = new Map<string, { turn: number, count: number }>()
  private readonly tools = new Map<string, ToolRun>()
  /** Calls whose input is complete: running once the next chunk shows no approval was asked. */
  private readonly maybeRunning = new Set<string>()
  private readonly approvals: PendingApproval[] = []
  private steps = 0
  private usage?: Answer['usage']
  private error?: string

  constructor(
    private readonly session: AgentSession,
    state: SessionState,
    private readonly agentId: string,
    private readonly options: PipeOptions,
    private readonly existing?: Answer,
  ) {
    this.parts = [...existing?.parts ?? []]
    this.usage = existing?.usage
    // Turns are the agent's message numbers in the session: a new answer takes the next ones.
    this.nextTurn = 1 + Math.max(0, ...state.messages.filter(message => message.agentId === agentId).map(message => message.turn),
      ...state.answers.filter(answer => answer.agentId === agentId).flatMap(answer => answer.parts.map(part => 'turn' in part ? part.turn : 0)))
    const calls = new Map(state.toolCalls.map(call => [call.id, call]))
    const approvals = toolApprovals(state.workflow)
    for (const part of this.parts) {
      if (part.type !== 'tool') continue
      const call = calls.get(part.toolCallId)
      if (call) this.tools.set(call.id, { name: call.tool, input: call.input as Json, startedAt: Date.now(), done: call.status === 'complete' || call.status === 'error' })
      // Approved while the answer waited: it runs now, in the continuation.
      if (call?.status === 'pending' && approvals.get(call.id)?.decision?.type === 'approval:approved') this.record(call.id, 'running')
    }
  }

  async run(source: AnswerSource): Promise<PipeResult> {
    await this.state({ status: 'running', turn: this.nextTurn, currentTool: undefined, error: undefined, message: this.existing ? 'Continuing the answer' : 'Answering' })
    if (!this.existing) this.publishAnswer('running')
    try {
      for await (const chunk of chunksOf(source)) this.apply(chunk)
      if ('stream' in source && source.totalUsage) this.addUsage(await source.totalUsage)
    }
    catch (error) {
      this.error ??= error instanceof Error ? error.message : String(error)
    }
    if (this.options.signal?.aborted) return { status: 'stopped', approvals: [] }
    this.startRunning()
    if (this.error !== undefined) {
      this.publishAnswer('error')
      await this.state({ status: 'error', error: this.error.slice(0, 10_000), currentTool: undefined, message: 'The answer failed' })
      return { status: 'error', approvals: [], error: this.error }
    }
    if (this.approvals.length > 0) {
      this.publishAnswer('running')
      await this.state({ status: 'paused', currentTool: undefined, message: `Waiting for approval: ${this.approvals.map(approval => approval.toolName).join(', ')}` })
      return { status: 'waiting', approvals: this.approvals }
    }
    this.publishAnswer('complete')
    const tokens = this.usage?.totalTokens
    await this.state({ status: 'completed', progress: 100, currentTool: undefined, message: tokens === undefined ? 'Answered' : `Answered (${tokens} tokens)` })
    return { status: 'complete', approvals: [] }
  }

  private apply(chunk: UIMessageChunk): void {
    if (chunk.type !== 'tool-approval-request') this.startRunning()
    switch (chunk.type) {
      case 'start-step':
        this.steps++
        this.addPart({ type: 'step' })
        void this.state({ status: 'running', message: `Step ${this.steps}`, ...this.progress() })
        break
      case 'text-start':
      case 'reasoning-start': {
        const turn = this.nextTurn++
        this.turns.set(chunk.id, { turn, count: 0 })
        this.addPart({ type: chunk.type === 'text-start' ? 'text' : 'reasoning', turn })
        void this.state({ turn })
        break
      }
      case 'text-delta':
      case 'reasoning-delta': {
        const part = this.turns.get(chunk.id)
        if (!part || !chunk.delta) break
        void this.session.publish('chunks', { id: `${this.options.promptId}.${part.turn}.${part.count++}`, text: chunk.delta, turn: part.turn })
        break
      }
      case 'tool-input-start':
        this.startTool(chunk.toolCallId, chunk.toolName, null)
        break
      case 'tool-input-available':
        this.startTool(chunk.toolCallId, chunk.toolName, toJson(chunk.input))
        this.maybeRunning.add(chunk.toolCallId)
        break
      case 'tool-approval-request': {
        this.maybeRunning.delete(chunk.toolCallId)
        const tool = this.tools.get(chunk.toolCallId)
        const toolName = tool?.name ?? 'tool'
        this.approvals.push({ approvalId: chunk.approvalId, toolCallId: chunk.toolCallId, toolName })
        void this.session.workflow('approval:requested', {
          title: `Run ${toolName}`,
          description: describeInput(tool?.input ?? null),
          tool: toolName,
          toolCallId: chunk.toolCallId,
          input: tool?.input ?? null,
          ...(chunk.signature ? { signature: chunk.signature } : {}),
        }, { id: chunk.approvalId, actor: this.agentId })
        break
      }
      case 'tool-output-available':
        this.finishTool(chunk.toolCallId, 'complete', toJson(chunk.output))
        break
      case 'tool-output-error':
      case 'tool-input-error':
        this.finishTool(chunk.toolCallId, 'error', { error: chunk.errorText })
        break
      case 'tool-output-denied':
        this.finishTool(chunk.toolCallId, 'error', { error: 'Not approved' })
        break
      case 'error':
        this.error = chunk.errorText
        break
      case 'abort':
        this.error = chunk.reason ? `Aborted: ${chunk.reason}` : 'Aborted'
        break
    }
  }

  private startTool(id: string, name: string, input: Json): void {
    const known = this.tools.get(id)
    if (known && (known.done || input === null)) return
    if (!known) {
      this.tools.set(id, { name, input, startedAt: Date.now(), done: false })
      this.addPart({ type: 'tool', toolCallId: id })
      void this.state({ currentTool: name })
    }
    else known.input = input
    this.record(id, 'pending')
  }

  private finishTool(id: string, status: 'complete' | 'error', output: Json): void {
    const tool = this.tools.get(id)
    if (!tool || tool.done) return
    tool.done = true
    this.maybeRunning.delete(id)
    this.record(id, status, output)
    void this.state({ currentTool: undefined })
  }

  /** Calls whose input came without an approval request are running by now. */
  private startRunning(): void {
    for (const id of this.maybeRunning) this.record(id, 'running')
    this.maybeRunning.clear()
  }

  private record(id: string, status: ToolCall['status'], output?: Json): void {
    const tool = this.tools.get(id)
    if (!tool) return
    void this.session.publish('toolCalls', {
      id,
      tool: tool.name,
      input: tool.input,
      status,
      ...(output === undefined ? {} : { output }),
      ...(status === 'complete' || status === 'error' ? { duration: Date.now() - tool.startedAt } : {}),
    })
  }

  private addPart(part: AnswerPart): void {
    this.parts.push(part)
    this.publishAnswer('running')
  }

  private publishAnswer(status: Answer['status']): void {
    void this.session.publish('answers', {
      id: this.options.promptId,
      status,
      parts: [...this.parts],
      ...(this.usage ? { usage: this.usage } : {}),
      ...(status === 'error' && this.error !== undefined ? { error: this.error.slice(0, 10_000) } : {}),
    })
  }

  private addUsage(usage: LanguageModelUsage): void {
    const add = (before: number | undefined, more: number | undefined) => before === undefined && more === undefined ? undefined : (before ?? 0) + (more ?? 0)
    const next = {
      inputTokens: add(this.usage?.inputTokens, usage.inputTokens),
      outputTokens: add(this.usage?.outputTokens, usage.outputTokens),
      totalTokens: add(this.usage?.totalTokens, usage.totalTokens),
    }
    const present = Object.fromEntries(Object.entries(next).filter(([, value]) => value !== undefined))
    if (Object.keys(present).length > 0) this.usage = present
  }

  private progress(): { progress?: number } {
    const max = this.options.maxSteps
    return max ? { progress: Math.min(99, Math.round(100 * (this.steps - 1) / max)) } : {}
  }

  private state(update: Parameters<AgentSession['state']>[0]): Promise<void> {
    return this.session.state(update)
  }
}

async function* chunksOf(source: AnswerSource): AsyncIterable<UIMessageChunk> {
  // A tool's error reaches the session as its message (the default would prefix its class).
  const stream = 'stream' in source ? toUIMessageStream({ stream: source.stream, onError: error => error instanceof Error ? error.message : String(error) }) : source
  if (Symbol.asyncIterator in stream) {
    yield * stream as AsyncIterable<UIMessageChunk>
    return
  }
  const reader = (stream as ReadableStream<UIMessageChunk>).getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  }
  finally {
    reader.releaseLock()
  }
}

/** Tool inputs and outputs as JSON (what a session stores): dates become strings, undefined null. */
function toJson(value: unknown): Json {
  if (value === undefined) return null
  try {
    return JSON.parse(JSON.stringify(value)) as Json
  }
  catch {
    return String(value)
  }
}

/** A line for the approval card: the input as JSON, cut at 2,000 characters. */
function describeInput(input: Json): string {
  const text = JSON.stringify(input)
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text
}
