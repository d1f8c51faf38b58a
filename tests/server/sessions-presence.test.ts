import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestServer } from '../support/server'
import { readAll } from '../support/streams'
import { START_OFFSET, api, as, createSession, details, joinPresence, postPresence, startSessionServer, streamMessages, withPresenceKey } from '../support/sessions'

/** POST /api/sessions/:id/presence: join, heartbeat, update and leave, on the presence stream (spoofing: sessions-presence-keys). */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

describe('POST /api/sessions/:id/presence', () => {
  it('join → insert, heartbeat → update, update → update, leave → delete, all on the presence stream', async () => {
    const session = await createSession(server)
    const presencePath = `sessions/${session.id}/presence`

    const joined = await postPresence(server, session, { userId: 'ada', displayName: 'Ada', avatarUrl: 'https://example.com/ada.png', action: 'join' })
    expect(joined.status).toBe(200)
    expect(joined.body).toEqual({ ok: true, offset: '0000000000000000_0000000000000001', presenceKey: expect.stringMatching(/^[\w-]+\.[\w-]{43}$/) })
    const ada = withPresenceKey(joined.body.presenceKey)
    expect((await postPresence(server, session, { userId: 'ada', action: 'heartbeat' }, ada)).body.offset).toBe('0000000000000000_0000000000000002')
    expect((await postPresence(server, session, { userId: 'ada', cursor: { x: 10.5, y: -2 }, action: 'update' }, ada)).body.offset).toBe('0000000000000000_0000000000000003')
    const left = await postPresence(server, session, { userId: 'ada', action: 'leave' }, ada)
    expect(left.body.offset).toBe('0000000000000000_0000000000000004')
    expect(left.body.offset).toBe((await readAll(server, presencePath)).nextOffset)

    const messages = await streamMessages(server, presencePath)
    expect(messages.map(message => [message.type, message.key, message.headers.operation])).toEqual([
      ['presence', 'ada', 'insert'],
      ['presence', 'ada', 'update'],
      ['presence', 'ada', 'update'],
      ['presence', 'ada', 'delete'],
    ])
    const [join, heartbeat, update, leave] = messages
    expect(join!.value).toMatchObject({ userId: 'ada', sessionId: session.id, displayName: 'Ada', avatarUrl: 'https://example.com/ada.png' })
    expect(join!.value!.joinedAt).toBe(join!.value!.lastSeen)
    // A heartbeat keeps what the user said at join, and when they joined.
    expect(heartbeat!.value).toMatchObject({ displayName: 'Ada', joinedAt: join!.value!.joinedAt })
    expect(heartbeat!.value!.lastSeen >= join!.value!.lastSeen).toBe(true)
    expect(update!.value).toMatchObject({ displayName: 'Ada', cursor: { x: 10.5, y: -2 } })
    expect(leave!.old_value).toMatchObject({ userId: 'ada' })

    // Presence never touches the session stream.
    expect(await streamMessages(server, `sessions/${session.id}`)).toEqual([])
    expect((await details(server, session.id)).tailOffset).toBe(START_OFFSET)
  })

  it('shows who is present in details and in the list', async () => {
    const session = await createSession(server, { title: `presence-${Date.now()}`, public: true })
    await joinPresence(server, session, 'ada')
    const bob = await joinPresence(server, session, 'bob')
    expect((await details(server, session.id)).presence.map(entry => entry.userId).sort()).toEqual(['ada', 'bob'])
    await postPresence(server, session, { userId: 'bob', action: 'leave' }, withPresenceKey(bob.presenceKey))
    const shown = await details(server, session.id)
    expect(shown.presence.map(entry => entry.userId)).toEqual(['ada'])
    expect(shown.participantsOnline).toBe(1)
    const listed = await api(server, 'GET', `/api/sessions?q=${encodeURIComponent(session.title)}`)
    expect(listed.body.sessions[0].participantsOnline).toBe(1)
  })

  it('answers a leave of someone not present without appending', async () => {
    const session = await createSession(server)
    const response = await postPresence(server, session, { userId: 'ghost', action: 'leave' })
    expect(response.body).toEqual({ ok: true, offset: START_OFFSET })
    expect(await streamMessages(server, `sessions/${session.id}/presence`)).toEqual([])
  })

  it('join is open to every role', async () => {
    const session = await createSession(server)
    for (const role of ['viewer', 'collaborator', 'agent', 'server'] as const) {
      const response = await postPresence(server, session, { userId: role, action: 'join' }, as(role, session, server))
      expect(response.status, role).toBe(200)
    }
  })

  it.each([
    ['an unknown action', { userId: 'u', action: 'wave' }, 'action'],
    ['no userId', { action: 'join' }, 'userId'],
    ['a javascript: avatar', { userId: 'u', avatarUrl: 'javascript:alert(1)', action: 'join' }, 'avatarUrl'],
    ['a cursor without y', { userId: 'u', cursor: { x: 1 }, action: 'update' }, 'cursor.y'],
    ['an unknown field', { userId: 'u', action: 'join', role: 'admin' }, 'role'],
  ])('answers 400 naming the field for %s', async (_, body, field) => {
    const session = await createSession(server)
    const response = await postPresence(server, session, body)
    expect(response.status).toBe(400)
    expect(response.body.message).toContain(field)
  })

  it('answers 401 for wrong credentials, 404 for an unknown session, 409 once ended, 415 for non-JSON', async () => {
    const session = await createSession(server)
    expect((await postPresence(server, session, { userId: 'u', action: 'join' }, { authorization: 'Bearer nope' })).status).toBe(401)
    expect((await postPresence(server, session, { userId: 'u', action: 'join' }, { 'x-collaborator-key': 'nope' })).status).toBe(401)
    expect((await api(server, 'POST', '/api/sessions/AAAAAAAAAAAAAAAAAAAAAA/presence', { json: { userId: 'u', action: 'join' } })).status).toBe(404)
    const form = await api(server, 'POST', `/api/sessions/${session.id}/presence`, { raw: 'userId=u', contentType: 'text/plain' })
    expect(form.status).toBe(415)
    await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: as('agent', session, server) })
    expect((await postPresence(server, session, { userId: 'u', action: 'join' })).status).toBe(409)
  })
})
