import type { Presence, TerminalEntry, WorkflowEvent } from './channels'

/** Presence counts as online while its last heartbeat is this recent. */
export const PRESENCE_WINDOW_MS = 30_000
export const INPUT_HISTORY_LIMIT = 50

/** Participants seen within the presence window, earliest joiner first. */
export function selectParticipants(presence: Record<string, Presence>, now: number, windowMs = PRESENCE_WINDOW_MS): Presence[] {
  return Object.values(presence)
    .filter(entry => now - Date.parse(entry.lastSeen) <= windowMs)
    .sort((a, b) => a.joinedAt.localeCompare(b.joinedAt))
}

/** The decision (approved or rejected) recorded for each approval request, by request id. */
export function selectApprovalDecisions(workflow: WorkflowEvent[]): Map<string, WorkflowEvent> {
  const decisions = new Map<string, WorkflowEvent>()
  for (const event of workflow) {
    const requestId = event.payload.requestId
    if ((event.type === 'approval:approved' || event.type === 'approval:rejected') && typeof requestId === 'string' && !decisions.has(requestId))
      decisions.set(requestId, event)
  }
  return decisions
}

/** Approval requests that nobody has decided yet, oldest first. */
export function selectPendingApprovals(workflow: WorkflowEvent[]): WorkflowEvent[] {
  const decisions = selectApprovalDecisions(workflow)
  return workflow.filter(event => event.type === 'approval:requested' && !decisions.has(event.id))
}

/** The last user inputs, newest first. */
export function selectInputHistory(terminal: TerminalEntry[], limit = INPUT_HISTORY_LIMIT): string[] {
  const history: string[] = []
  for (let i = terminal.length - 1; i >= 0 && history.length < limit; i--) {
    const entry = terminal[i]!
    if (entry.type === 'input' && entry.source === 'user') history.push(entry.data)
  }
  return history
}
