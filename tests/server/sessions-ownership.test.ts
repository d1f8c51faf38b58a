import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import type { TestServer } from '../support/server'
import { as, createSession, joinPresence, postEvents, publish, snapshot, startSessionServer, streamMessages, withPresenceKey } from '../support/sessions'

/**
 * Who wrote a record owns it: the agent's records are the agent's, a collaborator's are the
 * collaborators' — across restarts, since the owner is part of the stream. Approval decisions
 * answer a pending request once, and a collaborator's decision carries who they are.
 */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

const terminal = (id: string, data: string, type = 'output', source = 'agent') => ({ channel: 'terminal', data: { id, type, source, data } })
const request = (id: string) => ({ channel: 'workflow', data: { id, type: 'approval:requested', payload: { title: 'Merge?' }, actor: 'coder' } })
const decision = (requestId: string | undefined, type = 'approval:approved', extra: Record<string, unknown> = {}) =>
  ({ channel: 'workflow', data: { type, payload: requestId === undefined ? {} : { requestId }, ...extra } })

async function sessionWithAgentRecords(): Promise<CreatedSession> {
  const session = await createSession(server)
  await publish(server, session, [terminal('out-1', 'build passed'), request('req-1')])
  return session
}

describe('records belong to the class of writer that created them', () => {
  it('a collaborator cannot overwrite an agent output line by reusing its id (403), and the line stays', async () => {
    const session = await sessionWithAgentRecords()
    const before = await streamMessages(server, `sessions/${session.id}`)
    const forged = await postEvents(server, session, terminal('out-1', 'rm -rf / succeeded', 'input', 'user'), as('collaborator', session, server))
    expect(forged.status, forged.text).toBe(403)
    expect(forged.body.message).toMatch(/belongs to the agent/)
    expect(await streamMessages(server, `sessions/${session.id}`)).toEqual(before)
    expect((await snapshot(server, session.id)).state.terminal).toMatchObject([{ id: 'out-1', data: 'build passed', source: 'agent' }])
  })

  it('a collaborator cannot turn an approval request into a decision by reusing its id (403)', async () => {
    const session = await sessionWithAgentRecords()
    const forged = await postEvents(server, session, { channel: 'workflow', data: { id: 'req-1', type: 'approval:approved', payload: { requestId: 'req-1' } } }, as('collaborator', session, server))
    expect(forged.status, forged.text).toBe(403)
    expect((await snapshot(server, session.id)).state.workflow).toMatchObject([{ id: 'req-1', type: 'approval:requested' }])
  })

  it('the agent (or the server token) cannot overwrite a collaborator\'s input either; a collaborator may resend their own', async () => {
    const session = await createSession(server)
    await publish(server, session, terminal('in-1', 'ls', 'input', 'user'), as('collaborator', session, server))
    for (const role of ['agent', 'server'] as const) {
      const response = await postEvents(server, session, terminal('in-1', 'forged by the agent', 'input', 'user'), as(role, session, server))
      expect(response.status, role).toBe(403)
      expect(response.body.message).toMatch(/belongs to a collaborator/)
    }
    // A retry of the collaborator's own write (same id) is theirs to make.
    expect((await postEvents(server, session, terminal('in-1', 'ls -la', 'input', 'user'), as('collaborator', session, server))).status).toBe(200)
    expect((await snapshot(server, session.id)).state.terminal).toMatchObject([{ id: 'in-1', data: 'ls -la' }])
  })

  it('ownership is part of the stream: a collaborator\'s records are marked, an agent\'s are not', async () => {
    const session = await sessionWithAgentRecords()
    await publish(server, session, terminal('in-2', 'pwd', 'input', 'user'), as('collaborator', session, server))
    const messages = await streamMessages(server, `sessions/${session.id}`)
    expect(messages.map(message => [message.key, (message.headers as Record<string, unknown>).owner])).toEqual([
      ['out-1', undefined],
      ['req-1', undefined],
      ['in-2', 'collaborator'],
    ])
  })

  it('holds after a restart: ownership is rebuilt from the stream', async () => {
    const session = await sessionWithAgentRecords()
    await publish(server, session, terminal('in-3', 'whoami', 'input', 'user'), as('collaborator', session, server))
    await server.restart()
    expect((await postEvents(server, session, terminal('out-1', 'forged', 'input', 'user'), as('collaborator', session, server))).status).toBe(403)
    expect((await postEvents(server, session, terminal('in-3', 'forged'), as('agent', session, server))).status).toBe(403)
    expect((await postEvents(server, session, terminal('out-1', 'build passed again'), as('agent', session, server))).status).toBe(200)
  })
})

describe('approval decisions answer a pending request, once', () => {
  it('answers 400 without payload.requestId, 404 for an unknown request, 409 for a second decision', async () => {
    const session = await sessionWithAgentRecords()
    const collaborator = as('collaborator', session, server)
    const missing = await postEvents(server, session, decision(undefined), collaborator)
    expect(missing.status).toBe(400)
    expect(missing.body.message).toMatch(/requestId/)
    const unknown = await postEvents(server, session, decision('no-such-request'), collaborator)
    expect(unknown.status).toBe(404)
    expect(unknown.body.message).toMatch(/no-such-request/)

    expect((await postEvents(server, session, decision('req-1'), collaborator)).status).toBe(200)
    for (const [type, role] of [['approval:rejected', 'collaborator'], ['approval:approved', 'collaborator'], ['approval:rejected', 'agent']] as const) {
      const again = await postEvents(server, session, decision('req-1', type), as(role, session, server))
      expect(again.status, `${type} by ${role}`).toBe(409)
      expect(again.body.message).toMatch(/already been decided/)
    }
    const decisions = (await snapshot(server, session.id)).state.workflow.filter(event => event.type !== 'approval:requested')
    expect(decisions).toMatchObject([{ type: 'approval:approved', payload: { requestId: 'req-1' } }])
  })

  it('a request and its decision in one batch count, and two decisions in one batch are refused whole', async () => {
    const session = await createSession(server)
    expect((await postEvents(server, session, [request('req-a'), decision('req-a', 'approval:rejected')])).status).toBe(200)
    expect((await postEvents(server, session, [request('req-b'), decision('req-b'), decision('req-b')])).status).toBe(409)
    expect((await snapshot(server, session.id)).state.workflow.map(event => event.id).filter(id => id.startsWith('req-b'))).toEqual([])
  })
})

describe('actor on a collaborator\'s decision is set by the server', () => {
  it('from the presence key: the name they joined with and their user id, whatever the body claims', async () => {
    const session = await sessionWithAgentRecords()
    const { presenceKey } = await joinPresence(server, session, 'user-ada', { displayName: 'Ada' })
    const headers = { ...as('collaborator', session, server), ...withPresenceKey(presenceKey) }
    expect((await postEvents(server, session, decision('req-1', 'approval:approved', { actor: 'The CEO', actorId: 'ceo' }), headers)).status).toBe(200)
    const stored = (await snapshot(server, session.id)).state.workflow.find(event => event.type === 'approval:approved')
    expect(stored).toMatchObject({ actor: 'Ada', actorId: 'user-ada' })
  })

  it('without a presence key the decision names nobody; a key that proves nobody is 401', async () => {
    const session = await sessionWithAgentRecords()
    const collaborator = as('collaborator', session, server)
    const forged = await postEvents(server, session, decision('req-1'), { ...collaborator, 'x-presence-key': 'dXNlci1hZGE.bm90LWEtbWFj' })
    expect(forged.status).toBe(401)
    expect(forged.body.message).toMatch(/presence key/)
    expect((await postEvents(server, session, decision('req-1', 'approval:approved', { actor: 'The CEO' }), collaborator)).status).toBe(200)
    const stored = (await snapshot(server, session.id)).state.workflow.find(event => event.type === 'approval:approved')!
    expect(stored.actor).toBeUndefined()
    expect(stored.actorId).toBeUndefined()

    // Terminal input carries no actor: a stale presence key sent along does not refuse it.
    expect((await postEvents(server, session, terminal('in-9', 'ls', 'input', 'user'), { ...collaborator, 'x-presence-key': 'dXNlci1hZGE.bm90LWEtbWFj' })).status).toBe(200)
  })

  it('the agent may still set its own', async () => {
    const session = await sessionWithAgentRecords()
    await publish(server, session, decision('req-1', 'approval:approved', { actor: 'auto-approver' }))
    expect((await snapshot(server, session.id)).state.workflow.find(event => event.type === 'approval:approved')!.actor).toBe('auto-approver')
  })
})
