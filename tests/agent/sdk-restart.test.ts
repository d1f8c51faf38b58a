import { createSession } from '@durable-sessions/agent'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { TestServer } from '../support/server'
import { eventually, sleep, startSessionServer } from '../support/sessions'
import { countingFetch, keyOf, messagesOfType, typeAsCollaborator } from '../support/agent'

/**
 * The SDK across server crashes: queued writes are delivered exactly once and in order through
 * kill -9s, and onInput resumes from its offset after a restart, losing and repeating nothing.
 */

let server: TestServer

beforeAll(async () => {
  server = await startSessionServer()
})
afterAll(() => server?.stop())

const EVENTS = 3000
const KILLS = 3

it(`delivers ${EVENTS} events exactly once, in order, through ${KILLS} kill -9s`, { timeout: 120_000 }, async () => {
  let kills = 0
  let killArmed = false
  let crashing: Promise<void> = Promise.resolve()
  // A crash right after an acknowledgement, while the next batch is on its way and more are queued;
  // publishing goes on while the server is down.
  const { fetch, counts } = countingFetch(() => {
    if (!killArmed) return
    killArmed = false
    kills++
    crashing = server.kill().then(() => sleep(300)).then(() => server.restart())
  })
  const session = await createSession({ server: server.url, fetch, batchDelayMs: 1, retry: { initialDelay: 50, maxDelay: 500 } })
  const every = EVENTS / (KILLS + 1)
  for (let i = 0; i < EVENTS; i++) {
    if (i > 0 && i % every === 0) {
      // One crash per stretch: the previous one has happened and the server is back.
      await eventually(async () => !killArmed || undefined, 'the previous crash happened')
      await crashing
      killArmed = true
    }
    await session.text(`m${i} `)
    // Let batches go out between bursts, so crashes land mid-stream rather than after it.
    if (i % 25 === 24) await sleep(2)
  }
  await session.flush()
  await crashing
  const texts = (await messagesOfType(server, session.id, 'chunk')).map(chunk => chunk.value!.text)
  console.info(`${EVENTS} events, ${kills} kill -9s, ${counts.posts} POSTs (retries included), ${counts.acks} acknowledged`)
  expect(kills).toBe(KILLS)
  expect(texts.length).toBe(EVENTS)
  expect(texts).toEqual(Array.from({ length: EVENTS }, (_, i) => `m${i} `))
})

it('onInput resumes from its offset after a server restart: nothing lost, nothing twice', { timeout: 60_000 }, async () => {
  const session = await createSession({ server: server.url })
  const key = keyOf(session.collaborateUrl)
  const inputs: string[] = []
  session.onInput(input => inputs.push(input.data))
  for (const command of ['one', 'two', 'three']) await typeAsCollaborator(server, session.id, key, command)
  await eventually(async () => inputs.length === 3 || undefined, 'the first three inputs arrived')

  // The follower is waiting in a long-poll when the server dies.
  await server.kill()
  await server.restart()
  for (const command of ['four', 'five']) await typeAsCollaborator(server, session.id, key, command)
  await eventually(async () => inputs.length >= 5 || undefined, 'the inputs after the restart arrived', 30_000)
  await session.flush()
  await sleep(500)
  expect(inputs).toEqual(['one', 'two', 'three', 'four', 'five'])
  expect((await messagesOfType(server, session.id, 'terminal')).length).toBe(5)
})
