import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { CreatedSession, SessionSnapshot } from '../../shared/sessions/api'
import { decide, joinAsCollaborator, prompt } from '../support/ai'
// Plain ESM shared with the built server: the scripted scenarios it is started with.
import { SCENARIOS } from '../support/ai-scenarios.mjs'
import { startChatCompletionsServer } from '../support/openai-compatible'
import type { TestServer } from '../support/server'
import { api, createSession, eventually, sleep, snapshot, startSessionServer } from '../support/sessions'

/**
 * The built-in AI agent of the built server: configured by NUXT_DURABLE_SESSIONS_AI_MODEL, off (and saying how to
 * turn it on) without one, driven here by the AI SDK's test model through the same code as a
 * provider's, once against a local OpenAI-compatible server, and carried on across a kill -9.
 */

const TEST_MODELS = resolve('tests/support/ai-scenarios.mjs')
const servers: TestServer[] = []
afterAll(() => Promise.all(servers.map(server => server.stop())))

async function serverWith(env: Record<string, string>): Promise<TestServer> {
  const server = await startSessionServer({ env })
  servers.push(server)
  return server
}

async function aiSession(server: TestServer): Promise<CreatedSession> {
  const response = await api<CreatedSession>(server, 'POST', '/api/sessions', { json: { title: 'Ask the AI', agent: 'ai' } })
  expect(response.status, response.text).toBe(201)
  return response.body
}

async function settledAnswer(server: TestServer, session: CreatedSession, promptId: string): Promise<SessionSnapshot['state']> {
  return eventually(async () => {
    const { state } = await snapshot(server, session.id)
    return state.answers.find(answer => answer.id === promptId && answer.status !== 'running') ? state : undefined
  }, `the answer to ${promptId}`)
}

/** User and system CPU time a process has used so far, from /proc (clock ticks of 1/100 s); undefined once it is gone. */
function cpuSeconds(pid: number): number | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  }
  catch {
    return undefined
  }
  const fields = stat.split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** The text of an answer's text parts, in order. */
function answerText(state: SessionSnapshot['state'], promptId: string): string {
  const answer = state.answers.find(entry => entry.id === promptId)!
  return answer.parts.map(part => part.type === 'text' ? state.messages.find(message => message.agentId === answer.agentId && message.turn === part.turn)?.text ?? '' : '').join('')
}

describe('without a configured model', () => {
  it('says how to configure one, refuses AI sessions with that sentence, and still takes prompts', async () => {
    const server = await serverWith({})
    const agents = await api(server, 'GET', '/api/agents')
    expect(agents.body).toEqual({ ai: { available: false, model: null, setup: expect.stringContaining('Set NUXT_DURABLE_SESSIONS_AI_MODEL to anthropic:<model> (with ANTHROPIC_API_KEY)') } })
    const refused = await api(server, 'POST', '/api/sessions', { json: { agent: 'ai' } })
    expect(refused.status).toBe(400)
    expect(refused.body.message).toContain('agent: "ai" needs a model on this server. No AI model is configured. Set NUXT_DURABLE_SESSIONS_AI_MODEL')
    expect((await api(server, 'GET', '/api/sessions', { headers: { authorization: `Bearer ${server.token}` } })).body.sessions).toEqual([])

    const session = await createSession(server)
    const ada = await joinAsCollaborator(server, session, 'Ada')
    await prompt(server, session, ada, 'Anyone there?', 'p1')
    const { state } = await snapshot(server, session.id)
    expect(state.prompts).toEqual([expect.objectContaining({ id: 'p1', actor: 'Ada' })])
    expect(state.conversation).toEqual([{ kind: 'prompt', id: 'p1' }])
  })

  it('takes test models only with the test suite\'s flag: NUXT_DURABLE_SESSIONS_AI_MODEL=test:… alone leaves the agent off', async () => {
    const server = await serverWith({ NUXT_DURABLE_SESSIONS_AI_MODEL: 'test:quick' })
    expect((await api(server, 'GET', '/api/agents')).body.ai).toMatchObject({ available: false, setup: expect.stringContaining('NUXT_DURABLE_SESSIONS_AI_TEST_MODELS') })
    expect((await api(server, 'POST', '/api/sessions', { json: { agent: 'ai' } })).status).toBe(400)
  })

  it('names a malformed NUXT_DURABLE_SESSIONS_AI_MODEL', async () => {
    const server = await serverWith({ NUXT_DURABLE_SESSIONS_AI_MODEL: 'gpt-5' })
    expect((await api(server, 'GET', '/api/agents')).body.ai.setup).toContain('NUXT_DURABLE_SESSIONS_AI_MODEL="gpt-5" is not <provider>:<model>')
  })
})

describe('with the AI SDK test model (NUXT_DURABLE_SESSIONS_AI_MODEL=test:<scenario>)', () => {
  it('answers a collaborator\'s prompt in a session created with {"agent":"ai"}', async () => {
    const server = await serverWith({ NUXT_DURABLE_SESSIONS_AI_MODEL: 'test:quick', NUXT_DURABLE_SESSIONS_AI_TEST_MODELS: TEST_MODELS })
    expect((await api(server, 'GET', '/api/agents')).body.ai).toMatchObject({ available: true, model: 'test:quick' })
    const session = await aiSession(server)
    expect(session.builtinAgent).toBe('ai')
    const ada = await joinAsCollaborator(server, session, 'Ada')
    await prompt(server, session, ada, 'Hello?', 'p1')
    const state = await settledAnswer(server, session, 'p1')
    expect(state.answers[0]).toMatchObject({ status: 'complete', agentId: session.agentId, usage: { inputTokens: 10, outputTokens: 20, totalTokens: 30 } })
    expect(answerText(state, 'p1')).toBe('Hello! I am the test model.')
    expect(state.conversation).toEqual([{ kind: 'prompt', id: 'p1' }, { kind: 'message', id: `${session.agentId}:1` }])
    expect(state.agentState[session.agentId]).toMatchObject({ status: 'completed', message: 'Answered (30 tokens)' })
  })

  it('stops its agents on SIGTERM: while a request still keeps the server up, the agent does not reconnect to the closing server in a loop, and the server exits', { timeout: 60_000 }, async () => {
    const server = await serverWith({ NUXT_DURABLE_SESSIONS_AI_MODEL: 'test:quick', NUXT_DURABLE_SESSIONS_AI_TEST_MODELS: TEST_MODELS })
    const session = await aiSession(server)
    const ada = await joinAsCollaborator(server, session, 'Ada')
    await prompt(server, session, ada, 'Hello?', 'p1')
    await settledAnswer(server, session, 'p1')
    // The agent now follows the session live. A request whose body is still on its way keeps the
    // closing server up (graceful shutdown waits for it) while its live readers are ended.
    const { port } = new URL(server.url)
    const upload = connect(Number(port), '127.0.0.1')
    upload.on('error', () => undefined)
    await new Promise(done => upload.once('connect', done))
    upload.write(`POST /api/sessions/${session.id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{`)
    const pid = server.pid
    const cpuBefore = cpuSeconds(pid)!
    const stopped = server.stop()
    await Promise.race([stopped, sleep(2_000)])
    // Waiting on one request costs the process nothing; an agent reconnecting in a loop costs a
    // core. (A process that has already exited spent nothing more.)
    const spent = (cpuSeconds(pid) ?? cpuBefore) - cpuBefore
    upload.end('}')
    await stopped
    expect(spent, 'CPU seconds the closing server used in (at most) 2 s').toBeLessThan(0.5)
  })

  it('waits for a collaborator to approve its terminal tool, then goes on — and after a kill -9 mid-answer, finishes it once', async () => {
    const server = await serverWith({ NUXT_DURABLE_SESSIONS_AI_MODEL: 'test:chat', NUXT_DURABLE_SESSIONS_AI_TEST_MODELS: TEST_MODELS })
    const session = await aiSession(server)
    const ada = await joinAsCollaborator(server, session, 'Ada')
    await prompt(server, session, ada, 'Write something slowly', 'p1')
    await eventually(async () => (await snapshot(server, session.id)).state.chunks.length >= 5 || undefined, 'five words')
    await server.kill()
    await server.restart()

    // The restarted server's agent continues the answer where the acknowledged words end.
    const request = await eventually(async () => (await snapshot(server, session.id)).state.workflow.find(event => event.type === 'approval:requested'), 'the approval request')
    expect(request.payload).toMatchObject({ tool: 'write_to_terminal', input: { text: 'hello from the AI agent' } })
    // Presence keys survive the restart (derived from the server token).
    await decide(server, session, ada, request.id, true)
    const state = await settledAnswer(server, session, 'p1')
    const [first, second] = SCENARIOS.chat.steps.map(step => step.flatMap(item => 'text' in item ? [item.text] : []).join(''))
    expect(answerText(state, 'p1')).toBe(`${first}${second}`)
    expect(state.answers[0]!.status).toBe('complete')
    expect(state.terminal.map(entry => entry.data)).toEqual(['hello from the AI agent'])
    expect(state.toolCalls).toEqual([expect.objectContaining({ tool: 'write_to_terminal', status: 'complete', output: { written: true } })])
  })
})

describe('with an OpenAI-compatible server (NUXT_DURABLE_SESSIONS_AI_MODEL=openai-compatible:<model>)', () => {
  it('streams Chat Completions with a tool call into the session', async () => {
    const completions = await startChatCompletionsServer()
    try {
      const server = await serverWith({ NUXT_DURABLE_SESSIONS_AI_MODEL: 'openai-compatible:local-llama', NUXT_DURABLE_SESSIONS_AI_BASE_URL: completions.baseUrl, NUXT_DURABLE_SESSIONS_AI_API_KEY: 'local-key' })
      const session = await aiSession(server)
      const ada = await joinAsCollaborator(server, session, 'Ada')
      await prompt(server, session, ada, 'What time is it?', 'p1')
      const state = await settledAnswer(server, session, 'p1')
      expect(state.answers[0]).toMatchObject({ status: 'complete', usage: { inputTokens: 24, outputTokens: 14, totalTokens: 38 } })
      const call = state.toolCalls[0]!
      expect(call).toMatchObject({ id: 'call_time', tool: 'current_time', status: 'complete', output: { now: expect.any(String) } })
      expect(answerText(state, 'p1')).toBe(`The tool says it is ${(call.output as { now: string }).now}.`)
      expect(completions.requests).toHaveLength(2)
      for (const request of completions.requests) {
        expect(request.authorization).toBe('Bearer local-key')
        expect(request.body).toMatchObject({ model: 'local-llama', stream: true })
        expect(request.body.tools.map((tool: { function: { name: string } }) => tool.function.name)).toEqual(['current_time', 'session_participants', 'write_to_terminal'])
      }
      expect(completions.requests[0]!.body.messages.at(-1)).toEqual({ role: 'user', content: 'What time is it?' })
    }
    finally {
      await completions.close()
    }
  })
})
