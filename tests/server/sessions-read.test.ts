import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestServer } from '../support/server'
import { readAll } from '../support/streams'
import { START_OFFSET, api, createSession, details, postPresence, publish, snapshot, startSessionServer } from '../support/sessions'

/** GET /api/sessions/:id (metadata, tail offset, presence) and GET /api/sessions/:id/snapshot. */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

describe('GET /api/sessions/:id', () => {
  it('answers metadata, stream URLs, tail offset and the presence snapshot', async () => {
    const session = await createSession(server, { title: 'details', agentId: 'details-agent' })
    const empty = await details(server, session.id)
    expect(empty).toMatchObject({
      id: session.id,
      title: 'details',
      status: 'active',
      agentId: 'details-agent',
      tailOffset: START_OFFSET,
      streamUrl: session.streamUrl,
      presenceStreamUrl: session.presenceStreamUrl,
      agentStreamUrl: session.agentStreamUrl,
      presence: [],
      presenceOffset: START_OFFSET,
    })

    await postPresence(server, session, { userId: 'ada', displayName: 'Ada', cursor: { x: 3, y: 4 }, action: 'join' })
    await postPresence(server, session, { userId: 'bob', action: 'join' })
    const offset = await publish(server, session, [
      { channel: 'chunks', data: { agentId: 'details-agent', text: 'one ' } },
      { channel: 'agentState', data: { agentId: 'details-agent', status: 'running' } },
    ])
    const shown = await details(server, session.id)
    expect(shown.tailOffset).toBe(offset)
    expect(shown.agentStatus).toBe('running')
    expect(shown.participantsOnline).toBe(2)
    expect(shown.presenceOffset).toBe('0000000000000000_0000000000000002')
    expect(shown.presence).toHaveLength(2)
    expect(shown.presence.find(entry => entry.userId === 'ada')).toMatchObject({
      userId: 'ada', sessionId: session.id, displayName: 'Ada', cursor: { x: 3, y: 4 },
    })
  })

  it('answers 404 for an unknown session', async () => {
    const response = await api(server, 'GET', '/api/sessions/AAAAAAAAAAAAAAAAAAAAAA')
    expect(response.status).toBe(404)
    expect(response.body.message).toMatch(/not found/i)
  })
})

describe('GET /api/sessions/:id/snapshot', () => {
  it('materialises every channel and the offsets it stands at', async () => {
    const session = await createSession(server, { agentId: 'snap-agent' })
    const empty = await snapshot(server, session.id)
    expect(empty).toMatchObject({
      session: { id: session.id },
      offset: START_OFFSET,
      presenceOffset: START_OFFSET,
      state: { chunks: [], messages: [], toolCalls: [], terminal: [], workflow: [], agentState: {}, presence: {} },
    })

    await publish(server, session, [
      { channel: 'chunks', data: { id: 'c1', agentId: 'snap-agent', text: 'Hello ', turn: 1 } },
      { channel: 'chunks', data: { id: 'c2', agentId: 'snap-agent', text: 'world', turn: 1 } },
      { channel: 'toolCalls', data: { id: 't1', agentId: 'snap-agent', tool: 'read_file', input: { path: 'a.ts' }, status: 'pending' } },
      { channel: 'terminal', data: { id: 'x1', type: 'output', source: 'agent', data: 'ok' } },
      { channel: 'workflow', data: { id: 'w1', type: 'approval:requested', payload: { title: 'merge?' } } },
      { channel: 'agentState', data: { agentId: 'snap-agent', status: 'running', progress: 10 } },
    ])
    const offset = await publish(server, session, [
      { channel: 'toolCalls', data: { id: 't1', agentId: 'snap-agent', tool: 'read_file', input: { path: 'a.ts' }, output: { lines: 3 }, status: 'complete', duration: 12 } },
      { channel: 'agentState', data: { agentId: 'snap-agent', status: 'paused', progress: 50 } },
    ])
    await postPresence(server, session, { userId: 'ada', action: 'join' })

    const snap = await snapshot(server, session.id)
    expect(snap.offset).toBe(offset)
    expect(snap.offset).toBe('0000000000000000_0000000000000008')
    expect(snap.presenceOffset).toBe('0000000000000000_0000000000000001')
    expect(snap.session.tailOffset).toBe(offset)
    expect(snap.state.chunks.map(chunk => chunk.id)).toEqual(['c1', 'c2'])
    expect(snap.state.messages).toMatchObject([{ agentId: 'snap-agent', turn: 1, text: 'Hello world' }])
    expect(snap.state.toolCalls).toMatchObject([{ id: 't1', status: 'complete', output: { lines: 3 }, duration: 12 }])
    expect(snap.state.terminal).toMatchObject([{ id: 'x1', data: 'ok' }])
    expect(snap.state.workflow).toMatchObject([{ id: 'w1', type: 'approval:requested' }])
    expect(snap.state.agentState['snap-agent']).toMatchObject({ status: 'paused', progress: 50 })
    expect(Object.keys(snap.state.presence)).toEqual(['ada'])

    // The offset is where the stream's next read starts: nothing between the snapshot and it.
    const rest = await readAll(server, `sessions/${session.id}`, snap.offset)
    expect(rest.messages).toEqual([])
    expect(rest.nextOffset).toBe(snap.offset)
  })

  it('answers 404 for an unknown session', async () => {
    expect((await api(server, 'GET', '/api/sessions/AAAAAAAAAAAAAAAAAAAAAA/snapshot')).status).toBe(404)
  })
})
