import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import type { TestServer } from '../support/server'
import { START_OFFSET, api, createSession, details, list, publish, sleep, snapshot, startSessionServer, streamMessages } from '../support/sessions'

/** POST /api/sessions and GET /api/sessions: the created session's shape; listing, paging and search of public sessions. */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

describe('POST /api/sessions', () => {
  it('answers 201 with the session, its links and its secrets', async () => {
    const response = await api<CreatedSession>(server, 'POST', '/api/sessions', {
      json: { title: 'Fix the login bug', projectId: 'proj-1', taskId: 'task-9', agentId: 'claude.dev-1' },
    })
    expect(response.status).toBe(201)
    const session = response.body
    // ≥ 128 bits, URL-safe.
    expect(session.id).toMatch(/^[\w-]+$/)
    expect(Buffer.from(session.id, 'base64url').length * 8).toBeGreaterThanOrEqual(128)
    expect(session).toMatchObject({
      title: 'Fix the login bug',
      status: 'active',
      projectId: 'proj-1',
      taskId: 'task-9',
      agentId: 'claude.dev-1',
      url: `/sessions/${session.id}`,
      shareUrl: `${server.url}/sessions/${session.id}`,
      streamUrl: `/v1/stream/sessions/${session.id}`,
      presenceStreamUrl: `/v1/stream/sessions/${session.id}/presence`,
      agentStreamUrl: '/v1/stream/agents/claude.dev-1',
      tailOffset: START_OFFSET,
      participantsOnline: 0,
    })
    expect(new URL(session.shareUrl).origin).toBe(server.url)
    const collaborate = new URL(session.collaborateUrl)
    expect(`${collaborate.origin}${collaborate.pathname}`).toBe(`${server.url}/sessions/${session.id}`)
    expect(collaborate.searchParams.get('key')).toBe(session.collaboratorKey)
    expect(session.agentToken.length).toBeGreaterThanOrEqual(32)
    expect(session.collaboratorKey.length).toBeGreaterThanOrEqual(32)
    expect(session.agentToken).not.toBe(session.collaboratorKey)
    // Both streams exist, empty and open.
    expect(await streamMessages(server, `sessions/${session.id}`)).toEqual([])
    expect(await streamMessages(server, `sessions/${session.id}/presence`)).toEqual([])
  })

  it('fills a title and an agent id when none are given (an empty body is {})', async () => {
    const empty = await api<CreatedSession>(server, 'POST', '/api/sessions')
    expect(empty.status).toBe(201)
    expect(empty.body.title.length).toBeGreaterThan(0)
    expect(empty.body.agentId.length).toBeGreaterThan(0)
    expect(empty.body.projectId).toBeNull()
  })

  it('gives every session its own id and secrets', async () => {
    const [a, b] = await Promise.all([createSession(server), createSession(server)])
    expect(a.id).not.toBe(b.id)
    expect(a.agentToken).not.toBe(b.agentToken)
    expect(a.collaboratorKey).not.toBe(b.collaboratorKey)
  })

  it.each([
    ['an empty title', { title: '' }, 'title'],
    ['a title over 200 characters', { title: 'x'.repeat(201) }, 'title'],
    ['an agentId with a slash', { agentId: 'a/b' }, 'agentId'],
    ['an unknown field', { owner: 'me' }, 'owner'],
  ])('answers 400 naming the field for %s', async (_, body, field) => {
    const response = await api(server, 'POST', '/api/sessions', { json: body })
    expect(response.status).toBe(400)
    expect(response.body.message).toContain(field)
    expect(response.body.data.issues.length).toBeGreaterThan(0)
  })

  it('answers 415 for a body that is not JSON', async () => {
    const response = await api(server, 'POST', '/api/sessions', { raw: 'title=x', contentType: 'application/x-www-form-urlencoded' })
    expect(response.status).toBe(415)
  })

  it('never shows the agent token or collaborator key (or their hashes) again', async () => {
    const session = await createSession(server, { title: 'secret keeper', public: true })
    await publish(server, session, { channel: 'chunks', data: { agentId: session.agentId, text: 'hello' } })
    const secrets = [session.agentToken, session.collaboratorKey]
    const hashes = secrets.map(secret => createHash('sha256').update(secret).digest('hex'))
    const later = [
      (await api(server, 'GET', '/api/sessions?limit=100')).text,
      (await api(server, 'GET', `/api/sessions?q=${encodeURIComponent('secret keeper')}`)).text,
      (await api(server, 'GET', `/api/sessions/${session.id}`)).text,
      (await api(server, 'GET', `/api/sessions/${session.id}/snapshot`)).text,
      (await api(server, 'GET', `/v1/stream/sessions/${session.id}?offset=-1`)).text,
    ]
    for (const body of later) {
      expect(body).toContain(session.id)
      for (const secret of [...secrets, ...hashes]) expect(body).not.toContain(secret)
    }
    const [shown, snap] = await Promise.all([details(server, session.id), snapshot(server, session.id)])
    for (const body of [shown, snap, snap.session]) {
      expect(body).not.toHaveProperty('agentToken')
      expect(body).not.toHaveProperty('collaboratorKey')
      expect(body).not.toHaveProperty('collaborateUrl')
    }
  })
})

describe('GET /api/sessions', () => {
  const prefix = `list-${Date.now()}`
  const created: CreatedSession[] = []

  beforeAll(async () => {
    for (let n = 0; n < 5; n++) {
      created.push(await createSession(server, { title: `${prefix} #${n}`, public: true }))
      await sleep(3) // distinct creation times, so "newest first" has one right answer
    }
  })

  it('lists newest first with title, status, participants, last activity and tail offset', async () => {
    const page = await list(server, `?q=${prefix}`)
    expect(page.sessions.map(session => session.id)).toEqual(created.map(session => session.id).reverse())
    expect(page.nextCursor).toBeNull()
    const newest = page.sessions[0]!
    expect(newest).toMatchObject({ title: `${prefix} #4`, status: 'active', participantsOnline: 0, tailOffset: START_OFFSET, url: `/sessions/${newest.id}` })
    expect(Date.parse(newest.lastActivityAt)).toBeGreaterThan(0)
    const all = await list(server, '?limit=100')
    const times = all.sessions.map(session => Date.parse(session.createdAt))
    expect(times).toEqual([...times].sort((a, b) => b - a))
  })

  it('reports the tail offset, last activity and participants of each session', async () => {
    const session = created[2]!
    await publish(server, session, [
      { channel: 'chunks', data: { agentId: session.agentId, text: 'a' } },
      { channel: 'chunks', data: { agentId: session.agentId, text: 'b' } },
    ])
    await api(server, 'POST', `/api/sessions/${session.id}/presence`, { json: { userId: 'u1', action: 'join' } })
    const listed = (await list(server, `?q=${encodeURIComponent(`${prefix} #2`)}`)).sessions
    expect(listed).toHaveLength(1)
    expect(listed[0]).toMatchObject({ tailOffset: '0000000000000000_0000000000000002', participantsOnline: 1 })
    expect(Date.parse(listed[0]!.lastActivityAt)).toBeGreaterThanOrEqual(Date.parse(listed[0]!.createdAt))
  })

  it('pages with nextCursor, without gaps or repeats', async () => {
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page = await list(server, `?q=${prefix}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      expect(page.sessions.length).toBeLessThanOrEqual(2)
      seen.push(...page.sessions.map(session => session.id))
      cursor = page.nextCursor
      pages++
    } while (cursor && pages < 10)
    expect(pages).toBe(3)
    expect(seen).toEqual(created.map(session => session.id).reverse())
  })

  it('filters by title with q, taking % and _ literally', async () => {
    const special = await createSession(server, { title: `${prefix} 100%_done`, public: true })
    expect((await list(server, `?q=${encodeURIComponent('100%_done')}`)).sessions.map(s => s.id)).toEqual([special.id])
    expect((await list(server, `?q=${encodeURIComponent(`${prefix} #3`)}`)).sessions.map(s => s.id)).toEqual([created[3]!.id])
    expect((await list(server, `?q=${encodeURIComponent(`${prefix}%#`)}`)).sessions).toEqual([])
    expect((await list(server, '?q=no-such-title-anywhere')).sessions).toEqual([])
  })

  it.each(['?limit=0', '?limit=101', '?limit=-1', '?limit=abc', '?limit=1.5', '?cursor=not-a-cursor'])('answers 400 for %s', async (query) => {
    const response = await api(server, 'GET', `/api/sessions${query}`)
    expect(response.status).toBe(400)
    expect(response.body.message).toMatch(/limit|cursor/)
  })

  it('accepts limit 1 and 100', async () => {
    expect((await list(server, '?limit=1')).sessions).toHaveLength(1)
    expect((await list(server, '?limit=100')).sessions.length).toBeGreaterThanOrEqual(6)
  })
})
