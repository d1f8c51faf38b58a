import { resolve } from 'node:path'
import { beforeAll, expect, it } from 'vitest'
import type { CreatedSession, SessionSnapshot } from '../../shared/sessions/api'
import { joinAsCollaborator, prompt } from '../support/ai'
import { PACED_ANSWER } from '../support/ai-scenarios.mjs'
import { useCluster } from '../support/cluster'
import { withDatabase } from '../support/postgres'
import type { TestServer } from '../support/server'
import { SESSION_TEST_ENV, api, eventually, snapshot, streamMessages } from '../support/sessions'

/**
 * The built-in AI agent with two instances on one PostgreSQL database: whichever instance a
 * prompt reaches, exactly one instance answers the session (it holds the session's agent lock),
 * and when that instance dies, or only loses the connection holding the lock, the other takes
 * the session over.
 */

const ANSWER = PACED_ANSWER
/** The advisory-lock key of held locks (server/sessions/postgres-held-locks.ts). */
const HELD_LOCKS = 719_043_104
const cluster = useCluster(2, {
  env: { ...SESSION_TEST_ENV, NUXT_DURABLE_SESSIONS_AI_MODEL: 'test:paced', NUXT_DURABLE_SESSIONS_AI_TEST_MODELS: resolve('tests/support/ai-scenarios.mjs') },
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

/** An AI session created on A, with Ada joined as a collaborator. */
async function aiSession(title: string) {
  const created = await api<CreatedSession>(a, 'POST', '/api/sessions', { json: { title, agent: 'ai' } })
  expect(created.status, created.text).toBe(201)
  return { session: created.body, ada: await joinAsCollaborator(a, created.body, 'Ada') }
}

it('stops answering on an instance whose lock connection went, and the other instance answers from then on', { timeout: 60_000 }, async () => {
  const { session, ada } = await aiSession('A lock connection cut')
  await prompt(a, session, ada, 'Hello?', 'p1')
  await answered(a, session, ['p1'])

  // A holds the session's lock; its connection alone goes (the process lives on).
  await withDatabase(cluster.current.databaseUrl, async (sql) => {
    const [cut] = await sql`select count(pg_terminate_backend(pid))::int as n from pg_locks where locktype = 'advisory' and classid = ${HELD_LOCKS}`
    expect(cut!.n).toBe(1)
  })
  await eventually(async () => a.log.includes(`session ${session.id}: the session's lock went with its database connection`) || undefined, 'A notices the lost lock')

  // B takes the prompt, and the lock; A, which still follows nothing, must not answer too.
  await prompt(b, session, ada, 'Who answers now?', 'p2')
  await answered(b, session, ['p1', 'p2'])
  // A prompt reaching A again leaves the session to B, which holds the lock now.
  await prompt(a, session, ada, 'And now?', 'p3')
  const state = await answered(a, session, ['p1', 'p2', 'p3'])
  expect(state.messages.map(message => message.text)).toEqual([ANSWER, ANSWER, ANSWER])
  expect(state.answers.map(answer => [answer.id, answer.status])).toEqual([['p1', 'complete'], ['p2', 'complete'], ['p3', 'complete']])
  // Two agents answering one prompt would collapse into one record in the state, but not on the
  // stream: each prompt's answer was written as often as p1's, which A alone wrote.
  const answerWrites = (await streamMessages(b, `sessions/${session.id}`)).filter(message => message.type === 'answer')
  const writesOf = (id: string) => answerWrites.filter(message => message.key === id).length
  expect([writesOf('p2'), writesOf('p3')]).toEqual([writesOf('p1'), writesOf('p1')])
})

it('answers each prompt once, whichever instance took it, and goes on from the other instance after a kill -9', { timeout: 90_000 }, async () => {
  const { session, ada } = await aiSession('One agent, two instances')

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
