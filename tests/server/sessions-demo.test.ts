import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession, SessionSnapshot } from '../../shared/sessions/api'
import type { TestServer } from '../support/server'
import { api, as, createSession, eventually, postEvents, sleep, snapshot, startSessionServer, streamMessages } from '../support/sessions'

/**
 * POST /api/sessions/:id/demo runs the scripted demo agent in the server. At {speed: 20} it streams
 * text, runs tools, prints terminal output, reports progress, asks for approval and waits on it,
 * and answers terminal input.
 */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

function startDemo(session: CreatedSession, body: unknown, headers = as('agent', session, server)) {
  return api(server, 'POST', `/api/sessions/${session.id}/demo`, { json: body, headers })
}

function until(session: CreatedSession, what: string, probe: (snap: SessionSnapshot) => boolean) {
  return eventually(async () => {
    const snap = await snapshot(server, session.id)
    return probe(snap) ? snap : undefined
  }, what, 30_000)
}

describe('POST /api/sessions/:id/demo', () => {
  it('runs a realistic agent that waits for approval, finishes once approved and answers terminal input', { timeout: 90_000 }, async () => {
    const session = await createSession(server, { title: 'demo run' })
    const agentId = session.agentId
    const started = await startDemo(session, { speed: 20 })
    expect(started.status).toBe(202)
    expect(started.body).toEqual({ ok: true, running: true, started: true })
    // A second start while it runs starts nothing.
    const again = await startDemo(session, { speed: 20 })
    expect(again.status).toBe(200)
    expect(again.body).toMatchObject({ ok: true, started: false })

    const waiting = await until(session, 'the demo asks for approval', snap =>
      snap.state.workflow.some(event => event.type === 'approval:requested') && snap.state.agentState[agentId]?.status === 'paused')
    const request = waiting.state.workflow.find(event => event.type === 'approval:requested')!
    expect(request.actor).toBe(agentId)
    expect(request.payload).toMatchObject({ title: expect.any(String) })

    // Text over several turns.
    expect(waiting.state.chunks.length).toBeGreaterThan(20)
    expect(waiting.state.messages.map(message => message.turn)).toEqual([1, 2, 3])
    expect(waiting.state.messages.every(message => message.text.length > 20)).toBe(true)
    // Tool calls that finished, with durations: some complete, one error.
    const tools = waiting.state.toolCalls
    expect(tools.length).toBeGreaterThanOrEqual(4)
    expect(tools.every(call => call.status === 'complete' || call.status === 'error')).toBe(true)
    expect(tools.every(call => typeof call.duration === 'number' && call.duration >= 0)).toBe(true)
    expect(tools.filter(call => call.status === 'error')).not.toHaveLength(0)
    expect(tools.filter(call => call.status === 'complete')).not.toHaveLength(0)
    // Terminal output from the agent, an error among it.
    expect(waiting.state.terminal.filter(entry => entry.type === 'output' && entry.source === 'agent').length).toBeGreaterThan(2)
    expect(waiting.state.terminal.some(entry => entry.type === 'error')).toBe(true)
    expect(waiting.state.workflow.some(event => event.type === 'worktree:created')).toBe(true)
    // Agent state with progress.
    expect(waiting.state.agentState[agentId]).toMatchObject({ status: 'paused', progress: expect.any(Number) })
    expect(waiting.state.agentState[agentId]!.progress).toBeGreaterThan(50)
    expect((await api(server, 'GET', `/api/sessions/${session.id}`)).body.agentStatus).toBe('paused')

    // It waits for the decision (a while later — seconds of demo time — it still has not moved on).
    await sleep(300)
    const still = await snapshot(server, session.id)
    expect(still.state.agentState[agentId]).toMatchObject({ status: 'paused' })
    expect(still.offset).toBe(waiting.offset)

    const approved = await postEvents(server, session, {
      channel: 'workflow',
      data: { type: 'approval:approved', payload: { requestId: request.id }, actor: 'ada' },
    }, as('collaborator', session, server))
    expect(approved.status).toBe(200)

    const done = await until(session, 'the demo completes', snap => snap.state.agentState[agentId]?.status === 'completed')
    expect(done.state.agentState[agentId]!.progress).toBe(100)
    expect(done.state.messages.map(message => message.turn)).toEqual([1, 2, 3, 4])
    expect(done.state.workflow.map(event => event.type)).toEqual(expect.arrayContaining(['approval:approved', 'worktree:merged']))
    expect(done.state.toolCalls.find(call => call.tool === 'merge_worktree')).toMatchObject({ status: 'complete' })

    // On the wire: every tool call went running → complete/error under one id.
    const main = await streamMessages(server, `sessions/${session.id}`)
    for (const call of done.state.toolCalls) {
      const history = main.filter(message => message.type === 'tool' && message.key === call.id)
      expect(history.map(message => message.value!.status)).toEqual(['running', call.status])
      expect(history.map(message => message.headers.operation)).toEqual(['insert', 'update'])
    }
    const progress = main.filter(message => message.type === 'state').map(message => message.value!.progress as number)
    expect(progress).toEqual([...progress].sort((a, b) => a - b))
    expect(progress.at(-1)).toBe(100)

    // It stays attached and answers a collaborator's terminal input.
    const input = await postEvents(server, session, { channel: 'terminal', data: { type: 'input', source: 'user', data: 'echo hi' } }, as('collaborator', session, server))
    expect(input.status).toBe(200)
    const answered = await until(session, 'the demo answers "echo hi"', (snap) => {
      const at = snap.state.terminal.findIndex(entry => entry.type === 'input' && entry.data === 'echo hi')
      return at >= 0 && snap.state.terminal.slice(at + 1).some(entry => entry.source === 'agent' && entry.type === 'output' && entry.data === 'hi')
    })
    expect(answered.state.terminal.at(-1)).toMatchObject({ type: 'output', source: 'agent', data: 'hi' })

    await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: as('agent', session, server) })
  })

  it('a rejection discards the worktree and still completes', { timeout: 90_000 }, async () => {
    const session = await createSession(server)
    expect((await startDemo(session, { speed: 50 }, as('server', session, server))).status).toBe(202)
    const waiting = await until(session, 'the demo asks for approval', snap => snap.state.agentState[session.agentId]?.status === 'paused')
    const request = waiting.state.workflow.find(event => event.type === 'approval:requested')!
    await postEvents(server, session, { channel: 'workflow', data: { type: 'approval:rejected', payload: { requestId: request.id } } }, as('collaborator', session, server))
    const done = await until(session, 'the demo completes', snap => snap.state.agentState[session.agentId]?.status === 'completed')
    expect(done.state.workflow.map(event => event.type)).toContain('worktree:removed')
    expect(done.state.workflow.map(event => event.type)).not.toContain('worktree:merged')
    await api(server, 'POST', `/api/sessions/${session.id}/close`, { headers: as('agent', session, server) })
  })

  it('answers 400 for a bad speed, 404 for an unknown session, 403 without the agent token', async () => {
    const session = await createSession(server)
    const bad = await startDemo(session, { speed: 1000 })
    expect(bad.status).toBe(400)
    expect(bad.body.message).toContain('speed')
    expect((await api(server, 'POST', '/api/sessions/AAAAAAAAAAAAAAAAAAAAAA/demo', { json: {}, headers: as('agent', session, server) })).status).toBe(404)
    expect((await startDemo(session, {}, as('collaborator', session, server))).status).toBe(403)
    expect(await streamMessages(server, `sessions/${session.id}`)).toEqual([])
  })
})
