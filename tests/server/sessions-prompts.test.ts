import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestServer } from '../support/server'
import { as, createSession, joinPresence, postEvents, publish, snapshot, startSessionServer, streamMessages, withPresenceKey } from '../support/sessions'

/**
 * Prompts: what people ask the session's agent, durable and attributed. Collaborators, agents and
 * the server may post them (viewers read only; sessions-permissions covers the matrix); the
 * server names the collaborator from their presence key, and answers are the agent's.
 */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

const prompt = (data: Record<string, unknown>) => ({ channel: 'prompts', data: { text: 'Why is the build red?', ...data } })

describe('prompts', () => {
  it('name the collaborator who asked from their presence key, whatever the body claims', async () => {
    const session = await createSession(server)
    const { presenceKey } = await joinPresence(server, session, 'user-ada', { displayName: 'Ada' })
    const headers = { ...as('collaborator', session, server), ...withPresenceKey(presenceKey) }
    expect((await postEvents(server, session, prompt({ id: 'p1', actor: 'The CEO', actorId: 'ceo' }), headers)).status).toBe(200)
    expect((await postEvents(server, session, prompt({ id: 'p2' }), as('collaborator', session, server))).status).toBe(200)
    const { state } = await snapshot(server, session.id)
    expect(state.prompts.map(entry => [entry.id, entry.actor, entry.actorId])).toEqual([['p1', 'Ada', 'user-ada'], ['p2', undefined, undefined]])
    // A collaborator's record: marked so, and the agent may not rewrite it.
    const [message] = (await streamMessages(server, `sessions/${session.id}`)).filter(change => change.type === 'prompt')
    expect(message!.headers).toMatchObject({ operation: 'insert', owner: 'collaborator' })
    const rewrite = await postEvents(server, session, prompt({ id: 'p1', text: 'Something else' }))
    expect(rewrite.status).toBe(403)
    expect(rewrite.body.message).toContain('prompts record "p1" belongs to a collaborator')
  })

  it('from the agent keep the actor it sets, and may address one of the session\'s agents', async () => {
    const session = await createSession(server, { agentIds: ['lead', 'helper'] })
    await publish(server, session, prompt({ id: 'p1', actor: 'lead', agentId: 'helper' }))
    expect((await snapshot(server, session.id)).state.prompts[0]).toMatchObject({ actor: 'lead', agentId: 'helper' })
    // The addressed agent's stream gets a copy, as for any event naming it.
    expect((await streamMessages(server, 'agents/helper')).map(change => change.type)).toEqual(['prompt'])
    const stranger = await postEvents(server, session, prompt({ agentId: 'someone-else' }))
    expect(stranger.status).toBe(403)
  })

  it('are refused with the field named when empty, too long or misspelt, and nothing is written', async () => {
    const session = await createSession(server)
    const collaborator = as('collaborator', session, server)
    for (const [data, field] of [[{ text: '' }, 'data.text'], [{ text: 'x'.repeat(100_001) }, 'data.text'], [{ text: 'hi', txet: 'hi' }, 'data']] as const) {
      const response = await postEvents(server, session, { channel: 'prompts', data }, collaborator)
      expect(response.status).toBe(400)
      expect(response.body.message).toContain(field)
    }
    expect((await snapshot(server, session.id)).state.prompts).toEqual([])
  })

  it('answers are validated: their parts name turns and tool calls', async () => {
    const session = await createSession(server)
    const answer = (parts: unknown) => ({ channel: 'answers', data: { id: 'p1', agentId: session.agentId, status: 'running', parts } })
    expect((await postEvents(server, session, answer([{ type: 'step' }, { type: 'text', turn: 1 }, { type: 'tool', toolCallId: 'c1' }]))).status).toBe(200)
    const bad = await postEvents(server, session, answer([{ type: 'text', turn: -1 }]))
    expect(bad.status).toBe(400)
    expect(bad.body.message).toContain('data.parts.0.turn')
  })
})
