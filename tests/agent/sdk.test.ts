import {
  attachSession, createSession, SessionClosedError, SessionNotFoundError, UnauthorizedError, ValidationError,
} from '@durable-sessions/agent'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestServer } from '../support/server'
import { eventually, startSessionServer, streamMessages } from '../support/sessions'
import { headStatus } from '../support/streams'
import { countingFetch, keyOf, messagesOfType, typeAsCollaborator } from '../support/agent'

/** The agent SDK against the built server: every channel, batching, back-pressure, closing, typed errors. */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

describe('publishing', () => {
  it('puts text, tool calls, state, terminal, workflow and presence on their channels', async () => {
    const session = await createSession({ server: server.url, title: 'Every channel', agentId: 'sdk-agent' })
    expect(session.url).toBe(`${server.url}/sessions/${session.id}`)
    expect(session.collaborateUrl).toMatch(new RegExp(`^${server.url}/sessions/${session.id}\\?key=.+`))
    expect(session.agentId).toBe('sdk-agent')

    await session.state({ status: 'running', progress: 10, message: 'Reading', turn: 1 })
    await session.text('Hello ')
    await session.text('world', { turn: 2 })
    const read = session.tool('read_file', { path: 'a.ts' })
    const failing = session.tool('run_tests', null)
    await read.result({ lines: 3 })
    await failing.error(new Error('2 failed'))
    await session.state({ message: 'Writing', progress: undefined })
    const long = `\u001B[31m${'x'.repeat(250_000)}\u001B[0m`
    await session.terminal(long)
    await session.terminal('oops', { type: 'error' })
    await session.workflow('worktree:created', { branch: 'fix/a' })
    // Presence on /events is the agents' own: the agent's, for one of the session's agent ids.
    await session.publish('presence', { userId: 'sdk-agent', displayName: 'Observer' })
    await session.flush()

    const chunks = await messagesOfType(server, session.id, 'chunk')
    expect(chunks.map(chunk => [chunk.value!.text, chunk.value!.turn, chunk.value!.agentId])).toEqual([['Hello ', 1, 'sdk-agent'], ['world', 2, 'sdk-agent']])

    const tools = await messagesOfType(server, session.id, 'tool')
    expect(tools.map(tool => [tool.key, tool.headers.operation, tool.value!.status])).toEqual([
      [read.id, 'insert', 'running'],
      [failing.id, 'insert', 'running'],
      [read.id, 'update', 'complete'],
      [failing.id, 'update', 'error'],
    ])
    expect(tools[2]!.value).toMatchObject({ tool: 'read_file', input: { path: 'a.ts' }, output: { lines: 3 }, duration: expect.any(Number) })
    expect(tools[3]!.value).toMatchObject({ tool: 'run_tests', output: { error: '2 failed' } })

    const states = await messagesOfType(server, session.id, 'state')
    expect(states.at(-1)!.value).toMatchObject({ agentId: 'sdk-agent', status: 'running', message: 'Writing', turn: 1 })
    expect(states.at(-1)!.value).not.toHaveProperty('progress')

    const terminal = await messagesOfType(server, session.id, 'terminal')
    // 250,009 characters in entries of at most 100,000, ANSI intact.
    expect(terminal.slice(0, 3).map(entry => entry.value!.data.length)).toEqual([100_000, 100_000, 50_009])
    expect(terminal.slice(0, 3).map(entry => entry.value!.data).join('')).toBe(long)
    expect(terminal[3]!.value).toMatchObject({ type: 'error', data: 'oops', source: 'agent' })

    const workflow = await messagesOfType(server, session.id, 'workflow')
    expect(workflow[0]!.value).toMatchObject({ type: 'worktree:created', payload: { branch: 'fix/a' }, actor: 'sdk-agent' })

    const presence = await streamMessages(server, `sessions/${session.id}/presence`)
    expect(presence[0]!.value).toMatchObject({ userId: 'sdk-agent', displayName: 'Observer' })
  })

  it('batches events written together into few requests, in order', async () => {
    const { fetch, counts } = countingFetch()
    const session = await createSession({ server: server.url, fetch })
    for (let i = 0; i < 500; i++) void session.text(`t${i} `)
    await session.flush()
    const texts = (await messagesOfType(server, session.id, 'chunk')).map(chunk => chunk.value!.text)
    expect(texts).toEqual(Array.from({ length: 500 }, (_, i) => `t${i} `))
    console.info(`500 events in ${counts.posts} request(s)`)
    expect(counts.posts).toBeLessThanOrEqual(5)
  })

  it('makes publishing wait while the queue is over its bound, and keeps the order', async () => {
    let release!: () => void
    const gate = new Promise<void>(done => release = done)
    const gatedFetch: typeof fetch = async (input, init) => {
      if (init?.method === 'POST' && String(input).endsWith('/events')) await gate
      return fetch(input, init)
    }
    const session = await createSession({ server: server.url, fetch: gatedFetch, maxQueueBytes: 2_000 })
    const settled: number[] = []
    const writes = Array.from({ length: 40 }, (_, i) => session.text(`event ${i} `).then(() => settled.push(i)))
    await eventually(async () => session.pending.events === 40 || undefined, 'all 40 events are pending')
    await new Promise(done => setTimeout(done, 50))
    // The first fit under 2,000 bytes and were queued at once; the rest wait for room.
    expect(settled.length).toBeGreaterThan(0)
    expect(settled.length).toBeLessThan(40)
    release()
    await Promise.all(writes)
    await session.flush()
    expect(settled).toEqual(Array.from({ length: 40 }, (_, i) => i))
    const texts = (await messagesOfType(server, session.id, 'chunk')).map(chunk => chunk.value!.text)
    expect(texts).toEqual(Array.from({ length: 40 }, (_, i) => `event ${i} `))
  })

  it('close() publishes the final state, ends the stream for every reader, and refuses later writes', async () => {
    const session = await createSession({ server: server.url })
    await session.text('last words')
    await session.close({ status: 'completed', message: 'Done' })
    const head = await fetch(`${server.url}/v1/stream/sessions/${session.id}`, { method: 'HEAD' })
    expect(head.headers.get('stream-closed')).toBe('true')
    expect((await messagesOfType(server, session.id, 'state')).at(-1)!.value).toMatchObject({ status: 'completed', message: 'Done' })
    await expect(session.text('too late')).rejects.toBeInstanceOf(SessionClosedError)
    await session.close()
  })
})

describe('steering', () => {
  it('onInput delivers collaborators\' input once each, and not input the agent published itself', async () => {
    const session = await createSession({ server: server.url })
    const inputs: string[] = []
    session.onInput(input => inputs.push(input.data))
    await session.terminal('typed at the agent\'s own keyboard', { type: 'input', source: 'user' })
    await session.flush()
    for (const command of ['ls', 'git status', 'exit']) await typeAsCollaborator(server, session.id, keyOf(session.collaborateUrl), command)
    await eventually(async () => inputs.length >= 3 || undefined, 'three inputs arrived')
    expect(inputs).toEqual(['ls', 'git status', 'exit'])
  })

  it('requestApproval with onTimeout decides by itself when nobody else does, and keeps writing', async () => {
    const session = await createSession({ server: server.url })
    const decision = await session.requestApproval({
      title: 'Merge', timeoutMs: 50, onTimeout: { approved: true, reason: 'nobody decided', actor: 'auto-approver' },
    })
    expect(decision).toMatchObject({ approved: true, actor: 'auto-approver', reason: 'nobody decided' })
    await session.text('after the decision')
    await session.flush()
    expect((await messagesOfType(server, session.id, 'chunk')).map(chunk => chunk.value!.text)).toEqual(['after the decision'])
  })

  it('requestApproval with onTimeout returns a collaborator\'s decision that landed first, and keeps writing', async () => {
    // The collaborator rejects in the moment between the timeout and the agent's own decision
    // reaching the server: the server refuses the second decision (409), the first one stands.
    let sessionRef: Awaited<ReturnType<typeof createSession>> | undefined
    const racingFetch: typeof fetch = async (input, init) => {
      if (sessionRef && init?.method === 'POST' && String(init.body).includes('auto-approver')) {
        const requestId = (JSON.parse(String(init.body)) as { data: { payload: { requestId: string } } }).data.payload.requestId
        const response = await fetch(`${server.url}/api/sessions/${sessionRef.id}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-collaborator-key': keyOf(sessionRef.collaborateUrl) },
          body: JSON.stringify({ channel: 'workflow', data: { type: 'approval:rejected', payload: { requestId, reason: 'not yet' } } }),
        })
        expect(response.status).toBe(200)
      }
      return fetch(input, init)
    }
    const session = sessionRef = await createSession({ server: server.url, fetch: racingFetch })
    const decision = await session.requestApproval({ title: 'Merge', timeoutMs: 50, onTimeout: { approved: true, actor: 'auto-approver' } })
    expect(decision).toMatchObject({ approved: false, reason: 'not yet' })
    await session.text('still writing')
    await session.flush()
    const decisions = (await messagesOfType(server, session.id, 'workflow')).filter(event => event.value!.type !== 'approval:requested')
    expect(decisions.map(event => event.value!.type)).toEqual(['approval:rejected'])
  })

  it('attachSession learns the agent id from the server and follows from the tail', async () => {
    const created = await createSession({ server: server.url, agentId: 'attached-agent' })
    await typeAsCollaborator(server, created.id, keyOf(created.collaborateUrl), 'before attaching')
    const session = attachSession({ server: server.url, sessionId: created.id, agentToken: created.agentToken })
    expect(session.collaborateUrl).toBeUndefined()
    const inputs: string[] = []
    session.onInput(input => inputs.push(input.data))
    await session.state({ status: 'running' })
    await session.flush()
    expect(session.agentId).toBe('attached-agent')
    await typeAsCollaborator(server, created.id, keyOf(created.collaborateUrl), 'after attaching')
    await eventually(async () => inputs.length > 0 || undefined, 'the input arrived')
    expect(inputs).toEqual(['after attaching'])
  })
})

describe('typed errors', () => {
  it('a wrong agent token is a 401 that names the session', async () => {
    const created = await createSession({ server: server.url })
    const session = attachSession({ server: server.url, sessionId: created.id, agentToken: 'not-the-token', agentId: 'x' })
    const errors: Error[] = []
    const withHandler = attachSession({ server: server.url, sessionId: created.id, agentToken: 'not-the-token', agentId: 'x', onError: error => errors.push(error) })
    await session.text('hello')
    const error = await session.flush().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(UnauthorizedError)
    expect(error).toMatchObject({ status: 401, sessionId: created.id })
    expect((error as Error).message).toContain(`session ${created.id}`)
    expect((error as Error).message).toContain('agentToken')
    await expect(session.text('again')).rejects.toBeInstanceOf(UnauthorizedError)
    await withHandler.state({ status: 'running' })
    await withHandler.flush().catch(() => {})
    expect(errors.map(caught => caught.name)).toEqual(['UnauthorizedError'])
    expect(await messagesOfType(server, created.id, 'chunk')).toEqual([])
  })

  it('an unknown session is a SessionNotFoundError', async () => {
    const session = attachSession({ server: server.url, sessionId: 'no-such-session', agentToken: 'whatever' })
    await session.text('hello')
    const error = await session.flush().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(SessionNotFoundError)
    expect((error as Error).message).toContain('no-such-session')
    expect(await headStatus(server, 'sessions/no-such-session')).toBe(404)
  })

  it('an invalid event is refused at the call with the field path; the server\'s own refusals carry theirs', async () => {
    const session = await createSession({ server: server.url })
    let refused: unknown
    try {
      void session.state({ status: 'dancing' as never, progress: 140 })
    }
    catch (error) {
      refused = error
    }
    expect(refused).toBeInstanceOf(ValidationError)
    expect((refused as ValidationError).issues.map(issue => issue.path).sort()).toEqual(['data.progress', 'data.status'])
    expect((refused as Error).message).toMatch(/data\.status: Invalid option/)

    const serverRefusal = await createSession({ server: server.url, title: 'x'.repeat(201) }).catch((caught: unknown) => caught)
    expect(serverRefusal).toBeInstanceOf(ValidationError)
    expect(serverRefusal).toMatchObject({ status: 400, issues: [{ path: 'title' }] })
    expect(() => attachSession({ server: 'localhost:3000', sessionId: 'a', agentToken: 'b' })).toThrow(/absolute http\(s\) URL/)
  })
})
