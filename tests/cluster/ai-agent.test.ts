import { resolve } from 'node:path'
import { beforeAll, expect, it } from 'vitest'
import type { CreatedSession, SessionSnapshot } from '../../shared/sessions/api'
import { joinAsCollaborator, prompt } from '../support/ai'
import { useCluster } from '../support/cluster'
import type { TestServer } from '../support/server'
import { SESSION_TEST_ENV, api, eventually, snapshot } from '../support/sessions'

/**
 * The built-in AI agent with two instances on one PostgreSQL database: whichever instance a
 * prompt reaches, exactly one instance answers the session (it holds the session's agent lock),
 * and when that instance dies, the other takes the session over.
 */

const ANSWER = 'Hello! I am the test model.'
const cluster = useCluster(2, {
  env: { ...SESSION_TEST_ENV, NUXT_DURABLE_SESSIONS_AI_MODEL: 'test:quick', NUXT_DURABLE_SESSIONS_AI_TEST_MODELS: resolve('tests/support/ai-scenarios.mjs') },
})
let a: TestServer
let b: TestServer
beforeAll(() => {
  ;[a, b] = cluster.servers as [TestServer, TestServer]
})

async function answered(server: TestServer, session: CreatedSession, promptIds: string[]): Promise<SessionSnapshot['state']> {
  return eventually(async () => {
    const { state } = await snapshot(server, session.id)
    const settled = promptIds.every(id => state.answers.some(answer => answer.id === id && answer.status !== 'running'))
    return settled ? state : undefined
  }, `answers to ${promptIds.join(', ')}`)
}

it('answers each prompt once, whichever instance took it, and goes on from the other instance after a kill -9', { timeout: 90_000 }, async () => {
  const created = await api<CreatedSession>(a, 'POST', '/api/sessions', { json: { title: 'One agent, two instances', agent: 'ai' } })
  expect(created.status, created.text).toBe(201)
  const session = created.body
  const ada = await joinAsCollaborator(a, session, 'Ada')

  // A starts the agent with the first prompt; the second reaches B, which must not start another.
  await prompt(a, session, ada, 'Hello?', 'p1')
  await answered(b, session, ['p1'])
  await prompt(b, session, ada, 'And again?', 'p2')
  let state = await answered(b, session, ['p1', 'p2'])
  expect(state.messages.map(message => message.text)).toEqual([ANSWER, ANSWER])
  expect(state.conversation.map(entry => entry.kind)).toEqual(['prompt', 'message', 'prompt', 'message'])
  expect(state.answers.map(answer => [answer.id, answer.status])).toEqual([['p1', 'complete'], ['p2', 'complete']])

  // (A second answer to p2, had another agent started, would be among the messages below by then.)
  // The instance running the agent dies: its database connection, and the lock with it, go; B takes over.
  await a.kill()
  await prompt(b, session, ada, 'Still there?', 'p3')
  state = await answered(b, session, ['p1', 'p2', 'p3'])
  expect(state.messages.map(message => message.text)).toEqual([ANSWER, ANSWER, ANSWER])
  expect(state.answers.map(answer => answer.status)).toEqual(['complete', 'complete', 'complete'])
})
