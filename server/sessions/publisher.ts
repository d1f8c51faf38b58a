import { randomUUID } from 'node:crypto'
import type { WriteResult } from '#shared/sessions/api'
import type { AgentState, TerminalEntry, WorkflowEvent } from '#shared/sessions/channels'
import type { SessionState } from '#shared/sessions/reducer'
import type { Role } from './access'
import type { SessionService } from './service'

type Json = string | number | boolean | null | Json[] | { [key: string]: Json }

/** The steps an agent reports; a tool call keeps one id from `tool:start` to `tool:result`. */
export type AgentStep =
  | { type: 'tool:start', toolCallId?: string, tool: string, input: Json }
  | { type: 'tool:invoke', toolCallId: string }
  | { type: 'tool:result', toolCallId: string, output?: Json, error?: string, duration?: number }
  | { type: 'stream:token', text: string, turn?: number }
  | { type: 'agent:turn', turn: number }
  | { type: 'agent:complete', message?: string }

export type AgentStateUpdate = Partial<Omit<AgentState, 'agentId' | 'sessionId' | 'timestamp'>>

/**
 * Publish helpers for agents running inside the server. Updates merge into the current record
 * (read from the materialised session), so a status change never drops a field.
 */
export class SessionPublisher {
  private readonly toolStarts = new Map<string, number>()

  constructor(
    private readonly service: SessionService,
    readonly sessionId: string,
    private readonly role: Role = 'agent',
    private readonly now: () => number = Date.now,
  ) {}

  publishAgentState(agentId: string, update: AgentStateUpdate): WriteResult {
    const current = this.state().agentState[agentId]
    const data = { ...(current ? stripMeta(current) : { status: 'running' as const }), ...update, agentId }
    return this.service.publish(this.sessionId, [{ channel: 'agentState', data }], this.role)
  }

  /** Reports a step; returns the write and, for tool steps, the tool call id. */
  publishAgentStep(agentId: string, step: AgentStep): WriteResult & { toolCallId?: string } {
    switch (step.type) {
      case 'tool:start': {
        const id = step.toolCallId ?? randomUUID()
        this.toolStarts.set(id, this.now())
        const result = this.service.publish(this.sessionId, [{ channel: 'toolCalls', data: { id, agentId, tool: step.tool, input: step.input, status: 'pending' } }], this.role)
        return { ...result, toolCallId: id }
      }
      case 'tool:invoke':
        return { ...this.updateToolCall(step.toolCallId, { status: 'running' }), toolCallId: step.toolCallId }
      case 'tool:result': {
        const startedAt = this.toolStarts.get(step.toolCallId)
        this.toolStarts.delete(step.toolCallId)
        const duration = step.duration ?? (startedAt === undefined ? undefined : this.now() - startedAt)
        const result = this.updateToolCall(step.toolCallId, {
          status: step.error ? 'error' : 'complete',
          output: step.error ? { error: step.error } : step.output,
          ...(duration === undefined ? {} : { duration }),
        })
        return { ...result, toolCallId: step.toolCallId }
      }
      case 'stream:token': {
        const turn = step.turn ?? this.state().agentState[agentId]?.turn ?? 0
        return this.service.publish(this.sessionId, [{ channel: 'chunks', data: { agentId, text: step.text, turn } }], this.role)
      }
      case 'agent:turn':
        return this.publishAgentState(agentId, { status: 'running', turn: step.turn })
      case 'agent:complete':
        return this.publishAgentState(agentId, { status: 'completed', progress: 100, currentTool: undefined, message: step.message })
    }
  }

  publishTerminalEvent(entry: Pick<TerminalEntry, 'type' | 'data' | 'source'>): WriteResult {
    return this.service.publish(this.sessionId, [{ channel: 'terminal', data: entry }], this.role)
  }

  publishWorkflowEvent(event: Pick<WorkflowEvent, 'type' | 'payload'> & Partial<Pick<WorkflowEvent, 'id' | 'taskId' | 'actor'>>): WriteResult {
    return this.service.publish(this.sessionId, [{ channel: 'workflow', data: event }], this.role)
  }

  publishPresence(userId: string, action: 'join' | 'leave' | 'update', details: { displayName?: string, cursor?: { x: number, y: number } } = {}): WriteResult {
    return this.service.updatePresence(this.sessionId, { userId, action, ...details })
  }

  private updateToolCall(id: string, update: { status: 'running' | 'complete' | 'error', output?: Json, duration?: number }): WriteResult {
    const current = this.state().toolCalls.find(call => call.id === id)
    if (!current) throw new Error(`Unknown tool call ${id}: report tool:start first`)
    return this.service.publish(this.sessionId, [{ channel: 'toolCalls', data: { ...stripMeta(current), ...update, id } }], this.role)
  }

  private state(): SessionState {
    return this.service.liveState(this.sessionId)
  }
}

/** Drops what the server fills in again (timestamp, sessionId) from a stored record. */
function stripMeta<T extends { timestamp?: string, sessionId?: string }>(record: T): Omit<T, 'timestamp' | 'sessionId'> {
  const { timestamp: _timestamp, sessionId: _sessionId, ...rest } = record
  return rest
}
