import { attachSession } from '@durable-sessions/agent'
import { answerPrompts, pipeToSession, sessionUIMessages } from '@durable-sessions/agent/ai'
import { SessionChatTransport } from '@durable-sessions/agent/chat'
import { MaterializedState } from '@durable-streams/state'
import type { ModelMessage } from 'ai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CreatedSession } from '../../shared/sessions/api'
import type { Answer } from '../../shared/sessions/channels'
import { applyChange, createSessionState } from '../../shared/sessions/reducer'
import { CODING_TEXT, codingAnswer, decide, joinAsCollaborator, memoryStorage, prompt, textOf } from '../support/ai'
import type { TestServer } from '../support/server'
import { api, createSession, eventually, snapshot, startSessionServer, streamMessages } from '../support/sessions'

/**
 * The server side of an AI SDK agent: the real streamText on the AI SDK's test model, piped into
 * a session on the built server, with text, reasoning, two tool calls (one failing) and one tool
 * that needs a collaborator's approval.
 */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

let sessions = 0

/** A session whose agent is `coder<n>` (agent ids belong to one session). */
async function codingSession(): Promise<CreatedSession> {
  return createSession(server, { title: 'AI coder', agentId: `coder${++sessions}` })
}

function agentOf(session: CreatedSession) {
  return attachSession({ server: server.url, sessionId: session.id, agentToken: session.agentToken, agentId: session.agentId })
}

async function answerOf(session: CreatedSession, promptId: string, status?: Answer['status']): Promise<Answer> {
  return eventually(async () => {
    const answer = (await snapshot(server, session.id)).state.answers.find(entry => entry.id === promptId)
    return answer && (status === undefined || answer.status === status) ? answer : undefined
  }, `answer ${promptId} ${status ?? ''}`)
}

describe('answerPrompts with streamText', () => {
  it('publishes text, reasoning, tool calls and an approval as the records a user expects', async () => {
    const session = await codingSession()
    const ada = await joinAsCollaborator(server, session, 'Ada')
    const agent = agentOf(session)
    const answerer = answerPrompts(agent, { respond: ({ messages, signal }) => codingAnswer(messages, 0, signal), maxSteps: 5 })
    try {
      await prompt(server, session, ada, 'Fix the flaky cart test', 'p1')

      // The model asks to deploy: the answer waits for a collaborator.
      const request = await eventually(async () => (await snapshot(server, session.id)).state.workflow.find(event => event.type === 'approval:requested'), 'the approval request')
      expect(request.payload).toMatchObject({ title: 'Run deploy', tool: 'deploy', input: { branch: 'fix/rounding' } })
      const waiting = (await snapshot(server, session.id)).state
      expect(waiting.toolCalls.find(call => call.tool === 'deploy')!.status).toBe('pending')
      expect(waiting.agentState[session.agentId]).toMatchObject({ status: 'paused', message: 'Waiting for approval: deploy' })
      expect(waiting.answers[0]!.status).toBe('running')

      await decide(server, session, ada, request.id, true, 'Looks right')
      const answer = await answerOf(session, 'p1', 'complete')
      const state = (await snapshot(server, session.id)).state

      // The prompt, attributed by the server to the collaborator who joined as Ada.
      expect(state.prompts).toEqual([expect.objectContaining({ id: 'p1', text: 'Fix the flaky cart test', actor: 'Ada', actorId: ada.userId })])
      // The answer lists its parts in order: steps, reasoning apart from text, tools by call id.
      const calls = new Map(state.toolCalls.map(call => [call.id, call]))
      const shape = answer.parts.map(part => part.type === 'tool' ? `tool:${calls.get(part.toolCallId)!.tool}` : part.type)
      expect(shape).toEqual(['step', 'reasoning', 'text', 'tool:read_file', 'tool:run_tests', 'step', 'text', 'tool:deploy', 'step', 'text'])
      expect(answer.usage).toEqual({ inputTokens: 30, outputTokens: 60, totalTokens: 90 })
      const turnText = (turn: number) => state.messages.find(message => message.agentId === session.agentId && message.turn === turn)!.text
      const turns = answer.parts.flatMap(part => 'turn' in part ? [part.turn] : [])
      expect(turns.map(turnText)).toEqual([CODING_TEXT.reasoning, ...CODING_TEXT.texts])

      // One record per tool call, with its final status, output and duration.
      const byTool = (name: string) => state.toolCalls.find(call => call.tool === name)!
      expect(byTool('read_file')).toMatchObject({ status: 'complete', input: { path: 'cart.test.ts' }, output: { path: 'cart.test.ts', lines: 42 } })
      expect(byTool('run_tests')).toMatchObject({ status: 'error', output: { error: '1 test failed: expected 1800, got 1799' } })
      expect(byTool('deploy')).toMatchObject({ status: 'complete', output: { deployed: 'fix/rounding' } })
      for (const call of state.toolCalls) expect(call.duration).toEqual(expect.any(Number))
      const statuses = (await streamMessages(server, `sessions/${session.id}`)).filter(message => message.type === 'tool' && message.key === byTool('deploy').id).map(message => message.value!.status)
      // The model sent the call whole (no streamed input): pending with its input, running once approved.
      expect(statuses).toEqual(['pending', 'running', 'complete'])

      // The decision names Ada; the agent's state ends with the usage.
      expect(state.workflow.map(event => [event.type, event.actor])).toEqual([['approval:requested', session.agentId], ['approval:approved', 'Ada']])
      expect(state.agentState[session.agentId]).toMatchObject({ status: 'completed', progress: 100, message: 'Answered (90 tokens)' })

      // The official materialisation of the stream holds the same records as the viewer's reducer.
      const messages = await streamMessages(server, `sessions/${session.id}`)
      const official = new MaterializedState()
      official.applyBatch(messages as never)
      const ours = createSessionState()
      for (const message of messages) applyChange(ours, message)
      expect([...official.getType('prompt').values()]).toEqual(ours.prompts)
      expect([...official.getType('answer').values()]).toEqual(ours.answers)
      expect([...official.getType('tool').values()]).toEqual(ours.toolCalls)
      expect([...official.getType('chunk').values()]).toEqual(ours.chunks)
      expect([...official.getType('workflow').values()]).toEqual(ours.workflow)
      expect(Object.fromEntries(official.getType('state'))).toEqual(ours.agentState)
      expect({ ...ours, presence: state.presence }).toEqual(state)

      // The browser's view of the answer (replayed from the stream) is the conversation's view of it.
      // Nothing left to resume: every prompt has its answer.
      const transport = new SessionChatTransport({ server: server.url, sessionId: session.id, storage: memoryStorage() })
      expect(await transport.reconnectToStream({ chatId: 'c' })).toBeNull()
      const [userMessage, assistant] = sessionUIMessages(state)
      expect(userMessage).toEqual({ id: 'p1', role: 'user', parts: [{ type: 'text', text: 'Fix the flaky cart test' }] })
      expect(assistant!.parts.map(part => part.type === 'dynamic-tool' ? `${part.toolName}:${part.state}` : part.type)).toEqual([
        'step-start', 'reasoning', 'text', 'read_file:output-available', 'run_tests:output-error', 'step-start', 'text', 'deploy:output-available', 'step-start', 'text',
      ])
    }
    finally {
      answerer.stop()
      agent.detach()
    }
  })

  it('continues after a rejection: the tool is denied and the model answers without it', async () => {
    const session = await codingSession()
    const bob = await joinAsCollaborator(server, session, 'Bob')
    const agent = agentOf(session)
    const answerer = answerPrompts(agent, ({ messages, signal }) => codingAnswer(messages, 0, signal))
    try {
      await prompt(server, session, bob, 'Deploy it', 'p1')
      const request = await eventually(async () => (await snapshot(server, session.id)).state.workflow.find(event => event.type === 'approval:requested'), 'the approval request')
      await decide(server, session, bob, request.id, false, 'Not on a Friday')
      await answerOf(session, 'p1', 'complete')
      const state = (await snapshot(server, session.id)).state
      const deploy = state.toolCalls.find(call => call.tool === 'deploy')!
      expect(deploy).toMatchObject({ status: 'error', output: { error: 'Not approved' } })
      const [, assistant] = sessionUIMessages(state)
      const part = assistant!.parts.find(candidate => candidate.type === 'dynamic-tool' && candidate.toolName === 'deploy')
      expect(part).toMatchObject({ state: 'output-denied', approval: { id: request.id, approved: false, reason: 'Not on a Friday' } })
    }
    finally {
      answerer.stop()
      agent.detach()
    }
  })

  it('answers two people prompting at once, each answer apart, in stream order', async () => {
    const session = await codingSession()
    const [ada, bob] = await Promise.all([joinAsCollaborator(server, session, 'Ada'), joinAsCollaborator(server, session, 'Bob')])
    const agent = agentOf(session)
    const answerer = answerPrompts(agent, ({ prompt: asked, messages, signal }) => codingAnswerFor(asked.text, messages, signal))
    try {
      await Promise.all([prompt(server, session, ada, 'first', 'pa'), prompt(server, session, bob, 'second', 'pb')])
      await Promise.all([answerOf(session, 'pa', 'complete'), answerOf(session, 'pb', 'complete')])
      const state = (await snapshot(server, session.id)).state
      const [first, second] = state.prompts.map(entry => entry.id)
      const turnsOf = (id: string) => state.answers.find(answer => answer.id === id)!.parts.flatMap(part => 'turn' in part ? [part.turn] : [])
      // The answer to whichever prompt landed first takes the earlier turns; none is shared.
      expect(Math.max(...turnsOf(first!))).toBeLessThan(Math.min(...turnsOf(second!)))
      const conversation = sessionUIMessages(state)
      expect(conversation.map(message => [message.role, textOf(message)])).toEqual(state.prompts.flatMap(entry => [['user', entry.text], ['assistant', `Answering “${entry.text}”.`]]))
    }
    finally {
      answerer.stop()
      agent.detach()
    }
  })

  it('in a session of two agents, answers prompts to nobody with the session\'s agent and prompts to the other with it', async () => {
    const session = await createSession(server, { agentIds: [`lead${++sessions}`, `helper${sessions}`] })
    const [lead, helper] = session.agentIds
    const ada = await joinAsCollaborator(server, session, 'Ada')
    const answerers = [lead!, helper!].map((agentId) => {
      const agent = attachSession({ server: server.url, sessionId: session.id, agentToken: session.agentToken, agentId })
      return { agent, answerer: answerPrompts(agent, ({ messages, signal }) => codingAnswerFor(agentId, messages, signal)) }
    })
    try {
      await prompt(server, session, ada, 'anyone', 'p1')
      const response = await api(server, 'POST', `/api/sessions/${session.id}/events`, { json: { channel: 'prompts', data: { id: 'p2', text: 'helper only', agentId: helper } }, headers: ada.headers })
      expect(response.status).toBe(200)
      await Promise.all([answerOf(session, 'p1', 'complete'), answerOf(session, 'p2', 'complete')])
      const state = (await snapshot(server, session.id)).state
      expect(state.answers.map(answer => [answer.id, answer.agentId])).toEqual([['p1', lead], ['p2', helper]])
      expect(sessionUIMessages(state).filter(message => message.role === 'assistant').map(textOf)).toEqual([`Answering “${lead}”.`, `Answering “${helper}”.`])
    }
    finally {
      for (const { agent, answerer } of answerers) {
        answerer.stop()
        agent.detach()
      }
    }
  })
})

describe('pipeToSession', () => {
  it('publishes nothing twice when the handler runs again for an answered prompt', async () => {
    const session = await codingSession()
    const ada = await joinAsCollaborator(server, session, 'Ada')
    await prompt(server, session, ada, 'Say hello', 'p1')
    const agent = agentOf(session)
    const { streamText } = await import('ai')
    const { scriptedModel } = await import('../support/ai')
    const answer = () => streamText({ model: scriptedModel([[{ text: 'Hello there.' }]]), prompt: 'Say hello' })
    expect(await pipeToSession(agent, answer(), { promptId: 'p1' })).toEqual({ status: 'complete', approvals: [] })
    await agent.flush()
    const before = (await streamMessages(server, `sessions/${session.id}`)).length
    expect(await pipeToSession(agent, answer(), { promptId: 'p1' })).toEqual({ status: 'complete', approvals: [] })
    await agent.flush()
    expect(await streamMessages(server, `sessions/${session.id}`)).toHaveLength(before)
    const state = (await snapshot(server, session.id)).state
    expect(state.messages.map(message => message.text)).toEqual(['Hello there.'])
    agent.detach()
  })
})

/** The scripted coding model, answering with a line that names the prompt. */
async function codingAnswerFor(text: string, messages: ModelMessage[], signal: AbortSignal) {
  const { streamText } = await import('ai')
  const { scriptedModel } = await import('../support/ai')
  return streamText({ model: scriptedModel([[{ text: `Answering “${text}”.` }]], { delayMs: 5 }), messages, abortSignal: signal })
}

