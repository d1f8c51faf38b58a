import type { SessionEvent } from '#shared/sessions/channels'
import type { SessionRow } from '../db/schema'
import { SessionError } from './errors'
import { secretMatches } from './secrets'

/**
 * Capabilities, weakest first: the session id lets anyone read and write presence; the
 * collaborator key adds user terminal input and approval decisions; the agent token every
 * channel, close and the demo; the server token everything.
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

export function canWrite(role: Role, event: SessionEvent): boolean {
  if (role === 'agent' || role === 'server' || event.channel === 'presence') return true
  if (role !== 'collaborator') return false
  if (event.channel === 'terminal') return event.data.type === 'input' && event.data.source === 'user'
  if (event.channel === 'workflow') return event.data.type === 'approval:approved' || event.data.type === 'approval:rejected'
  return false
}

export function assertCanWrite(role: Role, event: SessionEvent): void {
  if (canWrite(role, event)) return
  const what = event.channel === 'terminal' || event.channel === 'workflow' ? `${event.channel} ${event.data.type}` : event.channel
  const needs = role === 'viewer' && (event.channel === 'terminal' || event.channel === 'workflow')
    ? 'the collaborator key or the agent token'
    : 'the agent token'
  throw new SessionError('forbidden', `Writing ${what} events needs ${needs}`)
}

/** Closing, deleting and running the demo are the agent's (or the server's) business. */
export function assertCanManage(role: Role, action: string): void {
  if (role !== 'agent' && role !== 'server') throw new SessionError('forbidden', `${action} needs the agent token`)
}
