import type { AgentState, Presence, ToolCall, WorkflowEvent } from '../../shared/sessions/channels'
import type { AgentMessage } from '../../shared/sessions/reducer'
import type { TerminalLine } from '../../composables/useTerminal'

const T0 = Date.parse('2026-11-26T10:00:00.000Z')
export const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString()

export function message(turn: number, text: string, agentId = 'agent-1'): AgentMessage {
  return { id: `${agentId}:${turn}`, agentId, turn, text, startedAt: at(turn), updatedAt: at(turn) }
}

export function messages(count: number): AgentMessage[] {
  return Array.from({ length: count }, (_, turn) => message(turn, `Message **${turn}**`))
}

export function toolCall(id: string, status: ToolCall['status'], extra: Partial<ToolCall> = {}): ToolCall {
  return { id, agentId: 'agent-1', sessionId: 's1', tool: 'read_file', input: { path: 'src/App.vue' }, status, timestamp: at(1), ...extra }
}

export function terminalLine(id: string, data: string, extra: Partial<TerminalLine> = {}): TerminalLine {
  return { id, sessionId: 's1', type: 'output', data, source: 'agent', timestamp: at(1), ...extra }
}

export function workflowEvent(id: string, type: WorkflowEvent['type'], payload: WorkflowEvent['payload'] = {}, extra: Partial<WorkflowEvent> = {}): WorkflowEvent {
  return { id, sessionId: 's1', type, payload, timestamp: at(1), ...extra }
}

export function presence(userId: string, extra: Partial<Presence> = {}): Presence {
  return { userId, sessionId: 's1', lastSeen: at(10), joinedAt: at(0), ...extra }
}

export function agentState(extra: Partial<AgentState> = {}): AgentState {
  return { agentId: 'agent-1', sessionId: 's1', status: 'running', timestamp: at(1), ...extra }
}
