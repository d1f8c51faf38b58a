import type { AgentStatus, Json, SessionEvent, ToolCall } from '#layers/durable-sessions/shared/sessions/channels'
import { STREAM_START_OFFSET } from './offsets'

/**
 * An agent's state as its stream `agents/<agentId>` describes it, folded from the session events
 * that name the agent. Pure functions over a plain object, which the feed makes reactive.
 */

/** The spec's agent steps, as recovered from the events an agent stream carries. */
export type AgentStep =
  | { type: 'tool:start', toolCallId: string, tool: string, input: Json }
  | { type: 'tool:invoke', toolCallId: string, tool: string }
  | { type: 'tool:result', toolCallId: string, tool: string, output?: Json, error?: string, duration?: number }
  | { type: 'stream:token', text: string, turn: number }
  | { type: 'agent:turn', turn: number }
  | { type: 'agent:complete', message?: string }

/** One agent as its stream describes it, across every session it works in. */
export interface AgentFeedState {
  /** `unknown` until the first state event. */
  status: AgentStatus | 'unknown'
  /** Session of the latest event. */
  sessionId: string | null
  turn: number | null
  progress: number | null
  message: string | null
  error: string | null
  currentTool: string | null
  /** Text of the current turn so far. */
  streaming: string
  streamingTurn: number | null
  /** Latest tool calls, oldest first, each updated in place from start to result. */
  tools: ToolCall[]
  /** Offset of the agent stream the state includes everything before. */
  offset: string
}

export function createAgentFeedState(offset: string = STREAM_START_OFFSET): AgentFeedState {
  return {
    status: 'unknown',
    sessionId: null,
    turn: null,
    progress: null,
    message: null,
    error: null,
    currentTool: null,
    streaming: '',
    streamingTurn: null,
    tools: [],
    offset,
  }
}

/** Folds one event into the state; returns the steps it represents. */
export function foldAgentEvent(state: AgentFeedState, event: SessionEvent, maxTools = 50): AgentStep[] {
  switch (event.channel) {
    case 'chunks': {
      const chunk = event.data
      const turn = chunk.turn ?? state.turn ?? 0
      if (chunk.sessionId !== state.sessionId || turn !== state.streamingTurn) startTurn(state, turn)
      state.sessionId = chunk.sessionId
      state.streaming += chunk.text
      return [{ type: 'stream:token', text: chunk.text, turn }]
    }
    case 'toolCalls': {
      const call = event.data
      state.sessionId = call.sessionId
      const at = state.tools.findIndex(tool => tool.id === call.id)
      if (at >= 0) state.tools[at] = call
      else state.tools.push(call)
      if (state.tools.length > maxTools) state.tools.splice(0, state.tools.length - maxTools)
      return [toolStep(call)]
    }
    case 'agentState': {
      const next = event.data
      const steps: AgentStep[] = []
      if (next.turn !== undefined && next.turn !== state.turn) {
        steps.push({ type: 'agent:turn', turn: next.turn })
        startTurn(state, next.turn)
      }
      if (next.status === 'completed' && state.status !== 'completed') steps.push({ type: 'agent:complete', message: next.message })
      Object.assign(state, {
        status: next.status,
        sessionId: next.sessionId,
        turn: next.turn ?? null,
        progress: next.progress ?? null,
        message: next.message ?? null,
        error: next.error ?? null,
        currentTool: next.currentTool ?? null,
      })
      return steps
    }
    default:
      return []
  }
}

function startTurn(state: AgentFeedState, turn: number): void {
  state.streaming = ''
  state.streamingTurn = turn
}

function toolStep(call: ToolCall): AgentStep {
  const base = { toolCallId: call.id, tool: call.tool }
  switch (call.status) {
    case 'pending': return { type: 'tool:start', ...base, input: call.input }
    case 'running': return { type: 'tool:invoke', ...base }
    case 'complete': return { type: 'tool:result', ...base, output: call.output, duration: call.duration }
    case 'error': {
      const reported = (call.output as { error?: unknown } | undefined)?.error
      return { type: 'tool:result', ...base, output: call.output, duration: call.duration, error: typeof reported === 'string' ? reported : 'Tool call failed' }
    }
  }
}
