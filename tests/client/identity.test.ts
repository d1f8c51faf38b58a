// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest'
import { useIdentity } from '../../composables/useIdentity'
import {
  captureCollaboratorKey, credentialHeaders, forgetSessions, heldCredentials, knownSessionIds, presenceKeyFor, rememberCreatedSession,
  rememberPresenceKey, rememberSession,
} from '../../transport/session-credentials'
import { withSetup } from './support'

afterEach(() => localStorage.clear())

describe('useIdentity', () => {
  it('creates a random user id once mounted, keeps it in localStorage, and shares it', () => {
    const first = withSetup(() => useIdentity())
    const userId = first.result.userId.value
    expect(userId).toMatch(/^[0-9a-f-]{36}$/)
    expect(first.result.displayName.value).toBe(`Guest ${userId.replace(/-/g, '').slice(0, 4)}`)
    const second = withSetup(() => useIdentity())
    expect(second.result.userId.value).toBe(userId)

    first.result.displayName.value = '  Ada  '
    expect(first.result.displayName.value).toBe('Ada')
    expect(withSetup(() => useIdentity()).result.displayName.value).toBe('Ada')
  })
})

describe('credentials', () => {
  it('keeps a collaborate link key per session and sends the agent token first when this browser has one', () => {
    expect(credentialHeaders('s1')).toEqual({})
    expect(captureCollaboratorKey('s1', 'https://app.example/sessions/s1?key=secret')).toBe('secret')
    expect(credentialHeaders('s1')).toEqual({ 'x-collaborator-key': 'secret' })
    expect(credentialHeaders('s2')).toEqual({})
    expect(heldCredentials('s1')).toEqual({ canCollaborate: true, isAgent: false })

    rememberCreatedSession({ id: 's2', agentToken: 'token', collaboratorKey: 'key' })
    expect(credentialHeaders('s2')).toEqual({ authorization: 'Bearer token' })
    expect(heldCredentials('s2')).toEqual({ canCollaborate: true, isAgent: true })
  })
})

describe('presence keys', () => {
  it('are kept per session for one user, and go with a collaborator\'s writes', () => {
    captureCollaboratorKey('s1', 'https://app.example/sessions/s1?key=secret')
    rememberPresenceKey('s1', 'ada', 'YWRh.mac')
    expect(presenceKeyFor('s1', 'ada')).toBe('YWRh.mac')
    expect(presenceKeyFor('s1', 'bob')).toBeUndefined()
    expect(presenceKeyFor('s2', 'ada')).toBeUndefined()
    expect(credentialHeaders('s1')).toEqual({ 'x-collaborator-key': 'secret', 'x-presence-key': 'YWRh.mac' })
    rememberPresenceKey('s1', 'ada', undefined)
    expect(presenceKeyFor('s1', 'ada')).toBeUndefined()
  })
})

describe('this browser\'s sessions', () => {
  it('lists the sessions created or opened here, most recent first, at most 100, with those whose secrets are kept', () => {
    // A token kept from before the list existed still counts.
    localStorage.setItem('durable-sessions:agent-token:older', 'token')
    rememberCreatedSession({ id: 'made', agentToken: 'token', collaboratorKey: 'key' })
    rememberSession('opened')
    rememberSession('made')
    expect(knownSessionIds()).toEqual(['made', 'opened', 'older'])
    for (let n = 0; n < 120; n++) rememberSession(`s${n}`)
    expect(knownSessionIds()).toHaveLength(100)
    expect(knownSessionIds()[0]).toBe('s119')
  })

  it('forgets sessions that are gone, with what it kept for them', () => {
    rememberCreatedSession({ id: 'gone', agentToken: 'token', collaboratorKey: 'key' })
    rememberPresenceKey('gone', 'ada', 'YWRh.mac')
    rememberSession('kept')
    forgetSessions(['gone'])
    expect(knownSessionIds()).toEqual(['kept'])
    expect(heldCredentials('gone')).toEqual({ canCollaborate: false, isAgent: false })
    expect(presenceKeyFor('gone', 'ada')).toBeUndefined()
  })
})
