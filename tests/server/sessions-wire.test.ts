import { stream } from '@durable-streams/client'
import { MaterializedState, isChangeEvent } from '@durable-streams/state'
import type { ChangeEvent } from '@durable-streams/state'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestServer } from '../support/server'
import { streamUrl } from '../support/streams'
import { as, asServer, createSession, joinPresence, postPresence, publish, snapshot, startSessionServer, streamMessages, withPresenceKey } from '../support/sessions'

/**
 * Session events on the wire are State Protocol change messages, so any @durable-streams/state
 * consumer materialises a session without our code.
 */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

const ops = (messages: { type: string, key: string, headers: { operation: string } }[]) =>
  messages.map(message => `${message.type}:${message.key}:${message.headers.operation}`)

describe('change messages', () => {
  it('have the State Protocol shape, with the channel\'s type and key', async () => {
    const session = await createSession(server, { agentId: 'wire-agent' })
    await publish(server, session, [
      { channel: 'chunks', data: { id: 'c1', agentId: 'wire-agent', text: 'hi' } },
      { channel: 'toolCalls', data: { id: 't1', agentId: 'wire-agent', tool: 'ls', input: {}, status: 'pending' } },
      { channel: 'terminal', data: { id: 'x1', type: 'output', source: 'agent', data: 'ok' } },
      { channel: 'workflow', data: { id: 'w1', type: 'approval:requested', payload: {} } },
      { channel: 'agentState', data: { agentId: 'wire-agent', status: 'running' } },
    ])
    await postPresence(server, session, { userId: 'ada', action: 'join' })
    const main = await streamMessages(server, `sessions/${session.id}`)
    expect(ops(main)).toEqual(['chunk:c1:insert', 'tool:t1:insert', 'terminal:x1:insert', 'workflow:w1:insert', 'state:wire-agent:insert'])
    for (const message of main) {
      expect(isChangeEvent(message as ChangeEvent)).toBe(true)
      expect(Object.keys(message).sort()).toEqual(['headers', 'key', 'type', 'value'])
      expect(message.headers.timestamp).toMatch(/^\d{4}-\d\d-\d\dT/)
      expect(message.value!.sessionId).toBe(session.id)
    }
    expect(ops(await streamMessages(server, `sessions/${session.id}/presence`))).toEqual(['presence:ada:insert'])
  })

  it('a later event for an existing key is an update; new keys are inserts; presence leave is a delete', async () => {
    const session = await createSession(server, { agentId: 'wire-agent' }, asServer(server))
    const tool = { id: 'tool-1', agentId: 'wire-agent', tool: 'run_tests', input: { filter: 'cart' } }
    await publish(server, session, { channel: 'toolCalls', data: { ...tool, status: 'pending' } })
    await publish(server, session, { channel: 'agentState', data: { agentId: 'wire-agent', status: 'starting' } })
    await publish(server, session, { channel: 'toolCalls', data: { ...tool, status: 'running' } })
    await publish(server, session, { channel: 'toolCalls', data: { ...tool, status: 'complete', output: { passed: 5 }, duration: 900 } })
    await publish(server, session, { channel: 'agentState', data: { agentId: 'wire-agent', status: 'running', progress: 40 } })
    await publish(server, session, { channel: 'toolCalls', data: { ...tool, id: 'tool-2', status: 'pending' } })
    // Within one batch too: the second write of a key is an update.
    await publish(server, session, [
      { channel: 'toolCalls', data: { ...tool, id: 'tool-3', status: 'pending' } },
      { channel: 'toolCalls', data: { ...tool, id: 'tool-3', status: 'error', output: { error: 'boom' } } },
    ])
    const main = await streamMessages(server, `sessions/${session.id}`)
    expect(ops(main)).toEqual([
      'tool:tool-1:insert',
      'state:wire-agent:insert',
      'tool:tool-1:update',
      'tool:tool-1:update',
      'state:wire-agent:update',
      'tool:tool-2:insert',
      'tool:tool-3:insert',
      'tool:tool-3:update',
    ])
    expect(main.filter(message => message.key === 'tool-1').map(message => message.value!.status)).toEqual(['pending', 'running', 'complete'])

    const ada = withPresenceKey((await joinPresence(server, session, 'ada')).presenceKey)
    await postPresence(server, session, { userId: 'ada', action: 'heartbeat' }, ada)
    await joinPresence(server, session, 'bob')
    await postPresence(server, session, { userId: 'ada', action: 'leave' }, ada)
    await joinPresence(server, session, 'ada')
    const presence = await streamMessages(server, `sessions/${session.id}/presence`)
    expect(ops(presence)).toEqual(['presence:ada:insert', 'presence:ada:update', 'presence:bob:insert', 'presence:ada:delete', 'presence:ada:insert'])
    expect(presence[3]!.old_value).toMatchObject({ userId: 'ada' })
  })
})

describe('MaterializedState from the raw stream equals the snapshot endpoint', () => {
  /** Every change message of a stream, read with the official client (catch-up). */
  async function readChanges(path: string): Promise<ChangeEvent[]> {
    const response = await stream<ChangeEvent>({ url: streamUrl(server, path), live: false })
    return response.json()
  }

  it('for a session using every channel, with updates, deletes and several agents', async () => {
    const session = await createSession(server, { agentIds: ['ms-agent', 'helper-agent'] })
    const agent = as('agent', session, server)
    const collaborator = as('collaborator', session, server)
    await publish(server, session, [
      { channel: 'agentState', data: { agentId: 'ms-agent', status: 'starting', progress: 0 } },
      { channel: 'chunks', data: { id: 'c1', agentId: 'ms-agent', text: 'Reading ', turn: 1 } },
      { channel: 'chunks', data: { id: 'c2', agentId: 'ms-agent', text: 'the code.', turn: 1 } },
      { channel: 'toolCalls', data: { id: 't1', agentId: 'ms-agent', tool: 'read_file', input: { path: 'a.ts' }, status: 'pending' } },
    ], agent)
    await publish(server, session, { channel: 'toolCalls', data: { id: 't1', agentId: 'ms-agent', tool: 'read_file', input: { path: 'a.ts' }, status: 'running' } }, agent)
    await publish(server, session, [
      { channel: 'toolCalls', data: { id: 't1', agentId: 'ms-agent', tool: 'read_file', input: { path: 'a.ts' }, output: 'text', status: 'complete', duration: 42 } },
      { channel: 'terminal', data: { type: 'input', source: 'agent', data: '$ npm test' } },
      { channel: 'terminal', data: { type: 'error', source: 'agent', data: '1 failed' } },
      { channel: 'workflow', data: { id: 'req-1', type: 'approval:requested', payload: { title: 'merge' }, actor: 'ms-agent' } },
      { channel: 'agentState', data: { agentId: 'ms-agent', status: 'paused', progress: 80, message: 'waiting' } },
      { channel: 'chunks', data: { agentId: 'helper-agent', text: 'I help', turn: 0 } },
      { channel: 'agentState', data: { agentId: 'helper-agent', status: 'idle' } },
    ], agent)
    await publish(server, session, [
      { channel: 'terminal', data: { type: 'input', source: 'user', data: 'status' } },
      { channel: 'workflow', data: { type: 'approval:approved', payload: { requestId: 'req-1' }, actor: 'ada' } },
    ], collaborator)
    await publish(server, session, { channel: 'chunks', data: { id: 'c2', agentId: 'ms-agent', text: 'the code again.', turn: 1 } }, agent)
    const ada = withPresenceKey((await joinPresence(server, session, 'ada', { displayName: 'Ada' })).presenceKey)
    const bob = withPresenceKey((await joinPresence(server, session, 'bob')).presenceKey)
    await postPresence(server, session, { userId: 'ada', cursor: { x: 5, y: 6 }, action: 'update' }, ada)
    await postPresence(server, session, { userId: 'bob', action: 'leave' }, bob)
    await joinPresence(server, session, 'cy')

    const materialized = new MaterializedState()
    const changes = [...await readChanges(`sessions/${session.id}`), ...await readChanges(`sessions/${session.id}/presence`)]
    expect(changes.length).toBe(20)
    materialized.applyBatch(changes)

    const snap = await snapshot(server, session.id)
    const values = (type: string) => [...materialized.getType(type).values()]
    const byKey = (type: string) => Object.fromEntries(materialized.getType(type))
    expect(values('chunk')).toEqual(snap.state.chunks)
    expect(values('tool')).toEqual(snap.state.toolCalls)
    expect(values('terminal')).toEqual(snap.state.terminal)
    expect(values('workflow')).toEqual(snap.state.workflow)
    expect(byKey('state')).toEqual(snap.state.agentState)
    expect(byKey('presence')).toEqual(snap.state.presence)
    expect(materialized.types.sort()).toEqual(['chunk', 'presence', 'state', 'terminal', 'tool', 'workflow'])
    // And the sizes the session was built to have.
    expect(Object.keys(snap.state.presence).sort()).toEqual(['ada', 'cy'])
    expect(snap.state.toolCalls).toMatchObject([{ id: 't1', status: 'complete', duration: 42 }])
    expect(snap.state.chunks).toHaveLength(3)
    expect(Object.keys(snap.state.agentState).sort()).toEqual(['helper-agent', 'ms-agent'])
  })
})
