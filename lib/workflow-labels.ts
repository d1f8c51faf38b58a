import type { WorkflowEvent } from '#layers/durable-sessions/shared/sessions/channels'

/** Human wording for workflow events; payloads are free-form, so every field is read defensively. */

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null
}

export function approvalTitle(request: WorkflowEvent): string {
  const { payload } = request
  return text(payload.title) ?? text(payload.action) ?? text(payload.command) ?? (request.taskId ? `Approval for ${request.taskId}` : 'Approval requested')
}

export function approvalDescription(request: WorkflowEvent): string | null {
  return text(request.payload.description) ?? text(request.payload.reason)
}

/** The branch, name or path a worktree event is about. */
export function worktreeName(event: WorkflowEvent): string | null {
  const { payload } = event
  return text(payload.branch) ?? text(payload.name) ?? text(payload.worktree) ?? text(payload.path) ?? event.taskId ?? null
}

export const WORKFLOW_VERBS: Record<WorkflowEvent['type'], string> = {
  'approval:requested': 'Approval requested',
  'approval:approved': 'Approved',
  'approval:rejected': 'Rejected',
  'worktree:created': 'Worktree created',
  'worktree:merged': 'Worktree merged',
  'worktree:removed': 'Worktree removed',
}
