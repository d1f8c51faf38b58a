// @vitest-environment happy-dom
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useAgentStream } from '../../composables/useAgentStream'
import type { AgentState } from '../../shared/sessions/channels'
import { openAgentFeeds, subscribeToAgent } from '../../sync/agent-feed'
import type { AgentStep } from '../../lib/agent-fold'
import type { TestServer } from '../support/server'
import { asServer } from '../support/sessions'
import { createSession, publish, startClientServer, until, withSetup } from './support'

let server: TestServer

beforeAll(async () => {
  server = await startClientServer()
})
afterAll(() => server?.stop())

describe('useAgentStream', () => {
  it('follows one agent across its sessions: status, streaming text of the turn, tools, progress', async () => {
    const agentId = `agent-${Date.now()}`
    const first = await createSession(server, { agentId })
    // One agent across sessions: sharing its id is the operator's call (server token).
    const second = await createSession(server, { agentId }, asServer(server))
    const { result, wrapper } = withSetup(() => useAgentStream(agentId))
    const steps: AgentStep[] = []
    const states: AgentState[] = []
    const stop = subscribeToAgent(agentId, { onStep: step => steps.push(step), onState: state => states.push(state) })
    expect(openAgentFeeds()).toBe(1)
    await until(() => result.connection.value === 'live', 'the agent feed is live')
    expect(result.status.value).toBe('unknown')

    await publish(server, first, [
      { channel: 'agentState', data: { agentId, status: 'running', turn: 1, progress: 10, message: 'Reading' } },
      { channel: 'chunks', data: { agentId, text: 'Hel', turn: 1 } },
      { channel: 'chunks', data: { agentId, text: 'lo', turn: 1 } },
      { channel: 'toolCalls', data: { id: 'call-1', agentId, tool: 'read_file', input: { path: 'a.ts' }, status: 'pending' } },
    ])
    await until(() => result.tools.value.length === 1, 'first session events')
    expect(result.streaming.value).toBe('Hello')
    expect(result.status.value).toBe('running')
    expect(result.turn.value).toBe(1)
    expect(result.sessionId.value).toBe(first.id)

    await publish(server, first, { channel: 'toolCalls', data: { id: 'call-1', agentId, tool: 'read_file', input: { path: 'a.ts' }, status: 'complete', output: { lines: 3 } } })
    await publish(server, second, [
      { channel: 'agentState', data: { agentId, status: 'running', turn: 2, progress: 60, message: 'Fixing' } },
      { channel: 'chunks', data: { agentId, text: 'Second', turn: 2 } },
    ])
    await until(() => result.streaming.value === 'Second', 'the next turn, in the other session')
    expect(result.tools.value).toEqual([expect.objectContaining({ id: 'call-1', status: 'complete' })])
    expect(result.progress.value).toBe(60)
    expect(result.message.value).toBe('Fixing')
    expect(result.sessionId.value).toBe(second.id)
    result.clearStreaming()
    expect(result.streaming.value).toBe('')

    await publish(server, second, { channel: 'agentState', data: { agentId, status: 'error', turn: 2, error: 'disk full' } })
    await until(() => result.status.value === 'error', 'the error state')
    expect(result.error.value).toBe('disk full')

    expect(steps.map(step => step.type)).toEqual([
      'agent:turn', 'stream:token', 'stream:token', 'tool:start', 'tool:result', 'agent:turn', 'stream:token',
    ])
    expect(states.map(state => state.status)).toEqual(['running', 'running', 'error'])
    stop()
    expect(openAgentFeeds()).toBe(1)
    wrapper.unmount()
    expect(openAgentFeeds()).toBe(0)
  })

  it('replays the agent history when it starts', async () => {
    const agentId = `agent-replay-${Date.now()}`
    const session = await createSession(server, { agentId })
    await publish(server, session, [
      { channel: 'agentState', data: { agentId, status: 'completed', turn: 3, progress: 100, message: 'Done' } },
    ])
    const { result, wrapper } = withSetup(() => useAgentStream(agentId))
    await until(() => result.status.value === 'completed', 'history replayed')
    expect(result.progress.value).toBe(100)
    wrapper.unmount()
  })
})
