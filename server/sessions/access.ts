import type { SessionEvent, WorkflowEvent } from '#layers/durable-sessions/shared/sessions/channels'
import { selectApprovalDecisions } from '#layers/durable-sessions/shared/sessions/selectors'
import type { RecordOwner } from '#layers/durable-sessions/shared/sessions/wire'
import type { SessionRow } from '../db/schema'
import { SessionError } from './errors'
import { secretMatches } from './secrets'

/**
 * Capabilities, weakest first: the session id lets anyone read and join presence; the
 * collaborator key adds user terminal input, prompts and approval decisions; the agent token every
 * channel (as the session's registered agents), close and the demo; the server token
 * everything. On top of capabilities, records belong to the class of writer that created them.
 */
export type Role = 'viewer' | 'collaborator' | 'agent' | 'server'

export interface Credentials {
  bearer?: string
  collaboratorKey?: string
}

/** Presented-but-wrong credentials are refused outright rather than downgraded to viewer. */
export function resolveRole(session: SessionRow, credentials: Credentials, isServerToken: (token: string) => boolean): Role {
  if (credentials.bearer) {
    if (isServerToken(credentials.bearer)) return 'server'
    if (secretMatches(credentials.bearer, session.agentTokenHash)) return 'agent'
    throw new SessionError('unauthorized', 'The bearer token is not valid for this session')
  }
  if (credentials.collaboratorKey) {
    if (secretMatches(credentials.collaboratorKey, session.collaboratorKeyHash)) return 'collaborator'
    throw new SessionError('unauthorized', 'The collaborator key is not valid for this session')
  }
  return 'viewer'
}

/** An ended session accepts no further events (409). */
export function assertActive(session: SessionRow): void {
  if (session.status === 'ended') throw new SessionError('ended', 'Session has ended: it accepts no further events')
}

/** The class of writer a role writes as: the server counts as the agent. */
export function writerOf(role: Role): RecordOwner {
  return role === 'collaborator' ? 'collaborator' : 'agent'
}

/**
 * Presence on the events endpoint is the agents' own (viewers and collaborators join through
 * /presence, with a key): so nobody posts presence for someone else there.
 */
export function canWrite(role: Role, event: SessionEvent): boolean {
  if (role === 'agent' || role === 'server') return true
  if (role !== 'collaborator') return false
  if (event.channel === 'terminal') return event.data.type === 'input' && event.data.source === 'user'
  if (event.channel === 'workflow') return isDecision(event.data)
  return event.channel === 'prompts'
}

/**
 * The checks that need no session state: the role may write this kind of event, every agent id
 * it names is one the session registered, and a decision names the request it answers.
 */
export function assertCanWrite(role: Role, event: SessionEvent, agentIds: ReadonlySet<string>): void {
  if (!canWrite(role, event)) {
    const what = event.channel === 'terminal' || event.channel === 'workflow' ? `${event.channel} ${event.data.type}` : event.channel
    const needs = event.channel === 'presence'
      ? 'the agent token, for one of the session\'s agents (people join through /presence)'
      : role === 'viewer' && (event.channel === 'terminal' || event.channel === 'workflow' || event.channel === 'prompts')
        ? 'the collaborator key or the agent token'
        : 'the agent token'
    throw new SessionError('forbidden', `Writing ${what} events needs ${needs}`)
  }
  const agentId = event.channel === 'presence' ? event.data.userId : 'agentId' in event.data ? event.data.agentId : undefined
  if (agentId !== undefined && !agentIds.has(agentId)) {
    throw new SessionError('forbidden', `${event.channel === 'presence' ? 'userId' : 'agentId'} ${JSON.stringify(agentId)} is not an agent of this session: `
      + `a session publishes only as the agents it registered when it was created (agentId, agentIds)`)
  }
  if (event.channel === 'workflow' && isDecision(event.data) && typeof event.data.payload.requestId !== 'string')
    throw new SessionError('invalid', `data.payload.requestId: an ${event.data.type} event names the approval:requested it answers`)
}

/** A write to an existing record must come from the class of writer that created it. */
export function assertOwns(writer: RecordOwner, owner: RecordOwner, event: SessionEvent, key: string): void {
  if (writer === owner) return
  throw new SessionError('forbidden', `${event.channel} record ${JSON.stringify(key)} belongs to ${owner === 'agent' ? 'the agent' : 'a collaborator'}: `
    + `${writer === 'agent' ? 'the agent' : 'a collaborator'} may not overwrite it (write under a new id)`)
}

/** Closing, deleting, publishing and running the demo are the agent's (or the server's) business. */
export function assertCanManage(role: Role, action: string): void {
  if (role !== 'agent' && role !== 'server') throw new SessionError('forbidden', `${action} needs the agent token`)
}

function isDecision(event: WorkflowEvent): boolean {
  return event.type === 'approval:approved' || event.type === 'approval:rejected'
}

/**
 * Approval decisions of one write: each answers a pending `approval:requested` by its id
 * (404 when there is no such request, 409 when it was decided already), counting the requests
 * and decisions earlier in the same batch.
 */
export class ApprovalCheck {
  private readonly requested = new Set<string>()
  private decided?: Set<string>

  constructor(private readonly workflow: WorkflowEvent[]) {}

  check(event: SessionEvent): void {
    if (event.channel !== 'workflow') return
    if (event.data.type === 'approval:requested') this.requested.add(event.data.id)
    if (!isDecision(event.data)) return
    const requestId = event.data.payload.requestId as string
    if (!this.requested.has(requestId) && !this.workflow.some(entry => entry.id === requestId && entry.type === 'approval:requested'))
      throw new SessionError('not_found', `No approval request ${JSON.stringify(requestId)} in this session`)
    this.decided ??= new Set(selectApprovalDecisions(this.workflow).keys())
    if (this.decided.has(requestId))
      throw new SessionError('conflict', `Approval request ${JSON.stringify(requestId)} has already been decided`)
    this.decided.add(requestId)
  }
}
