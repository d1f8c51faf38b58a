import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { StreamFollower } from '../support/follow'
import type { FollowMode } from '../support/follow'
import { numberedBatch, planKills, sequenceProblems } from '../support/crash-plan'
import type { NumberedMessage } from '../support/crash-plan'
import { RetryingProducer } from '../support/producer'
import { seededRandom } from '../support/random'
import { startServer } from '../support/server'
import type { TestServer } from '../support/server'
import { call, readAll, streamUrl } from '../support/streams'

/**
 * kill -9 at moments drawn from a seeded plan while an idempotent producer writes N messages in batches.
 *
 * The producer resends every unacknowledged batch with the same (epoch, seq) until the server
 * acknowledges it, so in the end every message is acknowledged and the stream must hold each
 * exactly once, in send order. Some kills are timed to the worst moment — just after a commit,
 * with the answer dropped — so the "committed but not acknowledged" case is hit every run, not
 * only when a random kill happens to land there. Meanwhile two live readers (SSE, long-poll)
 * follow the stream across every crash, reconnecting from the offset they last committed; and a
 * third saves its offset to a file half-way, stops, and resumes from the file at the end.
 *
 * Bounded form (npm test): CRASH_MESSAGES=3000, CRASH_KILLS=6.
 * Long form (npm run test:crash): CRASH_MESSAGES=20000, CRASH_KILLS=12.
 */

const MESSAGES = Number(process.env.CRASH_MESSAGES ?? 3000)
const KILLS = Number(process.env.CRASH_KILLS ?? 6)
const MAX_BATCH = Number(process.env.CRASH_MAX_BATCH ?? 50)
const STREAM = 'crash/idempotent-producer'
/** Kill points, batch sizes, padding and kill delays: a fixed, printed plan. */
const random = seededRandom('crash-producer', 20_261_126)

let server: TestServer | undefined
const followers: StreamFollower[] = []
afterAll(async () => {
  for (const follower of followers) follower.stop()
  await server?.stop()
})

function follow(mode: FollowMode, received: number[]): StreamFollower {
  const follower = new StreamFollower(streamUrl(server!, STREAM), {
    mode,
    offset: '-1',
    retryDelayMs: 30,
    onBatch: items => received.push(...(items as NumberedMessage[]).map(m => m.n)),
  })
  followers.push(follower)
  return follower.start()
}

const gaps = (ns: number[]) => sequenceProblems(ns, MESSAGES)

it(`an idempotent producer writes ${MESSAGES} messages exactly once, in order, across ${KILLS} kill -9s; saved offsets resume with no gap or duplicate`, async () => {
  const started = Date.now()
  server = await startServer({ env: { NUXT_DURABLE_SESSIONS_SEED_DEMO: 'false' } })
  expect((await call(server, 'PUT', STREAM, { headers: { 'content-type': 'application/json' } })).status).toBe(201)

  const viaSse: number[] = []
  const viaLongPoll: number[] = []
  const sse = follow('sse', viaSse)
  const longPoll = follow('long-poll', viaLongPoll)

  const producer = new RetryingProducer(server, STREAM, 'crash-producer')
  const kills = planKills(random, MESSAGES, KILLS)
  let killsDone = 0
  let bouncing: Promise<void> | undefined
  /** SIGKILL, then a new process on the same data dir; writes and reads fail meanwhile and retry. */
  const bounce = (delayMs: number) => {
    bouncing ??= (async () => {
      await new Promise(resolve => setTimeout(resolve, delayMs))
      await server!.kill()
      killsDone++
      await server!.restart()
      bouncing = undefined
    })()
    return bouncing
  }

  const checkpointFile = join(mkdtempSync(join(tmpdir(), 'ds-checkpoint-')), 'reader.json')
  let checkpointSaved = false
  let acked = 0
  let lostAnswers = 0
  let sentBatches = 0
  while (acked < MESSAGES) {
    const batch = numberedBatch(random, acked, MESSAGES - acked, MAX_BATCH)
    const size = batch.length
    // A kill that falls due while the last one is still under way waits for it, so every planned
    // kill happens whatever the timing.
    if (kills[0] && acked >= kills[0].at) await bouncing
    const due = kills[0] && acked >= kills[0].at ? kills.shift()! : undefined
    let dropped = false
    if (due && !due.dropAnswer) {
      // A random moment: usually while this batch is in flight, sometimes between batches.
      void bounce(random() * 8)
    }
    const outcome = await producer.send(JSON.stringify(batch), async () => {
      if (!due?.dropAnswer || dropped) return false
      // The worst moment: the batch has committed, the producer never hears of it.
      dropped = true
      lostAnswers++
      await bounce(0)
      return true
    })
    if (dropped) expect(outcome.status, `seq ${producer.nextSeq - 1}: the retry of a committed batch is a duplicate`).toBe(204)
    acked += size
    sentBatches++

    if (!checkpointSaved && acked >= MESSAGES / 2) {
      // A reader that reads the first half, saves its offset and leaves.
      await bouncing
      const firstHalf = await readAll(server, STREAM)
      writeFileSync(checkpointFile, JSON.stringify({ offset: firstHalf.nextOffset, ns: (firstHalf.messages as NumberedMessage[]).map(m => m.n) }))
      checkpointSaved = true
    }
  }
  await bouncing
  expect(killsDone).toBe(KILLS)

  // The stream: every message once, in order.
  const all = await readAll(server, STREAM)
  expect(all.status).toBe(200)
  const stored = (all.messages as NumberedMessage[]).map(m => m.n)
  expect(gaps(stored)).toEqual([])

  // The saved offset resumes exactly where the first half ended.
  const saved = JSON.parse(readFileSync(checkpointFile, 'utf8')) as { offset: string, ns: number[] }
  const rest = await readAll(server, STREAM, saved.offset)
  expect(rest.status).toBe(200)
  expect(gaps([...saved.ns, ...(rest.messages as NumberedMessage[]).map(m => m.n)])).toEqual([])

  // The live readers caught up through every crash, from their own offsets.
  await sse.until(() => sse.offset === all.nextOffset, 'the SSE reader reached the tail')
  await longPoll.until(() => longPoll.offset === all.nextOffset, 'the long-poll reader reached the tail')
  for (const follower of followers) follower.stop()
  expect(sse.failures).toEqual([])
  expect(longPoll.failures).toEqual([])
  expect(gaps(viaSse), 'SSE reader').toEqual([])
  expect(gaps(viaLongPoll), 'long-poll reader').toEqual([])
  expect(sse.reconnects).toBeGreaterThanOrEqual(KILLS)
  expect(longPoll.reconnects).toBeGreaterThanOrEqual(KILLS)

  // The producer's state survived too: its last seq is a duplicate, the next one is new.
  const last = await call(server, 'POST', STREAM, {
    headers: { 'content-type': 'application/json', 'producer-id': producer.id, 'producer-epoch': '0', 'producer-seq': String(producer.nextSeq - 1) },
    body: '[{"n":-1}]',
  })
  expect(last.status).toBe(204)
  expect((await readAll(server, STREAM)).messages).toHaveLength(MESSAGES)

  expect(lostAnswers).toBeGreaterThan(0)
  expect(producer.counters.duplicates).toBeGreaterThanOrEqual(lostAnswers)
  console.info(`[crash] ${MESSAGES} messages in ${sentBatches} batches, ${killsDone} kill -9s (${lostAnswers} right after a commit with the answer dropped); `
    + `producer: ${producer.counters.retries} retries, ${producer.counters.networkErrors} network errors, ${producer.counters.unavailable} 503s, `
    + `${producer.counters.duplicates} retries answered 204 (already committed); stored ${stored.length}, duplicates 0, gaps 0; `
    + `SSE reader ${viaSse.length} messages over ${sse.reconnects} reconnects, long-poll reader ${viaLongPoll.length} over ${longPoll.reconnects}; `
    + `checkpoint reader ${saved.ns.length} + ${rest.messages.length}; ${((Date.now() - started) / 1000).toFixed(1)} s`)
}, Math.max(90_000, MESSAGES * 20))
