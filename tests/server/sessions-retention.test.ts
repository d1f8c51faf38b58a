import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import type { TestServer } from '../support/server'
import { readAll } from '../support/streams'
import { DAY_MS, START_OFFSET, api, asServer, createSession, details, joinPresence, list, postEvents, postPresence, publish, sleep, snapshot, startSessionServer, streamMessages, withPresenceKey } from '../support/sessions'

/**
 * Retention under a controllable clock: POST /api/admin/retention {now} runs it as of that time.
 * Events older than NUXT_DURABLE_SESSIONS_RETENTION_DAYS (30) leave the head of session and agent streams (reads
 * before the new head answer 410 Gone), idle sessions go with their streams, and presence keeps
 * NUXT_DURABLE_SESSIONS_PRESENCE_RETENTION_MINUTES. Each describe has a server of its own: retention is global.
 */

const MINUTE_MS = 60 * 1000

function retention(server: TestServer, body: unknown, token = server.token) {
  return api(server, 'POST', '/api/admin/retention', { json: body, headers: token ? { authorization: `Bearer ${token}` } : {} })
}

const chunk = (agentId: string, text: string) => ({ channel: 'chunks', data: { agentId, text } })

describe('POST /api/admin/retention', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startSessionServer()
  })
  afterAll(() => server?.stop())

  it('needs the server token: 401 without it, with a wrong one, or with an agent token', async () => {
    const session = await createSession(server)
    expect((await retention(server, {}, '')).status).toBe(401)
    expect((await retention(server, {}, 'wrong')).status).toBe(401)
    expect((await retention(server, {}, session.agentToken)).status).toBe(401)
    const response = await retention(server, {})
    expect(response.status).toBe(200)
    expect(response.body).toEqual({ deletedSessions: 0, trimmedStreams: 0 })
  })

  it('answers its 401 like every other: reason phrase Unauthorized, code unauthorized, a message naming the token', async () => {
    const response = await fetch(`${server.url}/api/admin/retention`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(response.status).toBe(401)
    expect(response.statusText).toBe('Unauthorized')
    const body = await response.json() as { statusMessage: string, message: string, data: { code: string } }
    expect(body.statusMessage).toBe('Unauthorized')
    expect(body.data.code).toBe('unauthorized')
    expect(body.message).toMatch(/server token/)
  })

  it('answers 400 for a `now` that is not a time', async () => {
    expect((await retention(server, { now: 'tomorrow' })).status).toBe(400)
    expect((await retention(server, { now: -1 })).status).toBe(400)
    expect((await retention(server, { when: 1 })).status).toBe(400)
  })
})

describe('events older than the retention leave the head of session and agent streams', () => {
  let server: TestServer
  const agentId = `retained-${Date.now()}`
  const visitor = `visitor-${Date.now()}`
  let session: CreatedSession
  let tail: string

  beforeAll(async () => {
    server = await startSessionServer()
    session = await createSession(server, { agentId, agentIds: [visitor] })
    await publish(server, session, [chunk(agentId, 'old 1'), chunk(agentId, 'old 2'), chunk(visitor, 'old 3')])
    // The session stays active (its last activity is after the cut); only its first events age out.
    await sleep(50)
    const cut = Date.now()
    await sleep(50)
    tail = await publish(server, session, [chunk(agentId, 'new 4'), chunk(agentId, 'new 5')])
    const result = await retention(server, { now: cut + 30 * DAY_MS })
    expect(result.status).toBe(200)
    expect(result.body).toMatchObject({ deletedSessions: 0 })
  })
  afterAll(() => server?.stop())

  it('reads from the old start offset answer 410 Gone; the rest stays readable and writable', async () => {
    expect(tail).toBe('0000000000000000_0000000000000005')
    for (const [path, kept] of [[`sessions/${session.id}`, ['new 4', 'new 5']], [`agents/${agentId}`, ['new 4', 'new 5']]] as const) {
      for (const offset of [START_OFFSET, '0000000000000000_0000000000000001']) {
        const gone = await readAll(server, path, offset)
        expect(gone.status, `${path} from ${offset}`).toBe(410)
      }
      const read = await readAll(server, path)
      expect(read.messages.map(message => (message as { value: { text: string } }).value.text)).toEqual(kept)
    }
    expect((await readAll(server, `sessions/${session.id}`, '0000000000000000_0000000000000003')).messages).toHaveLength(2)

    expect((await details(server, session.id)).tailOffset).toBe(tail)
    const snap = await snapshot(server, session.id)
    expect(snap.offset).toBe(tail)
    expect(snap.state.chunks.map(entry => entry.text)).toEqual(['new 4', 'new 5'])
    expect(await publish(server, session, chunk(agentId, 'newer 6'))).toBe('0000000000000000_0000000000000006')
  })

  it('the stream of an agent that is not a session\'s own agent is trimmed too', async () => {
    // `visitor` was named by one old event only (a sub-agent the session registered).
    const read = await readAll(server, `agents/${visitor}`, START_OFFSET)
    expect([404, 410], `agents/${visitor} still serves ${read.messages.length} events older than the retention`).toContain(read.status)
  })
})

describe('sessions idle longer than the retention are deleted with their streams', () => {
  let server: TestServer
  const agentId = `idle-${Date.now()}`
  let sessionId: string
  let title: string

  beforeAll(async () => {
    server = await startSessionServer()
    const session = await createSession(server, { agentId, title: `idle ${agentId}` })
    sessionId = session.id
    title = session.title
    await publish(server, session, [chunk(agentId, 'a'), chunk(agentId, 'b')])
    await postPresence(server, session, { userId: 'ada', action: 'join' })
  })
  afterAll(() => server?.stop())

  it('a session idle for 29 days is kept, whole', async () => {
    const result = await retention(server, { now: Date.now() + 29 * DAY_MS })
    expect(result.body.deletedSessions).toBe(0)
    expect((await details(server, sessionId)).id).toBe(sessionId)
    expect((await readAll(server, `sessions/${sessionId}`, START_OFFSET)).messages).toHaveLength(2)
    expect((await readAll(server, `agents/${agentId}`, START_OFFSET)).messages).toHaveLength(2)
  })

  it('a session idle for 31 days is gone: 404 for the API and both streams', async () => {
    const result = await retention(server, { now: Date.now() + 31 * DAY_MS })
    expect(result.status).toBe(200)
    expect(result.body.deletedSessions).toBe(1)
    expect((await api(server, 'GET', `/api/sessions/${sessionId}`)).status).toBe(404)
    expect((await api(server, 'GET', `/api/sessions/${sessionId}/snapshot`)).status).toBe(404)
    expect((await api(server, 'POST', `/api/sessions/${sessionId}/presence`, { json: { userId: 'u', action: 'join' } })).status).toBe(404)
    expect((await list(server, `?q=${encodeURIComponent(title)}`, asServer(server))).sessions).toEqual([])
    expect((await readAll(server, `sessions/${sessionId}`, START_OFFSET)).status).toBe(404)
    expect((await readAll(server, `sessions/${sessionId}/presence`, START_OFFSET)).status).toBe(404)
  })

  it('the events of its agent stream that are older than the retention are gone too (410 or 404 from the start)', async () => {
    // The agent stream named only this session's events, all 31 days old by now.
    const read = await readAll(server, `agents/${agentId}`, START_OFFSET)
    expect([404, 410], `agents/${agentId} still serves ${read.messages.length} events older than the retention`).toContain(read.status)
  })
})

describe('presence keeps NUXT_DURABLE_SESSIONS_PRESENCE_RETENTION_MINUTES of history', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startSessionServer({ env: { NUXT_DURABLE_SESSIONS_PRESENCE_RETENTION_MINUTES: '5' } })
  })
  afterAll(() => server?.stop())

  it('trims presence older than that, and only presence', async () => {
    const session = await createSession(server)
    await publish(server, session, chunk(session.agentId, 'stays'))
    const { presenceKey } = await joinPresence(server, session, 'ada')
    await postPresence(server, session, { userId: 'ada', cursor: { x: 1, y: 1 }, action: 'update' }, withPresenceKey(presenceKey))
    const presencePath = `sessions/${session.id}/presence`

    await retention(server, { now: Date.now() + 4 * MINUTE_MS })
    expect((await readAll(server, presencePath, START_OFFSET)).messages).toHaveLength(2)

    const result = await retention(server, { now: Date.now() + 6 * MINUTE_MS })
    expect(result.body).toMatchObject({ deletedSessions: 0, trimmedStreams: 1 })
    expect((await readAll(server, presencePath, START_OFFSET)).status).toBe(410)
    expect(await streamMessages(server, presencePath)).toEqual([])
    expect((await details(server, session.id)).presence).toEqual([])
    // The session stream is untouched, and presence goes on where it was.
    expect((await readAll(server, `sessions/${session.id}`, START_OFFSET)).messages).toHaveLength(1)
    const rejoined = await postPresence(server, session, { userId: 'ada', action: 'join' })
    expect(rejoined.body.offset).toBe('0000000000000000_0000000000000003')
    expect((await postEvents(server, session, chunk(session.agentId, 'more'))).body.offset).toBe('0000000000000000_0000000000000002')
  })
})
