import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestServer } from '../support/server'
import { api, createSession, joinPresence, postEvents, postPresence, startSessionServer, streamMessages, withPresenceKey } from '../support/sessions'

/**
 * Presence cannot be spoofed: a join hands out a key bound to that user's record, every later
 * heartbeat, update and leave needs it, an id someone is online with cannot be joined without
 * it, and presence times come from the server's clock.
 */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

const presenceOf = async (sessionId: string) => (await api(server, 'GET', `/api/sessions/${sessionId}`)).body.presence as Array<{ userId: string, displayName?: string, cursor?: unknown, lastSeen: string, joinedAt: string }>

describe('presence keys', () => {
  it('nobody can leave, move or rename someone else: without their key every action but join is 401', async () => {
    const session = await createSession(server)
    const ada = await joinPresence(server, session, 'ada', { displayName: 'Ada' })
    const mallory = await joinPresence(server, session, 'mallory')
    const before = await streamMessages(server, `sessions/${session.id}/presence`)
    for (const action of ['leave', 'heartbeat', 'update'] as const) {
      for (const headers of [{}, withPresenceKey(mallory.presenceKey), withPresenceKey(`${ada.presenceKey.slice(0, -2)}xx`)]) {
        const response = await postPresence(server, session, { userId: 'ada', action, displayName: 'Mallory', cursor: { x: 1, y: 1 } }, headers)
        expect(response.status, `${action} with ${JSON.stringify(headers)}`).toBe(401)
        expect(response.body.message).toMatch(/presence key/i)
      }
    }
    expect(await streamMessages(server, `sessions/${session.id}/presence`)).toEqual(before)
    expect((await presenceOf(session.id)).find(entry => entry.userId === 'ada')).toMatchObject({ displayName: 'Ada' })
    // Ada's own key works.
    const moved = await postPresence(server, session, { userId: 'ada', action: 'update', cursor: { x: 5, y: 6 } }, withPresenceKey(ada.presenceKey))
    expect(moved.status).toBe(200)
    expect((await postPresence(server, session, { userId: 'ada', action: 'leave' }, withPresenceKey(ada.presenceKey))).status).toBe(200)
    expect((await presenceOf(session.id)).map(entry => entry.userId)).toEqual(['mallory'])
  })

  it('joining with the id of someone online is 409 and hands out no key', async () => {
    const session = await createSession(server)
    await joinPresence(server, session, 'ada', { displayName: 'Ada' })
    const impostor = await postPresence(server, session, { userId: 'ada', action: 'join', displayName: 'Not Ada' })
    expect(impostor.status).toBe(409)
    expect(impostor.body.message).toMatch(/present in this session already/)
    expect(impostor.text).not.toMatch(/presenceKey/)
    expect((await presenceOf(session.id))[0]).toMatchObject({ userId: 'ada', displayName: 'Ada' })
  })

  it('a reload rejoins with the kept key (same record); after a leave the old key is dead and a join gets a new one', async () => {
    const session = await createSession(server)
    const first = await joinPresence(server, session, 'ada')
    const [record] = await presenceOf(session.id)
    const rejoined = await postPresence(server, session, { userId: 'ada', action: 'join' }, withPresenceKey(first.presenceKey))
    expect(rejoined.status).toBe(200)
    expect(rejoined.body.presenceKey).toBe(first.presenceKey)
    expect((await presenceOf(session.id))[0]!.joinedAt).toBe(record!.joinedAt)

    expect((await postPresence(server, session, { userId: 'ada', action: 'leave' }, withPresenceKey(first.presenceKey))).status).toBe(200)
    // A stale key on join is no key: the user simply joins again, as a new record with a new key…
    const again = await postPresence(server, session, { userId: 'ada', action: 'join' }, withPresenceKey(first.presenceKey))
    expect(again.status).toBe(200)
    expect(again.body.presenceKey).not.toBe(first.presenceKey)
    // …and the old key works for nothing any more.
    expect((await postPresence(server, session, { userId: 'ada', action: 'heartbeat' }, withPresenceKey(first.presenceKey))).status).toBe(401)
    expect((await postPresence(server, session, { userId: 'ada', action: 'heartbeat' }, withPresenceKey(again.body.presenceKey))).status).toBe(200)
  })

  it('a key is bound to its session', async () => {
    const [one, two] = [await createSession(server), await createSession(server)]
    const ada = await joinPresence(server, one, 'ada')
    await joinPresence(server, two, 'ada')
    expect((await postPresence(server, two, { userId: 'ada', action: 'leave' }, withPresenceKey(ada.presenceKey))).status).toBe(401)
  })

  it('lastSeen and joinedAt come from the server clock: a body cannot set them', async () => {
    const session = await createSession(server)
    const future = '2099-01-01T00:00:00.000Z'
    const viaPresence = await postPresence(server, session, { userId: 'ada', action: 'join', lastSeen: future })
    expect(viaPresence.status).toBe(400)
    const viaEvents = await postEvents(server, session, { channel: 'presence', data: { userId: session.agentId, lastSeen: future, joinedAt: future } })
    expect(viaEvents.status).toBe(400)
    expect(viaEvents.body.message).toMatch(/lastSeen|joinedAt/)
    const before = Date.now()
    await joinPresence(server, session, 'ada')
    await postEvents(server, session, { channel: 'presence', data: { userId: session.agentId } })
    for (const entry of await presenceOf(session.id)) {
      expect(Date.parse(entry.lastSeen)).toBeGreaterThanOrEqual(before - 1000)
      expect(Date.parse(entry.lastSeen)).toBeLessThanOrEqual(Date.now() + 1000)
      expect(Date.parse(entry.joinedAt)).toBeLessThanOrEqual(Date.parse(entry.lastSeen))
    }
  })

  it('a retried join (same Idempotency-Key) answers the same key; a different body under that key is 409', async () => {
    const session = await createSession(server)
    const body = { userId: 'ada', action: 'join', displayName: 'Ada' }
    const headers = { 'idempotency-key': 'join-1' }
    const first = await postPresence(server, session, body, headers)
    const again = await postPresence(server, session, body, headers)
    expect(again.status).toBe(200)
    expect(again.body).toEqual(first.body)
    expect((await postPresence(server, session, { ...body, displayName: 'Eve' }, headers)).status).toBe(409)
    expect(await streamMessages(server, `sessions/${session.id}/presence`)).toHaveLength(1)
  })
})
