import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession, SessionLookup } from '../../shared/sessions/api'
import type { TestServer } from '../support/server'
import { api, as, asServer, createSession, list, startSessionServer } from '../support/sessions'

/**
 * A session id is a secret: sessions are unlisted unless made public (at creation, or later by
 * their agent); the list shows public sessions to anyone and every session to the server token;
 * a browser finds its own sessions by POSTing the ids it keeps; no default id leaks the session id.
 */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

const ids = (sessions: { id: string }[]) => sessions.map(session => session.id)
const lookup = (body: unknown) => api<SessionLookup & { message?: string }>(server, 'POST', '/api/sessions/lookup', { json: body })

describe('the session list', () => {
  it('does not show an unlisted session to anyone without the server token: not in the API, not on the home page', async () => {
    const secret = await createSession(server, { title: `unlisted ${Date.now()}` })
    expect(secret.public).toBe(false)
    expect(ids((await list(server, '?limit=100')).sessions)).not.toContain(secret.id)
    expect(ids((await list(server, `?q=${encodeURIComponent(secret.title)}`)).sessions)).toEqual([])
    // Credentials of the session itself do not list it either: listing is not theirs to ask.
    expect(ids((await list(server, '?limit=100', { 'x-collaborator-key': secret.collaboratorKey })).sessions)).not.toContain(secret.id)
    const home = await (await fetch(`${server.url}/`, { headers: { accept: 'text/html' } })).text()
    expect(home).not.toContain(secret.id)
    expect(home).not.toContain(secret.title)
  })

  it('shows sessions made public at creation to everyone, the home page included', async () => {
    const shown = await createSession(server, { title: `public ${Date.now()}`, public: true })
    expect(shown.public).toBe(true)
    const listed = await list(server, `?q=${encodeURIComponent(shown.title)}`)
    expect(ids(listed.sessions)).toEqual([shown.id])
    expect(listed.sessions[0]!.public).toBe(true)
    const home = await (await fetch(`${server.url}/`, { headers: { accept: 'text/html' } })).text()
    expect(home).toContain(shown.title)
  })

  it('lists every session, unlisted ones too, with the server token', async () => {
    const secret = await createSession(server, { title: `operator ${Date.now()}` })
    expect(ids((await list(server, `?q=${encodeURIComponent(secret.title)}`, asServer(server))).sessions)).toEqual([secret.id])
  })

  it('answers 401 to a bearer token that is not the server token, rather than listing less', async () => {
    const session = await createSession(server)
    for (const bearer of ['wrong', session.agentToken]) {
      const response = await api(server, 'GET', '/api/sessions', { headers: { authorization: `Bearer ${bearer}` } })
      expect(response.status).toBe(401)
      expect(response.body.message).toMatch(/server token/)
    }
  })
})

describe('PATCH /api/sessions/:id {public}', () => {
  it('the agent lists and unlists its session; viewers and collaborators may not', async () => {
    const session = await createSession(server, { title: `later ${Date.now()}` })
    const listedNow = async () => ids((await list(server, `?q=${encodeURIComponent(session.title)}`)).sessions).includes(session.id)
    for (const role of ['viewer', 'collaborator'] as const) {
      const refused = await api(server, 'PATCH', `/api/sessions/${session.id}`, { json: { public: true }, headers: as(role, session, server) })
      expect(refused.status, role).toBe(403)
      expect(refused.body.message).toMatch(/agent token/)
    }
    expect(await listedNow()).toBe(false)

    const made = await api(server, 'PATCH', `/api/sessions/${session.id}`, { json: { public: true }, headers: as('agent', session, server) })
    expect(made.status).toBe(200)
    expect(made.body).toMatchObject({ id: session.id, public: true })
    expect(await listedNow()).toBe(true)

    expect((await api(server, 'PATCH', `/api/sessions/${session.id}`, { json: { public: false }, headers: as('server', session, server) })).status).toBe(200)
    expect(await listedNow()).toBe(false)
  })

  it('answers 400 for a body without a boolean public, 401 for a wrong token, 404 for an unknown session', async () => {
    const session = await createSession(server)
    const agent = as('agent', session, server)
    for (const body of [{}, { public: 'yes' }, { public: true, title: 'x' }]) {
      const response = await api(server, 'PATCH', `/api/sessions/${session.id}`, { json: body, headers: agent })
      expect(response.status, JSON.stringify(body)).toBe(400)
    }
    expect((await api(server, 'PATCH', `/api/sessions/${session.id}`, { json: { public: true }, headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    expect((await api(server, 'PATCH', '/api/sessions/AAAAAAAAAAAAAAAAAAAAAA', { json: { public: true }, headers: agent })).status).toBe(404)
  })
})

describe('POST /api/sessions/lookup {ids, q?}', () => {
  let mine: CreatedSession[]

  beforeAll(async () => {
    const tag = `mine-${Date.now()}`
    mine = [await createSession(server, { title: `${tag} alpha` }), await createSession(server, { title: `${tag} beta` })]
  })

  it('answers the sessions of the given ids that exist, newest first, and nothing for ids that do not', async () => {
    const response = await lookup({ ids: [mine[0]!.id, 'AAAAAAAAAAAAAAAAAAAAAA', mine[1]!.id, mine[0]!.id] })
    expect(response.status).toBe(200)
    expect(ids(response.body.sessions)).toEqual([mine[1]!.id, mine[0]!.id])
    expect(response.body.sessions[0]).toMatchObject({ title: mine[1]!.title, public: false, url: `/sessions/${mine[1]!.id}` })
    expect(JSON.stringify(response.body)).not.toContain(mine[0]!.agentToken)
    expect((await lookup({ ids: [] })).body).toEqual({ sessions: [] })
  })

  it('filters by title with q', async () => {
    expect(ids((await lookup({ ids: ids(mine), q: 'beta' })).body.sessions)).toEqual([mine[1]!.id])
  })

  it('answers 400 for more than 100 ids, a missing list or ids that are not strings', async () => {
    const many = Array.from({ length: 101 }, (_, n) => `id-${n}`)
    for (const body of [{ ids: many }, {}, { ids: [1] }, { ids: 'x' }, { ids: [], extra: true }]) {
      const response = await lookup(body)
      expect(response.status, JSON.stringify(body).slice(0, 80)).toBe(400)
      expect(response.body.message).toMatch(/ids|extra/)
    }
  })
})

describe('agent ids', () => {
  it('the default agent id is random: nothing of the session id in it', async () => {
    const sessions = await Promise.all(Array.from({ length: 5 }, () => createSession(server)))
    for (const session of sessions) {
      expect(session.agentId).toMatch(/^agent-[\w-]{16}$/)
      // Not the 8 characters it used to take, nor any 6 in a row.
      for (let start = 0; start + 6 <= session.id.length; start++) expect(session.agentId).not.toContain(session.id.slice(start, start + 6))
      expect(session.agentIds).toEqual([session.agentId])
    }
    expect(new Set(sessions.map(session => session.agentId)).size).toBe(5)
  })
})

describe('the seeded demo', () => {
  let seeded: TestServer

  beforeAll(async () => {
    seeded = await startSessionServer({ env: { NUXT_DURABLE_SESSIONS_SEED_DEMO: 'true' } })
  })
  afterAll(() => seeded?.stop())

  it('is public, so a first visitor finds it', async () => {
    const listed = await list(seeded, '')
    expect(listed.sessions).toHaveLength(1)
    expect(listed.sessions[0]).toMatchObject({ title: 'Demo: fix the flaky checkout test', public: true, agentId: 'demo-agent' })
  })
})
