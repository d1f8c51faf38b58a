// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest'
import { useIdentity } from '../../composables/useIdentity'
import { captureCollaboratorKey, credentialHeaders, heldCredentials, rememberCreatedSession } from '../../utils/session-credentials'
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
