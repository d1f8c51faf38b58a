import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestServer } from '../support/server'
import { readAll } from '../support/streams'
import { api, as, asServer, createSession, details, postEvents, publish, startSessionServer, streamMessages } from '../support/sessions'

/**
 * One session's token writes only its own agents: a session registers its agent ids at
 * creation, an id another session holds cannot be claimed (but by the server token), and an
 * event naming an agent the session did not register is refused — so nobody can inject into
 * another agent's stream.
 */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

const chunk = (agentId: string, text: string) => ({ channel: 'chunks', data: { agentId, text } })
/** The created session, or an error body ({message, data}) for a refusal. */
const create = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  api(server, 'POST', '/api/sessions', { json: body, headers })

describe('agent ids are bound to the session that registered them', () => {
  it('an event naming an agent the session did not register is 403 and reaches no stream: no injecting into agents/<someone else>', async () => {
    const victim = await createSession(server, { agentId: `victim-${Date.now()}` })
    await publish(server, victim, chunk(victim.agentId, 'genuine'))
    const attacker = await createSession(server)
    const before = await readAll(server, `agents/${victim.agentId}`)
    const injected = [
      chunk(victim.agentId, 'injected'),
      { channel: 'toolCalls', data: { agentId: victim.agentId, tool: 'rm', input: {}, status: 'running' } },
      { channel: 'agentState', data: { agentId: victim.agentId, status: 'error', error: 'forged' } },
    ]
    for (const event of injected) {
      const response = await postEvents(server, attacker, event)
      expect(response.status, response.text).toBe(403)
      expect(response.body.message).toContain(`"${victim.agentId}" is not an agent of this session`)
    }
    expect(await readAll(server, `agents/${victim.agentId}`)).toEqual(before)
    expect(await streamMessages(server, `sessions/${attacker.id}`)).toEqual([])
  })

  it('an agent id another session registered cannot be claimed (409), except with the server token', async () => {
    const first = await createSession(server, { agentId: `taken-${Date.now()}` })
    for (const body of [{ agentId: first.agentId }, { agentIds: ['free-one', first.agentId] }]) {
      const refused = await create(body)
      expect(refused.status, JSON.stringify(body)).toBe(409)
      expect(refused.body.message).toContain(`"${first.agentId}" belongs to another session`)
    }
    // The free id of the refused request was not registered either.
    expect((await create({ agentId: 'free-one' })).status).toBe(201)

    const shared = await create({ agentId: first.agentId }, asServer(server))
    expect(shared.status).toBe(201)
    await publish(server, shared.body, chunk(first.agentId, 'from the second session'))
    expect((await streamMessages(server, `agents/${first.agentId}`)).map(message => message.value!.sessionId)).toEqual([shared.body.id])
  })

  it('a bearer token on create that is not the server token is 401, not an anonymous create', async () => {
    const session = await createSession(server)
    const response = await create({ agentId: session.agentId }, { authorization: `Bearer ${session.agentToken}` })
    expect(response.status).toBe(401)
  })

  it('a session may register several agents: agentId and agentIds, each with its stream', async () => {
    const tag = Date.now()
    const session = await createSession(server, { agentId: `lead-${tag}`, agentIds: [`reviewer-${tag}`, `lead-${tag}`] })
    expect(session.agentId).toBe(`lead-${tag}`)
    expect(session.agentIds).toEqual([`lead-${tag}`, `reviewer-${tag}`])
    expect((await details(server, session.id)).agentIds).toEqual(session.agentIds)
    await publish(server, session, [chunk(`lead-${tag}`, 'plan'), chunk(`reviewer-${tag}`, 'looks good')])
    expect(await streamMessages(server, `agents/reviewer-${tag}`)).toMatchObject([{ value: { text: 'looks good', sessionId: session.id } }])
  })

  it('answers 400 for more than 20 agents or a bad id in agentIds', async () => {
    const many = Array.from({ length: 21 }, (_, n) => `many-${Date.now()}-${n}`)
    expect((await create({ agentIds: many })).status).toBe(400)
    expect((await create({ agentIds: [] })).status).toBe(400)
    const bad = await create({ agentIds: ['ok', 'a/b'] })
    expect(bad.status).toBe(400)
    expect(bad.body.message).toContain('agentIds.1')
  })

  it('a deleted session frees its agent ids', async () => {
    const agentId = `reused-${Date.now()}`
    const first = await createSession(server, { agentId })
    expect((await api(server, 'DELETE', `/api/sessions/${first.id}`, { headers: as('agent', first, server) })).status).toBe(204)
    expect((await create({ agentId })).status).toBe(201)
  })
})

describe('presence on /events is the registered agents\' own', () => {
  it('the agent may post presence for its agent ids; nobody may post it for anyone else', async () => {
    const session = await createSession(server)
    expect((await postEvents(server, session, { channel: 'presence', data: { userId: session.agentId, displayName: 'Coder' } })).status).toBe(200)
    const other = await postEvents(server, session, { channel: 'presence', data: { userId: 'someone-else' } })
    expect(other.status).toBe(403)
    expect(other.body.message).toMatch(/not an agent of this session/)
    for (const role of ['viewer', 'collaborator'] as const) {
      const response = await postEvents(server, session, { channel: 'presence', data: { userId: session.agentId } }, as(role, session, server))
      expect(response.status, role).toBe(403)
      expect(response.body.message).toMatch(/presence/)
    }
    expect((await streamMessages(server, `sessions/${session.id}/presence`)).map(message => message.key)).toEqual([session.agentId])
  })

  it('nobody joins /presence as one of the session\'s agents', async () => {
    const session = await createSession(server)
    const response = await api(server, 'POST', `/api/sessions/${session.id}/presence`, { json: { userId: session.agentId, action: 'join' } })
    expect(response.status).toBe(403)
    expect(response.body.message).toMatch(/is an agent of this session/)
  })
})
