import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestServer } from '../support/server'
import { readAll } from '../support/streams'
import { api, as, asServer, createSession, joinPresence, postEvents, publish, startSessionServer, streamMessages } from '../support/sessions'

/**
 * agents/<agentId> receives, with the session stream and in the same write, every event naming
 * the agent (one of the session's registered agents: see sessions-agents).
 */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

describe('agent fan-out', () => {
  it('copies every event naming the agent, from every session of that agent, in order', async () => {
    const agentId = `fan-${Date.now()}`
    const first = await createSession(server, { agentId })
    // One agent followed across sessions: the operator shares its id (server token).
    const second = await createSession(server, { agentId }, asServer(server))
    expect(first.agentStreamUrl).toBe(`/v1/stream/agents/${agentId}`)
    expect(second.agentStreamUrl).toBe(first.agentStreamUrl)

    await publish(server, first, [
      { channel: 'chunks', data: { id: 'a1', agentId, text: 'from the first' } },
      { channel: 'terminal', data: { id: 'not-copied-1', type: 'output', source: 'agent', data: 'no agentId here' } },
      { channel: 'workflow', data: { id: 'not-copied-2', type: 'worktree:created', payload: {} } },
    ])
    await publish(server, second, [
      { channel: 'toolCalls', data: { id: 'b1', agentId, tool: 'ls', input: {}, status: 'pending' } },
      { channel: 'agentState', data: { agentId, status: 'running' } },
    ])
    await publish(server, first, { channel: 'agentState', data: { agentId, status: 'paused' } })
    await publish(server, second, { channel: 'toolCalls', data: { id: 'b1', agentId, tool: 'ls', input: {}, status: 'complete' } })
    // Presence names no agent: it stays on the presence stream.
    await joinPresence(server, first, 'ada')

    const copies = await streamMessages(server, `agents/${agentId}`)
    expect(copies.map(message => [message.value!.sessionId, message.type, message.key, message.headers.operation])).toEqual([
      [first.id, 'chunk', 'a1', 'insert'],
      [second.id, 'tool', 'b1', 'insert'],
      [second.id, 'state', agentId, 'insert'],
      [first.id, 'state', agentId, 'insert'],
      [second.id, 'tool', 'b1', 'update'],
    ])

    // Each copy is exactly the message on its session stream.
    const firstMain = await streamMessages(server, `sessions/${first.id}`)
    const secondMain = await streamMessages(server, `sessions/${second.id}`)
    expect(copies[0]).toEqual(firstMain[0])
    expect(copies[3]).toEqual(firstMain[3])
    expect(copies[1]).toEqual(secondMain[0])
    expect(copies[4]).toEqual(secondMain[2])
  })

  it('copies to each agent the session registered, not only its first one', async () => {
    const visitor = `visitor-${Date.now()}`
    const session = await createSession(server, { agentId: `owner-${Date.now()}`, agentIds: [visitor] })
    await publish(server, session, { channel: 'chunks', data: { id: 'v1', agentId: visitor, text: 'hello from a sub-agent' } })
    const copies = await streamMessages(server, `agents/${visitor}`)
    expect(copies).toMatchObject([{ type: 'chunk', key: 'v1', value: { sessionId: session.id } }])
    expect(await streamMessages(server, `agents/${session.agentId}`)).toEqual([])
  })

  it('the default agent of a session has a stream too', async () => {
    const session = await createSession(server)
    await publish(server, session, { channel: 'agentState', data: { agentId: session.agentId, status: 'idle' } })
    expect(await streamMessages(server, session.agentStreamUrl.replace('/v1/stream/', ''))).toHaveLength(1)
  })

  it('writes atomically: a refused batch reaches neither the session stream nor the agent stream', async () => {
    const agentId = `atomic-${Date.now()}`
    const session = await createSession(server, { agentId })
    await publish(server, session, { channel: 'chunks', data: { agentId, text: 'kept' } })
    const tails = async () => [
      (await readAll(server, `sessions/${session.id}`)).nextOffset,
      (await readAll(server, `agents/${agentId}`)).nextOffset,
    ]
    const before = await tails()

    // Invalid second event (400), forbidden second event (403), ended session (409).
    expect((await postEvents(server, session, [
      { channel: 'chunks', data: { agentId, text: 'valid' } },
      { channel: 'toolCalls', data: { agentId, tool: 'ls', input: {}, status: 'unknown' } },
    ])).status).toBe(400)
    expect((await postEvents(server, session, [
      { channel: 'terminal', data: { type: 'input', source: 'user', data: 'ls' } },
      { channel: 'agentState', data: { agentId, status: 'running' } },
    ], as('collaborator', session, server))).status).toBe(403)
    expect(await tails()).toEqual(before)

    const offset = await publish(server, session, [
      { channel: 'chunks', data: { agentId, text: 'one' } },
      { channel: 'chunks', data: { agentId, text: 'two' } },
    ])
    expect(await tails()).toEqual([offset, '0000000000000000_0000000000000003'])

    await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: as('agent', session, server) })
    expect((await postEvents(server, session, { channel: 'chunks', data: { agentId, text: 'late' } })).status).toBe(409)
    expect((await readAll(server, `agents/${agentId}`)).nextOffset).toBe('0000000000000000_0000000000000003')
  })
})
